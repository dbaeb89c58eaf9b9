"""Nothing typed is lost: a step, a note or a proposal refused because the referral moved on
meanwhile shows the page as it is now with the words still there; a form sent twice names what
it made; a session that ends on a form leads back to its page, saying what was not saved."""

import re
import time
from datetime import timedelta
from html import unescape

import pytest

from referral import access, appointments, create_app, lifecycle
from referral.config import TestConfig
from referral.extensions import db
from referral.handoff import WARSAW, Action
from referral.models import HelpRequest, Note, OutboxMessage, Referral, utcnow
from referral.seed import DEMO_PASSWORD

from ..helpers import csrf_token_of, intake, org, user
from .staff_steps import PERSON, act, english_staff, version_of  # noqa: F401 - fixture
from .test_public import VALID, post_intake, sent_request

pytestmark = pytest.mark.usefixtures("english_staff")

WORDS = "Our only Ukrainian-speaking lawyer is on leave until March; try HFPC in Wroclaw"


def offered(app) -> int:
    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal", email="olena@example.com"))
        return submitted.request.referrals[0].id


def accepted(app) -> int:
    referral_id = offered(app)
    with app.app_context():
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
        db.session.execute(db.delete(OutboxMessage))
        db.session.commit()
    return referral_id


def in_three_days():
    moment = (utcnow() + timedelta(days=3)).astimezone(WARSAW)
    return moment.replace(hour=10, minute=30, second=0, microsecond=0)


def page_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_a_decline_refused_because_a_colleague_answered_keeps_its_words(app, login_as):
    referral_id = offered(app)
    nomada = login_as("nomada")
    seen = version_of(app, referral_id)
    with app.app_context():  # a colleague accepts while this one types why they decline
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
    refused = act(app, nomada, referral_id, "decline", version=seen, reason="other", text=WORDS)
    assert refused.status_code == 409
    page = page_of(refused)
    assert "Someone else already answered this referral. Nothing was changed." in page
    assert "What you wrote was not saved" in page and WORDS in page  # decline is gone: quoted


def test_a_closing_comment_refused_by_a_change_meanwhile_stays_in_its_form(app, login_as):
    referral_id = accepted(app)
    nomada = login_as("nomada")
    seen = version_of(app, referral_id)
    with app.app_context():  # a colleague proposes a time meanwhile
        referral = db.session.get(Referral, referral_id)
        appointments.propose(referral, user("staff@nomada.example"), in_three_days(), "phone", "")
    refused = act(app, nomada, referral_id, "close", version=seen, outcome="resolved", text=WORDS)
    assert refused.status_code == 409
    page = page_of(refused)
    assert "Someone else changed this referral a moment ago." in page
    assert WORDS in page and "What you wrote was not saved" not in page  # in its form
    # The form now carries the version shown: sent again, it closes the referral.
    version = version_of(app, referral_id)
    assert f'name="close-version" type="hidden" value="{version}"' in page
    closed = act(app, nomada, referral_id, "close", outcome="resolved", text=WORDS)
    assert closed.status_code == 302


def test_a_note_refused_because_the_referral_moved_on_keeps_its_words(app, login_as):
    referral_id = offered(app)
    nomada = login_as("nomada")
    with app.app_context():  # a colleague declines while this one writes a note
        lifecycle.act(
            referral_id, user("staff@nomada.example"), Action.DECLINE, reason_code="no_capacity"
        )
    refused = nomada.post(f"/staff/referrals/{referral_id}/notes", data={"body": WORDS})
    assert refused.status_code == 409
    page = page_of(refused)
    assert "Only the organisations working on this referral can add notes." in page
    assert "What you wrote was not saved" in page and WORDS in page


