"""The data model: the directory (organisations, coverage, places), people's requests, referrals and
their append-only event log, staff accounts, notes, the mail outbox and the log of who opened a
person's data.

Personal data sits in ``Encrypted`` columns (referral/personal_data.py); the request's are
deferred (group "personal"), so a page that does not show them never decrypts them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    column,
    event,
    false,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from .extensions import Model
from .handoff import OPEN_STATES
from .personal_data import Encrypted, match_key, name_keys

# A referral still open, as a partial index's condition (migration 0015 writes the same).
OPEN_REFERRAL = "state IN ({})".format(", ".join(f"'{state}'" for state in sorted(OPEN_STATES)))


def _only_where(condition: str) -> dict[str, Any]:
    """A partial index's condition, the same on PostgreSQL and SQLite."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and gives them back aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use an aware one")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class LocalisedNames:
    """Mixin for rows with ``name_pl``, ``name_uk`` and ``name_en``."""

    if TYPE_CHECKING:
        name_pl: str

    def name_in(self, language: str) -> str:
        return getattr(self, f"name_{language}", None) or self.name_pl


class Voivodeship(LocalisedNames, Model):
    teryt: Mapped[str] = mapped_column(String(2), primary_key=True)
    iso_code: Mapped[str] = mapped_column(String(5), unique=True)
    name_pl: Mapped[str] = mapped_column(String(80))
    name_uk: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))

    cities: Mapped[list[City]] = relationship(back_populates="voivodeship")


class City(LocalisedNames, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_pl: Mapped[str] = mapped_column(String(80))
    name_uk: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    voivodeship_teryt: Mapped[str] = mapped_column(ForeignKey("voivodeship.teryt"))

    voivodeship: Mapped[Voivodeship] = relationship(back_populates="cities")


class Organisation(LocalisedNames, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_pl: Mapped[str] = mapped_column(String(200))
    name_uk: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_pl: Mapped[str] = mapped_column(Text, default="")
    description_uk: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str | None] = mapped_column(String(300))
    home_city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # False where the languages are a demo assumption, not the organisation's own statement.
    languages_confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(254))
    takes_referrals: Mapped[bool] = mapped_column(Boolean, default=True)
    capacity: Mapped[int | None] = mapped_column(Integer)
    paused_until: Mapped[date | None] = mapped_column(Date)
    pause_reason: Mapped[str | None] = mapped_column(String(500))
    # Its staff must use two-step sign-in (a coordinator's decision, audited).
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    # When this organisation last got an offer: the fair-rotation tie-break of routing.
    last_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The public contact shown in the directory and the HSDS export (referral/contact.py): the
    # address is in the home city; opening hours by weekday code, {"MO": ["09:00", "17:00"]}.
    street_address: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(6))
    public_phone: Mapped[str | None] = mapped_column(String(40))
    opening_hours: Mapped[dict | None] = mapped_column(JSON)
    # False where the home city and contact come from public sources the organisation has not
    # confirmed: shown, but never as the organisation's own statement.
    contact_confirmed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Its referrals in active states (offered, accepted, in progress), kept by the lifecycle in
    # the same transaction as each step (counters.adjust_open_load): routing never counts them.
    open_load: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    home_city: Mapped[City | None] = relationship()
    coverage: Mapped[list[Coverage]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )
    users: Mapped[list[User]] = relationship(back_populates="organisation")

    def description_in(self, language: str) -> str:
        return getattr(self, f"description_{language}", None) or self.description_pl

    def is_paused(self, today: date) -> bool:
        """Paused up to and including ``paused_until``."""
        return self.paused_until is not None and today <= self.paused_until


