"""Messages to the person who asked for help: their private status link, and news at each step
that matters to them, by e-mail and text message, in their language, through the outbox.

Each message is rendered now and written to the outbox (``OutboxMessage``, ``channel`` "email"
or "sms") in the caller's transaction, tied to the request: erasing the request deletes it, sent
or not (``erasure.erase``). The worker's ``send_mail`` and ``send_sms`` jobs deliver it, with
retries and back-off. A message holding a status link is encrypted at rest like every body,
emptied once sent (``outbox.settle``: only the link's hash is kept), and is never logged (the
``log`` SMS sender masks the link).

The API other modules use:

- ``send_status_link(request, token)``: the link right after submission, to every contact the
  person gave (e-mail, and SMS to a mobile number); ``submit_request`` calls it.
- ``send_fresh_link(request, channel=None)``: a new status link (the old one stops working) to the
  contact given then, or to one ``channel`` only ("email" or "sms"): "I lost my link", duplicates.
- ``notify(request, kind, referral=None, **context)``: a step that matters to the person, through
  the channel they chose. Where it is not safe to message them (``safe_to_message`` unticked), the
  message says only that there is news behind their link (templates ``person_news``).
- ``send_fresh_links_to(contact)``: "I lost my link" (``/<lang>/status/lost``).
- ``messages_of(referral)``: which messages to the person were written about a need or the whole
  request, for the staff's page (``templates/staff/_referral_messages.html``); add a label for a
  new kind to ``KIND_LABELS``.

Templates: ``mail/person_<kind>.subject.txt``, ``mail/person_<kind>.txt`` and
``sms/person_<kind>.txt``, given ``reference``, ``language``, ``lost_url`` (and ``status_url``,
or ``referral`` and ``organisation``, with what the caller adds). An SMS template may shorten
itself when ``short`` is set, which it is when the full text would take more than two parts
(``sms.segments``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum

from flask import Flask, current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from limits import parse_many
from sqlalchemy import or_, select
from sqlalchemy.orm import load_only

from . import outbox
from .erasure import unerased
from .extensions import db, limiter, locked
from .handoff import Outcome, State
from .mailer import EMAIL
from .models import HelpRequest, OutboxMessage, Referral, utcnow
from .passwords import new_token, token_hash
from .personal_data import match_key, normalised_email
from .service_errors import ServiceError
from .sms import SMS, mobile_number, segments
from .vocabulary import ContactChannel

CHANNELS = (EMAIL, SMS)
SMS_MAX_PARTS = 2

log = logging.getLogger(__name__)


class Kind(StrEnum):
    """What a message to the person is about (``OutboxMessage.kind``)."""

    STATUS_LINK = "person_status_link"  # right after the request was sent
    FRESH_LINK = "person_fresh_link"  # a new link, the old one stopped working
    ACCEPTED = "person_accepted"
    PASSED_ON = "person_passed_on"
    UNMATCHED = "person_unmatched"
    CLOSED = "person_closed"
    APPOINTMENT = "person_appointment"


# The time and place by e-mail with its calendar file (``notifications.appointment_proposed``):
# a message to the person too, though not one of ``notify``'s.
APPOINTMENT_MAIL = "appointment_person"

# What staff read on the referral page for each kind; other modules add theirs.
KIND_LABELS = {
    Kind.STATUS_LINK: _l("Private status link"),
    Kind.FRESH_LINK: _l("New status link (the old one stopped working)"),
    Kind.ACCEPTED: _l("Accepted: who will contact them"),
    Kind.PASSED_ON: _l("Passed on to another organisation"),
    Kind.UNMATCHED: _l("Still looking for an organisation"),
    Kind.CLOSED: _l("Closed, with the outcome"),
    Kind.APPOINTMENT: _l("Appointment proposed"),
    APPOINTMENT_MAIL: _l("Appointment by e-mail, with a calendar file"),
}
# The kinds that say nothing about what happened: sent as written even when it is not safe.
NEUTRAL = frozenset({Kind.STATUS_LINK, Kind.FRESH_LINK})
NEWS = "person_news"

# A closed referral's outcome in the person's words.
OUTCOME_WORDS = {
    Outcome.RESOLVED: _l("The organisation has finished helping you with this."),
    Outcome.PARTLY_RESOLVED: _l("The organisation helped you with part of this and closed it."),
    Outcome.NOT_REACHABLE: _l(
        "The organisation could not reach you and closed it. If you still need help, send a new "
        "request."
    ),
    Outcome.NOT_ELIGIBLE: _l(
        "The organisation cannot help with this. If you still need help, send a new request."
    ),
    Outcome.REFERRED_OUTSIDE: _l("The organisation sent you to help outside the consortium."),
    Outcome.OTHER: _l("The organisation closed it."),
}
# The same in fewer words, for a text message that would take more than two parts in full (Polish
# and Ukrainian letters leave 67 characters a part): still what happened and what to do.
OUTCOME_WORDS_SHORT = {
    **OUTCOME_WORDS,
    Outcome.NOT_REACHABLE: _l(
        "The organisation could not reach you. Still need help? Send a new request."
    ),
    Outcome.NOT_ELIGIBLE: _l(
        "The organisation cannot help with this. Still need help? Send a new request."
    ),
}


# --- where messages go ---------------------------------------------------------------------------


def contacts(request: HelpRequest) -> dict[str, str]:
    """Every channel a message can take to this person: {"email": address, "sms": number}."""
    found = {}
    if email := normalised_email(request.email):
        found[EMAIL] = email
    if number := mobile_number(request.phone):
        found[SMS] = number
    return found


def preferred(request: HelpRequest) -> dict[str, str]:
    """The one channel the person chose (e-mail, or a text to their phone whatever app they
    named), else the other one they gave."""
    given = contacts(request)
    first = EMAIL if request.contact_channel == ContactChannel.EMAIL else SMS
    for channel in (first, *CHANNELS):
        if channel in given:
            return {channel: given[channel]}
    return {}


# --- writing messages ----------------------------------------------------------------------------


def _base() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/")


def status_url(language: str, token: str) -> str:
    return f"{_base()}/{language}/status/{token}"


def lost_url(language: str) -> str:
    return f"{_base()}/{language}/status/lost"


def _sms_text(template: str, context: dict) -> str:
    text = " ".join(render_template(template, short=False, **context).split())
    if segments(text) > SMS_MAX_PARTS:
        text = " ".join(render_template(template, short=True, **context).split())
    return text


def _write(request: HelpRequest, kind: str, template: str, to: dict[str, str], **context) -> int:
    """Render ``template`` in the person's language for each channel of ``to`` and write it."""
    context = {
        "reference": request.reference,
        "language": request.language,
        "lost_url": lost_url(request.language),
        "config": current_app.config,
        **context,
    }
    with force_locale(request.language):
        for channel, address in to.items():
            if channel == EMAIL:
                subject = render_template(f"mail/{template}.subject.txt", **context).strip()
                body = render_template(f"mail/{template}.txt", **context)
            else:
                subject, body = "", _sms_text(f"sms/{template}.txt", context)
            outbox.put(
                request=request,
                referral=context.get("referral"),
                channel=channel,
                kind=kind,
                to_address=address,
                subject=subject,
                body=body,
            )
    return len(to)


