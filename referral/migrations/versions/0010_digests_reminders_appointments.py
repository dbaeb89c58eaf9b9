"""Digests and reminders: each staff member's offer mail, reminders sent once

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 19:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (SQLite 3.35+ drops columns too): a batch would copy and drop the user
    # table, which every audit table refers to.
    op.add_column(
        "user",
        sa.Column("offer_mail", sa.String(length=10), server_default="each", nullable=False),
    )
    op.create_table(
        "reminder_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_reminder_sent_referral_id_referral")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_reminder_sent_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_sent")),
        sa.UniqueConstraint("key", name=op.f("uq_reminder_sent_key")),
    )
    op.create_index(op.f("ix_reminder_sent_referral_id"), "reminder_sent", ["referral_id"])
    op.create_index(op.f("ix_reminder_sent_user_id"), "reminder_sent", ["user_id"])


def downgrade():
    op.drop_index(op.f("ix_reminder_sent_user_id"), table_name="reminder_sent")
    op.drop_index(op.f("ix_reminder_sent_referral_id"), table_name="reminder_sent")
    op.drop_table("reminder_sent")
    op.drop_column("user", "offer_mail")
