"""What the person adds through their status link (messages, words asked again, contact changes);
the name's matching hash and a possible duplicate

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30 19:00:00

"""

import sqlalchemy as sa
from alembic import op

from referral.personal_data import keyring, match_key

revision = "0009"
down_revision = "0007"
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
    op.add_column("request", sa.Column("name_match", sa.String(length=64), nullable=True))
    op.add_column("request", sa.Column("possible_duplicate_of", sa.String(length=7), nullable=True))
    op.create_index(op.f("ix_request_name_match"), "request", ["name_match"])
    connection = op.get_bind()
    keys = keyring()
    names = sa.table("request", sa.column("id", sa.Integer), sa.column("name", sa.Text))
    for row_id, name in connection.execute(
        sa.select(names.c.id, names.c.name).where(names.c.name.is_not(None))
    ).all():
        connection.execute(
            sa.text("UPDATE request SET name_match = :match WHERE id = :id"),
            {"id": row_id, "match": match_key("name", keys.decrypt(name))},
        )


def downgrade():
    op.drop_index(op.f("ix_request_name_match"), table_name="request")
    op.drop_column("request", "possible_duplicate_of")
    op.drop_column("request", "name_match")
    with op.batch_alter_table("from_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_from_person_request_id"))
        batch_op.drop_index(batch_op.f("ix_from_person_referral_id"))
    op.drop_table("from_person")