def send_status_link(request: HelpRequest, token: str) -> tuple[str, ...]:
    """Queue the status link (``token``, which only the caller knows: the database keeps its
    hash) to every contact the person gave, whether or not it is safe to message them (the link
    is their one way back in). Gives the channels it went by: the confirmation names them."""
    to = _within_budget(contacts(request))
    _link(request, token, Kind.STATUS_LINK, to)
    return tuple(to)


def send_fresh_link(
    request: HelpRequest, channel: str | None = None, now: datetime | None = None
) -> int:
    """Replace the request's status token (every older link stops working) and queue the new
    link to the contacts given then, or to ``channel`` only; at most once per request every
    FRESH_LINK_EVERY_MINUTES, whoever asks (the lost-link page, a request sent again), so that
    nobody can flood a person's phone nor keep killing their link. Where no message can go (a
    landline, no e-mail) the link stays as it is: replaced, it would be lost. The caller commits.
    The request is locked first: asked for twice at once, the second finds the first's link."""
    try:
        unerased(request)
    except ServiceError:  # erased since it was found: nothing to link to
        return 0
    to = _reachable(request, channel)
    if not to:
        return 0
    recently = (now or utcnow()) - timedelta(minutes=current_app.config["FRESH_LINK_EVERY_MINUTES"])
    just_sent = select(OutboxMessage.id).where(
        OutboxMessage.request_id == request.id,
        OutboxMessage.kind == Kind.FRESH_LINK,
        OutboxMessage.created_at > recently,
    )
    if db.session.scalar(just_sent.limit(1)) is not None:
        return 0
    to = _within_budget(to)
    if not to:  # the old link keeps working: replaced, it would be lost
        return 0
    token = new_token()
    request.status_token_hash = token_hash(token)
    return _link(request, token, Kind.FRESH_LINK, to)


