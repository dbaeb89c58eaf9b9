"""Erasure leaves nothing: after the person withdraws, after the retention purge of ended requests
and after the purge of requests left open too long, no trace of the person's name, phone, e-mail,
story, the notes about them or the words staff wrote is left in the database — not in plain text,
not encrypted, not as a matching hash, not in SQLite's write-ahead log — while the reports keep
their numbers."""

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from referral import erasure, lifecycle, report_tables, reports
from referral.extensions import db
from referral.handoff import OPEN_TOO_LONG, Action, Party, State
from referral.mailer import deliver_pending
from referral.models import (
    EventText,
    HelpRequest,
    Note,
    OutboxMessage,
    Referral,
    ReferralEvent,
    utcnow,
)

from .helpers import user
from .mailbox import Mailbox, _serve
from .web.test_public import post_intake, status_path


def stored(app) -> bytes:
    """Everything the database holds, as bytes: on SQLite the database file and its write-ahead
    log as they lie on disk; on PostgreSQL every row of every table, as text."""
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            path = Path(db.engine.url.database)
            files = [path, path.with_name(f"{path.name}-wal")]
            return b"".join(file.read_bytes() for file in files if file.exists())
        with db.engine.connect() as connection:
            rows = [
                row
                for table in db.metadata.sorted_tables
                for row in connection.execute(
                    text(f'SELECT row_to_json(t)::text FROM "{table.name}" t')
                ).scalars()
            ]
        return "\n".join(rows).encode()


@dataclass
class Canaries:
    """Unique values for one person, and what the database made of them."""

    name: str = field(default_factory=lambda: f"Kanarek-{secrets.token_hex(4)}")
    phone_digits: str = field(default_factory=lambda: f"512{secrets.randbelow(10**6):06d}")
    email: str = field(default_factory=lambda: f"kanarek-{secrets.token_hex(4)}@example.org")
    story: str = field(default_factory=lambda: f"Story-{secrets.token_hex(4)} of my landlord")
    note: str = field(default_factory=lambda: f"Note-{secrets.token_hex(4)}")
    internal_note: str = field(default_factory=lambda: f"Internal-{secrets.token_hex(4)}")
    staff_words: str = field(
        default_factory=lambda: f"she lives at Prosta 5, door {secrets.token_hex(4)}"
    )
    stored_forms: list[str] = field(default_factory=list)  # ciphertexts, hashes, token hash

    @property
    def phone(self) -> str:
        return f"+48 {self.phone_digits[:3]} {self.phone_digits[3:6]} {self.phone_digits[6:]}"

    def plain(self) -> list[str]:
        return [
            self.name,
            self.phone,
            self.phone_digits,
            f"+48{self.phone_digits}",
            self.email,
            self.story,
            self.note,
            self.internal_note,
            self.staff_words,
        ]

    def traces(self, app) -> list[str]:
        everything = stored(app)
        return [trace for trace in self.plain() + self.stored_forms if trace.encode() in everything]


def _raw(table: str, column: str, where: str, **params) -> list[str]:
    query = text(f"SELECT {column} FROM {table} WHERE {where}")
    return [value for value in db.session.execute(query, params).scalars() if value]


@pytest.fixture
def person(app, client, staff, smtp_server):
    """A person asks for legal help in Wrocław; the first organisation declines in words that
    quote them, the next accepts (the person is mailed), notes are written on both sides of the
    referral, and the holder opens the page. Returns the canaries and the status page's path."""
    canaries = Canaries()
    response = post_intake(
        client,
        "en",
        needs=["legal"],
        name=canaries.name,
        phone=canaries.phone,
        email=canaries.email,
        contact_channel="email",
        description=canaries.story,
    )
    path = status_path(response.get_data(as_text=True))
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        first = user(f"staff@{referral.organisation.slug}.example")
        lifecycle.act(
            referral.id, first, Action.DECLINE, reason_code="other", text=canaries.staff_words
        )
        referral = db.session.get(Referral, referral.id)
        holder = user(f"staff@{referral.organisation.slug}.example")
        lifecycle.act(referral.id, holder, Action.ACCEPT)
        lifecycle.add_note(referral, holder, canaries.note, shared=True)
        lifecycle.add_note(referral, holder, canaries.internal_note, shared=False)
        request_id = referral.request_id
        deliver_pending()  # the mail to the person is sent: erasure deletes sent mail too
        canaries.stored_forms = [
            *_raw("request", "name", "id = :id", id=request_id),
            *_raw("request", "phone", "id = :id", id=request_id),
            *_raw("request", "email", "id = :id", id=request_id),
            *_raw("request", "description", "id = :id", id=request_id),
            *_raw("request", "residence_status", "id = :id", id=request_id),
            *_raw("request", "phone_match", "id = :id", id=request_id),
            *_raw("request", "email_match", "id = :id", id=request_id),
            *_raw("request", "status_token_hash", "id = :id", id=request_id),
            *_raw("note", "body", "referral_id = :id", id=referral.id),
            *_raw("event_text", "body", "referral_id = :id", id=referral.id),
            *_raw("outbox_message", "to_address", "request_id = :id", id=request_id),
            *_raw("outbox_message", "body", "request_id = :id", id=request_id),
        ]
        # 8 of the request, 2 notes, 1 text, 3 mails (2 offers, 1 to the person) of 2 each
        assert len(canaries.stored_forms) == 17
        holder_email = holder.email
    assert smtp_server.to(canaries.email)
    staff_client = app.test_client()
    staff_client.post("/login", data={"email": holder_email, "password": "demo-password"})
    page = staff_client.get(f"/staff/referrals/{referral.id}").get_data(as_text=True)
    assert canaries.name in page and canaries.story in page and canaries.note in page
    return canaries, path


