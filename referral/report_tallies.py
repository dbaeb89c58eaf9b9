"""Monthly tallies of the event log, so that a year of reports reads a few thousand rows instead
of scanning millions.

The event log is append-only and every event is written at the moment it happens, so events
once counted never change: the worker's ``tally`` job, every ten minutes, counts each month's
events up to SETTLED ago, adding them to what it counted before (``advance_all``; one row per key
and month however often it runs). A report sums the tallies of the months it covers in the
database and counts the rest (the last minutes' events, anything the job has not reached) from
the events themselves with the same code (``count``), so the figures are the same either way.

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
from typing import Any, cast

from flask import g
from sqlalchemy import CursorResult, case, delete, func, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from .extensions import db
from .handoff import WARSAW, Action, State
from .models import (
    AnswerTally,
    EventTally,
    HelpRequest,
    Referral,
    ReferralEvent,
    StepTally,
    TallyMonth,
    UnmatchedTally,
    utcnow,
)

ANSWERS = (Action.ACCEPT, Action.DECLINE, Action.EXPIRE)
# The columns of each tally's key, in the order of its Counter's keys.
STEP_KEYS = ("created_month", "specialism", "voivodeship", "from_state", "to_state")
EVENT_KEYS = ("action", "organisation_id", "offered_to_id", "reason_code")
ANSWER_KEYS = ("offer_month", "organisation_id", "tenths")
UNMATCHED_KEYS = ("created_month", "voivodeship")

StepKey = tuple[date, str, str, str | None, str]  # created month, need, voivodeship, from, to
EventKey = tuple[str, int | None, int | None, str | None]  # action, org, offered to, reason
AnswerKey = tuple[date, int, int]  # offer month, organisation, tenths of an hour
UnmatchedKey = tuple[date, str]  # created month, voivodeship


@dataclass
class Tally:
    steps: Counter[StepKey] = field(default_factory=Counter)
    events: Counter[EventKey] = field(default_factory=Counter)
    answers: Counter[AnswerKey] = field(default_factory=Counter)
    # The referrals that found no organisation for the first time.
    unmatched: Counter[UnmatchedKey] = field(default_factory=Counter)

    def __iadd__(self, other: Tally) -> Tally:
        for _model, _keys, counter in TABLES:
            getattr(self, counter).update(getattr(other, counter))
        return self


# Each tally's table, the columns of its key (in the order of its Counter's keys) and its Counter.
TABLES = (
    (StepTally, STEP_KEYS, "steps"),
    (EventTally, EVENT_KEYS, "events"),
    (AnswerTally, ANSWER_KEYS, "answers"),
    (UnmatchedTally, UNMATCHED_KEYS, "unmatched"),
)


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
    unmatched_before = (
        select(previous.id)
        .where(
            previous.referral_id == ReferralEvent.referral_id,
            previous.to_state == State.UNMATCHED,
            previous.id < ReferralEvent.id,
        )
        .exists()
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
            # A referral found no organisation for the first time (on ix_referral_event_to_state).
            case(
                (
                    (ReferralEvent.to_state == State.UNMATCHED) & ~unmatched_before,
                    True,
                ),
                else_=False,
            ).label("first_unmatched"),
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
        if row.first_unmatched:
            tally.unmatched[(month_of(row.created_at), row.voivodeship_teryt)] += 1
        if row.offered_at is not None and row.organisation_id is not None:
            offered_at = ReferralEvent.at.type.process_result_value(
                row.offered_at, db.engine.dialect
            )
            hours_tenths = math.floor((row.at - offered_at).total_seconds() / 360 + 0.5)
            tally.answers[(month_of(offered_at), row.organisation_id, hours_tenths)] += 1
    return tally


# Events are stamped when their use case starts and committed moments later: the tallies count
# only what is at least this old, so that no event can still arrive behind them.
SETTLED = timedelta(minutes=10)


def progress() -> dict[date, datetime]:
    """Month -> the moment up to which its events are counted into the tallies."""
    return dict(db.session.execute(select(TallyMonth.month, TallyMonth.through)).all())


def stored(month: date) -> Tally:
    """The tallies kept for one month (the job's earlier counts, to be added to)."""
    tally = Tally()
    for model, keys, counter in TABLES:
        columns = [getattr(model, key) for key in keys]
        for *key, n in db.session.execute(
            select(*columns, func.sum(model.n)).where(model.month == month).group_by(*columns)
        ):
            getattr(tally, counter)[tuple(key)] += n
    return tally


@dataclass
class Sums:
    """What a report reads of a run of whole months, summed over them."""

    # Steps of the referrals created in the months, whenever they were taken.
    steps: Counter[StepKey] = field(default_factory=Counter)
    # Events taken in the months.
    events: Counter[EventKey] = field(default_factory=Counter)
    # (organisation, tenths of an hour): answers to the offers made in the months.
    answers: Counter[tuple[int, int]] = field(default_factory=Counter)
    # Voivodeship -> referrals created in the months that went unmatched at some point.
    unmatched: Counter[str] = field(default_factory=Counter)

    def add(self, tally: Tally, month: date, wanted: set[date]) -> None:
        """Add the part of one month's tally that concerns the wanted months."""
        self.steps.update({key: n for key, n in tally.steps.items() if key[0] in wanted})
        if month in wanted:
            self.events.update(tally.events)
        for (offer_month, org, tenths), n in tally.answers.items():
            if offer_month in wanted:
                self.answers[(org, tenths)] += n
        for (created_month, voivodeship), n in tally.unmatched.items():
            if created_month in wanted:
                self.unmatched[voivodeship] += n


def summed(months: list[date], now: datetime | None = None) -> Sums:
    """The tallies of these whole months, summed: by the database over what the tally job stored
    (a few thousand rows for a year, whatever the number of referrals), plus the rest (today's
    events, or anything the job has not reached) counted from the events. Kept for the request:
    a report asks for several figures of the same months."""
    now = now or utcnow()
    cache = g.setdefault("report_tallies", {})
    if tuple(months) in cache:
        return cast(Sums, cache[tuple(months)])
    sums, wanted = Sums(), set(months)
    counters: tuple[tuple[Any, tuple[str, ...], Any, Counter], ...] = (
        (StepTally, STEP_KEYS, StepTally.created_month, sums.steps),
        (EventTally, EVENT_KEYS, EventTally.month, sums.events),
        (AnswerTally, ANSWER_KEYS[1:], AnswerTally.offer_month, sums.answers),
    )
    for model, keys, by, counter in counters:
        columns = [getattr(model, key) for key in keys]
        for *key, n in db.session.execute(
            select(*columns, func.sum(model.n)).where(by.in_(months)).group_by(*columns)
        ):
            counter[tuple(key)] += n
    sums.unmatched.update(
        dict(
            db.session.execute(
                select(UnmatchedTally.voivodeship, func.sum(UnmatchedTally.n))
                .where(UnmatchedTally.created_month.in_(months))
                .group_by(UnmatchedTally.voivodeship)
            ).all()
        )
    )
    # Steps and answers come after the month they belong to: every month since the first counts.
    counted, month = progress(), months[0]
    while month_start(month) <= now:
        start, end = counted.get(month, month_start(month)), month_start(next_month(month))
        if start < min(end, now):
            sums.add(count(start, end), month, wanted)
        month = next_month(month)
    cache[tuple(months)] = sums
    return sums


def advance(month: date, until: datetime) -> bool:
    """Count a month's events up to ``until`` into its tallies, from where they stopped; False
    when another worker did it at the same time (nothing is counted twice)."""
    counted_through = progress().get(month)
    start = counted_through or month_start(month)
    until = min(until, month_start(next_month(month)))
    if start >= until:
        return False
    tally = count(start, until)
    try:
        # Claim the stretch first: of two workers at once, one moves ``through`` on, the other
        # finds it moved (or the month's row made) and writes nothing.
        if counted_through is None:
            db.session.add(TallyMonth(month=month, through=until))
            db.session.flush()
        elif not cast(
            CursorResult,
            db.session.execute(
                update(TallyMonth)
                .where(TallyMonth.month == month, TallyMonth.through == counted_through)
                .values(through=until)
            ),
        ).rowcount:
            db.session.rollback()
            return False
        else:
            # One row per key and month, however many times the job ran: the month's earlier
            # counts are added to the new ones and written again, so reports read few rows.
            tally += stored(month)
            for model, _keys, _counter in TABLES:
                db.session.execute(delete(model).where(model.month == month))
        for model, keys, counter in TABLES:
            counted: Counter = getattr(tally, counter)
            if counted:
                values = [
                    {"month": month, **dict(zip(keys, key, strict=True)), "n": n}
                    for key, n in counted.items()
                ]
                db.session.execute(insert(model), values)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def advance_all(now: datetime | None = None) -> int:
    """The tally job: count every month's settled events (all but the last SETTLED minutes),
    so that a report counts only the events since the job's last run itself: a few hundred, at
    a million referrals a year. Gives the months advanced."""
    now = now or utcnow()
    first = db.session.scalar(select(ReferralEvent.at).order_by(ReferralEvent.at).limit(1))
    if first is None:
        return 0
    until = now - SETTLED
    advanced, month = 0, month_of(first)
    while month_start(month) < until:
        advanced += advance(month, until)
        month = next_month(month)
    return advanced
