"""Messages to the person: the outbox carries text messages beside e-mails (``channel``)

Revision ID: 0008
Revises: 0013
Create Date: 2026-11-30 19:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=10), server_default="email", nullable=False)
        )
        batch_op.drop_index("ix_outbox_pending")
        batch_op.create_index(
            "ix_outbox_pending", ["channel", "sent_at", "next_attempt_at"], unique=False
        )


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE channel <> 'email'")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.create_index("ix_outbox_pending", ["sent_at", "next_attempt_at"], unique=False)
        batch_op.drop_column("channel")
