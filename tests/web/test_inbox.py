"""The inbox decides at a glance (issue 14.1): what each row tells, one row per request, sorting,
the search by name, the places an organisation covers, counts capped."""

import re
from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade

from referral import paging
from referral.extensions import db
from referral.models import NameKey, Referral, utcnow
from referral.staff import inbox

from .staff_steps import act, english_staff, placement, reference_of  # noqa: F401 - fixture
from .test_staff import section, submit, text_of

pytestmark = pytest.mark.usefixtures("english_staff")


def rows_of(html: str) -> list[str]:
    return re.findall(r"<tr[ >].*?</tr>", html, flags=re.S)[1:]  # the head's row first


def test_an_offer_row_carries_what_decides_without_opening_it(app, login_as):
    [referral_id] = submit(
        app, languages=("uk", "ru"), interpreter_needed=True, contact_channel="viber", urgent=True
    )
    with app.app_context():
        db.session.get(Referral, referral_id).request.created_at = utcnow() - timedelta(days=2)
        db.session.commit()
    [row] = rows_of(section(text_of(login_as("nomada").get("/staff/")), "offered"))
    assert reference_of(app, referral_id) in row
    for seen in ("Legal help", "Wrocław", "Russian, Ukrainian", "Needs an interpreter", "Viber"):
        assert seen in row, seen
    assert "Urgent" in row and "2 days" in row
    assert re.search(r"\d+ (hours?|days?|minutes?) left", row)
    assert 'data-label="Time left"' in row  # what a phone shows as a card


def test_the_needs_of_one_request_stand_in_one_row(app, login_as):
    legal, psychological = submit(
        app, needs=("legal", "psychological"), caseworker="staff@pfm.example"
    )
    sent = section(text_of(login_as("pfm").get("/staff/")), "sent")
    [row] = rows_of(sent)
    assert "Legal help" in row and "Psychological support" in row
    assert f"/staff/referrals/{legal}" in row and f"/staff/referrals/{psychological}" in row


def test_sorting_by_urgency_and_by_waiting_time(app, login_as):
    [old] = submit(app)
    [urgent] = submit(app, urgent=True)
    with app.app_context():
        db.session.get(Referral, old).created_at = utcnow() - timedelta(days=3)
        db.session.get(Referral, old).deadline_at = utcnow() + timedelta(days=5)
        db.session.commit()
    nomada = login_as("nomada")

    def order(sort):
        offered = section(text_of(nomada.get(f"/staff/?sort={sort}")), "offered")
        return sorted((old, urgent), key=lambda r: offered.index(reference_of(app, r)))

    assert order("deadline") == [urgent, old]
    assert order("waiting") == [old, urgent]
    assert order("urgent") == [urgent, old]
    assert nomada.get("/staff/?sort=nonsense").status_code == 200


@pytest.mark.parametrize("typed", ["Kovalenko", "olena kovalenko", "Олена", "КОВАЛЕНКО Olena"])
def test_staff_find_a_person_by_name_in_either_alphabet(app, login_as, typed):
    [found] = submit(app, name="Олена Коваленко")
    [other] = submit(app, name="Olena Shevchenko")
    offered = section(
        text_of(login_as("nomada").get("/staff/", query_string={"reference": typed})), "offered"
    )
    assert reference_of(app, found) in offered
    assert (reference_of(app, other) in offered) == (typed == "Олена")


def test_a_search_with_a_nul_says_so_on_the_field(app, login_as):
    """PostgreSQL refuses NUL in text: the inbox answered 500 to a search with one."""
    response = login_as("nomada").get("/staff/", query_string={"reference": "Olena\x00"})
    assert response.status_code == 200
    assert 'id="reference-error"' in text_of(response)
    assert "Some characters could not be read." in text_of(response)


def test_a_name_finds_nothing_for_an_organisation_that_passed_the_referral_on(app, login_as):
    [referral_id] = submit(app, name="Olena Kovalenko")
    holder = placement(app, referral_id)[1]
    assert (
        act(app, login_as(holder), referral_id, "decline", reason="no_capacity").status_code == 302
    )
    html = text_of(login_as(holder).get("/staff/?reference=Kovalenko"))
    assert f"/staff/referrals/{referral_id}" not in html


def test_the_name_words_are_stored_as_keyed_hashes_and_erased_with_the_name(app):
    [referral_id] = submit(app, name="Olena Kovalenko")
    with app.app_context():
        keys = db.session.scalars(db.select(NameKey.key)).all()
        assert len(keys) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)
        db.session.get(Referral, referral_id).request.name = None
        db.session.commit()
        assert db.session.scalars(db.select(NameKey)).all() == []


def test_the_city_filter_offers_only_the_places_the_organisation_covers(login_as):
    nomada = text_of(login_as("nomada").get("/staff/"))
    options = re.search(r'<select[^>]*name="city".*?</select>', nomada, flags=re.S).group(0)
    assert "Wrocław" in options and "Warsaw" not in options
    coordinator = text_of(login_as("coordinator").get("/staff/"))
    assert "Warsaw" in re.search(r'name="city".*?</select>', coordinator, flags=re.S).group(0)


