"""The reports' tally of the referrals that went unmatched; the tallies counted afresh

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 19:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TALLIES = ("tally_month", "step_tally", "event_tally", "answer_tally")


def upgrade():
    op.create_table(
        "unmatched_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("created_month", sa.Date(), nullable=False),
        sa.Column("voivodeship", sa.String(length=2), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_tally")),
    )
    with op.batch_alter_table("unmatched_tally", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unmatched_tally_created", ["created_month", "month"], unique=False
        )
    # The months counted so far have no unmatched tally: the job counts every month afresh (the
    # reports count from the events meanwhile, with the same figures).
    for table in TALLIES:
        op.execute(f"DELETE FROM {table}")  # noqa: S608  # nosec B608 - fixed names


def downgrade():
    with op.batch_alter_table("unmatched_tally", schema=None) as batch_op:
        batch_op.drop_index("ix_unmatched_tally_created")
    op.drop_table("unmatched_tally")
