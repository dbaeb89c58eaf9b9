"""Appointments at the handoff: the appointment, its steps, a mail's calendar attachment

Revision ID: 0010a
Revises: 0010
Create Date: 2026-11-30 19:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010a"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("outbox_message", sa.Column("calendar", sa.Text(), nullable=True))
    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("person_words", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_appointment_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_appointment_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
        sa.UniqueConstraint("referral_id", name=op.f("uq_appointment_referral_id")),
    )
    op.create_table(
        "appointment_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user.id"], name=op.f("fk_appointment_step_actor_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_appointment_step_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_step")),
    )
    op.create_index(op.f("ix_appointment_step_referral_id"), "appointment_step", ["referral_id"])


def downgrade():
    op.drop_index(op.f("ix_appointment_step_referral_id"), table_name="appointment_step")
    op.drop_table("appointment_step")
    op.drop_table("appointment")
    op.drop_column("outbox_message", "calendar")
