"""The text of a status-link message sent or given up before the app began emptying it (only its
hash is kept, decision 0005): emptied now, as the app empties each one since

Revision ID: 0022
Revises: 0021
"""

from alembic import op
from sqlalchemy import bindparam, text

from referral.personal_data import keyring

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# ``outbox._WITH_THE_LINK`` as it stood: a migration keeps the names it was written with.
WITH_THE_LINK = ("person_status_link", "person_fresh_link")


def upgrade():
    statement = text(
        "UPDATE outbox_message SET body = :empty WHERE kind IN :kinds"
        " AND (sent_at IS NOT NULL OR next_attempt_at IS NULL)"
    ).bindparams(bindparam("kinds", expanding=True))
    op.get_bind().execute(statement, {"empty": keyring().encrypt(""), "kinds": WITH_THE_LINK})


def downgrade():
    """The links are not brought back."""