def test_counts_stop_at_the_cap_and_say_more_than(app, login_as, monkeypatch):
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    for _ in range(5):
        submit(app)
    offered = section(text_of(login_as("nomada").get("/staff/?offered_page=9")), "offered")
    assert "(more than 3)" in offered
    assert "Only the first 3 are listed" in offered
    assert "Page 2 of 2" in offered


def test_the_migration_hashes_the_names_stored_before_it(app, login_as):
    [referral_id] = submit(app, name="Olena Kovalenko")
    with app.app_context():
        downgrade(revision="0007")
        upgrade()
    html = text_of(login_as("nomada").get("/staff/?reference=kovalenko"))
    assert f"/staff/referrals/{referral_id}" in html


def test_the_referral_page_opens_with_the_decision_panel(app, login_as):
    [referral_id] = submit(app, contact_channel="viber", interpreter_needed=True)
    nomada = login_as("nomada")
    page = text_of(nomada.get(f"/staff/referrals/{referral_id}"))
    panel = page[page.index('class="decision"') : page.index('aria-labelledby="person"')]
    for seen in ("Wrocław", "Viber", "Needs an interpreter", "Time left", "/accept", "/decline"):
        assert seen in panel, seen
    assert '<details class="decide-decline">' in panel  # the reasons only when asked for
    refused = act(app, nomada, referral_id, "decline")
    assert refused.status_code == 400
    assert '<details class="decide-decline" open>' in text_of(refused)


@pytest.mark.parametrize(
    ("hours", "shown"),
    [
        (37, "37 hours"),
        (47.9, "47 hours"),
        (60, "2 days"),
        (1.5, "90 minutes"),
        (0.2, "12 minutes"),
    ],
)
def test_the_time_left_is_never_more_than_there_is(app, hours, shown):
    """Rounded, 37 hours left read "2 days"; the time left is now cut down to the unit shown."""
    from referral.staff.views import time_left

    with app.test_request_context("/staff/"):
        left, overdue = time_left(utcnow() + timedelta(hours=hours, seconds=30))
    assert (left, overdue) == (shown, False)


def test_a_place_not_in_the_list_shows_its_voivodeship(app, login_as):
    [referral_id] = submit(app, city=None, voivodeship="02")
    _state, holder = placement(app, referral_id)
    staff = login_as(holder)
    [row] = rows_of(section(text_of(staff.get("/staff/")), "offered"))
    assert "Lower Silesian" in row and "Other place" not in row
    page = text_of(staff.get(f"/staff/referrals/{referral_id}"))
    panel = page[page.index('class="decision"') : page.index('aria-labelledby="person"')]
    assert "Lower Silesian" in panel and "Other place" not in panel


def test_the_date_a_request_was_sent_is_written_out_in_every_language(app, login_as):
    """A two-digit year ("01.12.26" in Ukrainian) beside pages that write dates out: now
    "1 грудня 2026 р.", as the rest."""
    from referral import lifecycle

    from ..helpers import intake, user

    with app.app_context():
        lifecycle.submit_request(intake("legal"), submitted_by=user("staff@pfm.example"))
        user("staff@pfm.example").language = "uk"
        db.session.commit()
    page = login_as("pfm").get("/staff/").get_data(as_text=True)
    sent = page.split('id="sent"', 1)[1]
    assert re.search(r"\d{1,2} [а-яіїєґ]+ 20\d\d\s?р\.", sent)
    assert not re.search(r"\b\d\d\.\d\d\.\d\d\b", sent)


def test_a_common_name_found_elsewhere_does_not_crowd_out_our_own_match(app, login_as, monkeypatch):
    """The search kept the first COUNT_CAP requests of that name anywhere, then only those the
    organisation may see: with a common name, its own person fell beyond the cap and was not
    found."""
    monkeypatch.setattr(inbox, "COUNT_CAP", 2)
    for _ in range(3):
        submit(app, city="lublin", name="Olena Kovalenko")  # Homo Faber's offers
    [ours] = submit(app, name="Olena Kovalenko")  # Wrocław: Nomada's
    html = text_of(login_as("nomada").get("/staff/?reference=Kovalenko"))
    assert f"/staff/referrals/{ours}" in html


def test_finding_a_person_by_name_or_contact_is_recorded_as_a_look_at_them(app, login_as):
    """A search by name, phone or e-mail confirms who the person is: it was not recorded, and the
    person's list of who looked at their data missed it. A reference looked up is not a look at
    the person."""
    from referral.access_log import Page
    from referral.models import DataAccess

    [found] = submit(app, name="Olena Kovalenko")  # phone +48512345678
    nomada = login_as("nomada")
    for typed in ("Kovalenko", "+48 512 345 678", reference_of(app, found)):
        shown = nomada.get("/staff/", query_string={"reference": typed})
        assert reference_of(app, found) in text_of(shown)
    with app.app_context():
        looks = db.session.scalars(db.select(DataAccess)).all()
        assert [(look.page, look.referral_id) for look in looks] == [(Page.SEARCH, found)] * 2
        assert {look.organisation.slug for look in looks} == {"nomada"}


