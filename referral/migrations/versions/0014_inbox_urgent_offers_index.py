"""The inbox: an organisation's open offers urgent first, then by time left, in a partial index

Revision ID: 0014
Revises: 0010a
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0010a"
branch_labels = None
depends_on = None

OFFERED = sa.text("state = 'offered'")


def upgrade():
    op.create_index(
        "ix_referral_org_offers_urgent",
        "referral",
        ["organisation_id", sa.column("urgent").desc(), "deadline_at", "id"],
        postgresql_where=OFFERED,
        sqlite_where=OFFERED,
    )


def downgrade():
    op.drop_index("ix_referral_org_offers_urgent", table_name="referral")