def test_a_note_written_as_the_person_is_erased_is_refused_and_kept_on_the_page(
    app, login_as, monkeypatch
):
    """The coordinator erases the request between the page's check and the note's write: the
    note was stored on the erased request (no purge looks there again); it is refused now, the
    words shown back to their author only."""
    referral_id = accepted(app)
    nomada = login_as("nomada")
    may_add_note = access.may_add_note

    def checked_then_erased(account, referral):
        allowed = may_add_note(account, referral)
        monkeypatch.setattr(access, "may_add_note", may_add_note)  # once
        with app.app_context():  # another connection, as another server's request
            coordinator = user("coordinator@konsorcjum.example")
            request = db.session.get(Referral, referral_id).request
            lifecycle.withdraw_request(request, by=coordinator)
        return allowed

    monkeypatch.setattr(access, "may_add_note", checked_then_erased)
    refused = nomada.post(f"/staff/referrals/{referral_id}/notes", data={"body": WORDS})
    assert refused.status_code == 409
    page = page_of(refused)
    assert "The personal data of this request was erased" in page and WORDS in page
    with app.app_context():
        assert not db.session.scalar(db.select(db.func.count()).select_from(Note))


def test_a_proposal_refused_after_a_hand_back_keeps_the_place(app, login_as):
    referral_id = accepted(app)
    nomada = login_as("nomada")
    with app.app_context():
        lifecycle.act(
            referral_id, user("staff@nomada.example"), Action.HAND_BACK, reason_code="no_capacity"
        )
    place = "ul. Kanarkowa 7/3, Wrocław, pokój 12"
    when = in_three_days().strftime("%Y-%m-%dT%H:%M")
    refused = nomada.post(
        f"/staff/referrals/{referral_id}/appointment",
        data={"when": when, "kind": "in_person", "place": place},
    )
    assert refused.status_code == 409
    assert "What you wrote was not saved" in page_of(refused) and place in page_of(refused)


def test_routing_by_hand_from_a_page_gone_stale_keeps_the_reason(app, coordinator):
    with app.app_context():
        submitted = lifecycle.submit_request(intake("psychological", city_slug="chelm"))
        referral_id = submitted.request.referrals[0].id
        pfm_id = org("pfm").id
    form = {"organisation_id": pfm_id, "reason": "First.", "version": 1}
    coordinator.post(f"/admin/referrals/{referral_id}/route-by-hand", data=form)
    reason = "Spoke to the director: they take this person despite the pause."
    refused = coordinator.post(
        f"/admin/referrals/{referral_id}/route-by-hand", data={**form, "reason": reason}
    )
    assert refused.status_code == 409
    page = page_of(refused)
    assert "Someone changed this referral in the meantime." in page and reason in page


@pytest.fixture
def csrf_app(app):
    """The app with CSRF checks on (the tests' settings turn them off)."""
    settings = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    return create_app(type("WithCsrf", (TestConfig,), {**settings, "WTF_CSRF_ENABLED": True}))


def signed_in_with_csrf(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    credentials = {"email": "staff@nomada.example", "password": DEMO_PASSWORD}
    assert client.post("/login", data={**credentials, "csrf_token": token}).status_code == 302
    return client


def test_a_caseworkers_form_sent_twice_names_the_referral_it_made(csrf_app, staff):
    """A reload, a double tap, an answer lost on a phone's network: the second post answered
    500, and the caseworker would type it all again."""
    client = signed_in_with_csrf(csrf_app)
    token = csrf_token_of(client.get("/staff/referrals/new").get_data(as_text=True))
    form = {**PERSON, "csrf_token": token}
    assert client.post("/staff/referrals/new", data=form).status_code == 200
    again = client.post("/staff/referrals/new", data=form)
    with csrf_app.app_context():
        [request] = db.session.scalars(db.select(HelpRequest)).all()
    assert again.status_code == 302
    page = page_of(client.get(again.headers["Location"]))
    assert f"This form was already sent: the referral is {request.reference}." in page


def test_the_public_form_outlives_a_staff_session_ending_in_the_same_browser(csrf_app, staff):
    """At the office, the person fills in the form in the caseworker's browser, whose session
    ends meanwhile: ending it must not throw away the form's CSRF token (the whole form)."""
    client = signed_in_with_csrf(csrf_app)
    token = csrf_token_of(client.get("/uk/request").get_data(as_text=True))
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 61 * 60
    data = {"needs": ["legal"], "city": "wroclaw", "phone": "+48 512 345 678", "consent": "y"}
    sent = client.post("/uk/request", data={**data, "csrf_token": token})
    assert sent.status_code == 200
    with csrf_app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(HelpRequest)) == 1


