"""The coordinator's reports: counts only, never personal data.

Every query reads non-personal columns only (referrals, their events, the request's voivodeship),
so the numbers stay the same after personal data is purged. Aggregation happens in the database
(GROUP BY and window functions): a year of 100,000 referrals is a handful of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import format_date, gettext
from markupsafe import Markup
from sqlalchemy import case, distinct, extract, func, literal, select

from . import charts
from .extensions import db
from .handoff import WARSAW, Action, DeclineReason, Outcome, State
from .models import City, Coverage, Organisation, Referral, ReferralEvent, Request, Voivodeship
from .routing import Scope
from .vocabulary import Specialism

# What ends an offer by the organisation's own answer (or its silence).
ANSWERS = (Action.ACCEPT, Action.DECLINE, Action.EXPIRE)


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


def referrals_by_month(period: Period) -> dict[tuple[int, str], int]:
    """(index of the month in ``period.months()``, specialism) -> referrals created."""
    bounds = [datetime.combine(m, time(), WARSAW) for m in period.months()[1:]]
    month = (
        case(*[(Referral.created_at < b, i) for i, b in enumerate(bounds)], else_=len(bounds))
        if bounds
        else literal(0)
    )
    # Grouped outside: PostgreSQL would not see two copies of the CASE (with their own bound
    # parameters) as the same expression.
    inner = (
        select(month.label("month"), Referral.specialism)
        .where(period.holds(Referral.created_at))
        .subquery()
    )
    rows = db.session.execute(
        select(inner.c.month, inner.c.specialism, func.count()).group_by(
            inner.c.month, inner.c.specialism
        )
    )
    return {(int(m), s): n for m, s, n in rows}


def demand_by_voivodeship(period: Period) -> dict[str, tuple[int, int, int]]:
    """TERYT -> (referrals, referrals that found no organisation at some point, still unmatched)."""
    placed = db.session.execute(
        select(
            Request.voivodeship_teryt,
            func.count(),
            func.sum(case((Referral.state == State.UNMATCHED, 1), else_=0)),
        )
        .select_from(Referral)
        .join(Request, Request.id == Referral.request_id)
        .where(period.holds(Referral.created_at))
        .group_by(Request.voivodeship_teryt)
    ).all()
    unmatched = dict(
        db.session.execute(
            select(Request.voivodeship_teryt, func.count(distinct(ReferralEvent.referral_id)))
            .select_from(ReferralEvent)
            .join(Referral, Referral.id == ReferralEvent.referral_id)
            .join(Request, Request.id == Referral.request_id)
            .where(ReferralEvent.to_state == State.UNMATCHED, period.holds(Referral.created_at))
            .group_by(Request.voivodeship_teryt)
        ).all()
    )
    return {teryt: (n, unmatched.get(teryt, 0), int(still or 0)) for teryt, n, still in placed}


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


def _seconds_between(earlier, later):
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400
    return extract("epoch", later - earlier)


def _offers(period: Period):
    """Each offer made in the period with the step that ended it (the referral's next event)."""
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
        .where(ReferralEvent.at >= period.start_at)
        .subquery()
    )
    return (
        select(
            steps.c.organisation_id,
            steps.c.answer,
            _seconds_between(steps.c.offered_at, steps.c.answered_at).label("seconds"),
        )
        .where(steps.c.organisation_id.is_not(None), steps.c.offered_at < period.end_at)
        .subquery()
    )


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


def answers_by_organisation(period: Period) -> dict[int, Answers]:
    offers = _offers(period)

    def counted(action: Action):
        return func.sum(case((offers.c.answer == action, 1), else_=0))

    result = {
        org: Answers(n, int(accepted or 0), int(declined or 0), int(expired or 0))
        for org, n, accepted, declined, expired in db.session.execute(
            select(
                offers.c.organisation_id,
                func.count(),
                counted(Action.ACCEPT),
                counted(Action.DECLINE),
                counted(Action.EXPIRE),
            ).group_by(offers.c.organisation_id)
        )
    }
    answered = select(offers).where(offers.c.answer.in_(ANSWERS)).subquery()
    ranked = select(
        answered.c.organisation_id,
        answered.c.seconds,
        func.row_number()
        .over(partition_by=answered.c.organisation_id, order_by=answered.c.seconds)
        .label("rank"),
        func.count().over(partition_by=answered.c.organisation_id).label("n"),
    ).subquery()
    medians = db.session.execute(
        select(ranked.c.organisation_id, func.avg(ranked.c.seconds))
        .where(ranked.c.rank.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.organisation_id)
    )
    for org, seconds in medians:
        result[org].median_hours = float(seconds) / 3600
    return result


