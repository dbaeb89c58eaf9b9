"""E-mails written to the outbox in the same transaction as the change they report.

``flask send-mail`` delivers them. Messages name the referral by its reference and link to the
app; they never carry the person's story, contact details or a decline reason. Each is tied to
its request, so that erasing the request deletes it, sent or not.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, load_only

from . import outbox, person_messages
from .extensions import db
from .mailer import EMAIL
from .models import Appointment, Organisation, OutboxMessage, Referral, User
from .reminders import OfferMail
from .sms import SMS
from .vocabulary import Role


def _render(kind: str, language: str, **context) -> tuple[str, str]:
    with force_locale(language):
        subject = render_template(f"mail/{kind}.subject.txt", **context).strip()
        body = render_template(f"mail/{kind}.txt", **context)
    return subject, body


def _write(
    kind: str,
    to_address: str,
    language: str,
    request_id: int | None = None,
    calendar: str | None = None,
    referral: Referral | None = None,
    **context,
) -> None:
    """A mail rendered now, in ``language``, written to the outbox at the commit; about
    ``referral`` (or the request ``request_id``) when it is about one."""
    subject, body = _render(kind, language, referral=referral, **context)
    outbox.put(
        referral=referral,
        request_id=request_id,
        kind=kind,
        to_address=to_address,
        subject=subject,
        body=body,
        calendar=calendar,
    )


def _queue(
    kind: str,
    to_address: str | None,
    language: str,
    referral: Referral,
    page: str = "/staff/referrals/{id}",
    **context,
) -> None:
    """A mail about ``referral``, linking to its ``page`` (staff mails: the referral's page). A
    referral being created has no id yet: the outbox puts it in when it writes the mail."""
    if not to_address:
        return
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    referral_url = base + page.replace("{id}", outbox.REFERRAL_ID)
    _write(kind, to_address, language, referral=referral, referral_url=referral_url, **context)


@dataclass
class Undelivered:
    """What the outbox gave up on (``outbox.settle``) since a time: each mail to staff or to an
    organisation, newest first (at most UNDELIVERED_SHOWN), and how many messages to people."""

    staff_mail: list[OutboxMessage]
    to_people: int


UNDELIVERED_SHOWN = 100


def _given_up(since: datetime, to_people: bool):
    """The messages given up since ``since``, to people or to staff and organisations."""
    to_a_person = person_messages.to_a_person()
    return (
        OutboxMessage.channel.in_((EMAIL, SMS)),  # each named: ix_outbox_pending serves the look
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.next_attempt_at.is_(None),
        OutboxMessage.created_at >= since,
        to_a_person if to_people else ~to_a_person,
    )


def undelivered(since: datetime) -> Undelivered:
    """For the coordinator, who keeps the addresses right: a staff member's or an
    organisation's address that the mail server refuses. A person's messages are counted only:
    their addresses are personal data, shown to no one, and the holder of each case sees its
    messages on the referral's page. The mails' bodies are not read (nor decrypted)."""
    shown = (
        OutboxMessage.created_at,
        OutboxMessage.to_address,
        OutboxMessage.subject,
        OutboxMessage.attempts,
        OutboxMessage.last_error,
    )
    staff_mail = db.session.scalars(
        select(OutboxMessage)
        .where(*_given_up(since, to_people=False))
        .options(load_only(*shown))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(UNDELIVERED_SHOWN)
    ).all()
    return Undelivered(list(staff_mail), undelivered_count(since, to_people=True))


def undelivered_count(since: datetime, to_people: bool = False) -> int:
    """How many messages were given up since ``since``: to staff and organisations, or to people."""
    counted = select(func.count()).select_from(OutboxMessage)
    return db.session.scalar(counted.where(*_given_up(since, to_people))) or 0


def password_link(user: User, link: str, hours: int) -> None:
    """The one-time link someone asked for at "Forgot your password?", in their language."""
    _write("password_link", user.email, user.language, user=user, link=link, hours=hours)


def holder_recipients(org: Organisation, offers: bool = False) -> list[tuple[str, str]]:
    """Whom a mail to the organisation goes to, as (address, language): its active staff, or
    its intake address (in Polish) while it has none. ``offers``: only the staff who chose to
    get every offer at once (the others get digests, ``reminding``). Read once per organisation
    and transaction: a sweep re-routing thousands of offers asks once for each organisation."""
    kept = db.session.info.setdefault(_RECIPIENTS, {})
    if org.id not in kept:
        kept[org.id] = db.session.execute(
            select(User.email, User.language, User.offer_mail).where(
                User.organisation_id == org.id, User.active.is_(True), User.role == "staff"
            )
        ).all()
    staff = kept[org.id]
    if not staff:
        return [(org.email, "pl")] if org.email else []
    return [
        (email, language)
        for email, language, choice in staff
        if not offers or choice == OfferMail.EACH
    ]


_RECIPIENTS = "staff recipients by organisation"


@event.listens_for(Session, "after_transaction_end")
def _forget_recipients(session: Session, transaction) -> None:
    session.info.pop(_RECIPIENTS, None)


def offer_made(referral: Referral, org: Organisation) -> None:
    """Tell the organisation's staff who want every offer at once that one waits for them."""
    for address, language in holder_recipients(org, offers=True):
        _queue("offer", address, language, referral=referral, organisation=org)


def digest(user: User, offers: Sequence[Referral]) -> None:
    """The new offers waiting for the staff member's organisation, in one mail: reference,
    need, place and deadline of each, nothing about the person."""
    inbox_url = current_app.config["PUBLIC_URL"].rstrip("/") + "/staff/"
    _write("digest", user.email, user.language, offers=offers, inbox_url=inbox_url)


def deadline_reminder(referral: Referral, address: str, language: str) -> None:
    _queue("deadline_reminder", address, language, referral=referral)


def idle_reminder(referral: Referral, address: str, language: str, since: datetime) -> None:
    _queue("idle_reminder", address, language, referral=referral, since=since)


def unmatched(referral: Referral, tried: bool) -> None:
    """Tell the referring caseworker that no organisation took the referral; ``tried``: it was
    offered and every organisation declined it or let it expire."""
    _to_caseworker("unmatched_caseworker", referral, tried=tried)


def works_for(user: User | None, organisation_id: int | None) -> TypeGuard[User]:
    """Mail about a case goes to a person while they work on it: an active account of that
    organisation (one who left, or moved to another member, hears no more of it)."""
    return (
        user is not None
        and user.active
        and organisation_id is not None
        and user.organisation_id == organisation_id
    )


def _to_caseworker(kind: str, referral: Referral, **context) -> None:
    """The caseworker who submitted the request, if one did and still works there, in their
    language."""
    caseworker = referral.request.submitted_by
    if caseworker and works_for(caseworker, referral.referring_organisation_id):
        _queue(kind, caseworker.email, caseworker.language, referral=referral, **context)


def accepted(referral: Referral) -> None:
    """Tell the referring caseworker in their language (the person hears of it through
    ``person_messages``)."""
    _to_caseworker("accepted_caseworker", referral)


def closed(referral: Referral) -> None:
    _to_caseworker("closed_caseworker", referral)


def urgent_unmatched(referral: Referral) -> None:
    """An urgent need no organisation took: every coordinator hears of it at once, with the
    request's reference and a link to routing it by hand, nothing about the person."""
    for coordinator in db.session.scalars(
        select(User).where(User.role == Role.COORDINATOR, User.active.is_(True)).order_by(User.id)
    ):
        _queue(
            "urgent_unmatched",
            coordinator.email,
            coordinator.language,
            referral,
            page="/admin/referrals/{id}/route-by-hand",
        )


def person_wrote(referral: Referral) -> None:
    """The person wrote to the organisation holding their need, or asked for it again: its intake
    address and the colleague working on it hear that there are new words on the referral's page
    (the words themselves stay there)."""
    org = referral.organisation
    if org is not None:
        _queue("person_wrote", org.email, "pl", referral=referral)
    colleague = referral.assigned_user
    if colleague is not None and works_for(colleague, referral.organisation_id):
        _queue("person_wrote", colleague.email, colleague.language, referral=referral)


def appointment_proposed(referral: Referral, appointment: Appointment, calendar: str) -> None:
    """Tell the person when and where, in the language of their request: by e-mail with the .ics
    file when they gave one, by a text when a text is their channel. Where it is not safe to
    message them, only that there is news behind their link (``person_messages.notify``)."""
    request = referral.request
    if not request.safe_to_message:
        person_messages.notify(request, person_messages.Kind.APPOINTMENT, referral)
        return
    if request.email:
        _write(
            person_messages.APPOINTMENT_MAIL,
            request.email,
            request.language,
            request.id,
            calendar=calendar,
            referral=referral,
            appointment=appointment,
        )
    if SMS in person_messages.preferred(request):
        person_messages.notify(
            request, person_messages.Kind.APPOINTMENT, referral, appointment=appointment
        )


def appointment_answered(referral: Referral, step: str) -> None:
    """Tell the holder's staff that the person confirmed or asked for another time (what they
    wrote stays on the referral's page)."""
    if referral.organisation is None:
        return
    for address, language in holder_recipients(referral.organisation):
        _queue("appointment_answered", address, language, referral=referral, step=step)
