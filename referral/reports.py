"""The coordinator's reports: counts only, never personal data.

Every query reads non-personal columns only (referrals, their events, the request's voivodeship),
so the numbers stay the same after personal data is purged. Aggregation happens in the database
(GROUP BY and window functions): a year of 100,000 referrals is a handful of queries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import extract, func, select

from . import report_tallies, routing
from .extensions import db
from .handoff import WARSAW, Action, State, warsaw_date
from .models import (
    City,
    Coverage,
    HelpRequest,
    Organisation,
    Referral,
    ReferralEvent,
    Voivodeship,
    utcnow,
)
from .report_tallies import next_month

# What ends an offer by the organisation's own answer (or its silence).
ANSWER_FIELDS: dict[str, str] = {
    Action.ACCEPT: "accepted",
    Action.DECLINE: "declined",
    Action.EXPIRE: "expired",
}
ANSWERS = tuple(ANSWER_FIELDS)
OFFER_ENDINGS = (*ANSWERS, Action.ROUTE_BY_HAND, Action.WITHDRAW)


@dataclass(frozen=True)
class Period:
    """Whole days in Warsaw time, both ends included."""

    start: date
    end: date

    @classmethod
    def last_12_months(cls, today: date) -> Period:
        """From the first day of the month eleven months ago up to today."""
        year, month = divmod(today.year * 12 + today.month - 1 - 11, 12)
        return cls(date(year, month + 1, 1), today)

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), WARSAW)

    @property
    def end_at(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.end + timedelta(days=1), time(), WARSAW)

    def months(self) -> list[date]:
        month, months = self.start.replace(day=1), []
        while month <= self.end:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months

    def holds(self, column):
        return (column >= self.start_at) & (column < self.end_at)


# --- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralCount:
    month: int  # index in Period.months()
    specialism: str
    voivodeship: str
    state: str
    n: int


def split(period: Period, now: datetime | None = None) -> tuple[list[date], list[Period]]:
    """The whole Warsaw months of the period, read from the monthly tallies, and the days before
    and after them, counted directly. A month the period covers up to today counts as whole: the
    rest of it has not happened yet."""
    today = warsaw_date(now or utcnow())
    month = period.start if period.start.day == 1 else next_month(period.start)
    whole = []
    while month <= period.end and (
        next_month(month) - timedelta(days=1) <= period.end or period.end >= today
    ):
        whole.append(month)
        month = next_month(month)
    if not whole:
        return [], [period]
    around = []
    if period.start < whole[0]:
        around.append(Period(period.start, whole[0] - timedelta(days=1)))
    if next_month(whole[-1]) <= period.end:
        around.append(Period(next_month(whole[-1]), period.end))
    return whole, around


def referral_counts(period: Period) -> list[ReferralCount]:
    """Referrals created in the period by month, specialism, voivodeship and current state (a few
    thousand groups at most), summed up as each table needs. For whole months: the steps into
    each state minus the steps out of it, from the monthly tallies."""
    whole, around = split(period)
    index = {month: i for i, month in enumerate(period.months())}
    counts = []
    if whole:
        states = Counter[tuple]()
        for (created, specialism, voivodeship, before, after), n in report_tallies.summed(
            whole
        ).steps.items():
            states[(created, specialism, voivodeship, after)] += n
            if before is not None:
                states[(created, specialism, voivodeship, before)] -= n
        counts += [
            ReferralCount(index[created], specialism, voivodeship, state, n)
            for (created, specialism, voivodeship, state), n in states.items()
            if n
        ]
    for part in around:
        offset = index[part.start.replace(day=1)]
        counts += [replace(c, month=c.month + offset) for c in _referral_counts_counted(part)]
    return counts


def _referral_counts_counted(period: Period) -> list[ReferralCount]:
    """``referral_counts`` from the referrals themselves."""
    if db.engine.dialect.name == "postgresql":
        return _referral_counts_by_truncated_month(period)
    # SQLite has no time zones: one range query per month between the exact Warsaw month
    # boundaries, each read from the covering index ix_referral_report (three times faster than
    # one query computing the month with a CASE over all boundaries).
    starts = [period.start_at, *(datetime.combine(m, time(), WARSAW) for m in period.months()[1:])]
    ends = [*starts[1:], period.end_at]
    columns = (Referral.specialism, HelpRequest.voivodeship_teryt, Referral.state)
    counts = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        rows = db.session.execute(
            select(*columns, func.count())
            .join(HelpRequest, HelpRequest.id == Referral.request_id)
            .where(Referral.created_at >= start, Referral.created_at < end)
            .group_by(*columns)
        )
        counts += [ReferralCount(index, s, v, state, n) for s, v, state, n in rows]
    return counts


def _referral_counts_by_truncated_month(period: Period) -> list[ReferralCount]:
    """One pass on PostgreSQL, grouping by the first day of the month in Warsaw time."""
    # Grouped outside: PostgreSQL would not see two copies of the expression (with their own
    # bound parameters) as the same one.
    inner = (
        select(
            func.date_trunc("month", func.timezone(str(WARSAW), Referral.created_at)).label(
                "month"
            ),
            Referral.specialism,
            HelpRequest.voivodeship_teryt.label("voivodeship"),
            Referral.state,
        )
        .join(HelpRequest, HelpRequest.id == Referral.request_id)
        .where(period.holds(Referral.created_at))
        .subquery()
    )
    columns = (inner.c.month, inner.c.specialism, inner.c.voivodeship, inner.c.state)
    first = period.start.year * 12 + period.start.month
    return [
        ReferralCount(m.year * 12 + m.month - first, s, v, state, n)
        for m, s, v, state, n in db.session.execute(
            select(*columns, func.count()).group_by(*columns)
        )
    ]


def unmatched_by_voivodeship(period: Period) -> dict[str, int]:
    """TERYT -> referrals created in the period that found no organisation at some point. Whole
    months from the monthly tallies."""
    whole, around = split(period)
    counts = Counter[str](report_tallies.summed(whole).unmatched if whole else {})
    for part in around:
        counts.update(_unmatched_by_voivodeship_counted(part))
    return {teryt: n for teryt, n in counts.items() if n}


def _unmatched_by_voivodeship_counted(period: Period) -> dict[str, int]:
    """``unmatched_by_voivodeship`` from the referrals and their events."""
    # Few referrals ever go unmatched: find them first, then look up only their places.
    went_unmatched = select(ReferralEvent.referral_id).where(
        ReferralEvent.to_state == State.UNMATCHED
    )
    return dict(
        db.session.execute(
            select(HelpRequest.voivodeship_teryt, func.count())
            .select_from(Referral)
            .join(HelpRequest, HelpRequest.id == Referral.request_id)
            .where(Referral.id.in_(went_unmatched), period.holds(Referral.created_at))
            .group_by(HelpRequest.voivodeship_teryt)
        ).all()
    )


@dataclass(frozen=True)
class Serving:
    """How many organisations taking referrals serve a need in a voivodeship: in all of it
    (voivodeship-wide or nationwide coverage), or only in some of its cities."""

    everywhere: int = 0
    some_cities: int = 0


def organisations_serving() -> dict[tuple[str, str], Serving]:
    """(TERYT, specialism) -> the organisations that serve that need there, by routing's own
    rule: only coverage of that specialism counts (nationwide legal help serves no housing)."""
    rows = db.session.execute(
        select(Coverage.organisation_id, Coverage.specialism, Coverage.scope, Coverage.area)
        .join(Organisation, Organisation.id == Coverage.organisation_id)
        .where(Organisation.takes_referrals.is_(True))
    ).all()
    cities: dict[str, list[str]] = {t: [] for t in db.session.scalars(select(Voivodeship.teryt))}
    for slug, teryt in db.session.execute(select(City.slug, City.voivodeship_teryt)):
        cities[teryt].append(slug)
    everywhere: dict[tuple[str, str], set[int]] = {}
    somewhere: dict[tuple[str, str], set[int]] = {}
    for org, specialism, scope, area in rows:
        reach = routing.Coverage(specialism, routing.Scope(scope), area)
        for teryt, slugs in cities.items():
            key = (teryt, specialism)
            if reach.reaches("", teryt):
                everywhere.setdefault(key, set()).add(org)
            elif any(reach.reaches(slug, teryt) for slug in slugs):
                somewhere.setdefault(key, set()).add(org)
    result = {}
    for key in everywhere.keys() | somewhere.keys():
        whole = everywhere.get(key, set())
        result[key] = Serving(len(whole), len(somewhere.get(key, set()) - whole))
    return result


@dataclass(frozen=True)
class EventCount:
    organisation_id: int | None
    offered_to_id: int | None
    action: str
    reason_code: str | None
    n: int


def event_counts(period: Period) -> list[EventCount]:
    """Steps taken in the period by organisation, action and reason: the offers, answers,
    decline reasons and outcomes. Whole months from the monthly tallies."""
    whole, around = split(period)
    steps = Counter[tuple]()
    if whole:
        steps.update(report_tallies.summed(whole).events)
    for part in around:
        steps.update(
            {
                (e.action, e.organisation_id, e.offered_to_id, e.reason_code): e.n
                for e in _event_counts_counted(part)
            }
        )
    return [
        EventCount(org, offered_to, action, reason, n)
        for (action, org, offered_to, reason), n in steps.items()
    ]


def _event_counts_counted(period: Period) -> list[EventCount]:
    """``event_counts`` from the events themselves."""
    # In this order an index on (action, organisation_id, offered_to_id, reason_code, at) would
    # serve the grouping without a sort (58 ms instead of ~1.2 s on SQLite at 100,000 referrals).
    columns = (
        ReferralEvent.action,
        ReferralEvent.organisation_id,
        ReferralEvent.offered_to_id,
        ReferralEvent.reason_code,
    )
    rows = db.session.execute(
        select(*columns, func.count()).where(period.holds(ReferralEvent.at)).group_by(*columns)
    )
    return [
        EventCount(org, offered_to, action, reason, n)
        for action, org, offered_to, reason, n in rows
    ]


def _seconds_between(earlier, later):
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400
    return extract("epoch", later - earlier)


def answer_times(period: Period) -> dict[int, dict[float, int]]:
    """Organisation -> {hours to answer, to a tenth: offers}, for offers made in the period and
    answered (accepted, declined or left to expire). The answer is the referral's next step.
    Offers of whole months from the monthly tallies."""
    whole, around = split(period)
    histogram: dict[int, dict[float, int]] = {}
    if whole:
        for (org, tenths), n in report_tallies.summed(whole).answers.items():
            hours = histogram.setdefault(org, {})
            hours[tenths / 10] = hours.get(tenths / 10, 0) + n
    for part in around:
        for org, counted in _answer_times_counted(part).items():
            hours = histogram.setdefault(org, {})
            for value, n in counted.items():
                hours[value] = hours.get(value, 0) + n
    return histogram


def _answer_times_counted(period: Period) -> dict[int, dict[float, int]]:
    """``answer_times`` from the events themselves."""
    referral, order = ReferralEvent.referral_id, ReferralEvent.id
    steps = (
        select(
            ReferralEvent.offered_to_id.label("organisation_id"),
            ReferralEvent.at.label("offered_at"),
            func.lead(ReferralEvent.action)
            .over(partition_by=referral, order_by=order)
            .label("answer"),
            func.lead(ReferralEvent.at, type_=ReferralEvent.at.type)
            .over(partition_by=referral, order_by=order)
            .label("answered_at"),
        )
        .where(
            ReferralEvent.at >= period.start_at,
            # An offer ends with one of these; the others (start, close) never follow one.
            ReferralEvent.offered_to_id.is_not(None) | ReferralEvent.action.in_(OFFER_ENDINGS),
        )
        .subquery()
    )
    tenths = (
        select(
            steps.c.organisation_id,
            func.round(_seconds_between(steps.c.offered_at, steps.c.answered_at) / 360).label(
                "tenths"
            ),
        )
        .where(
            steps.c.organisation_id.is_not(None),
            steps.c.offered_at < period.end_at,
            steps.c.answer.in_(ANSWERS),
        )
        .subquery()
    )
    histogram: dict[int, dict[float, int]] = {}
    for org, n_tenths, n in db.session.execute(
        select(tenths.c.organisation_id, tenths.c.tenths, func.count()).group_by(
            tenths.c.organisation_id, tenths.c.tenths
        )
    ):
        histogram.setdefault(org, {})[float(n_tenths) / 10] = n
    return histogram


def median(histogram: dict[float, int]) -> float | None:
    """The median of values given with their counts."""
    total = sum(histogram.values())
    if not total:
        return None
    middle = ((total + 1) // 2, (total + 2) // 2)
    values: list[float] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        values += [value] * sum(1 for m in middle[len(values) :] if m <= seen)
        if len(values) == 2:
            break
    return sum(values) / 2


@dataclass
class Answers:
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    expired: int = 0
    median_hours: float | None = None

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted among the offers answered or let expire."""
        answered = self.accepted + self.declined + self.expired
        return self.accepted / answered if answered else None


def answers_by_organisation(period: Period, events: list[EventCount]) -> dict[int, Answers]:
    answers: dict[int, Answers] = {}
    for e in events:
        if e.offered_to_id is not None:
            answers.setdefault(e.offered_to_id, Answers()).offers += e.n
        field_name = ANSWER_FIELDS.get(e.action)
        if field_name and e.organisation_id is not None:
            one = answers.setdefault(e.organisation_id, Answers())
            setattr(one, field_name, getattr(one, field_name) + e.n)
    for org, histogram in answer_times(period).items():
        answers.setdefault(org, Answers()).median_hours = median(histogram)
    return answers


def reasons_by_organisation(events: list[EventCount], actions: tuple[Action, ...]) -> dict:
    """(organisation, reason code) -> steps of these kinds (declines, closings)."""
    counts: dict[tuple, int] = {}
    for e in events:
        if e.action in actions:
            key = (e.organisation_id, e.reason_code)
            counts[key] = counts.get(key, 0) + e.n
    return counts