def test_a_note_sent_after_the_session_ended_leads_back_to_its_page(app, login_as):
    """Signed out on the post, the note could not be kept; signing in again led to the note's
    POST-only address (405). Now to the referral's page, told what was not saved."""
    referral_id = accepted(app)
    nomada = login_as("nomada")
    with nomada.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 61 * 60
    page = f"http://localhost/staff/referrals/{referral_id}"
    ended = nomada.post(f"{page}/notes", data={"body": WORDS}, headers={"Referer": page})
    assert ended.status_code == 302
    sign_in = nomada.get(ended.headers["Location"])
    assert "What you were sending was not saved" in page_of(sign_in)
    back = nomada.post(
        ended.headers["Location"],
        data={"email": "staff@nomada.example", "password": DEMO_PASSWORD},
    )
    assert back.headers["Location"] == f"/staff/referrals/{referral_id}"


def test_a_second_tab_sent_after_the_session_ended_is_told_too_and_led_to_its_page(app, login_as):
    """Two tabs open when the session ends: the first tab's post ends it and is told; the
    second came as a stranger's and was sent to sign in with its POST-only address as the next
    page (a 405 after signing in), the note gone unsaid. Neither carries a Referer here (a
    browser sends none from a page with ``no-referrer``): the page is found up the address."""
    referral_id = accepted(app)
    nomada = login_as("nomada")
    with nomada.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 61 * 60
    notes = f"/staff/referrals/{referral_id}/notes"
    first = nomada.post(notes, data={"body": WORDS})
    second = nomada.post(notes, data={"body": WORDS + " (the other tab)"})
    for ended in (first, second):
        assert ended.status_code == 302
        assert ended.headers["Location"] == f"/login?next=/staff/referrals/{referral_id}"
    sign_in = page_of(nomada.get(second.headers["Location"]))
    assert "What you were sending was not saved" in sign_in
    back = nomada.post(
        second.headers["Location"],
        data={"email": "staff@nomada.example", "password": DEMO_PASSWORD},
    )
    assert back.headers["Location"] == f"/staff/referrals/{referral_id}"


@pytest.fixture
def two_an_hour(app):
    """The app with an intake limit of two an hour (the tests keep the limits off)."""
    from referral.extensions import limiter

    settings = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_ENABLED": True,
        "INTAKE_RATE_LIMIT": "2 per hour",
    }
    limited = create_app(type("TwoAnHour", (TestConfig,), settings))
    limiter.reset()
    yield limited
    limiter.reset()
    limiter.enabled = False


def test_switching_the_forms_language_is_not_counted_as_a_request(two_an_hour, directory):
    """At a reception centre's shared address, every switch of language counted against the
    intake's limit: two switches, and the request itself was refused."""
    client = two_an_hour.test_client()
    data = {"needs": ["legal"], "city": "wroclaw", "phone": "+48 512 345 678", "consent": "y"}
    for lang in ("en", "uk", "pl"):
        assert client.post(f"/{lang}/request", data={**data, "draft": lang}).status_code == 200
    assert client.post("/uk/request", data=data).status_code == 200
    with two_an_hour.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(HelpRequest)) == 1


def test_a_referer_that_is_no_address_does_not_break_the_end_of_a_session(app, login_as):
    referral_id = accepted(app)
    nomada = login_as("nomada")
    with nomada.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 61 * 60
    ended = nomada.post(
        f"/staff/referrals/{referral_id}/notes",
        data={"body": WORDS},
        headers={"Referer": "http://[localhost/staff/"},
    )
    assert ended.status_code == 302  # the page is found up the address instead
    assert ended.headers["Location"] == f"/login?next=/staff/referrals/{referral_id}"


def test_a_request_over_the_intake_limit_comes_back_with_everything_typed(two_an_hour, directory):
    """Past the limit at a shared address (a reception centre), the person got a bare page and had
    to type the whole form again: now the form comes back as typed, saying when to send it."""
    client = two_an_hour.test_client()
    for n in range(2):
        assert post_intake(client, "en", phone=f"+48 512 345 00{n}").status_code == 200
    for lang in ("en", "pl"):
        refused = post_intake(client, lang, phone="+48 512 345 099", description=WORDS)
        page = unescape(refused.get_data(as_text=True))
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert f"{WORDS}</textarea>" in page and 'value="+48 512 345 099"' in page
        assert 'value="Olena"' in page
        assert re.search(r'<input [^>]*checked[^>]* value="housing"', page)
        kept = "What you typed is still in the form below."
        assert ("Please try again in 60 minutes." in page and kept in page) == (lang == "en")
    with two_an_hour.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(HelpRequest)) == 2


