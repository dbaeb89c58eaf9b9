"""The inbox: the keyed hashes of the words of each request's name (the staff search by name);
indexes for an organisation's offers by waiting time and its open cases by last change

Revision ID: 0012
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from referral.personal_data import keyring, name_keys

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "request_name_key",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["request.id"],
            name=op.f("fk_request_name_key_request_id_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "key", name=op.f("pk_request_name_key")),
    )
    op.create_index("ix_request_name_key_key", "request_name_key", ["key", "request_id"])
    op.create_index(
        "ix_referral_org_state_created", "referral", ["organisation_id", "state", "created_at"]
    )
    cases = sa.text("state IN ('accepted', 'in_progress')")
    op.create_index(
        "ix_referral_org_cases",
        "referral",
        ["organisation_id", "updated_at", "id"],
        postgresql_where=cases,
        sqlite_where=cases,
    )
    # The names there are: decrypted one by one, their words' hashes written beside them.
    connection = op.get_bind()
    keys = keyring()
    rows = connection.execute(sa.text("SELECT id, name FROM request WHERE name IS NOT NULL"))
    for request_id, token in rows.all():
        for key in sorted(name_keys(keys.decrypt(token))):
            connection.execute(
                sa.text("INSERT INTO request_name_key (request_id, key) VALUES (:id, :key)"),
                {"id": request_id, "key": key},
            )


def downgrade():
    op.drop_index("ix_referral_org_cases", table_name="referral")
    op.drop_index("ix_referral_org_state_created", table_name="referral")
    op.drop_index("ix_request_name_key_key", table_name="request_name_key")
    op.drop_table("request_name_key")
