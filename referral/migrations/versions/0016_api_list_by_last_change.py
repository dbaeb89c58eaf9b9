"""The API's list of referrals in the order of the last change, by two indexes

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_referral_updated", "referral", ["updated_at", "id"])
    op.create_index(
        "ix_referral_referrer_updated",
        "referral",
        ["referring_organisation_id", "updated_at", "id"],
    )


def downgrade():
    op.drop_index("ix_referral_referrer_updated", table_name="referral")
    op.drop_index("ix_referral_updated", table_name="referral")
