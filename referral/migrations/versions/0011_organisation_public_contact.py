"""An organisation's public contact: street address, postal code, phone, opening hours

Revision ID: 0011
Revises: 0012a
Create Date: 2026-11-30 19:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0012a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("street_address", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("postal_code", sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column("public_phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("opening_hours", sa.JSON(), nullable=True))
        # A plain default: SQLite then adds the column in place, without rebuilding the table.
        batch_op.add_column(
            sa.Column("contact_confirmed", sa.Boolean(), server_default="1", nullable=False)
        )


def downgrade():
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a rebuild: the table others refer to is
    # never dropped under their foreign keys.
    with op.batch_alter_table("organisation", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("contact_confirmed")
        batch_op.drop_column("opening_hours")
        batch_op.drop_column("public_phone")
        batch_op.drop_column("postal_code")
        batch_op.drop_column("street_address")
