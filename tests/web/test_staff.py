"""The organisations' side: referring a person, the inbox, the referral page, actions, notes and
the profile, through the test client."""

import re
from datetime import timedelta

import pytest

from referral import accounts, lifecycle
from referral.extensions import db
from referral.handoff import Action
from referral.models import Note, Referral, ReferralEvent, utcnow
from referral.seed import DEMO_PASSWORD

from ..helpers import intake, org, user
from .staff_steps import (
    act,
    english_staff,  # noqa: F401 - fixture
    placement,
    refer,
    reference_of,
    version_of,
)

pytestmark = pytest.mark.usefixtures("english_staff")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def section(html: str, heading_id: str) -> str:
    """The HTML of one inbox part, from its heading to the next section."""
    start = html.index(f'id="{heading_id}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else None]


def submit(app, needs=("legal",), city="wroclaw", languages=("uk", "ru"), caseworker=None, **kw):
    """A request straight through the service (faster than the form for bulk set-ups)."""
    with app.app_context():
        submitted_by = user(caseworker) if caseworker else None
        data = intake(*needs, city_slug=city, languages=list(languages), phone="+48512345678", **kw)
        result = lifecycle.submit_request(data, submitted_by=submitted_by)
        return [r.id for r in result.request.referrals]


# --- referring a person ---------------------------------------------------------------------


def test_caseworker_referral_is_routed_at_once_and_shows_reference_and_status_link(app, login_as):
    response = refer(login_as("pfm"), needs=["legal", "psychological"])
    page = text_of(response)
    assert response.status_code == 200
    assert (
        "Where each of the person&#39;s needs went" in page
        or "Where each of the person's needs went" in page
    )
    assert re.search(r'class="reference">[A-Z0-9]{3}-[A-Z0-9]{3}<', page)
    status_link = re.search(r'href="(http[^"]+/uk/status/[^"]+)"', page).group(1)
    assert "Nomada Association" in page
    with app.app_context():
        referrals = db.session.scalars(db.select(Referral)).all()
        assert {r.specialism for r in referrals} == {"legal", "psychological"}
        assert all(r.state == "offered" for r in referrals)
        assert all(r.referring_organisation_id == org("pfm").id for r in referrals)
        assert referrals[0].request.submitted_by.email == "staff@pfm.example"
    assert app.test_client().get(status_link.split("127.0.0.1:5000")[-1]).status_code == 200


def test_referral_without_the_persons_agreement_is_refused_and_keeps_what_was_typed(app, login_as):
    response = refer(login_as("pfm"), consent="", name="Mykola")
    page = text_of(response)
    assert response.status_code == 400
    assert "We can only pass on the request with the person" in page
    assert 'value="Mykola"' in page
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Referral.id))) == 0


def test_referral_form_speaks_about_the_person_not_to_them(login_as):
    page = text_of(login_as("pfm").get("/staff/referrals/new"))
    assert "What does the person need help with?" in page
    assert "What do you need help with?" not in page
    assert 'name="homepage"' not in page


# --- the inbox ------------------------------------------------------------------------------


def test_offer_appears_under_offered_to_us_with_its_deadline_and_time_left(app, login_as):
    [referral_id] = submit(app)
    page = text_of(login_as("nomada").get("/staff/"))
    offered = section(page, "offered")
    assert reference_of(app, referral_id) in offered
    assert re.search(r"\d+ (hours?|days?|minutes?) left|Overdue by", offered)
    assert reference_of(app, referral_id) not in section(page, "sent")


def test_overdue_offer_is_marked_and_listed_first(app, login_as):
    first, second = submit(app), submit(app)
    with app.app_context():
        db.session.get(Referral, second[0]).deadline_at = utcnow() - timedelta(hours=3)
        db.session.commit()
    offered = section(text_of(login_as("nomada").get("/staff/")), "offered")
    assert "Overdue by 3 hours" in offered
    assert offered.index(reference_of(app, second[0])) < offered.index(reference_of(app, first[0]))


