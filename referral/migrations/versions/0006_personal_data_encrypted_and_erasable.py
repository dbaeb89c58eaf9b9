"""personal data encrypted and erasable; the access log

The personal fields (the request's name, phone, e-mail, description and residence status, notes,
the outbox's addresses and bodies), the staff's two-step sign-in secrets and the webhooks' signing
secrets are encrypted in place with the app's newest data key, and the request gets the keyed
hashes of its phone and e-mail. The words written with a referral's steps move out of the
append-only event log into ``event_text``, encrypted. Each mail is tied to the request its subject
names. ``data_access`` records who opened a person's data.

Runs inside the app (``flask db upgrade``, ``init-db``): it needs the app's keys.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000

"""

import re

import sqlalchemy as sa
from alembic import op

from referral.personal_data import keyring, match_key

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 1000
# The columns encrypted in place, by table; their rows have an integer primary key ``id``.
ENCRYPTED = {
    "request": ("name", "phone", "email", "description", "residence_status"),
    "note": ("body",),
    "outbox_message": ("to_address", "body"),
    "user": ("totp_secret",),  # the two-step sign-in's shared secret
    "webhook_endpoint": ("secret",),  # the webhooks' signing secret
}
# Columns too narrow for a Fernet token on PostgreSQL (SQLite keeps any length in VARCHAR).
WIDENED = [
    ("request", "name", 200),
    ("request", "phone", 40),
    ("request", "email", 254),
    ("request", "residence_status", 40),
    ("outbox_message", "to_address", 254),
    ("user", "totp_secret", 32),
    ("webhook_endpoint", "secret", 100),
]
REFERENCE = re.compile(r"\b[A-Z0-9]{3}-[A-Z0-9]{3}\b")


def _plain(table: str, columns: tuple[str, ...]) -> sa.TableClause:
    """The table as plain text columns: what is stored, whatever the models make of it."""
    return sa.table(table, sa.column("id", sa.Integer), *(sa.column(c, sa.Text) for c in columns))


