"""sign-in security: hashed session tokens, per-account throttle, two-step sign-in, admin audit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:40:00

"""

import hashlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # Session tokens are kept as hashes; the sessions open at the upgrade stay open.
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("two_factor_since", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    users = sa.table(
        "user", sa.column("id"), sa.column("session_token"), sa.column("session_token_hash")
    )
    connection = op.get_bind()
    for user_id, token in connection.execute(sa.select(users.c.id, users.c.session_token)).all():
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(session_token_hash=hashlib.sha256(token.encode()).hexdigest())
        )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.alter_column(
            "session_token_hash", existing_type=sa.String(length=64), nullable=False
        )
        batch_op.drop_constraint("uq_user_session_token", type_="unique")
        batch_op.drop_column("session_token")
        batch_op.create_unique_constraint(
            batch_op.f("uq_user_session_token_hash"), ["session_token_hash"]
        )

    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE password_reset SET created_at = expires_at")
    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.alter_column(
            "created_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_two_factor", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    # The throttle was per account and address; its rows are short-lived and start afresh.
    op.drop_table("sign_in_throttle")
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locks", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )

    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_recovery_code_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_code_code_hash")),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_code_user_id"), ["user_id"], unique=False)

    op.create_table(
        "admin_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user.id"], name=op.f("fk_admin_event_actor_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_admin_event_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_admin_event_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_event")),
    )
    with op.batch_alter_table("admin_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_event_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_event_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_admin_event_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_admin_event_user_id"), ["user_id"], unique=False)


def downgrade():
    op.drop_table("admin_event")
    op.drop_table("recovery_code")
    op.drop_table("sign_in_throttle")
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("require_two_factor")
    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.drop_column("created_at")
    # The old column held the token itself: every session ends at a downgrade.
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_constraint("uq_user_session_token_hash", type_="unique")
        batch_op.alter_column("session_token_hash", new_column_name="session_token")
        batch_op.create_unique_constraint("uq_user_session_token", ["session_token"])
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("two_factor_since")
        batch_op.drop_column("totp_secret")