class Coverage(Model):
    """An organisation serves a specialism in a city, a voivodeship or nationwide (area None)."""

    __table_args__ = (
        UniqueConstraint("organisation_id", "specialism", "scope", "area"),
        # Routing asks for one specialism in three places (the city, its voivodeship, nationwide).
        Index("ix_coverage_reach", "specialism", "scope", "area"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    specialism: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str] = mapped_column(String(20))
    area: Mapped[str | None] = mapped_column(String(60))

    organisation: Mapped[Organisation] = relationship(back_populates="coverage")


class User(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="staff")
    language: Mapped[str] = mapped_column(String(2), default="pl")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The hash of Flask-Login's id (the token in the signed session cookie): replaced at sign-in,
    # sign-out, password change and deactivation, so that a copied cookie stops working at once;
    # a copy of the database does not hold a working token.
    session_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Two-step sign-in (TOTP, RFC 6238): the shared secret (encrypted: a copied database makes no
    # codes), set when enrolment starts; in use from two_factor_since on. The last time step
    # accepted: a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(Encrypted)
    two_factor_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # How they hear of their organisation's offers (reminders.OfferMail): each, hourly, daily.
    offer_mail: Mapped[str] = mapped_column(String(10), default="each", server_default="each")

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")

    # The session token itself, known only in the request that made it or that presented it.
    session_token = cast("str | None", None)

    # Flask-Login protocol
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"

    @property
    def two_factor_enabled(self) -> bool:
        return self.two_factor_since is not None

    @property
    def two_factor_required(self) -> bool:
        """Coordinators, and staff of an organisation that asks for it."""
        return self.is_coordinator or bool(
            self.organisation and self.organisation.require_two_factor
        )


class SignInThrottle(Model):
    """Sign-in attempts per account (the key hashes the e-mail, or the user for codes), whatever
    the address they come from: counted before the password is checked, in one statement
    (``throttle.claim``), so parallel guesses cannot slip past the limit."""

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # How many times the account was locked since the last success: each lock lasts longer.
    locks: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(Model):
    """A single-use code for signing in without the phone; only its hash is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInEvent(Model):
    """Audit of staff sign-ins, successful or not (no password, no client address)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    email: Mapped[str] = mapped_column(String(254))
    success: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(20), default="sign_in")

    user: Mapped[User | None] = relationship()


class PasswordReset(Model):
    """A one-time password link: only the token's hash is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AdminEvent(Model):
    """An administrative action: who did what, when, to which account or organisation, with the
    values before and after (never a password, token or code). Append-only."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # None: done on the server's command line.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


@event.listens_for(AdminEvent, "before_update")
@event.listens_for(AdminEvent, "before_delete")
def _admin_events_are_append_only(mapper, connection, target):
    raise PermissionError("administrative events are append-only")


class HelpRequest(Model):
    """One person's intake: holds the personal data, erased after withdrawal or retention.

    Named so that it never shadows Flask's ``request``; its table keeps the name ``request``."""

    __tablename__ = "request"

    # The reports read only the voivodeship of a request: this spares them its wide rows.
    __table_args__ = (
        Index("ix_request_voivodeship", "id", "voivodeship_teryt"),
        # Erasure forgets every "possible duplicate of" its reference (a few rows among millions).
        Index(
            "ix_request_possible_duplicate_of",
            "possible_duplicate_of",
            **_only_where("possible_duplicate_of IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(7), unique=True)
    # Erasure replaces it with the hash of a token nobody holds: the person's link stops working.
    status_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The hash of the public form's one-time token (``IntakeForm.submission_hash``): the same form
    # sent twice is one request.
    submission_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    language: Mapped[str] = mapped_column(String(2))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"), index=True)
    voivodeship_teryt: Mapped[str] = mapped_column(ForeignKey("voivodeship.teryt"))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Personal data: encrypted, emptied on withdrawal and after the retention period
    # (erasure.erase).
    name: Mapped[str | None] = mapped_column(Encrypted, deferred=True, deferred_group="personal")
    phone: Mapped[str | None] = mapped_column(Encrypted, deferred=True, deferred_group="personal")
    email: Mapped[str | None] = mapped_column(Encrypted, deferred=True, deferred_group="personal")
    # Keyed hashes of the normalised phone and e-mail, kept in step by ``_match_keys``.
    phone_match: Mapped[str | None] = mapped_column(String(64), index=True)
    email_match: Mapped[str | None] = mapped_column(String(64), index=True)
    contact_channel: Mapped[str | None] = mapped_column(String(20))
    safe_to_message: Mapped[bool] = mapped_column(Boolean, default=False)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(
        Encrypted, deferred=True, deferred_group="personal"
    )
    residence_status: Mapped[str | None] = mapped_column(
        Encrypted, deferred=True, deferred_group="personal"
    )
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_language: Mapped[str] = mapped_column(String(2))
    # Set when a caseworker submitted it on the person's behalf, on a page or through the API.
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    submitted_by_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id"))
    referring_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The reference of the newest earlier request still open with the same name, phone number or
    # e-mail when this one was sent: "possible duplicate of ABC-123" (issue 13.6).
    possible_duplicate_of: Mapped[str | None] = mapped_column(String(7))

    city: Mapped[City | None] = relationship()
    voivodeship: Mapped[Voivodeship] = relationship()
    referrals: Mapped[list[Referral]] = relationship(
        back_populates="request", order_by="Referral.id"
    )
    submitted_by: Mapped[User | None] = relationship()
    referring_organisation: Mapped[Organisation | None] = relationship()
    # What the person added through their status link, oldest first (``FromPerson``).
    from_person: Mapped[list[FromPerson]] = relationship(order_by="FromPerson.id", viewonly=True)
    name_keys: Mapped[list[NameKey]] = relationship(cascade="all, delete-orphan")

    @validates("phone", "email")
    def _match_keys(self, key: str, value: str | None) -> str | None:
        setattr(self, f"{key}_match", match_key(key, value))
        return value

    @validates("name")
    def _name_keys(self, key: str, value: str | None) -> str | None:
        self.name_keys = [NameKey(key=word_key) for word_key in sorted(name_keys(value))]
        return value

    @classmethod
    def with_contact(cls, phone: str | None = None, email: str | None = None):
        """A WHERE clause: the requests given this phone number or this e-mail, in any spelling
        (matched on the keyed hashes; false when neither is usable)."""
        clauses = []
        if phone_key := match_key("phone", phone):
            clauses.append(cls.phone_match == phone_key)
        if email_key := match_key("email", email):
            clauses.append(cls.email_match == email_key)
        return or_(false(), *clauses)


class Referral(Model):
    """One need of a request on its way to one organisation at a time."""

    __table_args__ = (
        Index("ix_referral_org_state_deadline", "organisation_id", "state", "deadline_at"),
        Index("ix_referral_org_state_updated", "organisation_id", "state", "updated_at"),
        Index("ix_referral_referrer_created", "referring_organisation_id", "created_at"),
        Index("ix_referral_state_deadline", "state", "deadline_at"),
        # The inbox: an organisation's offers by waiting time, its open cases most recently
        # changed first (referral/staff/inbox.py).
        Index(
            "ix_referral_org_offers_waiting",
            "organisation_id",
            "created_at",
            "id",
            **_only_where("state = 'offered'"),
        ),
        # Urgent first, then by time left (the inbox's third sort): without it, PostgreSQL sorted
        # all of an organisation's open offers (25,000 at a million referrals) for each page.
        Index(
            "ix_referral_org_offers_urgent",
            "organisation_id",
            column("urgent").desc(),
            "deadline_at",
            "id",
            **_only_where("state = 'offered'"),
        ),
        Index(
            "ix_referral_org_cases",
            "organisation_id",
            "updated_at",
            "id",
            **_only_where("state IN ('accepted', 'in_progress')"),
        ),
        # The coordinator's unmatched queue: urgent first, then the longest waiting.
        Index(
            "ix_referral_unmatched_queue",
            column("urgent").desc(),
            "created_at",
            "id",
            **_only_where("state = 'unmatched'"),
        ),
        # The requests open too long (erasure.open_too_long): open referrals by age.
        Index(
            "ix_referral_open_created",
            "created_at",
            "request_id",
            **_only_where(OPEN_REFERRAL),
        ),
        # The API's list in the order of the last change (api/listing.py): everything an
        # organisation's system may see, and the referrals it sent.
        Index("ix_referral_updated", "updated_at", "id"),
        Index("ix_referral_referrer_updated", "referring_organisation_id", "updated_at", "id"),
        # Covers the reports' counts of referrals by month, specialism, state and voivodeship.
        Index("ix_referral_report", "created_at", "specialism", "state", "request_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"), index=True)
    specialism: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20), default="new")
    # The organisation it is offered to or held by; None when new, unmatched or never placed.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    referring_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(30))
    # The routing explanation at the last offer: [{"code": ..., "params": {...}}, ...]
    routing_reasons: Mapped[list] = mapped_column(JSON, default=list)
    routing_scope: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic locking: two people acting at once, exactly one wins.
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    request: Mapped[HelpRequest] = relationship(back_populates="referrals")
    organisation: Mapped[Organisation | None] = relationship(foreign_keys=[organisation_id])
    referring_organisation: Mapped[Organisation | None] = relationship(
        foreign_keys=[referring_organisation_id]
    )
    assigned_user: Mapped[User | None] = relationship()
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral", order_by="ReferralEvent.id"
    )
    notes: Mapped[list[Note]] = relationship(back_populates="referral", order_by="Note.id")
    # Its appointment at the handoff and the appointment's steps (below, with Appointment).
    appointment: Mapped[Appointment | None] = relationship(back_populates="referral")
    appointment_steps: Mapped[list[AppointmentStep]] = relationship(
        back_populates="referral", order_by="AppointmentStep.id"
    )


class ReferralEvent(Model):
    """One step of a referral: append-only, the audit trail. Holds codes, who and when; the words
    someone wrote with the step are an ``EventText``, erased with the person's data."""

    __table_args__ = (
        Index("ix_referral_event_offered_referral", "offered_to_id", "referral_id"),
        # The reports find the few referrals that ever went unmatched without reading the log.
        Index("ix_referral_event_to_state", "to_state", "referral_id"),
        Index("ix_referral_event_org_at", "organisation_id", "at"),
        # Covers the reports' grouping of steps by action, organisation and reason.
        Index(
            "ix_referral_event_report",
            "action",
            "organisation_id",
            "offered_to_id",
            "reason_code",
            "at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(20))
    party: Mapped[str] = mapped_column(String(20))
    # Who acted: a staff account, or an organisation's system through its API token; neither
    # for the system and the person.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id"))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    # The organisation whose step it is (it declined, accepted, let expire, handed back...).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    # The organisation the referral is offered to after this step, if any.
    offered_to_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    reason_code: Mapped[str | None] = mapped_column(String(40))

    referral: Mapped[Referral] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
    api_token: Mapped[ApiToken | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship(foreign_keys=[organisation_id])
    offered_to: Mapped[Organisation | None] = relationship(foreign_keys=[offered_to_id])
    words: Mapped[EventText | None] = relationship()

    @property
    def text(self) -> str | None:
        """What was written with the step, while the request's data is kept."""
        return self.words.body if self.words else None


@event.listens_for(ReferralEvent, "before_update")
@event.listens_for(ReferralEvent, "before_delete")
def _events_are_append_only(mapper, connection, target):
    raise PermissionError("referral events are append-only")


class EventText(Model):
    """The words written with a step (a decline's or hand-back's explanation, a close, a
    hand-routing's reason): they may quote the person, so they are encrypted and erased with the
    request's personal data, while the event itself stays."""

    event_id: Mapped[int] = mapped_column(ForeignKey("referral_event.id"), primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    body: Mapped[str] = mapped_column(Encrypted)

    referral: Mapped[Referral] = relationship()


class Note(Model):
    """A note on a referral: shared with the other organisation, or internal to the author's.

    Written by a staff member (``author``) or by an organisation's system (``api_token``)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Encrypted)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()
    api_token: Mapped[ApiToken | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    @property
    def author_name(self) -> str:
        """The staff member's name, or the name the coordinator gave the token."""
        if self.author is not None:
            return self.author.name
        return self.api_token.name if self.api_token else ""


class OutboxMessage(Model):
    """An e-mail or a text message (``channel``) written in the same transaction as the change it
    reports; the worker's ``send_mail`` and ``send_sms`` jobs send it. A message about a request
    is deleted with the request's personal data, sent or not."""

    __table_args__ = (Index("ix_outbox_pending", "channel", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "email" (to_address an e-mail address) or "sms" (to_address a phone number in E.164).
    channel: Mapped[str] = mapped_column(String(10), default="email", server_default="email")
    kind: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("request.id"), index=True)
    # The need a message to the person tells about (none: the whole request, as its status link):
    # each holder sees on its referral's page only those about its own need.
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    to_address: Mapped[str] = mapped_column(Encrypted)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Encrypted)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # None once given up (``outbox.settle``): refused for good, or not delivered for five days.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Claimed by a sender process until this time, so two senders never send one message twice.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    # An iCalendar file sent as the mail's attachment (an appointment: it says where).
    calendar: Mapped[str | None] = mapped_column(Encrypted)

    request: Mapped[HelpRequest | None] = relationship()


class DirectoryVersion(Model):
    """One row whose stamp every edit of the directory (organisations, coverage, places) replaces
    with a new random one: each process knows from it when what it keeps is out of date."""

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))


class WorkerJob(Model):
    """The last run of one background job (``flask worker``), for ``/healthz``."""

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(200))


# --- the reports' monthly tallies (referral/report_tallies.py) ----------------------------------


class TallyMonth(Model):
    """How far a Warsaw month's events are counted into the tallies: up to ``through``
    (exclusive). Events never change once written (the log is append-only)."""

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    through: Mapped[datetime] = mapped_column(UTCDateTime)


class StepTally(Model):
    """Steps taken in ``month`` by referrals created in ``created_month``, by need, voivodeship
    and the states they moved between: the referrals' current states are their sums."""

    __table_args__ = (Index("ix_step_tally_created", "created_month", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    created_month: Mapped[date] = mapped_column(Date)
    specialism: Mapped[str] = mapped_column(String(30))
    voivodeship: Mapped[str] = mapped_column(String(2))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(Integer)


class EventTally(Model):
    """Steps taken in ``month`` by action, organisation, organisation offered to and reason."""

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date, index=True)
    action: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    offered_to_id: Mapped[int | None] = mapped_column(Integer)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    n: Mapped[int] = mapped_column(Integer)


class AnswerTally(Model):
    """Offers answered in ``month`` (accepted, declined, left to expire), by the month the offer
    was made, the organisation, and the tenths of an hour it took."""

    __table_args__ = (Index("ix_answer_tally_offer", "offer_month", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    offer_month: Mapped[date] = mapped_column(Date)
    organisation_id: Mapped[int] = mapped_column(Integer)
    tenths: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)


class ApiToken(Model):
    """An organisation's key to the JSON API: its own systems act through it as the organisation,
    never as a person nor as the consortium. Only the hash is stored; the token is shown once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()

    # What the isolation rule and the party rules ask of whoever acts (access.Actor).
    is_coordinator = False

    @property
    def scope(self) -> str:
        return "read" if self.read_only else "read_write"


class ApiCall(Model):
    """One call made with an API token, whatever its answer: the audit of the organisation's
    systems, shown in /admin/audit. Append-only; holds no query string and no body."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    api_token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    endpoint: Mapped[str] = mapped_column(String(60))
    referral_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)


@event.listens_for(ApiCall, "before_update")
@event.listens_for(ApiCall, "before_delete")
def _api_calls_are_append_only(mapper, connection, target):
    raise PermissionError("API calls are append-only")


class WebhookEndpoint(Model):
    """Where an organisation's system wants to hear of its referrals' steps. The signing secret
    is encrypted like personal data (the app needs it back to sign: Standard Webhooks,
    HMAC-SHA256), so a copied database cannot forge the app's webhooks."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(Encrypted)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()


class WebhookMessage(Model):
    """One event for one endpoint, written in the same transaction as the change (an outbox);
    ``webhooks.deliver_pending`` posts it until it is answered with 2xx. ``message_id`` is the
    ``webhook-id`` of every attempt, so a receiver can drop a repeat."""

    __table_args__ = (Index("ix_webhook_message_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # None once given up (after the last retry): last_error says why.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Claimed by a sender until this time, so two senders never post one attempt twice.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))

    endpoint: Mapped[WebhookEndpoint] = relationship()


class DataAccess(Model):
    """Someone opened a page or an export that shows a person's personal data: the coordinator
    reads who (/admin/audit), the person reads which organisations (their status page)."""

    __table_args__ = (Index("ix_data_access_request_at", "request_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A staff member, or an organisation's system through its API token.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id"))
    # The viewer's organisation then (None: a coordinator of the consortium).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    # Which page or export (access_log.Page).
    page: Mapped[str] = mapped_column(String(20))

    user: Mapped[User | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()


# --- what the person adds through their status link (issues 13.4, 13.6) -------------------------


class FromPersonKind(StrEnum):
    """What the person did (``FromPerson.kind``)."""

    MESSAGE = "message"  # for the organisation holding a need
    ASKED_AGAIN = "asked_again"  # a new request's words, joined to a need still open
    CONTACT_CHANGED = "contact_changed"  # which fields; no values


class FromPerson(Model):
    """Something the person did through their status link, for the organisations to see: a message
    for the organisation holding a need (``message``), the words of a new request that joined a
    need still open (``asked_again``), or a change of how to be contacted (``contact_changed``,
    with the names of the fields changed and no values). Whoever may see the person's data on the
    referral sees them. The words are personal data: encrypted, and deleted when the request is
    erased; a contact change stays, as the audit of it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"), index=True)
    # The need it is about (None for a contact change: it concerns every need).
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    # The organisation holding the need then: whom the words were for.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Encrypted)
    changed: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The public form whose words joined the need (``asked_again``), as ``HelpRequest``'s: a form
    # whose every need joined made no request to hold it.
    submission_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # What a need asked again changed (``asked_again``): the place, when not the earlier request's
    # (a city, or a voivodeship alone), and True when it is urgent now and was not.
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    voivodeship_teryt: Mapped[str | None] = mapped_column(ForeignKey("voivodeship.teryt"))
    urgent: Mapped[bool | None] = mapped_column(Boolean)

    referral: Mapped[Referral | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    city: Mapped[City | None] = relationship()
    voivodeship: Mapped[Voivodeship | None] = relationship()


# --- the staff search by name (inbox) -----------------------------------------------------------


class NameKey(Model):
    """The keyed hash of one word of a request's name (``personal_data.name_keys``), kept in step
    with the name by ``HelpRequest._name_keys`` and erased with it: the staff search finds a person
    by name without decrypting a single row."""

    __tablename__ = "request_name_key"
    __table_args__ = (Index("ix_request_name_key_key", "key", "request_id"),)

    request_id: Mapped[int] = mapped_column(
        ForeignKey("request.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)

    @classmethod
    def requests_with_all(cls, keys: set[str]) -> Select:
        """The ids of the requests whose name holds every one of these words' ``keys``."""
        return (
            select(cls.request_id)
            .where(cls.key.in_(keys))
            .group_by(cls.request_id)
            .having(func.count() == len(keys))
        )


# --- the reports' tally of unmatched demand (referral/report_tallies.py; speed) -----------------


class UnmatchedTally(Model):
    """Referrals created in ``created_month`` in a voivodeship that found no organisation for the
    first time in ``month``: the referrals that went unmatched at some point, without reading the
    event log."""

    __table_args__ = (Index("ix_unmatched_tally_created", "created_month", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    created_month: Mapped[date] = mapped_column(Date)
    voivodeship: Mapped[str] = mapped_column(String(2))
    n: Mapped[int] = mapped_column(Integer)


# --- digests, reminders and appointments (referral/reminders.py, referral/appointments.py) ------


class ReminderSent(Model):
    """A digest or reminder written to the outbox: its key (``reminders.Due.key``) is unique, so
    each is written once even when two workers find it due at the same moment."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    # A digest: the offers made before this moment were in it.
    through: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Appointment(Model):
    """When and where the organisation holding a referral meets the person (appointments.py):
    one per referral, replaced by each new proposal. The place or link says where a person will
    be: encrypted, and deleted with the request's personal data like the person's words asking
    for another time."""

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))
    place: Mapped[str | None] = mapped_column(Encrypted)
    # proposed, confirmed, change_requested (appointments.AppointmentState)
    state: Mapped[str] = mapped_column(String(20))
    person_words: Mapped[str | None] = mapped_column(Encrypted)
    # The iCalendar SEQUENCE: each new proposal replaces the event in the person's calendar.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="appointment")
    organisation: Mapped[Organisation] = relationship()


class AppointmentStep(Model):
    """One step of an appointment (proposed, confirmed, another time asked for): codes, who and
    when, never words; kept when the person's data is erased, like the referral's events."""

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    code: Mapped[str] = mapped_column(String(20))
    # A staff member's proposal; none: the person, through the status link.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actor: Mapped[User | None] = relationship(lazy="selectin")
    referral: Mapped[Referral] = relationship(back_populates="appointment_steps")


@event.listens_for(AppointmentStep, "before_update")
@event.listens_for(AppointmentStep, "before_delete")
def _appointment_steps_are_append_only(mapper, connection, target):
    raise PermissionError("appointment steps are append-only")
