"""The coordinator's queues at scale (issue 14.6): the unmatched queue as a filtered table, routing
by hand from the referral's page, the audit found by a reference, coverage removed after asking."""

import csv
import io
import re
from datetime import timedelta

from referral import lifecycle, paging
from referral.extensions import db
from referral.handoff import Action, State
from referral.models import AdminEvent, Coverage, Referral, utcnow

from ..helpers import intake, org, user


def submit(app, need: str, city: str, *, urgent=False, days_ago=0) -> tuple[int, str]:
    """A person's request with one need, made ``days_ago``: (referral id, reference)."""
    with app.app_context():
        submitted = lifecycle.submit_request(intake(need, city_slug=city, urgent=urgent))
        referral = submitted.request.referrals[0]
        if days_ago:
            referral.created_at = utcnow() - timedelta(days=days_ago)
            db.session.commit()
        return referral.id, submitted.reference


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(page: str) -> list[str]:
    """The references in the queue's rows, top to bottom."""
    return re.findall(r'<th scope="row"><a href="/staff/referrals/\d+">([A-Z0-9-]+)</a>', page)


# --- the unmatched queue ------------------------------------------------------------------------


def test_the_queue_is_a_table_of_references_urgent_first_then_oldest(app, coordinator):
    _, recent = submit(app, "psychological", "chelm", days_ago=1)
    _, old = submit(app, "housing", "opole", days_ago=5)
    urgent_id, urgent = submit(app, "medical", "kielce", urgent=True)
    page = text(coordinator.get("/admin/unmatched"))
    assert rows(page) == [urgent, old, recent]
    assert "Polish Migration Forum Foundation" not in page  # candidates are one click away
    assert f'href="/admin/referrals/{urgent_id}/route-by-hand"' in page
    assert f"Referral {urgent_id}" not in page  # never an internal number in the text
    assert "Opole, Opole" in page and "Health care" in page


def test_the_queue_counts_up_to_the_cap(app, coordinator, monkeypatch):
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    for city in ("chelm", "opole", "kielce"):
        submit(app, "psychological", city)
    assert "(more than 2)" in text(coordinator.get("/admin/unmatched"))
    assert "(1)" in text(coordinator.get("/admin/unmatched?voivodeship=16"))  # Opole's


def test_the_queue_filters_by_need_voivodeship_urgency_and_age(app, coordinator):
    _, chelm = submit(app, "psychological", "chelm", days_ago=4)
    _, opole = submit(app, "psychological", "opole", urgent=True)
    _, housing = submit(app, "housing", "chelm", days_ago=10)

    assert rows(text(coordinator.get("/admin/unmatched?specialism=psychological"))) == [
        opole,
        chelm,
    ]
    assert rows(text(coordinator.get("/admin/unmatched?voivodeship=06"))) == [housing, chelm]
    assert rows(text(coordinator.get("/admin/unmatched?urgency=urgent"))) == [opole]
    assert rows(text(coordinator.get("/admin/unmatched?urgency=other"))) == [housing, chelm]
    assert rows(text(coordinator.get("/admin/unmatched?age=3"))) == [housing, chelm]
    assert rows(text(coordinator.get("/admin/unmatched?age=7"))) == [housing]
    both = text(coordinator.get("/admin/unmatched?voivodeship=06&specialism=psychological"))
    assert rows(both) == [chelm]
    assert "Clear the filters" in both


def test_a_filter_value_from_an_old_bookmark_is_ignored(app, coordinator):
    _, reference = submit(app, "psychological", "chelm")
    response = coordinator.get("/admin/unmatched?voivodeship=99&age=forever&specialism=x")
    assert response.status_code == 200
    assert rows(text(response)) == [reference]


def test_an_empty_filter_result_says_so(app, coordinator):
    submit(app, "psychological", "chelm")
    page = text(coordinator.get("/admin/unmatched?urgency=urgent"))
    assert "No unmatched referral fits these filters." in page


def test_the_queue_is_paged_twenty_at_a_time(app, coordinator):
    references = [submit(app, "housing", "opole", days_ago=30 - n)[1] for n in range(23)]
    first = text(coordinator.get("/admin/unmatched?specialism=housing"))
    assert rows(first) == references[:20]
    assert "(23)" in first
    assert 'href="/admin/unmatched?specialism=housing&amp;page=2"' in first
    second = text(coordinator.get("/admin/unmatched?specialism=housing&page=2"))
    assert rows(second) == references[20:]


# --- routing by hand from the referral's page ------------------------------------------------


def test_the_coordinator_routes_by_hand_from_the_referral_page(app, coordinator):
    referral_id, _ = submit(app, "psychological", "chelm")
    page = text(coordinator.get(f"/staff/referrals/{referral_id}"))
    assert 'id="route-by-hand"' in page
    assert f'action="/admin/referrals/{referral_id}/route-by-hand?back=referral"' in page
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    with app.app_context():
        pfm_id = org("pfm").id
    response = coordinator.post(
        f"/admin/referrals/{referral_id}/route-by-hand?back=referral",
        data={"organisation_id": pfm_id, "reason": "Online sessions.", "version": version},
    )
    assert response.headers["Location"] == f"/staff/referrals/{referral_id}"  # the message on top
    assert "Offered to Polish Migration Forum Foundation." in text(
        coordinator.get(response.headers["Location"])
    )
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        assert (referral.state, referral.organisation.slug) == (State.OFFERED, "pfm")
        assert referral.events[-1].action == Action.ROUTE_BY_HAND


