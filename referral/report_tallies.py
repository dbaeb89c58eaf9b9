"""Monthly tallies of the event log, so that a year of reports reads a few thousand rows instead
of scanning millions.

The event log is append-only and every event is written at the moment it happens, so once a
Warsaw month has ended its events never change: the worker's ``tally`` job counts them once
(``build_missing``). A report reads the tallies of the months it covers and counts the rest (the
month under way, a month not tallied yet) from the events themselves with the same code
(``count``), so the figures are the same either way.

Three tallies come out of one pass over a month's events:

- steps: (month the referral was created, need, voivodeship, from state, to state). A referral's
  current state is where its steps lead, so the referrals created in a month that are in a
  state now are the steps into that state minus the steps out of it.
- events: (action, organisation, organisation offered to, reason): offers, answers, reasons.
- answers: (month of the offer, organisation, tenths of an hour to answer) for each accept,
  decline or expiry, timed from the step before it (the offer).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import g
from sqlalchemy import case, delete, insert, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from .extensions import db
from .handoff import WARSAW, Action
from .models import (
    AnswerTally,
    EventTally,
    HelpRequest,
    Referral,
    ReferralEvent,
    StepTally,
    TallyMonth,
    utcnow,
)

ANSWERS = (Action.ACCEPT, Action.DECLINE, Action.EXPIRE)

StepKey = tuple[date, str, str, str | None, str]  # created month, need, voivodeship, from, to
EventKey = tuple[str, int | None, int | None, str | None]  # action, org, offered to, reason
AnswerKey = tuple[date, int, int]  # offer month, organisation, tenths of an hour


@dataclass
class Tally:
    steps: Counter[StepKey] = field(default_factory=Counter)
    events: Counter[EventKey] = field(default_factory=Counter)
    answers: Counter[AnswerKey] = field(default_factory=Counter)

    def __iadd__(self, other: Tally) -> Tally:
        self.steps.update(other.steps)
        self.events.update(other.events)
        self.answers.update(other.answers)
        return self


def month_of(moment: datetime) -> date:
    """The first day of the Warsaw month of ``moment``."""
    return moment.astimezone(WARSAW).date().replace(day=1)


def month_start(month: date) -> datetime:
    return datetime.combine(month.replace(day=1), time(), WARSAW)


def next_month(month: date) -> date:
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def count(start: datetime, end: datetime) -> Tally:
    """The tallies of the events written in [start, end), counted from the events."""
    previous = aliased(ReferralEvent)
    offered_at = (
        select(previous.at)
        .where(previous.referral_id == ReferralEvent.referral_id, previous.id < ReferralEvent.id)
        .order_by(previous.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            ReferralEvent.at,
            ReferralEvent.action,
            ReferralEvent.organisation_id,
            ReferralEvent.offered_to_id,
            ReferralEvent.reason_code,
            ReferralEvent.from_state,
            ReferralEvent.to_state,
            Referral.created_at,
            Referral.specialism,
            HelpRequest.voivodeship_teryt,
            # Only answers need the offer's time: the database looks it up for them alone.
            type_coerce(
                case((ReferralEvent.action.in_(ANSWERS), offered_at), else_=None),
                ReferralEvent.at.type,
            ).label("offered_at"),
        )
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .join(HelpRequest, HelpRequest.id == Referral.request_id)
        .where(ReferralEvent.at >= start, ReferralEvent.at < end)
        .execution_options(yield_per=10_000)
    )
    tally = Tally()
    for row in rows:
        tally.steps[
            (
                month_of(row.created_at),
                row.specialism,
                row.voivodeship_teryt,
                row.from_state,
                row.to_state,
            )
        ] += 1
        tally.events[(row.action, row.organisation_id, row.offered_to_id, row.reason_code)] += 1
        if row.offered_at is not None and row.organisation_id is not None:
            offered_at = ReferralEvent.at.type.process_result_value(
                row.offered_at, db.engine.dialect
            )
            hours_tenths = math.floor((row.at - offered_at).total_seconds() / 360 + 0.5)
            tally.answers[(month_of(offered_at), row.organisation_id, hours_tenths)] += 1
    return tally


def built_months() -> set[date]:
    return set(db.session.scalars(select(TallyMonth.month)))


def stored(months: set[date]) -> dict[date, Tally]:
    """The tallies kept for these months, by month."""
    tallies = {month: Tally() for month in months}
    if not months:
        return tallies
    for step in db.session.scalars(select(StepTally).where(StepTally.month.in_(months))):
        key = (
            step.created_month,
            step.specialism,
            step.voivodeship,
            step.from_state,
            step.to_state,
        )
        tallies[step.month].steps[key] += step.n
    for event in db.session.scalars(select(EventTally).where(EventTally.month.in_(months))):
        tallies[event.month].events[
            (event.action, event.organisation_id, event.offered_to_id, event.reason_code)
        ] += event.n
    for answer in db.session.scalars(select(AnswerTally).where(AnswerTally.month.in_(months))):
        tallies[answer.month].answers[
            (answer.offer_month, answer.organisation_id, answer.tenths)
        ] += answer.n
    return tallies


def by_month(first: date, now: datetime | None = None) -> dict[date, Tally]:
    """Month -> the tallies of its events, for every month from ``first`` on: the months built
    from their tallies, the rest (the month under way, months not built yet) counted from the
    events. Kept for the request: a report asks for several figures of the same months."""
    now = now or utcnow()
    cache = g.setdefault("report_tallies", {})
    if first not in cache:
        built = {month for month in built_months() if month >= first}
        months = stored(built)
        month = first
        while month_start(month) <= now:
            if month not in built:
                months[month] = count(month_start(month), month_start(next_month(month)))
            month = next_month(month)
        cache[first] = months
    return cache[first]


def build(month: date) -> bool:
    """Count one ended month's events into the tallies; False when another worker did it."""
    tally = count(month_start(month), month_start(next_month(month)))
    for model in (StepTally, EventTally, AnswerTally):
        db.session.execute(delete(model).where(model.month == month))
    rows: dict[type, list[dict[str, Any]]] = {
        StepTally: [
            {
                "month": month,
                "created_month": c,
                "specialism": s,
                "voivodeship": v,
                "from_state": f,
                "to_state": t,
                "n": n,
            }
            for (c, s, v, f, t), n in tally.steps.items()
        ],
        EventTally: [
            {
                "month": month,
                "action": a,
                "organisation_id": o,
                "offered_to_id": to,
                "reason_code": r,
                "n": n,
            }
            for (a, o, to, r), n in tally.events.items()
        ],
        AnswerTally: [
            {"month": month, "offer_month": m, "organisation_id": o, "tenths": t, "n": n}
            for (m, o, t), n in tally.answers.items()
        ],
    }
    for table, values in rows.items():
        if values:
            db.session.execute(insert(table), values)
    db.session.add(TallyMonth(month=month, built_at=utcnow()))
    try:
        db.session.commit()
    except IntegrityError:  # another worker built it at the same time
        db.session.rollback()
        return False
    return True


def build_missing(now: datetime | None = None) -> int:
    """Build the tallies of every ended month that has events and none yet."""
    now = now or utcnow()
    first = db.session.scalar(select(ReferralEvent.at).order_by(ReferralEvent.at).limit(1))
    if first is None:
        return 0
    built, month, made = built_months(), month_of(first), 0
    while month_start(next_month(month)) <= now:
        if month not in built and build(month):
            made += 1
        month = next_month(month)
    return made