def assert_erased(app, client, canaries, path):
    assert canaries.traces(app) == []
    assert client.get(path).status_code == 404  # the status link opens nothing
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        assert request.erased_at is not None
        assert (request.name, request.phone, request.email, request.description) == (None,) * 4
        assert (request.phone_match, request.email_match) == (None, None)
        for model in (Note, EventText, OutboxMessage):
            assert db.session.scalars(select(model)).all() == [], model
        assert db.session.scalars(select(ReferralEvent)).all()  # the coded log stays


def report_numbers(app) -> list:
    today = utcnow().date()
    period = reports.Period(date(today.year - 1, 1, 1), date(today.year + 1, 12, 31))
    with app.test_request_context():
        return [(t.key, t.rows) for t in report_tables.Report(period, "en").tables()]


def test_withdrawal_leaves_no_trace_of_the_person(app, client, person):
    canaries, path = person
    assert canaries.traces(app)  # the test can see: the encrypted forms are there before
    confirmed = client.post(f"{path}/withdraw", data={"confirmed": "yes"})
    assert "your personal data was erased" in confirmed.get_data(as_text=True)
    assert_erased(app, client, canaries, path)


def test_retention_purge_of_an_ended_request_leaves_no_trace_and_keeps_the_reports(
    app, client, person, monkeypatch
):
    canaries, path = person
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        holder = user(f"staff@{referral.organisation.slug}.example")
        lifecycle.act(
            referral.id, holder, Action.CLOSE, outcome="resolved", text=canaries.staff_words
        )
    before = report_numbers(app)
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 0)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "Requests erased: 1 (1 ended, 0 open too long)" in result.output
    assert_erased(app, client, canaries, path)
    assert report_numbers(app) == before


def test_a_request_left_open_too_long_is_withdrawn_by_the_system_and_leaves_no_trace(
    app, client, person, monkeypatch
):
    canaries, path = person
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 0)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "Requests erased: 1 (0 ended, 1 open too long)" in result.output
    assert_erased(app, client, canaries, path)
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        last = referral.events[-1]
        assert referral.state == State.WITHDRAWN
        assert (last.party, last.reason_code) == (Party.SYSTEM, OPEN_TOO_LONG)


def test_requests_younger_than_the_limits_are_kept(app, client, person):
    canaries, path = person
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "Requests erased: 0" in result.output
    assert client.get(path).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(HelpRequest)).name == canaries.name


def test_erasure_alone_changes_no_number_in_the_reports(app, person):
    before = report_numbers(app)
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        erasure.erase(request, utcnow())
        db.session.commit()
    assert report_numbers(app) == before


class ErasingMailbox(Mailbox):
    """An SMTP server during whose delivery the person withdraws: the request is erased while
    the sender holds its mail."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app

    async def handle_DATA(self, server, session, envelope):
        with self.app.app_context():
            lifecycle.withdraw_request(db.session.scalar(select(HelpRequest)))
            db.session.remove()
        return await super().handle_DATA(server, session, envelope)


def test_a_mail_erased_while_it_is_being_sent_does_not_stop_the_sender(app, person):
    canaries, _path = person
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        db.session.add(
            OutboxMessage(
                kind="accepted_person",
                request_id=request.id,
                to_address=canaries.email,
                subject="Your request",
                body="News.",
            )
        )
        db.session.commit()
    for box in _serve(app, ErasingMailbox(app)):
        with app.app_context():
            delivery = deliver_pending()
            assert (delivery.sent, delivery.failed) == (1, 0)
            assert db.session.scalars(select(OutboxMessage)).all() == []
        assert box.to(canaries.email)


def test_open_requests_near_the_limit_are_listed_for_the_coordinator(
    app, person, coordinator, monkeypatch
):
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 20)
    monkeypatch.setitem(app.config, "OPEN_RETENTION_WARNING_DAYS", 30)
    with app.app_context():
        reference = db.session.scalar(select(HelpRequest.reference))
    assert "1 open request will be withdrawn and erased soon" in coordinator.get(
        "/admin/"
    ).get_data(as_text=True)
    html = coordinator.get("/admin/retention").get_data(as_text=True)
    assert reference in html
    monkeypatch.setitem(app.config, "OPEN_RETENTION_WARNING_DAYS", 10)
    assert reference not in coordinator.get("/admin/retention").get_data(as_text=True)


def test_the_status_page_says_when_the_data_will_be_erased(app, client, person, monkeypatch):
    _canaries, path = person
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 100)
    with app.app_context():
        sent = db.session.scalar(select(HelpRequest.created_at))
    html = client.get(path).get_data(as_text=True)
    due = f"{(sent + timedelta(days=100)):%B} {(sent + timedelta(days=100)).day},"
    assert "If your request is still open on" in html and due in html
