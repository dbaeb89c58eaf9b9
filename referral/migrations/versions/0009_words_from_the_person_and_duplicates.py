"""What the person adds through their status link (messages, words asked again, contact changes),
and the earlier request a new one may duplicate

Revision ID: 0009
Revises: 0011
Create Date: 2026-11-30 19:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "from_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("changed", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_from_person_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_from_person_referral_id_referral")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["request.id"], name=op.f("fk_from_person_request_id_request")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_from_person")),
    )
    with op.batch_alter_table("from_person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_from_person_referral_id"), ["referral_id"])
        batch_op.create_index(batch_op.f("ix_from_person_request_id"), ["request_id"])
    # Added in place, without a table rebuild on SQLite (a rebuild of ``request`` would trip the
    # foreign keys of its referrals).
    op.add_column("request", sa.Column("possible_duplicate_of", sa.String(length=7), nullable=True))


def downgrade():
    op.drop_column("request", "possible_duplicate_of")
    with op.batch_alter_table("from_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_from_person_request_id"))
        batch_op.drop_index(batch_op.f("ix_from_person_referral_id"))
    op.drop_table("from_person")