def _reachable(request: HelpRequest, channel: str | None) -> dict[str, str]:
    """The contacts given, or ``channel`` alone."""
    to = contacts(request)
    if channel is not None:
        to = {channel: to[channel]} if channel in to else {}
    return to


def _within_budget(to: dict[str, str]) -> dict[str, str]:
    """The contacts among ``to`` (a request's) that may get one more link:
    LINK_MESSAGES_PER_CONTACT to one phone or e-mail, whichever request the link is about (the form
    sent with someone's number again and again, each request withdrawn and erased; the lost-link
    page), so that nobody can flood a person through us. Counted in the rate limits' store (Redis:
    across processes and erasures, a day at most) by a keyed hash of the contact made for this
    count alone, never the contact nor the request's matching hash (a backup from before an
    erasure must not say whose count it is); with the limits off, or their store unreachable,
    every link goes."""
    if not limiter.enabled:
        return to
    limits = parse_many(current_app.config["LINK_MESSAGES_PER_CONTACT"])
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]  # as the limiter's own keys
    allowed = {}
    for channel, address in to.items():
        kind = "phone" if channel == SMS else "email"
        if (key := match_key(kind, address, purpose="link budget/")) is None:  # never: checked
            continue
        try:
            within = all([limiter.limiter.hit(limit, prefix, "link-to", key) for limit in limits])
        except Exception:  # the store went away: a person's link matters more than the count
            log.warning("link budget not counted: the rate limits' store did not answer")
            within = True
        if within:
            allowed[channel] = address
    return allowed


def _link(request: HelpRequest, token: str, kind: Kind, to: dict[str, str]) -> int:
    return _write(request, kind, kind, to, status_url=status_url(request.language, token))


def notify(request: HelpRequest, kind: str, referral: Referral | None = None, **context) -> int:
    """Queue news for the person through the channel they chose; where it is not safe to message
    them, only that there is news behind their link. ``context`` goes to the templates of
    ``kind`` (beside ``referral``, ``organisation``, ``reference`` and ``lost_url``)."""
    if request.erased_at is not None:
        return 0
    template = kind if request.safe_to_message or kind in NEUTRAL else NEWS
    organisation = referral.organisation if referral is not None else None
    return _write(
        request,
        kind,
        template,
        preferred(request),
        referral=referral,
        organisation=organisation,
        **context,
    )


# --- the steps of a referral that matter to the person --------------------------------------------


# The step's new state, and what the person hears of it.
NEWS_OF_STEP = {
    State.ACCEPTED: Kind.ACCEPTED,
    State.OFFERED: Kind.PASSED_ON,  # declined, left to expire, handed back, routed by hand
    State.UNMATCHED: Kind.UNMATCHED,
    State.CLOSED: Kind.CLOSED,
}


def stepped(
    referral: Referral,
    before: State,
    after: State,
    outcome: str | None,
    cancelled_appointment: datetime | None = None,
) -> None:
    """Called by the lifecycle at each step of a referral once routed: tell the person what
    changed for them (nothing at intake: they were just told, nor when they withdrew).
    ``outcome``: a close's outcome code; ``cancelled_appointment``: the time of the appointment
    that went with the organisation the case left."""
    kind = NEWS_OF_STEP.get(after)
    if before == State.NEW or kind is None or before == after == State.UNMATCHED:
        return
    config = current_app.config
    # Reading the person's contact must not flush the step early: the use case writes the
    # referral once, at commit (its version goes up by one a step).
    with db.session.no_autoflush:
        notify(
            referral.request,
            kind,
            referral,
            channel=_channel_of(referral.request),
            contact_days=config["CONTACT_WORKING_DAYS"],
            unmatched_days=config["UNMATCHED_WORKING_DAYS"],
            **outcome_said(outcome),
            cancelled_appointment=cancelled_appointment,
        )


def outcome_said(outcome: str | None) -> dict:
    """A close's outcome in the person's words, for the templates: ``outcome_words`` in full,
    ``outcome_words_short`` for a text message kept to two parts."""
    if outcome not in set(Outcome):
        return {"outcome_words": None, "outcome_words_short": None}
    known = Outcome(outcome)
    return {
        "outcome_words": OUTCOME_WORDS[known],
        "outcome_words_short": OUTCOME_WORDS_SHORT[known],
    }