def _closed_case(app, login_as, **kw) -> int:
    """A request Nomada accepted and closed."""
    [referral_id] = submit(app, name="Marta Nowak", **kw)
    nomada = login_as("nomada")
    assert act(app, nomada, referral_id, "accept").status_code == 302
    assert act(app, nomada, referral_id, "close", outcome="resolved").status_code == 302
    return referral_id


def test_a_case_the_organisation_closed_is_found_again_under_closed_cases(app, login_as):
    """Closed, a case left every part of the inbox: its search by reference, name or phone and the
    Closed filter found nothing, and only someone who kept its address could open it again."""
    closed = _closed_case(app, login_as)
    [open_offer] = submit(app, name="Marta Nowak")
    nomada = login_as("nomada")
    reference = reference_of(app, closed)
    page = text_of(nomada.get("/staff/"))
    assert reference in section(page, "closed") and reference not in section(page, "cases")
    for typed in (reference, "Marta", "+48 512 345 678", None):
        query = {"reference": typed} if typed else {"state": "closed"}
        found = section(text_of(nomada.get("/staff/", query_string=query)), "closed")
        assert f"/staff/referrals/{closed}" in found, typed
        assert "Resolved" in found
    by_state = text_of(nomada.get("/staff/?state=closed"))
    assert reference_of(app, open_offer) not in by_state


def test_closed_cases_hold_only_what_the_organisation_held(app, login_as):
    """A closed case held by another organisation is not Nomada's to find, even by name."""
    _closed_case(app, login_as)
    homo_faber = text_of(login_as("homo-faber").get("/staff/?reference=Marta"))
    assert "Marta" not in section(homo_faber, "closed") and "(0)" in section(homo_faber, "closed")


def test_an_organisation_that_declined_a_case_does_not_find_it_closed(app, login_as):
    """It saw the offer, so the case is visible to it in general: only the closed part's own
    rule (cases it held) keeps it out."""
    [referral_id] = submit(app, name="Marta Nowak")
    first = placement(app, referral_id)[1]
    assert (
        act(app, login_as(first), referral_id, "decline", reason="no_capacity").status_code == 302
    )
    holder = login_as(placement(app, referral_id)[1])
    assert act(app, holder, referral_id, "accept").status_code == 302
    assert act(app, holder, referral_id, "close", outcome="resolved").status_code == 302
    closed = section(text_of(login_as(first).get("/staff/?reference=Marta")), "closed")
    assert f"/staff/referrals/{referral_id}" not in closed and "Marta" not in closed


def test_finding_a_closed_case_by_name_is_recorded_as_a_look_at_the_person(app, login_as):
    from referral.access_log import Page
    from referral.models import DataAccess

    closed = _closed_case(app, login_as)
    login_as("nomada").get("/staff/?reference=Marta")
    with app.app_context():
        looks = db.session.scalars(db.select(DataAccess)).all()
        assert [(look.page, look.referral_id) for look in looks] == [(Page.SEARCH, closed)]


def test_the_state_filter_offers_only_states_a_referral_can_be_found_in(login_as):
    """'New' lasts only inside the transaction that routes the request: never found."""
    page = text_of(login_as("nomada").get("/staff/"))
    options = re.search(r'<select[^>]*name="state".*?</select>', page, flags=re.S).group(0)
    values = re.findall(r'value="([a-z_]*)"', options)
    assert values == ["", "offered", "accepted", "in_progress", "closed", "unmatched", "withdrawn"]


def test_counts_and_pages_count_requests_as_the_rows_list_them(app, login_as, monkeypatch):
    """A request with two needs is one row: it was counted 2, and a page of 25 needs held fewer
    than 25 rows."""
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    for _ in range(3):
        submit(app, needs=("legal", "psychological"), caseworker="staff@pfm.example")
    pfm = login_as("pfm")
    first = section(text_of(pfm.get("/staff/")), "sent")
    assert "(3)" in first and len(rows_of(first)) == 2 and "Page 1 of 2" in first
    second = section(text_of(pfm.get("/staff/?sent_page=2")), "sent")
    assert len(rows_of(second)) == 1 and "Page 2 of 2" in second


def test_after_declining_the_next_organisations_deadline_is_not_shown_as_ours(app, login_as):
    """An organisation that declined still opens the referral: it showed "Time left 42 hours",
    the next organisation's deadline, as if it were its own."""
    [referral_id] = submit(app)
    holder = placement(app, referral_id)[1]
    declined = login_as(holder)
    assert act(app, declined, referral_id, "decline", reason="no_capacity").status_code == 302
    state, next_holder = placement(app, referral_id)
    assert state == "offered" and next_holder != holder

    def panel(client) -> str:
        page = text_of(client.get(f"/staff/referrals/{referral_id}"))
        return page[page.index('class="decision"') : page.index("</dl>")]

    assert "Time left" not in panel(declined)
    assert "Time left" in panel(login_as(next_holder))