def test_an_organisation_that_is_no_number_is_refused_in_our_words(app, coordinator):
    """A value a list of ids cannot read got WTForms' English "Invalid Choice: could not coerce."
    first, before ours."""
    referral_id, _ = submit(app, "psychological", "chelm")
    response = coordinator.post(
        f"/admin/referrals/{referral_id}/route-by-hand",
        data={"organisation_id": "abc", "reason": "Online sessions.", "version": 1},
    )
    page = text(response)
    assert "Choose from the list." in page and "coerce" not in page


def test_staff_of_an_organisation_see_no_route_by_hand_section(app, login_as):
    referral_id, _ = submit(app, "legal", "wroclaw")
    page = text(login_as("nomada").get(f"/staff/referrals/{referral_id}"))
    assert "Nomada" in page or "Referral" in page
    assert 'id="route-by-hand"' not in page


def test_a_closed_referral_has_no_route_by_hand_section(app, coordinator):
    referral_id, _ = submit(app, "legal", "wroclaw")
    with app.app_context():
        lifecycle.act(referral_id, user("coordinator@konsorcjum.example"), Action.WITHDRAW)
    assert 'id="route-by-hand"' not in text(coordinator.get(f"/staff/referrals/{referral_id}"))


# --- the audit by reference -------------------------------------------------------------------


def test_the_audit_finds_a_request_by_its_reference_in_any_spelling(app, coordinator):
    first_id, reference = submit(app, "legal", "wroclaw")
    other_id, _ = submit(app, "legal", "krakow")
    for typed in (
        reference,
        reference.lower().replace("-", ""),
        f" {reference[:3]} {reference[4:]}",
    ):
        page = text(coordinator.get("/admin/audit", query_string={"reference": typed}))
        assert "not a whole number" not in page and "No request has this reference." not in page
        assert f'href="/staff/referrals/{first_id}">{reference}</a> Legal help' in page
        assert f'href="/staff/referrals/{other_id}"' not in page


def test_an_unknown_reference_is_said_next_to_the_field(app, coordinator):
    submit(app, "legal", "wroclaw")
    page = text(coordinator.get("/admin/audit?reference=ZZZ-999"))
    assert "No request has this reference." in page
    assert "0 entries." in page


def test_the_audit_of_one_referral_names_it_by_its_reference(app, coordinator):
    referral_id, reference = submit(app, "legal", "wroclaw")
    page = text(coordinator.get(f"/admin/audit?referral_id={referral_id}"))
    assert f"Only the referral {reference} (Legal help)." in page
    assert "Show every referral" in page
    # An edited address is not an error page: the hidden filter is dropped.
    assert coordinator.get("/admin/audit?referral_id=Q4T-373").status_code == 200


def test_the_audit_csv_names_each_referral_by_reference_and_need_never_its_number(
    app, coordinator, count_queries
):
    referral_id, reference = submit(app, "legal", "wroclaw")
    export = coordinator.get("/admin/audit.csv?kind=referral").get_data(as_text=True)
    header, *entries = csv.reader(io.StringIO(export.removeprefix("\ufeff")))
    assert header[:4] == ["Time (UTC)", "What", "Reference", "Need"]
    assert "Referral" not in header
    assert entries and all(entry[2:4] == [reference, "Legal help"] for entry in entries)
    assert str(referral_id) not in {cell for entry in entries for cell in entry}
    # The names come with the rows: as many queries for one referral as for several.
    one = count_queries(lambda: coordinator.get("/admin/audit.csv").get_data())
    for need in ("housing", "medical", "psychological"):
        submit(app, need, "krakow")
    assert count_queries(lambda: coordinator.get("/admin/audit.csv").get_data()) == one


# --- removing coverage asks first -------------------------------------------------------------


def _nomada_psychological_wroclaw(app) -> tuple[int, int]:
    with app.app_context():
        nomada = org("nomada")
        coverage = next(
            c for c in nomada.coverage if (c.specialism, c.area) == ("psychological", "wroclaw")
        )
        return nomada.id, coverage.id


def test_removing_coverage_asks_first_and_removes_only_on_confirmation(app, coordinator):
    nomada_id, coverage_id = _nomada_psychological_wroclaw(app)
    url = f"/admin/organisations/{nomada_id}/coverage/{coverage_id}/remove"
    edit_page = text(coordinator.get(f"/admin/organisations/{nomada_id}"))
    assert f'href="{url}"' in edit_page  # a link to the question, not a button that removes

    question = text(coordinator.get(url))
    assert "Remove coverage?" in question
    assert "Psychological support — Wrocław" in question
    with app.app_context():
        assert db.session.get(Coverage, coverage_id) is not None

    response = coordinator.post(url)
    assert response.headers["Location"] == f"/admin/organisations/{nomada_id}#coverage"
    with app.app_context():
        assert db.session.get(Coverage, coverage_id) is None
        removed = db.session.scalars(
            db.select(AdminEvent).where(AdminEvent.action == "coverage_removed")
        ).one()
        assert removed.before["specialism"] == "psychological"


def test_removing_coverage_of_another_organisation_is_404(app, coordinator):
    _, coverage_id = _nomada_psychological_wroclaw(app)
    with app.app_context():
        hfpc_id = org("hfpc").id
    url = f"/admin/organisations/{hfpc_id}/coverage/{coverage_id}/remove"
    assert coordinator.get(url).status_code == 404
    assert coordinator.post(url).status_code == 404


def test_the_queue_names_normal_urgency_in_words(app, coordinator):
    """A normal request's urgency read "—", as if it were not known."""
    submit(app, "psychological", "chelm")
    [row] = re.findall(
        r"<tr>\s*<th scope=\"row\">.*?</tr>", text(coordinator.get("/admin/unmatched")), flags=re.S
    )
    assert "<td>Normal</td>" in row and "<td>—</td>" not in row
