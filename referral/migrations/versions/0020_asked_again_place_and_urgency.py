"""A need asked again keeps what the new form changed: its place when not the earlier request's,
and that it is urgent now

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("from_person") as batch_op:
        batch_op.add_column(sa.Column("city_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("voivodeship_teryt", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("urgent", sa.Boolean(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_from_person_city_id_city"), "city", ["city_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_from_person_voivodeship_teryt_voivodeship"),
            "voivodeship",
            ["voivodeship_teryt"],
            ["teryt"],
        )


def downgrade():
    with op.batch_alter_table("from_person") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_from_person_voivodeship_teryt_voivodeship"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_from_person_city_id_city"), type_="foreignkey")
        batch_op.drop_column("urgent")
        batch_op.drop_column("voivodeship_teryt")
        batch_op.drop_column("city_id")
