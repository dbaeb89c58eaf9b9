"""Reports: counts by month, specialism, voivodeship and organisation; charts; CSV; purge-proof."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from referral import charts, erasure, lifecycle, report_tables, report_tallies, reports
from referral.extensions import db
from referral.handoff import Action, warsaw_date
from referral.models import AnswerTally, EventTally, HelpRequest, StepTally, utcnow
from referral.vocabulary import Specialism

from ..helpers import intake, org, user

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
PERIOD = reports.Period(date(2026, 1, 1), date(2026, 12, 31))


def submit(app, need, city, now=T0) -> int:
    with app.app_context():
        submitted = lifecycle.submit_request(
            intake(need, city_slug=city, name="Тарас Шевченко", description="Потрібна допомога."),
            now=now,
        )
        return submitted.request.referrals[0].id


def act(app, referral_id, who, action, now, **kwargs):
    with app.app_context():
        lifecycle.act(referral_id, user(who), action, now=now, **kwargs)


def route_by_hand_to_pfm(app, referral_id) -> None:
    """The coordinator routes the referral by hand to PFM on day 33 of the history."""
    with app.app_context():
        pfm_id = org("pfm").id
    act(
        app,
        referral_id,
        "coordinator@konsorcjum.example",
        Action.ROUTE_BY_HAND,
        T0 + timedelta(days=33),
        organisation_id=pfm_id,
        text="Online sessions.",
    )


@pytest.fixture
def history(app, staff):
    """Nomada accepts one legal referral after 2 hours and declines another after 4 hours
    (it goes on to HFPC); a psychological one in Chełm finds nobody; one is closed resolved."""
    first = submit(app, "legal", "wroclaw")
    act(app, first, "staff@nomada.example", Action.ACCEPT, T0 + timedelta(hours=2))
    second = submit(app, "legal", "wroclaw", now=T0 + timedelta(days=31))
    act(
        app,
        second,
        "staff@nomada.example",
        Action.DECLINE,
        T0 + timedelta(days=31, hours=4),
        reason_code="no_capacity",
    )
    submit(app, "psychological", "chelm", now=T0 + timedelta(days=32))
    act(
        app,
        first,
        "staff@nomada.example",
        Action.CLOSE,
        T0 + timedelta(days=40),
        outcome="resolved",
    )
    return first, second


def everything(app) -> list:
    with app.test_request_context():
        return [(t.key, t.columns, t.rows) for t in report_tables.Report(PERIOD, "en").tables()]


def rows_of(app, key) -> dict:
    with app.test_request_context():
        return {row[0]: row[1:] for row in report_tables.Report(PERIOD, "en").table(key).rows}


def test_referrals_are_counted_by_month_and_specialism(app, history):
    months = rows_of(app, "months")
    columns = everything(app)[0][1]
    legal, psychological = (
        columns.index("Legal help") - 1,
        columns.index("Psychological support") - 1,
    )
    assert months["March 2026"][legal] == 1
    assert months["April 2026"][legal] == 1 and months["April 2026"][psychological] == 1
    assert months["April 2026"][-1] == 2 and months["May 2026"][-1] == 0
    assert len(months) == 12
    assert rows_of(app, "specialisms")["Legal help"] == [2]


def test_demand_by_voivodeship_shows_the_gap_in_lublin_voivodeship(app, history):
    voivodeships = rows_of(app, "voivodeships")
    assert len(voivodeships) == 16
    # 1 referral, it found no organisation, it still has none (the gaps table says which need).
    assert voivodeships["Lublin"] == [1, 1, 1]
    assert voivodeships["Lower Silesian"][:3] == [2, 0, 0]


def test_answers_per_organisation_with_acceptance_rate_and_median_time(app, history):
    answers = rows_of(app, "organisations")
    # offers, accepted, declined, expired, acceptance %, median hours
    assert answers["Nomada Association"] == [2, 1, 1, 0, 50.0, 3.0]
    assert answers["Helsinki Foundation for Human Rights"] == [1, 0, 0, 0, None, None]


def test_decline_reasons_and_outcomes_per_organisation(app, history):
    columns = {key: names for key, names, _rows in everything(app)}
    no_capacity = columns["declines"].index("We have no capacity now")
    assert rows_of(app, "declines")["Nomada Association"][no_capacity - 1] == 1
    resolved = columns["outcomes"].index("Resolved")
    assert rows_of(app, "outcomes")["Nomada Association"][resolved - 1] == 1


def test_reports_stay_the_same_after_personal_data_is_purged(app, history):
    first, second = history
    before = everything(app)
    with app.app_context():
        coordinator = user("coordinator@konsorcjum.example")
        for referral_id in (second, first + 2):
            lifecycle.act(referral_id, coordinator, Action.WITHDRAW, now=T0 + timedelta(days=50))
    before = everything(app)
    with app.app_context():
        assert erasure.purge_ended(now=T0 + timedelta(days=400)) == 3
        assert (
            db.session.scalar(db.select(HelpRequest.name).where(HelpRequest.name.is_not(None)))
            is None
        )
    assert everything(app) == before


def test_a_route_by_hand_shows_in_the_reports(app, history, coordinator):
    referral_id = history[0] + 2
    route_by_hand_to_pfm(app, referral_id)
    assert rows_of(app, "organisations")["Polish Migration Forum Foundation"][0] == 1
    assert rows_of(app, "voivodeships")["Lublin"][:3] == [1, 1, 0]


def test_report_page_has_an_svg_chart_and_a_table_for_each(app, history, coordinator):
    page = coordinator.get("/admin/reports?start=2026-01-01&end=2026-12-31").get_data(as_text=True)
    charts = re.findall(r"<svg[^>]*>.*?</svg>", page, re.S)
    assert len(charts) == 5
    for chart in charts:
        assert 'role="img"' in chart and "<title" in chart and "<desc" in chart
    assert page.count("<table") == 8
    assert "Lower Silesian" in page
    assert '<th scope="col">Organisations serving the whole voivodeship</th>' in page


def test_report_page_defaults_to_the_last_12_months(coordinator, staff):
    page = coordinator.get("/admin/reports").get_data(as_text=True)
    today = warsaw_date(utcnow())  # the reports count days in Warsaw, whatever the server's zone
    assert f'value="{today.isoformat()}"' in page


def test_a_wrong_date_range_gets_a_message_not_a_crash(coordinator, staff):
    response = coordinator.get("/admin/reports?start=2026-05-01&end=2026-01-01")
    assert response.status_code == 200
    assert "The end date must not be before the start date." in response.get_data(as_text=True)
    response = coordinator.get("/admin/reports?start=yesterday")
    assert response.status_code == 200


@pytest.mark.parametrize("period", ["end=2020-01-01", "start=2099-01-01"])
def test_one_end_alone_beyond_the_other_s_default_gets_a_message_not_a_crash(
    coordinator, staff, period
):
    """An end alone before the default start (a year ago), or a start alone after the default end
    (today), made a period that ends before it starts: the page and every CSV answered 500."""
    response = coordinator.get(f"/admin/reports?{period}")
    assert response.status_code == 200
    assert "The end date must not be before the start date." in response.get_data(as_text=True)
    for key in report_tables.BUILDERS:
        assert coordinator.get(f"/admin/reports/{key}.csv?{period}").status_code == 200


@pytest.mark.parametrize("period", ["start=0001-01-01", "end=9999-12-31", "start=9999-12-31"])
def test_a_date_at_the_calendar_s_end_gets_a_message_not_a_crash(coordinator, staff, period):
    """The first and the last day Python knows parse as dates; the day before or after them, or
    their time in UTC, which the counting takes, does not exist: every report and CSV was a 500."""
    response = coordinator.get(f"/admin/reports?{period}")
    assert response.status_code == 200
    assert "Enter a date between the years 2000 and 2099." in response.get_data(as_text=True)
    assert 'min="2000-01-01"' in response.get_data(as_text=True)
    for key in report_tables.BUILDERS:
        assert coordinator.get(f"/admin/reports/{key}.csv?{period}").status_code == 200


def read_csv(response) -> list[list[str]]:
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark for Excel
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    "key", ["months", "specialisms", "voivodeships", "organisations", "declines", "outcomes"]
)
def test_every_table_downloads_as_csv(history, coordinator, key):
    rows = read_csv(coordinator.get(f"/admin/reports/{key}.csv?start=2026-01-01&end=2026-12-31"))
    assert len(rows) >= 2


def test_csv_keeps_polish_and_ukrainian_letters(app, history, login_as):
    with app.app_context():
        user("coordinator@konsorcjum.example").language = "pl"
        db.session.commit()
    polish = read_csv(
        login_as("coordinator").get("/admin/reports/voivodeships.csv?start=2026-01-01")
    )
    assert ["dolnośląskie", "2", "0", "0"] in polish
    with app.app_context():
        user("coordinator@konsorcjum.example").language = "uk"
        db.session.commit()
    ukrainian = read_csv(
        login_as("coordinator").get("/admin/reports/organisations.csv?start=2026-01-01")
    )
    names = [row[0] for row in ukrainian]
    assert "Асоціація «Номада»" in names and "Гельсінський фонд прав людини" in names


def test_an_unknown_table_is_404(coordinator, staff):
    assert coordinator.get("/admin/reports/people.csv").status_code == 404


def test_reports_hold_no_personal_data(app, history, coordinator):
    page = coordinator.get("/admin/reports?start=2026-01-01").get_data(as_text=True)
    assert "Тарас" not in page and "600 100 200" not in page
    for key in ("months", "voivodeships", "organisations"):
        body = coordinator.get(f"/admin/reports/{key}.csv?start=2026-01-01").data.decode()
        assert "Тарас" not in body and "Потрібна" not in body


@pytest.mark.parametrize(
    "period",
    [
        PERIOD,
        reports.Period(date(2026, 3, 1), date(2026, 3, 31)),
        reports.Period(date(2026, 2, 15), date(2026, 4, 3)),  # days around whole months
        reports.Period(date(2026, 3, 2), date(2026, 3, 2)),  # one day
    ],
)
def test_monthly_tallies_give_the_same_figures_as_counting_the_events(app, history, period):
    def figures():
        with app.test_request_context():
            return (
                sorted(map(repr, reports.referral_counts(period))),
                sorted(map(repr, reports.event_counts(period))),
                reports.answer_times(period),
                reports.unmatched_by_voivodeship(period),
            )

    counted = figures()
    with app.app_context():
        # The job halfway through April 2026 (part of a month counted), then the rest.
        assert report_tallies.advance_all(now=T0 + timedelta(days=31, hours=6)) == 2
    assert figures() == counted
    with app.app_context():
        later = datetime(2027, 1, 1, 12, tzinfo=UTC)
        # Every month from the first event's on, the empty ones too, then nothing more to count.
        assert report_tallies.advance_all(now=later) == 10  # April on, to January 2027
        assert report_tallies.advance_all(now=later) == 0
    assert figures() == counted
    assert counted[0]  # the period holds something to compare


def test_a_month_counted_day_by_day_keeps_one_tally_row_per_key(app, staff):
    """The job runs every few minutes: each run adds to the month's rows instead of writing more
    of them, so a report reads a few thousand rows a year however often the job ran."""
    for day in range(3):
        submit(app, "legal", "wroclaw", now=T0 + timedelta(days=day))
        with app.app_context():
            assert report_tallies.advance_all(now=T0 + timedelta(days=day, hours=6)) == 1
    with app.app_context():
        for model, keys in (
            (StepTally, report_tallies.STEP_KEYS),
            (EventTally, report_tallies.EVENT_KEYS),
            (AnswerTally, report_tallies.ANSWER_KEYS),
        ):
            columns = [model.month, *(getattr(model, key) for key in keys)]
            rows = db.session.execute(select(*columns)).all()
            assert len(rows) == len(set(rows))
    with app.test_request_context():
        offered = [c.n for c in reports.referral_counts(PERIOD) if c.state == "offered"]
    assert offered == [3]


def test_a_referral_unmatched_twice_counts_once(app, history, coordinator):
    """Routed by hand, declined, and unmatched again: one referral that went unmatched, whether
    the reports read the tallies or count the events."""
    referral_id = history[0] + 2
    route_by_hand_to_pfm(app, referral_id)
    act(
        app,
        referral_id,
        "staff@pfm.example",
        Action.DECLINE,
        T0 + timedelta(days=34),
        reason_code="no_capacity",
    )
    lublin = rows_of(app, "voivodeships")["Lublin"]
    assert lublin[:3] == [1, 1, 1]  # referrals, went unmatched, still unmatched
    with app.app_context():
        report_tallies.advance_all(now=datetime(2027, 1, 1, tzinfo=UTC))
    assert rows_of(app, "voivodeships")["Lublin"] == lublin


# --- reports that read right (issue 14.7): every series drawn, nothing clipped, tables ---------
# scrollable by keyboard with a name, the gaps by need, demand against acceptance by month.

REPORT = "/admin/reports?start=2026-01-01&end=2026-12-31"


def svg_texts(chart: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", chart)


def chart_of(page: str, key: str) -> str:
    found = re.search(
        rf'<h2 id="{key}">.*?(<svg.*?</svg>(?:<ul class="chart-legend">.*?</ul>)?)', page, re.S
    )
    return found.group(1)


def test_the_month_by_need_chart_draws_every_specialism(app, history, coordinator):
    page = coordinator.get(REPORT).get_data(as_text=True)
    chart = chart_of(page, "months")
    legend = re.findall(r'<span class="swatch swatch-\d+"></span>([^<]*)</li>', chart)
    assert (
        "Legal help" in legend
        and "Psychological support" in legend
        and len(legend) == len(Specialism)
    )
    # April 2026: one legal and one psychological referral, two parts of one bar, total 2.
    april = chart.split(">April 2026<", 1)[1].split("</text>", 2)
    fills = re.findall(
        r'<rect [^>]*width="([\d.]+)"[^>]*fill="(#[0-9a-f]{6})"', april[0] + april[1]
    )
    drawn = {fill for width, fill in fills if float(width) > 0}
    needs = list(Specialism)
    assert drawn == {
        charts.COLOURS[needs.index(Specialism.LEGAL)],
        charts.COLOURS[needs.index(Specialism.PSYCHOLOGICAL)],
    }


def test_labels_and_legends_are_whole_in_polish(app, history, login_as):
    page = login_as("coordinator").get(REPORT).get_data(as_text=True)
    assert "…" not in "".join(re.findall(r"<svg.*?</svg>", page, re.S))
    voivodeships = chart_of(page, "voivodeships")
    assert "Nie znaleziono organizacji</li>" in voivodeships
    organisations = chart_of(page, "organisations")
    words = " ".join(svg_texts(organisations))
    assert "Helsińska Fundacja Praw Człowieka" in words
    assert "Fundacja Polska Gościnność (Chlebem i Solą, Uchodźcy.Info)" in words


@pytest.mark.parametrize(("language", "written"), [("pl", "1\xa0234"), ("en", "1,234")])
@pytest.mark.parametrize("stacked", [False, True])
def test_a_charts_numbers_are_written_as_in_its_table(app, language, written, stacked):
    """As the ``number`` filter writes them beside it: "1 234" in Polish, "1,234" in English."""
    from flask_babel import force_locale

    with app.test_request_context(), force_locale(language):
        chart = charts.bar_chart(
            "Referrals", "Bar chart", ["Fundacja"], [charts.Series("Made", [1234])], stacked=stacked
        )
    assert svg_texts(chart)[-1] == written


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200), st.integers(5, 60))
def test_a_wrapped_label_keeps_every_word_and_no_line_is_too_long(text, limit):
    lines = charts.wrap(text, limit)
    assert all(len(line) <= limit for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())


def test_every_wide_table_scrolls_by_keyboard_and_has_a_name(app, history, coordinator):
    for url in (REPORT, "/admin/audit", "/admin/unmatched", "/admin/organisations/1"):
        page = coordinator.get(url).get_data(as_text=True)
        regions = re.findall(r'<div class="table-scroll"[^>]*>', page)
        assert regions, url
        for region in regions:
            assert 'tabindex="0"' in region and 'role="region"' in region
            assert re.search(r'aria-label="[^"]+"', region), region


def test_the_gap_table_counts_only_coverage_of_that_need_there(app, history):
    submit(app, "housing", "chelm", now=T0 + timedelta(days=33))
    gaps = rows_of(app, "gaps")
    # referrals, still unmatched, serving the whole voivodeship, some of its cities only
    assert gaps["Lublin — Psychological support"] == [1, 1, 0, 1]  # Homo Faber, in Lublin
    assert gaps["Lublin — Housing"] == [1, 1, 0, 0]  # nationwide legal help serves no housing
    assert gaps["Lower Silesian — Legal help"] == [2, 0, 3, 0]  # Nomada, HFPC, SIP
    assert "Lublin — Legal help" not in gaps  # nobody asked for it there


def test_the_trend_shows_demand_and_acceptance_per_voivodeship(app, history, coordinator):
    everywhere = rows_of(app, "trend")
    assert everywhere["March 2026"] == [1, 1, 100.0]  # accepted, then closed
    assert everywhere["April 2026"] == [2, 0, 0.0]
    assert everywhere["May 2026"] == [0, 0, None]

    page = coordinator.get(f"{REPORT}&voivodeship=06").get_data(as_text=True)
    assert "Demand and acceptance by month: Lublin" in page
    body = coordinator.get(
        "/admin/reports/trend.csv?start=2026-01-01&end=2026-12-31&voivodeship=06"
    ).data.decode("utf-8-sig")
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(body))}
    assert rows["April 2026"] == ["1", "0", "0.0"]
    assert rows["March 2026"] == ["0", "0", ""]


def test_an_accepted_referral_counts_in_its_month_once(app, history):
    second = history[1]
    act(app, second, "staff@hfpc.example", Action.ACCEPT, T0 + timedelta(days=31, hours=6))
    assert rows_of(app, "trend")["April 2026"] == [2, 1, 50.0]


def test_an_unknown_voivodeship_in_the_address_shows_all_of_poland(app, history, coordinator):
    page = coordinator.get(f"{REPORT}&voivodeship=99").get_data(as_text=True)
    assert "Demand and acceptance by month: All of Poland" in page
