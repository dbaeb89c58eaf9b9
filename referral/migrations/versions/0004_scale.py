"""scale: each organisation's open load kept as a column, routing's coverage index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 16:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ACTIVE_STATES = ("offered", "accepted", "in_progress")


def upgrade():
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_load", sa.Integer(), server_default="0", nullable=False))
    states = ", ".join(f"'{state}'" for state in ACTIVE_STATES)
    op.execute(
        "UPDATE organisation SET open_load = (SELECT count(*) FROM referral"
        f" WHERE referral.organisation_id = organisation.id AND referral.state IN ({states}))"
    )
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.create_index("ix_coverage_reach", ["specialism", "scope", "area"], unique=False)


def downgrade():
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.drop_index("ix_coverage_reach")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("open_load")
