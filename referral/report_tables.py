"""The coordinator's reports as tables (with a chart each) for the page and the CSV export.

Built from the counts of ``reports`` in the reader's language; every table can be exported alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from flask_babel import format_date, gettext
from markupsafe import Markup
from sqlalchemy import select

from . import charts
from .extensions import db
from .handoff import Action, DeclineReason, Outcome, State
from .models import Organisation, Voivodeship
from .reports import (
    Answers,
    EventCount,
    Period,
    ReferralCount,
    Serving,
    answers_by_organisation,
    event_counts,
    organisations_serving,
    reasons_by_organisation,
    referral_counts,
    unmatched_by_voivodeship,
)
from .vocabulary import N_, Specialism

# A referral in these states was accepted by an organisation at some point.
ACCEPTED_STATES = frozenset({State.ACCEPTED, State.IN_PROGRESS, State.CLOSED})


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

    def __init__(self, period: Period, language: str, voivodeship: str = "") -> None:
        self.period = period
        self.language = language
        # The trend's voivodeship (TERYT); "" for all of Poland.
        self.voivodeship = voivodeship

    @cached_property
    def voivodeship_name(self) -> str:
        found = db.session.get(Voivodeship, self.voivodeship) if self.voivodeship else None
        return found.name_in(self.language) if found else ""

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
        table.title,
        gettext(
            "Bar chart: for each month, one bar of the referrals made, in parts by specialism, "
            "with the month's total at its end. The table below has them."
        ),
        [row[0] for row in table.rows],
        [
            charts.Series(table.columns[i], [row[i] for row in table.rows])
            for i in range(1, len(specialisms) + 1)
        ],
        stacked=True,
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
    table = Table(
        "voivodeships",
        gettext("Demand by voivodeship against coverage"),
        [
            gettext("Voivodeship"),
            gettext("Referrals"),
            gettext("Found no organisation"),
            gettext("Still unmatched"),
        ],
        note=gettext(
            "A voivodeship with many referrals that found no organisation is a gap in the "
            "network: the next table shows for which needs."
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
            ]
        )
    table.chart = _column_chart(
        table,
        gettext(
            "Bar chart: for each voivodeship, the referrals and those that found no "
            "organisation. The table below has them."
        ),
        1,
        2,
    )
    return table


def _gaps_table(report: Report) -> Table:
    """Each need asked for in each voivodeship, against the organisations that serve that need
    there: other needs' coverage does not count."""
    demand: Counter[tuple[str, str]] = Counter()
    unmatched: Counter[tuple[str, str]] = Counter()
    for c in report.referrals:
        demand[c.voivodeship, c.specialism] += c.n
        if c.state == State.UNMATCHED:
            unmatched[c.voivodeship, c.specialism] += c.n
    serving = organisations_serving()
    table = Table(
        "gaps",
        gettext("Needs by voivodeship against the organisations serving them"),
        [
            gettext("Voivodeship and need"),
            gettext("Referrals"),
            gettext("Still unmatched"),
            gettext("Organisations serving the whole voivodeship"),
            gettext("Organisations serving some of its cities only"),
        ],
        note=gettext(
            "Only the needs asked for in the period. An organisation counts only for the needs "
            "it covers there: nationwide legal help does not serve a need for housing."
        ),
    )
    for voivodeship in db.session.scalars(select(Voivodeship).order_by(Voivodeship.teryt)):
        for specialism in Specialism:
            key = (voivodeship.teryt, specialism.value)
            if not demand[key]:
                continue
            there = serving.get(key, Serving())
            table.rows.append(
                [
                    f"{voivodeship.name_in(report.language)} — {gettext(specialism.label)}",
                    demand[key],
                    unmatched[key],
                    there.everywhere,
                    there.some_cities,
                ]
            )
    return table


def _trend_table(report: Report) -> Table:
    """Demand against acceptance month by month, in one voivodeship or in all of Poland."""
    made: Counter[int] = Counter()
    accepted: Counter[int] = Counter()
    for c in report.referrals:
        if report.voivodeship and c.voivodeship != report.voivodeship:
            continue
        made[c.month] += c.n
        if c.state in ACCEPTED_STATES:
            accepted[c.month] += c.n
    place = report.voivodeship_name or gettext("All of Poland")
    table = Table(
        "trend",
        gettext("Demand and acceptance by month: %(place)s", place=place),
        [
            gettext("Month"),
            gettext("Referrals"),
            gettext("Accepted"),
            gettext("Acceptance (%)"),
        ],
        note=gettext(
            "Referrals made each month, and how many of them an organisation accepted (they are "
            "now accepted, in progress or closed)."
        ),
    )
    for index, month in enumerate(report.period.months()):
        rate = round(100 * accepted[index] / made[index], 1) if made[index] else None
        table.rows.append([format_date(month, "LLLL y"), made[index], accepted[index], rate])
    table.chart = _column_chart(
        table,
        gettext(
            "Bar chart: for each month, the referrals made and those accepted. The table below "
            "has them, with the share accepted."
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
    "gaps": _gaps_table,
    "trend": _trend_table,
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
