"""Sign-in records keep no text typed for an address that names no account (only a keyed mark
from now on); the throttle's rows are keyed with MATCH_KEY, so the old unkeyed ones go

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    # What was typed for no account: gone (the app writes "?" and a keyed mark for new ones).
    # An attempt on a locked account was recorded without its user: its address names one, kept.
    op.execute(
        "UPDATE sign_in_event SET email = '?' WHERE user_id IS NULL"
        ' AND lower(email) NOT IN (SELECT lower(email) FROM "user")'
    )
    # Counts of attempts under the old keys would never be met again: each starts afresh.
    op.execute("DELETE FROM sign_in_throttle")


def downgrade():
    """What was typed is not brought back; the rows stay as they are."""