def reasons_by_organisation(period: Period, actions: tuple[Action, ...]) -> dict[tuple, int]:
    """(organisation, reason code) -> steps of these kinds in the period (declines, closings)."""
    rows = db.session.execute(
        select(ReferralEvent.organisation_id, ReferralEvent.reason_code, func.count())
        .where(ReferralEvent.action.in_(actions), period.holds(ReferralEvent.at))
        .group_by(ReferralEvent.organisation_id, ReferralEvent.reason_code)
    )
    return {(org, code): n for org, code, n in rows}


# --- tables for the page and the CSV export ----------------------------------------------------


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    chart: Markup | None = None
    note: str = ""


def tables(period: Period, language: str) -> list[Table]:
    """Every report table in the current locale, in page order."""
    names = {
        org.id: org.name_in(language)
        for org in db.session.scalars(select(Organisation).order_by(Organisation.name_pl))
    }
    by_month = referrals_by_month(period)
    return [
        _months_table(period, by_month),
        _specialisms_table(by_month),
        _voivodeships_table(period, language),
        _answers_table(period, names),
        _reasons_table(
            "declines",
            gettext("Reasons for declining or handing back"),
            reasons_by_organisation(period, (Action.DECLINE, Action.HAND_BACK)),
            names,
            DeclineReason,
        ),
        _reasons_table(
            "outcomes",
            gettext("Outcomes of closed referrals"),
            reasons_by_organisation(period, (Action.CLOSE,)),
            names,
            Outcome,
        ),
    ]


def table(period: Period, language: str, key: str) -> Table | None:
    return next((t for t in tables(period, language) if t.key == key), None)


def _months_table(period: Period, counts: dict[tuple[int, str], int]) -> Table:
    months = period.months()
    specialisms = list(Specialism)
    table = Table(
        "months",
        gettext("Referrals by month and specialism"),
        [gettext("Month")] + [gettext(s.label) for s in specialisms] + [gettext("Total")],
    )
    for index, month in enumerate(months):
        row = [counts.get((index, s.value), 0) for s in specialisms]
        table.rows.append([format_date(month, "LLLL y"), *row, sum(row)])
    table.chart = charts.bar_chart(
        gettext("Referrals by month"),
        gettext("Bar chart: the number of referrals made each month. The table below has them."),
        [row[0] for row in table.rows],
        [charts.Series(gettext("Referrals"), [row[-1] for row in table.rows])],
    )
    return table


def _specialisms_table(counts: dict[tuple[int, str], int]) -> Table:
    table = Table(
        "specialisms",
        gettext("Referrals by specialism"),
        [gettext("Specialism"), gettext("Referrals")],
    )
    for specialism in Specialism:
        total = sum(n for (_m, s), n in counts.items() if s == specialism)
        table.rows.append([gettext(specialism.label), total])
    table.chart = charts.bar_chart(
        table.title,
        gettext(
            "Bar chart: the number of referrals for each specialism. The table below has them."
        ),
        [row[0] for row in table.rows],
        [charts.Series(gettext("Referrals"), [row[1] for row in table.rows])],
    )
    return table


def _voivodeships_table(period: Period, language: str) -> Table:
    demand = demand_by_voivodeship(period)
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
    voivodeships = db.session.scalars(select(Voivodeship).order_by(Voivodeship.teryt)).all()
    for voivodeship in voivodeships:
        n, unmatched, still = demand.get(voivodeship.teryt, (0, 0, 0))
        table.rows.append(
            [voivodeship.name_in(language), n, unmatched, still, covering[voivodeship.teryt]]
        )
    table.chart = charts.bar_chart(
        table.title,
        gettext(
            "Bar chart: for each voivodeship, the referrals and those that found no "
            "organisation. The table below has them, with the organisations covering it."
        ),
        [row[0] for row in table.rows],
        [
            charts.Series(gettext("Referrals"), [row[1] for row in table.rows]),
            charts.Series(gettext("Found no organisation"), [row[2] for row in table.rows]),
        ],
    )
    return table


def _answers_table(period: Period, names: dict[int, str]) -> Table:
    answers = answers_by_organisation(period)
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
            "The acceptance rate counts the offers that were accepted among those answered or "
            "left to expire. The time to answer runs from the offer to the acceptance, the "
            "decline or the expiry."
        ),
    )
    for org, name in names.items():
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
    table.chart = charts.bar_chart(
        table.title,
        gettext(
            "Bar chart: for each organisation, the offers it got and those it accepted. "
            "The table below has them."
        ),
        [row[0] for row in table.rows],
        [
            charts.Series(gettext("Offers"), [row[1] for row in table.rows]),
            charts.Series(gettext("Accepted"), [row[2] for row in table.rows]),
        ],
    )
    return table


def _reasons_table(key, title, counts, names, vocabulary) -> Table:
    codes = [member.value for member in vocabulary]
    table = Table(
        key,
        title,
        [gettext("Organisation")] + [gettext(member.label) for member in vocabulary],
    )
    for org, name in names.items():
        row = [counts.get((org, code), 0) for code in codes]
        if any(row):
            table.rows.append([name, *row])
    return table
