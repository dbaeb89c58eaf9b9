"""An appointment at the handoff: the organisation holding an accepted referral proposes when and
where to meet (an address, a phone call or an online link); the person sees it on the status
page and gets it with an .ics file, confirms it or asks for another time.

Each use case writes the appointment, its step (``AppointmentStep``: codes only) and its mails in
one transaction. The place or link and the person's words are personal data: encrypted, and
deleted with the request (``erasure.erase``); the steps stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event, vText

from . import notifications
from .access import Actor, acting_organisation_id
from .erasure import unerased
from .extensions import db, locked
from .handoff import State
from .models import (
    Appointment,
    AppointmentStep,
    HelpRequest,
    Organisation,
    Referral,
    User,
    utcnow,
)
from .service_errors import ServiceError
from .vocabulary import N_, LabelledEnum

# How long the calendar entry lasts: the person's calendar needs an end.
LENGTH = timedelta(hours=1)
# How far ahead a time may be proposed (the form refuses a later one).
AHEAD_AT_MOST = timedelta(days=366)
PLACE_MAX = 500
WORDS_MAX = 500
# Proposals are made while the organisation holds an accepted case.
_OPEN_FOR_APPOINTMENTS = frozenset({State.ACCEPTED, State.IN_PROGRESS})


class Kind(LabelledEnum):
    IN_PERSON = "in_person", N_("In person, at an address")
    PHONE = "phone", N_("A phone call")
    ONLINE = "online", N_("Online, with a link")


class Step(LabelledEnum):
    PROPOSED = "proposed", N_("Appointment proposed")
    CONFIRMED = "confirmed", N_("The person confirmed the appointment")
    CHANGE_REQUESTED = "change_requested", N_("The person asked for another time")
    CANCELLED = "cancelled", N_("Appointment cancelled: the case left the organisation")


# Which appointment the person may answer how: "confirm" is offered for a proposed time only,
# "another time" until they asked for one (``_status_appointment.html``).
_ANSWERED_FROM = {
    Step.CONFIRMED: frozenset({Step.PROPOSED}),
    Step.CHANGE_REQUESTED: frozenset({Step.PROPOSED, Step.CONFIRMED}),
}

# The same steps told to the person (their copy of their data), in the status page's words: the
# labels above are the staff's.
TO_THE_PERSON: dict[str, str] = {
    Step.PROPOSED: N_("The organisation proposed this time."),
    Step.CONFIRMED: N_("You confirmed this time."),
    Step.CHANGE_REQUESTED: N_("You asked for another time."),
    Step.CANCELLED: N_(
        "This time was cancelled: this organisation no longer handles your request."
    ),
}


def is_link(text: str | None) -> bool:
    return (text or "").startswith(("https://", "http://")) and " " not in (text or "")


def may_propose(actor: Actor, referral: Referral) -> bool:
    """The organisation holding an accepted or started case."""
    holder = acting_organisation_id(actor)
    return (
        referral.state in _OPEN_FOR_APPOINTMENTS
        and holder is not None
        and holder == referral.organisation_id
    )


def _step(referral: Referral, code: Step, now: datetime, actor_id: int | None = None) -> None:
    appointment = referral.appointment
    db.session.add(
        AppointmentStep(
            referral=referral,
            at=now,
            code=code,
            actor_id=actor_id,
            starts_at=appointment.starts_at if appointment else None,
        )
    )


def still_to_come(referral: Referral, now: datetime) -> bool:
    """The referral has an appointment that has not taken place: a case closed before it
    cancels it (the person must not turn up for nothing). Read without flushing the step: its
    referral is written once, at commit (one version up, its own time stamped)."""
    with db.session.no_autoflush:
        appointment = referral.appointment
    return appointment is not None and appointment.starts_at > now


def cancel(referral: Referral, now: datetime, actor_id: int | None) -> datetime | None:
    """The case left the organisation that proposed the appointment (handed back, withdrawn), or
    was closed before it: the time, place and the person's words go with it, its step stays.
    Gives the time cancelled, for the person's news; called by ``lifecycle`` within the step's
    transaction."""
    appointment = referral.appointment
    if appointment is None:
        return None
    _step(referral, Step.CANCELLED, now, actor_id)
    referral.appointment = None
    db.session.delete(appointment)
    return appointment.starts_at


def propose(
    referral: Referral,
    actor: User,
    starts_at: datetime,
    kind: str,
    place: str | None,
    now: datetime | None = None,
) -> Appointment:
    """The holder proposes (or proposes again) when and where; the person is told by their
    channel. Refused: not the holder of an accepted case, a time gone by, an address or link
    missing, a link that is not a web address; STALE_VERSION when the case changed since the
    page was read (a hand-back, a close: it is locked and read afresh first, as every step
    locks its referral before the rows beside it)."""
    now = now or utcnow()
    seen = referral.version
    locked(Referral, referral.id)
    db.session.expire(referral, ["appointment"])  # cancelled meanwhile, perhaps
    if referral.version != seen:
        raise ServiceError(ServiceError.STALE_VERSION)
    if not may_propose(actor, referral) or referral.organisation_id is None:
        raise ServiceError(ServiceError.NOT_YOURS)
    place = (place or "").strip() or None
    if starts_at <= now:
        raise ServiceError(ServiceError.TIME_GONE_BY)
    if kind not in set(Kind) or (kind != Kind.PHONE and not place):
        raise ServiceError(ServiceError.PLACE_REQUIRED)
    if kind == Kind.ONLINE and not is_link(place):
        raise ServiceError(ServiceError.PLACE_REQUIRED, "link")
    appointment = referral.appointment
    if appointment is None:
        appointment = Appointment(referral=referral, sequence=0)
        db.session.add(appointment)
    else:
        # Read afresh under its lock: the person's answer under way is in, and replaced.
        locked(Appointment, appointment.id)
        appointment.sequence += 1
    appointment.organisation_id = referral.organisation_id
    appointment.starts_at = starts_at
    appointment.kind = kind
    appointment.place = place
    appointment.state = Step.PROPOSED
    appointment.person_words = None
    appointment.updated_at = now
    _step(referral, Step.PROPOSED, now, actor.id)
    referral.updated_at = now  # its version goes up: a page showing the old time is out of date
    notifications.appointment_proposed(referral, appointment, calendar(appointment))
    db.session.commit()
    return appointment


def _answer(
    request: HelpRequest,
    referral_id: int,
    code: Step,
    words: str | None,
    sequence: int,
    now: datetime | None,
) -> Appointment:
    """``sequence``: the proposal the person's page showed (``Appointment.sequence``); another
    proposed since is not answered for them (STALE_VERSION). The request and the appointment
    are locked and read afresh first: an answer sent twice at once, a proposal, a hand-back or
    an erasure under way finishes before this one looks."""
    now = now or utcnow()
    unerased(request)
    referral = next((r for r in request.referrals if r.id == referral_id), None)
    appointment = referral.appointment if referral else None
    if appointment is not None:
        appointment = next(iter(locked(Appointment, appointment.id)), None)  # None: cancelled
    if referral is None or appointment is None:
        raise ServiceError(ServiceError.NOT_FOUND, "appointment")
    if sequence != appointment.sequence:
        raise ServiceError(ServiceError.STALE_VERSION)
    said = (words or "").strip()[:WORDS_MAX] or None
    if appointment.state == code:  # sent again (a double tap, a reload of the thanks)
        if code == Step.CHANGE_REQUESTED and said not in (None, appointment.person_words):
            # New words from a page opened before: the newer say what suits them now, while
            # the case is open (a closed one's organisation proposes nothing more).
            if referral.state not in _OPEN_FOR_APPOINTMENTS:
                raise ServiceError(ServiceError.NOT_ALLOWED_NOW)
            appointment.person_words = said
            appointment.updated_at = now
            notifications.appointment_answered(referral, code)
            db.session.commit()
        return appointment
    answerable = appointment.state in _ANSWERED_FROM[code]
    if referral.state not in _OPEN_FOR_APPOINTMENTS or not answerable:
        raise ServiceError(ServiceError.NOT_ALLOWED_NOW)
    appointment.state = code
    appointment.person_words = said
    appointment.updated_at = now
    _step(referral, code, now)
    notifications.appointment_answered(referral, code)
    db.session.commit()
    return appointment


def confirm(
    request: HelpRequest, referral_id: int, sequence: int, now: datetime | None = None
) -> Appointment:
    """The person, through the status link, says the time their page showed suits them."""
    return _answer(request, referral_id, Step.CONFIRMED, None, sequence, now)


def ask_another_time(
    request: HelpRequest,
    referral_id: int,
    words: str | None,
    sequence: int,
    now: datetime | None = None,
) -> Appointment:
    """The person asks for another time than their page showed, optionally saying when suits
    them."""
    return _answer(request, referral_id, Step.CHANGE_REQUESTED, words, sequence, now)


def calendar(appointment: Appointment) -> str:
    """The appointment as an iCalendar file (RFC 5545): one event, its UID stable per
    appointment and its SEQUENCE raised by each new proposal, so a calendar replaces it."""
    org = db.session.get(Organisation, appointment.organisation_id)
    request = appointment.referral.request
    cal = Calendar()
    cal.add("prodid", "-//Referral//appointments//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"appointment-{appointment.id}@referral")
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", appointment.updated_at)
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.starts_at + LENGTH)
    event.add("summary", vText(org.name_in(request.language) if org else request.reference))
    if appointment.kind == Kind.ONLINE and appointment.place:
        event.add("url", appointment.place)
        event.add("location", vText(appointment.place))
    elif appointment.kind == Kind.IN_PERSON and appointment.place:
        event.add("location", vText(appointment.place))
    event.add("description", vText(request.reference))
    cal.add_component(event)
    return cal.to_ical().decode()
