"""The inbox: an organisation's open offers by waiting time in a partial index (offers only)
instead of one on every state

Revision ID: 0012a
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0012a"
down_revision = "0008"
branch_labels = None
depends_on = None

OFFERED = sa.text("state = 'offered'")


def upgrade():
    op.drop_index("ix_referral_org_state_created", table_name="referral")
    op.create_index(
        "ix_referral_org_offers_waiting",
        "referral",
        ["organisation_id", "created_at", "id"],
        postgresql_where=OFFERED,
        sqlite_where=OFFERED,
    )


def downgrade():
    op.drop_index("ix_referral_org_offers_waiting", table_name="referral")
    op.create_index(
        "ix_referral_org_state_created", "referral", ["organisation_id", "state", "created_at"]
    )
