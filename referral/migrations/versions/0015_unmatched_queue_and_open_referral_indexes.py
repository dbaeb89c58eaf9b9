"""The unmatched queue urgent first and the requests open too long, each by a partial index

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UNMATCHED = sa.text("state = 'unmatched'")
OPEN = sa.text("state IN ('accepted', 'in_progress', 'new', 'offered', 'unmatched')")


def upgrade():
    op.create_index(
        "ix_referral_unmatched_queue",
        "referral",
        [sa.column("urgent").desc(), "created_at", "id"],
        postgresql_where=UNMATCHED,
        sqlite_where=UNMATCHED,
    )
    op.create_index(
        "ix_referral_open_created",
        "referral",
        ["created_at", "request_id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade():
    op.drop_index("ix_referral_open_created", table_name="referral")
    op.drop_index("ix_referral_unmatched_queue", table_name="referral")