def _rows(connection, table: str, columns: tuple[str, ...]):
    """Every row's id and ``columns``, in batches by id."""
    plain = _plain(table, columns)
    last = 0
    while True:
        batch = connection.execute(
            sa.select(plain.c.id, *(plain.c[c] for c in columns))
            .where(plain.c.id > last)
            .order_by(plain.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def _recode(connection, table: str, columns: tuple[str, ...], change) -> None:
    plain = _plain(table, columns)
    for row in _rows(connection, table, columns):
        values = {
            column: None if value is None else change(value)
            for column, value in zip(columns, row[1:], strict=True)
        }
        connection.execute(sa.update(plain).where(plain.c.id == row[0]).values(values))


def _widen(wide: bool) -> None:
    """Text for the tokens (``wide``), or back to the old lengths; PostgreSQL only."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in WIDENED:
        text, string = sa.Text(), sa.String(length)
        op.alter_column(
            table, column, type_=text if wide else string, existing_type=string if wide else text
        )


def upgrade():
    connection = op.get_bind()
    keys = keyring()

    op.create_table(
        "event_text",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["referral_event.id"], name=op.f("fk_event_text_event_id_referral_event")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_event_text_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_text")),
    )
    with op.batch_alter_table("event_text", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_text_referral_id"), ["referral_id"])

    op.create_table(
        "data_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_token_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("page", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_token_id"],
            ["api_token.id"],
            name=op.f("fk_data_access_api_token_id_api_token"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_data_access_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_data_access_referral_id_referral")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["request.id"], name=op.f("fk_data_access_request_id_request")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_data_access_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_access")),
    )
    with op.batch_alter_table("data_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_access_at"), ["at"])
        batch_op.create_index(batch_op.f("ix_data_access_referral_id"), ["referral_id"])
        batch_op.create_index(batch_op.f("ix_data_access_user_id"), ["user_id"])
        batch_op.create_index("ix_data_access_request_at", ["request_id", "at"])

    # Added in place, without a table rebuild on SQLite (a rebuild of ``request`` would trip the
    # foreign keys of its referrals).
    op.add_column("request", sa.Column("phone_match", sa.String(length=64), nullable=True))
    op.add_column("request", sa.Column("email_match", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_request_phone_match"), "request", ["phone_match"])
    op.create_index(op.f("ix_request_email_match"), "request", ["email_match"])
    if connection.dialect.name == "sqlite":  # Alembic adds the key apart, which SQLite cannot
        op.execute(
            "ALTER TABLE outbox_message ADD COLUMN request_id INTEGER "
            "CONSTRAINT fk_outbox_message_request_id_request REFERENCES request (id)"
        )
    else:
        op.add_column("outbox_message", sa.Column("request_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_outbox_message_request_id_request"),
            "outbox_message",
            "request",
            ["request_id"],
            ["id"],
        )
    op.create_index(op.f("ix_outbox_message_request_id"), "outbox_message", ["request_id"])
    _widen(True)

    # The data, now that the columns can hold it.
    for row in _rows(connection, "request", ("phone", "email")):
        connection.execute(
            sa.text("UPDATE request SET phone_match = :phone, email_match = :email WHERE id = :id"),
            {
                "id": row[0],
                "phone": match_key("phone", row[1]),
                "email": match_key("email", row[2]),
            },
        )
    for table, columns in ENCRYPTED.items():
        _recode(connection, table, columns, keys.encrypt)
    references: dict[str, int] = {
        reference: request_id
        for reference, request_id in connection.execute(
            sa.text("SELECT reference, id FROM request")
        )
    }
    for message_id, subject in _rows(connection, "outbox_message", ("subject",)):
        found = REFERENCE.search(subject or "")
        if found and found.group(0) in references:
            connection.execute(
                sa.text("UPDATE outbox_message SET request_id = :request WHERE id = :id"),
                {"id": message_id, "request": references[found.group(0)]},
            )
    for event_id, referral_id, text in connection.execute(
        sa.text("SELECT id, referral_id, text FROM referral_event WHERE text IS NOT NULL")
    ).all():
        connection.execute(
            sa.text(
                "INSERT INTO event_text (event_id, referral_id, body) "
                "VALUES (:id, :referral, :body)"
            ),
            {"id": event_id, "referral": referral_id, "body": keys.encrypt(text)},
        )
    # SQLite 3.35+ drops a plain column in place (no rebuild of the append-only log).
    op.drop_column("referral_event", "text")


def downgrade():
    connection = op.get_bind()
    keys = keyring()
    op.add_column("referral_event", sa.Column("text", sa.Text(), nullable=True))
    for event_id, body in connection.execute(
        sa.text("SELECT event_id, body FROM event_text")
    ).all():
        connection.execute(
            sa.text("UPDATE referral_event SET text = :text WHERE id = :id"),
            {"id": event_id, "text": keys.decrypt(body)},
        )
    for table, columns in ENCRYPTED.items():
        _recode(connection, table, columns, keys.decrypt)
    _widen(False)
    op.drop_index(op.f("ix_outbox_message_request_id"), table_name="outbox_message")
    if connection.dialect.name == "sqlite":  # a column with a key: SQLite rebuilds the table
        with op.batch_alter_table("outbox_message") as batch_op:
            batch_op.drop_column("request_id")
    else:
        op.drop_constraint(
            op.f("fk_outbox_message_request_id_request"), "outbox_message", type_="foreignkey"
        )
        op.drop_column("outbox_message", "request_id")
    op.drop_index(op.f("ix_request_email_match"), table_name="request")
    op.drop_index(op.f("ix_request_phone_match"), table_name="request")
    op.drop_column("request", "email_match")
    op.drop_column("request", "phone_match")
    op.drop_table("data_access")
    op.drop_table("event_text")
