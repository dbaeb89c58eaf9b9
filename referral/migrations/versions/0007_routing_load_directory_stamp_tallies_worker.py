"""Routing and scale: open load, coverage index, directory stamp, worker jobs, report tallies

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("open_load", sa.Integer(), server_default="0", nullable=False)
        )
    # Active states: offered, accepted, in_progress (handoff.ACTIVE_STATES).
    op.execute(
        "UPDATE organisation SET open_load = (SELECT count(*) FROM referral"
        " WHERE referral.organisation_id = organisation.id"
        " AND referral.state IN ('offered', 'accepted', 'in_progress'))"
    )
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.create_index("ix_coverage_reach", ["specialism", "scope", "area"], unique=False)
    with op.batch_alter_table("referral_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_event_to_state", ["to_state", "referral_id"], unique=False
        )
    op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_version")),
    )
    op.create_table(
        "worker_job",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_job")),
    )
    op.create_table(
        "tally_month",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("through", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_tally_month")),
    )
    op.create_table(
        "step_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("created_month", sa.Date(), nullable=False),
        sa.Column("specialism", sa.String(length=30), nullable=False),
        sa.Column("voivodeship", sa.String(length=2), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_tally")),
    )
    op.create_index("ix_step_tally_created", "step_tally", ["created_month", "month"])
    op.create_table(
        "event_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("offered_to_id", sa.Integer(), nullable=True),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_tally")),
    )
    op.create_index(op.f("ix_event_tally_month"), "event_tally", ["month"])
    op.create_table(
        "answer_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("offer_month", sa.Date(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("tenths", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_tally")),
    )
    op.create_index("ix_answer_tally_offer", "answer_tally", ["offer_month", "month"])


def downgrade():
    with op.batch_alter_table("referral_event", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_event_to_state")
    for table in ("answer_tally", "event_tally", "step_tally", "tally_month"):
        op.drop_table(table)
    op.drop_table("worker_job")
    op.drop_table("directory_version")
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.drop_index("ix_coverage_reach")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("open_load")
