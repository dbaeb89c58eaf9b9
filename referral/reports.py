"""The coordinator's reports: counts only, never personal data.

Every query reads non-personal columns only (referrals, their events, the request's voivodeship),
so the numbers stay the same after personal data is purged. Aggregation happens in the database
(GROUP BY and window functions): a year of 100,000 referrals is a handful of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property

from flask_babel import format_date, gettext
from markupsafe import Markup
from sqlalchemy import extract, func, select

from . import charts
from .extensions import db
from .handoff import WARSAW, Action, DeclineReason, Outcome, State
from .models import City, Coverage, Organisation, Referral, ReferralEvent, Request, Voivodeship
from .routing import Scope
from .vocabulary import N_, Specialism

# What ends an offer by the organisation's own answer (or its silence).
ANSWER_FIELDS = {Action.ACCEPT: "accepted", Action.DECLINE: "declined", Action.EXPIRE: "expired"}
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


def referral_counts(period: Period) -> list[ReferralCount]:
    """Referrals created in the period by month, specialism, voivodeship and current state (a few
    thousand groups at most), summed up as each table needs."""
    if db.engine.dialect.name == "postgresql":
        return _referral_counts_by_truncated_month(period)
    # SQLite has no time zones: one range query per month between the exact Warsaw month
    # boundaries, each read from the covering index ix_referral_report (three times faster than
    # one query computing the month with a CASE over all boundaries).
    starts = [period.start_at, *(datetime.combine(m, time(), WARSAW) for m in period.months()[1:])]
    ends = [*starts[1:], period.end_at]
    columns = (Referral.specialism, Request.voivodeship_teryt, Referral.state)
    counts = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        rows = db.session.execute(
            select(*columns, func.count())
            .join(Request, Request.id == Referral.request_id)
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
            Request.voivodeship_teryt.label("voivodeship"),
            Referral.state,
        )
        .join(Request, Request.id == Referral.request_id)
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
    """TERYT -> referrals created in the period that found no organisation at some point."""
    # Few referrals ever go unmatched: find them first, then look up only their places.
    went_unmatched = select(ReferralEvent.referral_id).where(
        ReferralEvent.to_state == State.UNMATCHED
    )
    return dict(
        db.session.execute(
            select(Request.voivodeship_teryt, func.count())
            .select_from(Referral)
            .join(Request, Request.id == Referral.request_id)
            .where(Referral.id.in_(went_unmatched), period.holds(Referral.created_at))
            .group_by(Request.voivodeship_teryt)
        ).all()
    )


def organisations_covering() -> dict[str, int]:
    """TERYT -> organisations taking referrals with any coverage reaching that voivodeship."""
    rows = db.session.execute(
        select(Coverage.organisation_id, Coverage.scope, Coverage.area, City.voivodeship_teryt)
        .join(Organisation, Organisation.id == Coverage.organisation_id)
        .outerjoin(City, (Coverage.scope == Scope.CITY) & (City.slug == Coverage.area))
        .where(Organisation.takes_referrals.is_(True))
    ).all()
    everywhere = {org for org, scope, _area, _city in rows if scope == Scope.NATIONWIDE}
    reach: dict[str, set[int]] = {}
    for org, scope, area, city_voivodeship in rows:
        teryt = area if scope == Scope.VOIVODESHIP else city_voivodeship
        if teryt:
            reach.setdefault(teryt, set()).add(org)
    teryts = db.session.scalars(select(Voivodeship.teryt)).all()
    return {t: len(reach.get(t, set()) | everywhere) for t in teryts}


@dataclass(frozen=True)
class EventCount:
    organisation_id: int | None
    offered_to_id: int | None
    action: str
    reason_code: str | None
    n: int


def event_counts(period: Period) -> list[EventCount]:
    """Steps taken in the period by organisation, action and reason: one pass over the events
    gives the offers, answers, decline reasons and outcomes."""
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
    answered (accepted, declined or left to expire). The answer is the referral's next step."""
    window = {"partition_by": ReferralEvent.referral_id, "order_by": ReferralEvent.id}
    steps = (
        select(
            ReferralEvent.offered_to_id.label("organisation_id"),
            ReferralEvent.at.label("offered_at"),
            func.lead(ReferralEvent.action).over(**window).label("answer"),
            func.lead(ReferralEvent.at, type_=ReferralEvent.at.type)
            .over(**window)
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
    middle, values, seen = ((total + 1) // 2, (total + 2) // 2), [], 0
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


# --- tables for the page and the CSV export ----------------------------------------------------


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    chart: Markup | None = None
    note: str = ""


class Report:
    """The report of one period in the current locale: each query runs once, and only when a
    table that needs it is built (a CSV export builds one table)."""

    def __init__(self, period: Period, language: str) -> None:
        self.period = period
        self.language = language

    @cached_property
    def referrals(self) -> list[ReferralCount]:
        return referral_counts(self.period)

    @cached_property
    def events(self) -> list[EventCount]:
        return event_counts(self.period)

    @cached_property
    def names(self) -> dict[int, str]:
        """Organisation id -> name, every organisation, in a stable order."""
        return {
            org.id: org.name_in(self.language)
            for org in db.session.scalars(select(Organisation).order_by(Organisation.name_pl))
        }

    def tables(self) -> list[Table]:
        return [build(self) for build in BUILDERS.values()]

    def table(self, key: str) -> Table | None:
        build = BUILDERS.get(key)
        return build(self) if build else None


def _column_chart(table: Table, description: str, *columns: int) -> Markup:
    """A bar chart of some columns of a table, titled and named as in the table, one group of
    bars per row, labelled by its first cell."""
    return charts.bar_chart(
        table.title,
        description,
        [row[0] for row in table.rows],
        [charts.Series(table.columns[i], [row[i] for row in table.rows]) for i in columns],
    )


def _months_table(report: Report) -> Table:
    specialisms = list(Specialism)
    counts: dict[tuple[int, str], int] = {}
    for c in report.referrals:
        counts[c.month, c.specialism] = counts.get((c.month, c.specialism), 0) + c.n
    table = Table(
        "months",
        gettext("Referrals by month and specialism"),
        [gettext("Month")] + [gettext(s.label) for s in specialisms] + [gettext("Total")],
    )
    for index, month in enumerate(report.period.months()):
        row = [counts.get((index, s.value), 0) for s in specialisms]
        table.rows.append([format_date(month, "LLLL y"), *row, sum(row)])
    table.chart = charts.bar_chart(
        gettext("Referrals by month"),
        gettext("Bar chart: the number of referrals made each month. The table below has them."),
        [row[0] for row in table.rows],
        [charts.Series(gettext("Referrals"), [row[-1] for row in table.rows])],
    )
    return table


def _specialisms_table(report: Report) -> Table:
    table = Table(
        "specialisms",
        gettext("Referrals by specialism"),
        [gettext("Specialism"), gettext("Referrals")],
    )
    for specialism in Specialism:
        total = sum(c.n for c in report.referrals if c.specialism == specialism)
        table.rows.append([gettext(specialism.label), total])
    table.chart = _column_chart(
        table,
        gettext(
            "Bar chart: the number of referrals for each specialism. The table below has them."
        ),
        1,
    )
    return table


def _voivodeships_table(report: Report) -> Table:
    referrals: dict[str, int] = {}
    still: dict[str, int] = {}
    for c in report.referrals:
        referrals[c.voivodeship] = referrals.get(c.voivodeship, 0) + c.n
        if c.state == State.UNMATCHED:
            still[c.voivodeship] = still.get(c.voivodeship, 0) + c.n
    unmatched = unmatched_by_voivodeship(report.period)
    covering = organisations_covering()
    table = Table(
        "voivodeships",
        gettext("Demand by voivodeship against coverage"),
        [
            gettext("Voivodeship"),
            gettext("Referrals"),
            gettext("Found no organisation"),
            gettext("Still unmatched"),
            gettext("Organisations covering it"),
        ],
        note=gettext(
            "A voivodeship with many referrals that found no organisation, or few organisations "
            "covering it, is a gap in the network."
        ),
    )
    for voivodeship in db.session.scalars(select(Voivodeship).order_by(Voivodeship.teryt)):
        teryt = voivodeship.teryt
        table.rows.append(
            [
                voivodeship.name_in(report.language),
                referrals.get(teryt, 0),
                unmatched.get(teryt, 0),
                still.get(teryt, 0),
                covering[teryt],
            ]
        )
    table.chart = _column_chart(
        table,
        gettext(
            "Bar chart: for each voivodeship, the referrals and those that found no "
            "organisation. The table below has them, with the organisations covering it."
        ),
        1,
        2,
    )
    return table


def _answers_table(report: Report) -> Table:
    answers = answers_by_organisation(report.period, report.events)
    table = Table(
        "organisations",
        gettext("Offers and answers by organisation"),
        [
            gettext("Organisation"),
            gettext("Offers"),
            gettext("Accepted"),
            gettext("Declined"),
            gettext("Expired"),
            gettext("Acceptance rate (%)"),
            gettext("Median time to answer (hours)"),
        ],
        note=gettext(
            "Offers, answers and expiries that happened in the period. The acceptance rate "
            "counts the offers accepted among those answered or left to expire. The time to "
            "answer runs from an offer made in the period to its acceptance, decline or expiry."
        ),
    )
    for org, name in report.names.items():
        a = answers.get(org, Answers())
        rate = a.acceptance_rate
        table.rows.append(
            [
                name,
                a.offers,
                a.accepted,
                a.declined,
                a.expired,
                None if rate is None else round(100 * rate, 1),
                None if a.median_hours is None else round(a.median_hours, 1),
            ]
        )
    table.chart = _column_chart(
        table,
        gettext(
            "Bar chart: for each organisation, the offers it got and those it accepted. "
            "The table below has them."
        ),
        1,
        2,
    )
    return table


def _reasons_table(key: str, title: str, actions: tuple[Action, ...], vocabulary):
    def build(report: Report) -> Table:
        counts = reasons_by_organisation(report.events, actions)
        table = Table(
            key,
            gettext(title),
            [gettext("Organisation")] + [gettext(member.label) for member in vocabulary],
        )
        for org, name in report.names.items():
            row = [counts.get((org, member.value), 0) for member in vocabulary]
            if any(row):
                table.rows.append([name, *row])
        return table

    return build


BUILDERS = {
    "months": _months_table,
    "specialisms": _specialisms_table,
    "voivodeships": _voivodeships_table,
    "organisations": _answers_table,
    "declines": _reasons_table(
        "declines",
        N_("Reasons for declining or handing back"),
        (Action.DECLINE, Action.HAND_BACK),
        DeclineReason,
    ),
    "outcomes": _reasons_table(
        "outcomes", N_("Outcomes of closed referrals"), (Action.CLOSE,), Outcome
    ),
}
