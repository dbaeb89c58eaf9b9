"""The intake form a request (or the words joined to an open need) came from, by a hash of its
one-time token: the same form sent twice (a reload of the confirmation, a double tap) is one
request; and the requests that name another as a possible duplicate, found at its erasure

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


NAMED = sa.text("possible_duplicate_of IS NOT NULL")


def upgrade():
    op.add_column("request", sa.Column("submission_hash", sa.String(64), nullable=True))
    op.create_index("ix_request_submission_hash", "request", ["submission_hash"], unique=True)
    op.add_column("from_person", sa.Column("submission_hash", sa.String(64), nullable=True))
    op.create_index("ix_from_person_submission_hash", "from_person", ["submission_hash"])
    op.create_index(
        "ix_request_possible_duplicate_of",
        "request",
        ["possible_duplicate_of"],
        postgresql_where=NAMED,
        sqlite_where=NAMED,
    )


def downgrade():
    op.drop_index("ix_request_possible_duplicate_of", table_name="request")
    op.drop_index("ix_from_person_submission_hash", table_name="from_person")
    op.drop_column("from_person", "submission_hash")
    op.drop_index("ix_request_submission_hash", table_name="request")
    op.drop_column("request", "submission_hash")