def test_sent_by_us_lists_what_our_caseworkers_referred_with_state(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    sent = section(text_of(login_as("pfm").get("/staff/")), "sent")
    assert reference_of(app, referral_id) in sent
    assert "Offered" in sent and "Nomada Association" in sent


def test_filters_by_need_state_city_and_reference(app, login_as):
    [legal] = submit(app, caseworker="staff@pfm.example")
    [psychological] = submit(app, needs=("psychological",), caseworker="staff@pfm.example")
    [warsaw] = submit(app, city="warszawa", caseworker="staff@pfm.example")
    pfm = login_as("pfm")

    def sent(query):
        return section(text_of(pfm.get(f"/staff/?{query}")), "sent")

    by_need = sent("specialism=psychological")
    assert reference_of(app, psychological) in by_need and reference_of(app, legal) not in by_need
    with app.app_context():  # the city filter lists the places PFM covers: Warsaw, Mazovia
        warsaw_id = db.session.scalar(db.text("select id from city where slug = 'warszawa'"))
    by_city = sent(f"city={warsaw_id}")
    assert reference_of(app, warsaw) in by_city and reference_of(app, legal) not in by_city
    assert reference_of(app, legal) not in sent("state=closed")
    typed = reference_of(app, warsaw).replace("-", " ").lower()
    by_reference = sent(f"reference={typed}")
    assert reference_of(app, warsaw) in by_reference
    assert reference_of(app, legal) not in by_reference


def test_unknown_filter_values_are_ignored_not_an_error(login_as):
    assert login_as("pfm").get("/staff/?state=nonsense&city=abc&offered_page=-3").status_code == 200


def test_inbox_pages_by_25(app, login_as):
    for _ in range(30):
        submit(app)
    nomada = login_as("nomada")
    first = section(text_of(nomada.get("/staff/")), "offered")
    assert first.count("/staff/referrals/") == 25 and "Page 1 of 2" in first
    second = section(text_of(nomada.get("/staff/?offered_page=2")), "offered")
    assert second.count("/staff/referrals/") == 5 and "Page 2 of 2" in second


def test_inbox_runs_the_same_few_queries_however_many_referrals(app, login_as, count_queries):
    pfm = login_as("pfm")
    for _ in range(2):
        submit(app, caseworker="staff@pfm.example")
    pfm.get("/staff/")  # what a process keeps from the directory (the city filter) is read once
    small = count_queries(lambda: pfm.get("/staff/"))
    for _ in range(20):
        submit(app, caseworker="staff@pfm.example", needs=("legal", "housing"))
    large = count_queries(lambda: pfm.get("/staff/"))
    assert small == large
    assert large <= 12


def test_referral_page_runs_the_same_queries_however_long_its_history(app, login_as, count_queries):
    [referral_id] = submit(app, caseworker="staff@pfm.example", languages=())
    pfm, coordinator = login_as("pfm"), login_as("coordinator")

    def add_history(notes: int) -> None:
        for i in range(notes):
            note = {"body": f"Called {i}", "shared": "y"}
            assert pfm.post(f"/staff/referrals/{referral_id}/notes", data=note).status_code == 302
        with app.app_context():
            holder = db.session.get(Referral, referral_id).organisation.slug
        declined = act(app, login_as(holder), referral_id, "decline", reason="no_capacity")
        assert declined.status_code == 302

    page = f"/staff/referrals/{referral_id}"
    add_history(notes=1)
    short = count_queries(lambda: coordinator.get(page))
    add_history(notes=6)
    long = count_queries(lambda: coordinator.get(page))
    assert short == long


def test_our_cases_can_show_only_those_assigned_to_me(app, login_as):
    first, second = submit(app)[0], submit(app)[0]
    nomada = login_as("nomada")
    with app.app_context():
        me = user("staff@nomada.example").id
    act(app, nomada, first, "accept", assignee=me)
    act(app, nomada, second, "accept")
    everyone = section(text_of(nomada.get("/staff/")), "cases")
    mine = section(text_of(nomada.get("/staff/?mine=y")), "cases")
    assert reference_of(app, first) in everyone and reference_of(app, second) in everyone
    assert reference_of(app, first) in mine and reference_of(app, second) not in mine


def test_coordinator_inbox_shows_every_organisation(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    page = text_of(login_as("coordinator").get("/staff/"))
    assert reference_of(app, referral_id) in section(page, "offered")
    assert "All referrals" in page and "/admin/" in page


# --- the referral page and its actions ------------------------------------------------------


def test_referral_page_shows_request_reasons_timeline_and_only_allowed_actions(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example", description="My landlord")
    page = text_of(login_as("nomada").get(f"/staff/referrals/{referral_id}"))
    assert "My landlord" in page and "+48512345678" in page
    assert "Legal help — city: Wrocław" in page
    assert "Offered to Nomada Association." in page
    assert "/accept" in page and "/decline" in page
    assert "/close" not in page and "/start" not in page and "/withdraw" not in page
    referrer = text_of(login_as("pfm").get(f"/staff/referrals/{referral_id}"))
    assert "/withdraw" in referrer and "/accept" not in referrer


def test_what_a_person_typed_is_escaped(app, login_as):
    [referral_id] = submit(app, description="<script>alert(1)</script>")
    page = text_of(login_as("nomada").get(f"/staff/referrals/{referral_id}"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_decline_goes_to_the_next_candidate_and_hides_the_person_from_us(app, login_as):
    [referral_id] = submit(app)
    nomada = login_as("nomada")
    response = act(app, nomada, referral_id, "decline", reason="no_capacity")
    assert response.status_code == 302
    assert placement(app, referral_id) == ("offered", "hfpc")
    page = text_of(nomada.get(f"/staff/referrals/{referral_id}"))
    assert "+48512345678" not in page
    assert "Nomada Association declined the referral: We have no capacity now." in page
    assert "/accept" not in page


def test_decline_with_other_reason_needs_an_explanation(app, login_as):
    [referral_id] = submit(app)
    response = act(app, login_as("nomada"), referral_id, "decline", reason="other")
    assert response.status_code == 400
    assert "Please say why in a few words." in text_of(response)
    assert placement(app, referral_id) == ("offered", "nomada")


def test_decline_without_a_reason_is_refused_next_to_the_field(app, login_as):
    [referral_id] = submit(app)
    response = act(app, login_as("nomada"), referral_id, "decline")
    assert response.status_code == 400
    assert 'id="decline-reason-error"' in text_of(response)


def test_lost_race_says_someone_else_answered_and_changes_nothing(app, login_as):
    [referral_id] = submit(app)
    seen = version_of(app, referral_id)
    nomada = login_as("nomada")
    act(app, nomada, referral_id, "accept", version=seen)
    response = act(app, nomada, referral_id, "decline", version=seen, reason="no_capacity")
    assert response.status_code == 409  # the page as it is now, the refusal at its top
    assert "Someone else already answered this referral." in text_of(response)
    assert placement(app, referral_id) == ("accepted", "nomada")


def test_action_not_possible_now_is_refused_with_a_message(app, login_as):
    [referral_id] = submit(app)
    nomada = login_as("nomada")
    response = act(app, nomada, referral_id, "close", outcome="resolved")
    assert response.status_code == 409 and "This is no longer possible" in text_of(response)
    assert placement(app, referral_id) == ("offered", "nomada")


def test_accept_assigns_only_a_colleague(app, login_as):
    [referral_id] = submit(app)
    with app.app_context():
        outsider = user("staff@pfm.example").id
    nomada = login_as("nomada")
    response = act(app, nomada, referral_id, "accept", assignee=outsider)
    assert response.status_code == 400
    assert placement(app, referral_id) == ("offered", "nomada")


def test_accept_start_close_records_the_outcome_for_the_referrer(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    nomada = login_as("nomada")
    act(app, nomada, referral_id, "accept")
    act(app, nomada, referral_id, "start")
    # A closing comment reaches the sender and every organisation offered the referral before.
    hint = "The organisation that sent the referral and those that had it before can read it."
    assert hint in text_of(nomada.get(f"/staff/referrals/{referral_id}"))
    assert act(app, nomada, referral_id, "close").status_code == 400  # no outcome chosen
    act(app, nomada, referral_id, "close", outcome="partly_resolved")
    assert placement(app, referral_id) == ("closed", "nomada")
    sent = section(text_of(login_as("pfm").get("/staff/")), "sent")
    assert "Closed" in sent and "Partly resolved" in sent


def test_hand_back_goes_to_the_next_candidate(app, login_as):
    [referral_id] = submit(app)
    nomada = login_as("nomada")
    act(app, nomada, referral_id, "accept")
    act(app, nomada, referral_id, "hand-back", reason="cannot_contact")
    assert placement(app, referral_id) == ("offered", "hfpc")


def test_referring_organisation_can_withdraw(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    pfm = login_as("pfm")
    response = act(app, pfm, referral_id, "withdraw", confirmed="y")
    assert "You withdrew the referral." in text_of(pfm.get(response.headers["Location"]))
    assert placement(app, referral_id) == ("withdrawn", None)


def test_a_withdrawal_is_confirmed_first_not_one_tap_away(app, login_as):
    """The red button withdrew at once, one tap above the messages' table: now the caseworker
    ticks that the person no longer needs this help, or is told to, on the form."""
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    refused = act(app, login_as("pfm"), referral_id, "withdraw")
    assert refused.status_code == 400
    assert "Tick the box to confirm that the person no longer needs this help." in text_of(refused)
    assert placement(app, referral_id) == ("offered", "nomada")


def test_holder_cannot_withdraw(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    act(app, login_as("nomada"), referral_id, "withdraw", confirmed="y")
    assert placement(app, referral_id) == ("offered", "nomada")


# --- notes ----------------------------------------------------------------------------------


def test_shared_notes_reach_the_other_side_internal_ones_do_not(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    nomada, pfm = login_as("nomada"), login_as("pfm")
    nomada.post(f"/staff/referrals/{referral_id}/notes", data={"body": "Shared one", "shared": "y"})
    nomada.post(f"/staff/referrals/{referral_id}/notes", data={"body": "Only nomada"})
    pfm.post(f"/staff/referrals/{referral_id}/notes", data={"body": "Only pfm"})
    seen_by_pfm = text_of(pfm.get(f"/staff/referrals/{referral_id}"))
    seen_by_nomada = text_of(nomada.get(f"/staff/referrals/{referral_id}"))
    seen_by_coordinator = text_of(login_as("coordinator").get(f"/staff/referrals/{referral_id}"))
    assert "Shared one" in seen_by_pfm and "Only nomada" not in seen_by_pfm
    assert "Only pfm" in seen_by_pfm and "Only pfm" not in seen_by_nomada
    assert all(n in seen_by_coordinator for n in ("Shared one", "Only nomada", "Only pfm"))


def test_organisation_that_declined_no_longer_reads_shared_notes_or_adds_any(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    nomada, pfm = login_as("nomada"), login_as("pfm")
    act(app, nomada, referral_id, "decline", reason="no_capacity")
    pfm.post(f"/staff/referrals/{referral_id}/notes", data={"body": "For hfpc", "shared": "y"})
    nomada.post(f"/staff/referrals/{referral_id}/notes", data={"body": "Late remark"})
    assert "For hfpc" not in text_of(nomada.get(f"/staff/referrals/{referral_id}"))
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Note.id))) == 1


def test_empty_note_is_refused_next_to_the_field(app, login_as):
    [referral_id] = submit(app)
    response = login_as("nomada").post(f"/staff/referrals/{referral_id}/notes", data={"body": ""})
    assert response.status_code == 400
    assert "Please write the note." in text_of(response)


# --- the profile ----------------------------------------------------------------------------


def test_staff_choose_their_interface_language(app, login_as):
    nomada = login_as("nomada")
    nomada.post("/staff/profile/language", data={"language": "uk"})
    with app.app_context():
        assert user("staff@nomada.example").language == "uk"
    assert 'lang="uk"' in text_of(nomada.get("/staff/"))


def test_each_language_in_a_list_is_named_in_itself_and_marked_so(login_as):
    """WCAG 3.1.2: a screen reader reads "Українська" on the Polish page with a Ukrainian voice."""
    pfm = login_as("pfm")
    for page in (text_of(pfm.get("/staff/profile")), text_of(pfm.get("/staff/referrals/new"))):
        assert re.search(r'<option lang="uk"[^>]*value="uk"[^>]*>Українська</option>', page)
        assert re.search(r'<option lang="pl"[^>]*value="pl"[^>]*>Polski</option>', page)


def test_password_change_keeps_this_device_and_signs_out_the_others(app, login_as):
    here, elsewhere = login_as("nomada"), app.test_client()
    elsewhere.set_cookie("session", here.get_cookie("session").value)
    new = "a long new password"
    response = here.post(
        "/staff/profile/password",
        data={"current": DEMO_PASSWORD, "password": new, "repeat": new},
    )
    assert response.status_code == 302
    assert here.get("/staff/").status_code == 200
    assert elsewhere.get("/staff/").status_code == 302
    fresh = app.test_client()
    ok = fresh.post("/login", data={"email": "staff@nomada.example", "password": new})
    assert ok.status_code == 302


def test_password_change_with_wrong_current_password_changes_nothing(app, login_as):
    nomada = login_as("nomada")
    response = nomada.post(
        "/staff/profile/password",
        data={
            "current": "wrong",
            "password": "a long new password",
            "repeat": "a long new password",
        },
    )
    assert response.status_code == 400
    assert "The current password is not correct." in text_of(response)
    assert nomada.get("/staff/").status_code == 200


def test_the_current_password_cannot_be_guessed_from_a_stolen_session(app, login_as, coordinator):
    """Wrong current passwords count against the account's sign-in attempts: after
    SIGN_IN_MAX_FAILURES the right one is refused too, and each try is in the audit."""
    nomada = login_as("nomada")
    new = "a long new password"

    def change(current):
        data = {"current": current, "password": new, "repeat": new}
        return nomada.post("/staff/profile/password", data=data)

    most = app.config["SIGN_IN_MAX_FAILURES"]
    answers = [change(f"guess {i}").status_code for i in range(most)]
    locked = change(DEMO_PASSWORD)
    assert answers == [400] * most and locked.status_code == 400
    assert "Too many failed attempts. Please try again in" in text_of(locked)
    with app.app_context():
        assert accounts.sign_in("staff@nomada.example", new).user is None  # nothing changed
    audit = text_of(coordinator.get("/admin/audit?kind=sign_in"))
    assert audit.count("Wrong current password at a password change") == most + 1


def test_new_passwords_must_match_and_be_long_enough(login_as):
    page = text_of(
        login_as("nomada").post(
            "/staff/profile/password",
            data={"current": DEMO_PASSWORD, "password": "short", "repeat": "x"},
        )
    )
    assert "Use at least 12 characters." in page
    assert "The two passwords are not the same." in page


# --- translations (pass once the catalogues are translated) --------------------------------


def test_inbox_and_timeline_are_in_the_staff_members_language(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    act(app, login_as("nomada"), referral_id, "decline", reason="no_capacity")
    with app.app_context():
        user("staff@pfm.example").language = "uk"
        user("staff@hfpc.example").language = "pl"
        db.session.commit()
    pfm, hfpc = login_as("pfm"), login_as("hfpc")
    for client, code in ((pfm, "uk"), (hfpc, "pl")):
        inbox = text_of(client.get("/staff/"))
        assert f'lang="{code}"' in inbox
        assert "Offered to us" not in inbox and "Sent by us" not in inbox
        page = text_of(client.get(f"/staff/referrals/{referral_id}"))
        assert "declined the referral" not in page and "History" not in page


def test_every_event_has_a_sentence(app, login_as):
    [referral_id] = submit(app, caseworker="staff@pfm.example")
    with app.app_context():
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.START)
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.CLOSE, outcome="resolved")
        assert db.session.scalar(db.select(db.func.count(ReferralEvent.id))) == 4
    page = text_of(login_as("pfm").get(f"/staff/referrals/{referral_id}"))
    for sentence in (
        "The request was received.",
        "Nomada Association accepted the referral.",
        "Nomada Association started working on it.",
        "Nomada Association closed the referral. Outcome: Resolved.",
    ):
        assert sentence in page


def test_the_waiting_time_stops_once_an_organisation_took_the_case(app, login_as):
    """ "Waiting: 13 minutes" on a case accepted after six and closed read as if the person still
    waited for an answer: the time counts only while nobody has taken the need."""
    with app.app_context():
        referral_id = lifecycle.submit_request(intake("legal")).request.referrals[0].id
    nomada = login_as("nomada")
    facts = re.search(
        r'<dl class="facts.*?</dl>', text_of(nomada.get(f"/staff/referrals/{referral_id}")), re.S
    )
    assert facts and "Waiting" in facts[0]
    with app.app_context():
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
    assert ">Waiting<" not in text_of(nomada.get(f"/staff/referrals/{referral_id}"))
    with app.app_context():
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.CLOSE, outcome="resolved")
    assert ">Waiting<" not in text_of(nomada.get(f"/staff/referrals/{referral_id}"))