def _channel_of(request: HelpRequest) -> ContactChannel | None:
    try:
        return ContactChannel(request.contact_channel) if request.contact_channel else None
    except ValueError:
        return None


def to_a_person():
    """An outbox row is a message to a person by its kind: staff mail tied to a request
    ("person_wrote") is not theirs."""
    return OutboxMessage.kind.in_([str(kind) for kind in KIND_LABELS])


def not_arriving(request: HelpRequest) -> set[str]:
    """The channels ("email", "sms") whose newest message to the contact given now was given up
    (refused for good, or undelivered for five days: ``outbox.settle``): the status page asks
    the person to check that address or number."""
    given = contacts(request)
    newest: dict[str, OutboxMessage] = {}
    delivery = (
        OutboxMessage.channel,
        OutboxMessage.to_address,
        OutboxMessage.sent_at,
        OutboxMessage.next_attempt_at,
    )
    messages = _to_the_person(request).options(load_only(*delivery)).order_by(OutboxMessage.id)
    for message in db.session.scalars(messages):
        if given.get(message.channel) == message.to_address:
            newest[message.channel] = message
    return {
        channel
        for channel, message in newest.items()
        if message.sent_at is None and message.next_attempt_at is None
    }


def _to_the_person(request: HelpRequest):
    """The messages written to the person about this request."""
    return select(OutboxMessage).where(OutboxMessage.request_id == request.id, to_a_person())


def messages_of(referral: Referral) -> list[OutboxMessage]:
    """The messages written to the person about this need or their whole request, oldest first:
    for staff, their kind, channel and times only (the address and body, which may hold a status
    link, are left unread). What they were told about another need is its holder's business."""
    shown = (
        _to_the_person(referral.request)
        .where(or_(OutboxMessage.referral_id.is_(None), OutboxMessage.referral_id == referral.id))
        .options(load_only(*SHOWN_TO_STAFF))
    )
    return list(db.session.scalars(shown.order_by(OutboxMessage.id)))


def forget_unsent(request: HelpRequest, *, no_longer_safe: bool) -> None:
    """The person changed how to reach them: a message not sent yet goes nowhere they no longer
    give (a phone lost, or read by someone else), and, once it is no longer safe to message them,
    none written while it was. What it said stays on their status page."""
    given = contacts(request)
    for message in db.session.scalars(
        _to_the_person(request).where(OutboxMessage.sent_at.is_(None))
    ):
        if no_longer_safe or given.get(message.channel) != message.to_address:
            db.session.delete(message)


SHOWN_TO_STAFF = (
    OutboxMessage.kind,
    OutboxMessage.channel,
    OutboxMessage.created_at,
    OutboxMessage.sent_at,
    OutboxMessage.attempts,
    OutboxMessage.next_attempt_at,
)


def init_app(app: Flask) -> None:
    """The staff's referral page lists the messages (``staff/_referral_messages.html``)."""
    app.jinja_env.globals.update(person_messages_of=messages_of, person_message_kinds=KIND_LABELS)


# --- "I lost my link" -----------------------------------------------------------------------------

LOST_LINK_REQUESTS = 3  # the newest requests given one contact that get a new link


def send_fresh_links_to(contact: str, now: datetime | None = None) -> int:
    """ "I lost my link": a new link for each request not erased (the newest few) that was given
    this phone number or e-mail, to that channel only (``send_fresh_link``). Matched on the keyed
    hash, never by decrypting. Commits; gives how many messages were written (the page does not
    say)."""
    now = now or utcnow()
    channel = EMAIL if normalised_email(contact) else SMS
    given = (
        HelpRequest.with_contact(email=contact)
        if channel == EMAIL
        else HelpRequest.with_contact(phone=contact)
    )
    found = db.session.scalars(
        select(HelpRequest)
        .where(given, HelpRequest.erased_at.is_(None))
        .order_by(HelpRequest.id.desc())
        .limit(LOST_LINK_REQUESTS)
    ).all()
    # Locked together, in key order, as the form asking again locks them: one by one, newest
    # first, the two waited for each other.
    locked(HelpRequest, *(request.id for request in found))
    written = sum(send_fresh_link(request, channel, now) for request in found)
    db.session.commit()
    return written
