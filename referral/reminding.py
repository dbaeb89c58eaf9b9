"""The worker's ``remind`` job: staff digests of new offers, reminders before an offer's deadline
and of accepted cases left idle, each written to the mail outbox once.

``reminders`` says what is due; here each due mail takes its key in ``reminder_sent`` (an
INSERT that does nothing when the key exists, in the mail's own transaction): of two workers
finding the same mail due at once, the second waits for the first's commit, finds the key taken
and writes nothing. ``flask --app referral remind`` runs the job alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from . import handoff, notifications, reminders
from .extensions import db, upsert_into
from .handoff import State
from .models import (
    AppointmentStep,
    HelpRequest,
    Note,
    Referral,
    ReferralEvent,
    ReminderSent,
    User,
    utcnow,
)
from .reminders import OfferMail


@dataclass
class Reminded:
    digests: int = 0
    deadlines: int = 0
    idle: int = 0

    def __str__(self) -> str:
        return (
            f"Digests: {self.digests}, deadline reminders: {self.deadlines}, "
            f"idle case reminders: {self.idle}"
        )


def _take(due: reminders.Due, kind: str, **row) -> bool:
    """Take the mail's key for this transaction; False when it is taken already."""
    taken = db.session.scalar(
        upsert_into(ReminderSent)
        .values(key=due.key, kind=kind, through=due.through, at=utcnow(), **row)
        .on_conflict_do_nothing(index_elements=[ReminderSent.key])
        .returning(ReminderSent.id)
    )
    return taken is not None


_WITH_PLACE = selectinload(Referral.request).options(
    selectinload(HelpRequest.city), selectinload(HelpRequest.voivodeship)
)


def send_digests(now: datetime) -> int:
    """Each staff member on an hourly or daily digest gets the offers made to their
    organisation since their last digest and still waiting for an answer (nothing when there
    is none: the next run looks again)."""
    sent = 0
    staff = db.session.scalars(
        select(User).where(
            User.active.is_(True),
            User.role == "staff",
            User.organisation_id.is_not(None),
            User.offer_mail != OfferMail.EACH,
        )
    ).all()
    for user in staff:
        due = reminders.digest_due(user.offer_mail, user.id, now)
        if due is None or due.through is None:
            continue
        since = db.session.scalar(
            select(func.max(ReminderSent.through)).where(
                ReminderSent.user_id == user.id, ReminderSent.kind == "digest"
            )
        )
        waiting = [
            Referral.organisation_id == user.organisation_id,
            Referral.state == State.OFFERED,
            Referral.offered_at < due.through,
        ]
        if since is not None:  # the first digest holds every offer still waiting
            waiting.append(Referral.offered_at >= since)
        offers = db.session.scalars(
            select(Referral).where(*waiting).order_by(Referral.deadline_at).options(_WITH_PLACE)
        ).all()
        if offers and _take(due, "digest", user_id=user.id):
            notifications.digest(user, offers)
            sent += 1
        db.session.commit()
    return sent


def _holder_addresses(referral: Referral, assigned_first: bool = False) -> list[tuple[str, str]]:
    assigned = referral.assigned_user
    if assigned_first and notifications.works_for(assigned, referral.organisation_id):
        return [(assigned.email, assigned.language)]
    return notifications.holder_recipients(referral.organisation) if referral.organisation else []


def send_deadline_reminders(now: datetime) -> int:
    """The holder of each offer three quarters through its time to answer, once per offer."""
    hours_config = current_app.config["DEADLINE_HOURS"]
    shortest = min(handoff.deadline_hours(urgent, hours_config) for urgent in (True, False))
    offers = db.session.scalars(
        select(Referral)
        .where(
            Referral.state == State.OFFERED,
            Referral.deadline_at > now,
            Referral.offered_at <= now - reminders.earliest_deadline_reminder(shortest),
        )
        .order_by(Referral.deadline_at)
        .options(_WITH_PLACE, selectinload(Referral.organisation))
    ).all()
    sent = 0
    for referral in offers:
        if referral.offered_at is None or referral.deadline_at is None:
            continue  # an offer has both: a row that has neither is not an offer
        hours = handoff.deadline_hours(referral.urgent, hours_config)
        due = reminders.deadline_reminder_due(
            referral.id, referral.offered_at, referral.deadline_at, hours, now
        )
        if due and _take(due, "deadline", referral_id=referral.id):
            for address, language in _holder_addresses(referral):
                notifications.deadline_reminder(referral, address, language)
            sent += 1
            db.session.commit()
    return sent


def _latest(model, moment):
    """The latest ``moment`` of a referral's rows of ``model`` (its steps, its notes)."""
    return (
        select(func.max(moment))
        .where(model.referral_id == Referral.id)
        .correlate(Referral)
        .scalar_subquery()
    )


def send_idle_reminders(now: datetime) -> int:
    """The holder of each accepted case with no step, note or appointment step for
    IDLE_REMINDER_DAYS (the colleague it is assigned to, if any), once per quiet spell.
    ``updated_at``, written at each step, narrows the search first: it is never earlier than
    the referral's last step."""
    idle_days = current_app.config["IDLE_REMINDER_DAYS"]
    cutoff = now - timedelta(days=idle_days)
    latest_step = _latest(ReferralEvent, ReferralEvent.at)
    latest_note = _latest(Note, Note.created_at)
    latest_appointment = _latest(AppointmentStep, AppointmentStep.at)
    rows = db.session.execute(
        select(Referral, latest_step, latest_note, latest_appointment)
        .where(
            Referral.state.in_([State.ACCEPTED, State.IN_PROGRESS]),
            Referral.updated_at <= cutoff,
            latest_step <= cutoff,
            or_(latest_note.is_(None), latest_note <= cutoff),
            or_(latest_appointment.is_(None), latest_appointment <= cutoff),
        )
        .order_by(Referral.id)
        .options(
            _WITH_PLACE,
            selectinload(Referral.organisation),
            selectinload(Referral.assigned_user),
        )
    ).all()
    sent = 0
    for referral, *moments in rows:
        last_activity = max(filter(None, map(_aware, moments)))
        due = reminders.idle_reminder_due(referral.id, last_activity, idle_days, now)
        if due and _take(due, "idle", referral_id=referral.id):
            for address, language in _holder_addresses(referral, assigned_first=True):
                notifications.idle_reminder(referral, address, language, since=last_activity)
            sent += 1
            db.session.commit()
    return sent


def _aware(moment: datetime | str | None) -> datetime | None:
    """A max() in a subquery comes back without the column's type: SQLite gives its text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def remind(now: datetime | None = None) -> Reminded:
    """Everything due now; nothing at all outside working hours."""
    now = now or utcnow()
    if not handoff.is_working_time(now):
        return Reminded()
    return Reminded(
        digests=send_digests(now),
        deadlines=send_deadline_reminders(now),
        idle=send_idle_reminders(now),
    )
