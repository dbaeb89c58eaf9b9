"""A message to the person names the need it tells about (none: the whole request, as its status
link), so the referral's page shows each holder only the messages about its own need

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("referral_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_message_referral_id_referral"),
            "referral",
            ["referral_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_message_referral_id_referral"), type_="foreignkey"
        )
        batch_op.drop_column("referral_id")