def test_a_message_over_its_limit_comes_back_in_the_form(app, limited_app, directory):
    client = limited_app.test_client()
    path = sent_request(client, "en", needs=["legal"])
    with app.app_context():
        referral_id = db.session.scalar(db.select(Referral.id))
    for n in range(10):
        client.post(f"{path}/message", data={"referral_id": referral_id, "body": f"Message {n}"})
    refused = client.post(f"{path}/message", data={"referral_id": referral_id, "body": WORDS})
    page = unescape(refused.get_data(as_text=True))
    assert refused.status_code == 429
    assert f"{WORDS}</textarea>" in page and "Please try again in" in page
    assert "no-store" in refused.headers["Cache-Control"]  # the page holds the status link


def test_asking_for_a_new_link_over_the_limit_keeps_the_contact(limited_app, directory):
    client = limited_app.test_client()
    for n in range(5):
        client.post("/en/status/lost", data={"contact": f"not a contact {n}"})
    refused = client.post("/en/status/lost", data={"contact": "+48 600 100 200"})
    page = unescape(refused.get_data(as_text=True))
    assert refused.status_code == 429
    assert 'value="+48 600 100 200"' in page and "Please try again in" in page


@pytest.mark.parametrize("site, kept", [("same-origin", True), ("cross-site", False)])
def test_a_request_whose_safety_token_was_lost_comes_back_as_typed(
    app, client, directory, monkeypatch, site, kept
):
    """A session lost under the form (cookies cleared, the browser closed on a shared phone) fails
    the CSRF check: the person got "The form has expired" and the whole form was gone. Sent from
    our own pages it comes back as typed with a fresh token; one posted by another site does
    not (it would hand the visitor a form filled in by a stranger)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    data = {key: value for key, value in {**VALID, "description": WORDS}.items() if value}
    refused = client.post("/en/request", data=data, headers={"Sec-Fetch-Site": site})
    page = unescape(refused.get_data(as_text=True))
    assert refused.status_code == 400
    assert (f"{WORDS}</textarea>" in page) == kept
    assert ("For your safety this was not sent. Please check it and send it again." in page) == kept
    if kept:
        again = client.post("/en/request", data={**data, "csrf_token": csrf_token_of(page)})
        assert "Your request was sent" in unescape(again.get_data(as_text=True))
    with app.app_context():
        stored = db.session.scalar(db.select(db.func.count()).select_from(HelpRequest))
        assert stored == (1 if kept else 0)


def test_a_message_whose_safety_token_was_lost_comes_back_in_the_form(
    app, client, directory, monkeypatch
):
    path = sent_request(client, "en", needs=["legal"])
    with app.app_context():
        referral_id = db.session.scalar(db.select(Referral.id))
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    refused = client.post(
        f"{path}/message",
        data={"referral_id": referral_id, "body": WORDS},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    page = unescape(refused.get_data(as_text=True))
    assert refused.status_code == 400 and f"{WORDS}</textarea>" in page
    assert "For your safety this was not sent. Please check it and send it again." in page
    new_contact = {"phone": "+48 600 700 800", "contact_channel": "sms"}
    refused = client.post(
        f"{path}/contact", data=new_contact, headers={"Sec-Fetch-Site": "same-origin"}
    )
    page = unescape(refused.get_data(as_text=True))
    assert refused.status_code == 400 and 'value="+48 600 700 800"' in page
    assert "For your safety this was not sent. Please check it and send it again." in page


@pytest.mark.parametrize("form", ["contact", "message", "appointments/1/another-time"])
def test_a_form_refused_on_a_link_that_opens_nothing_answers_the_friendly_404(
    app, client, directory, monkeypatch, form
):
    """Shown again after its CSRF check failed, a status page form on a link that opens nothing
    (withdrawn, erased, mistyped) aborted inside the error handler: a 500."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    refused = client.post(
        f"/en/status/no-such-link/{form}",
        data={"body": WORDS, "referral_id": 1, "phone": "+48 600 700 800", "sequence": 0},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert refused.status_code == 404
    assert "We could not find this request" in unescape(refused.get_data(as_text=True))
