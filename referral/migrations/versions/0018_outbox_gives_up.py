"""A mail or text message that will not be tried again has no next attempt: refused for good by
the receiving server (a 5xx reply, an SMS gateway's refusal of the number) or not delivered for
five days (``outbox.MESSAGE_LIFETIME``)

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


WHEN = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.alter_column("next_attempt_at", existing_type=WHEN, nullable=True)


def downgrade():
    # The messages given up are tried again, at once, as before this revision.
    op.execute(
        "UPDATE outbox_message SET next_attempt_at = created_at WHERE next_attempt_at IS NULL"
    )
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.alter_column("next_attempt_at", existing_type=WHEN, nullable=False)
