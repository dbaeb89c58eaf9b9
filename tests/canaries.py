"""A person with a whole history, written with unique canary values, and what the database
holds as bytes: for the tests that show personal data encrypted at rest, shown to those allowed,
and erased without a trace."""

import secrets
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text

from referral import appointments, lifecycle, sms
from referral.extensions import db
from referral.handoff import Action
from referral.mailer import deliver_pending
from referral.models import Referral, utcnow

from .helpers import user
from .web.test_public import post_intake, status_path


def stored(app) -> bytes:
    """Everything the database holds, as bytes: on SQLite the database file and its write-ahead
    log as they lie on disk; on PostgreSQL every row of every table, as text."""
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            path = Path(db.engine.url.database)
            files = [str(f) for f in (path, path.with_name(f"{path.name}-wal")) if f.exists()]
            # Read by another process: closing any descriptor of a SQLite file drops every lock
            # this process holds on it (POSIX locks), and a later test's other process (gunicorn)
            # then took itself for the last user and deleted the log under our connections.
            return subprocess.run(["cat", *files], capture_output=True, check=True).stdout  # noqa: S603, S607
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
    person_words: str = field(default_factory=lambda: f"Message-{secrets.token_hex(4)} from me")
    staff_words: str = field(
        default_factory=lambda: f"she lives at Prosta 5, door {secrets.token_hex(4)}"
    )
    place: str = field(default_factory=lambda: f"ul. Kanarkowa {secrets.token_hex(4)}")
    words: str = field(default_factory=lambda: f"Thursday after {secrets.token_hex(4)}")
    stored_forms: list[str] = field(default_factory=list)  # ciphertexts, hashes, token hash

    @property
    def phone(self) -> str:
        return f"+48 {self.phone_digits[:3]} {self.phone_digits[3:6]} {self.phone_digits[6:]}"

    @property
    def e164(self) -> str:
        """How the intake stores it."""
        return f"+48{self.phone_digits}"

    def plain(self) -> list[str]:
        return [
            self.name,
            self.phone,
            self.phone_digits,
            self.e164,
            self.email,
            self.story,
            self.note,
            self.internal_note,
            self.person_words,
            self.staff_words,
            self.place,
            self.words,
        ]

    def traces(self, app) -> list[str]:
        everything = stored(app)
        return [trace for trace in self.plain() + self.stored_forms if trace.encode() in everything]


def raw(table: str, column: str, where: str, **params) -> list[str]:
    query = text(f"SELECT {column} FROM {table} WHERE {where}")
    return [value for value in db.session.execute(query, params).scalars() if value]


@dataclass
class Person:
    canaries: Canaries
    path: str  # of the status page
    referral_id: int
    declined_by: str  # slug
    holder: str  # slug


def person_with_history(app, client, login_as, smtp_server) -> Person:
    """A person asks for legal help in Wrocław; the first organisation declines in words that
    quote them, the next accepts (the person is mailed), notes are written on both sides of the
    referral, and the holder opens the page."""
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
        soon = utcnow() + timedelta(days=3)
        appointments.propose(referral, holder, soon, "in_person", canaries.place)
        appointments.ask_another_time(
            referral.request, referral.id, canaries.words, referral.appointment.sequence
        )
        request_id = referral.request_id
        declined_by, holder_slug = first.organisation.slug, holder.organisation.slug
    # The person chooses text messages instead of e-mail, and writes to the holder.
    contact = {"phone": canaries.phone, "email": canaries.email, "contact_channel": "sms"}
    contact["safe_to_message"] = "y"  # still safe: unticked, the messages waiting would not go
    assert client.post(f"{path}/contact", data=contact).status_code == 200
    written = client.post(
        f"{path}/message", data={"referral_id": referral.id, "body": canaries.person_words}
    )
    assert written.status_code == 200
    with app.app_context():
        referral = db.session.get(Referral, referral.id)
        deliver_pending()  # the mail to the person is sent: erasure deletes sent mail too
        sms.deliver_pending()
        canaries.stored_forms = [
            *raw("request", "name", "id = :id", id=request_id),
            *raw("request", "phone", "id = :id", id=request_id),
            *raw("request", "email", "id = :id", id=request_id),
            *raw("request", "description", "id = :id", id=request_id),
            *raw("request", "residence_status", "id = :id", id=request_id),
            *raw("request", "phone_match", "id = :id", id=request_id),
            *raw("request", "email_match", "id = :id", id=request_id),
            *raw("request", "status_token_hash", "id = :id", id=request_id),
            *raw("note", "body", "referral_id = :id", id=referral.id),
            *raw("event_text", "body", "referral_id = :id", id=referral.id),
            *raw("from_person", "body", "request_id = :id", id=request_id),
            *raw("outbox_message", "to_address", "request_id = :id", id=request_id),
            *raw("outbox_message", "body", "request_id = :id", id=request_id),
            *raw("outbox_message", "calendar", "request_id = :id", id=request_id),
            *raw("appointment", "place", "referral_id = :id", id=referral.id),
            *raw("appointment", "person_words", "referral_id = :id", id=referral.id),
        ]
        # 8 of the request, 2 notes, 1 text, 1 message from the person, and 9 messages of 2
        # each: 2 offers; to the person their link by e-mail and by SMS, passed on, accepted,
        # the appointment; to the holder about the person's message and answer to the
        # appointment; the appointment's calendar file, place and the person's words
        assert len(canaries.stored_forms) == 33
        person = Person(canaries, path, referral.id, declined_by, holder_slug)
    assert smtp_server.to(canaries.email)
    page = login_as(person.holder).get(f"/staff/referrals/{person.referral_id}")
    html = page.get_data(as_text=True)
    assert canaries.name in html and canaries.story in html and canaries.note in html
    assert canaries.place in html and canaries.words in html
    assert canaries.person_words in html
    return person
