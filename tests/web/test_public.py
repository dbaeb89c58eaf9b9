"""The migrant's side: the intake form, the confirmation, the status page and withdrawal."""

import re

import pytest

from referral import create_app, lifecycle
from referral.config import TestConfig
from referral.directory import cities_sorted
from referral.extensions import db
from referral.handoff import Action
from referral.models import HelpRequest, Note, Referral

from ..helpers import intake, org, user

VALID = {
    "needs": ["legal", "housing"],
    "city": "wroclaw",
    "languages": ["uk", "ru"],
    "name": "Olena",
    "phone": "+380 67 123 45 67",
    "email": "",
    "contact_channel": "telegram",
    "safe_to_message": "y",
    "description": "I need help with my residence card and a place to live.",
    "urgency": "normal",
    "residence_status": "temporary_protection",
    "consent": "y",
}


def post_intake(client, lang="uk", **changes):
    data = {key: value for key, value in {**VALID, **changes}.items() if value is not None}
    return client.post(f"/{lang}/request", data=data)


def status_path(html: str) -> str:
    return re.search(r'href="https?://[^/"]+(/\w\w/status/[\w-]+)"', html).group(1)


def stored_requests() -> list[HelpRequest]:
    return db.session.scalars(db.select(HelpRequest)).all()


def sent_request(client, lang="uk", **changes) -> str:
    """Send a valid form; the status page's path."""
    response = post_intake(client, lang, **changes)
    assert response.status_code == 200
    return status_path(response.get_data(as_text=True))


def test_home_page_invites_people_to_ask_for_help(client, directory):
    html = client.get("/en/").get_data(as_text=True)
    assert 'href="/en/request"' in html and "Ask for help" in html
    assert 'href="/en/privacy"' in html


@pytest.mark.parametrize("lang", ["pl", "uk", "en"])
def test_request_form_lists_cities_sorted_in_the_page_language(app, client, directory, lang):
    html = client.get(f"/{lang}/request").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="city".*?</select>', html, re.S).group(0)
    shown = re.findall(r'<option[^>]*value="([\w-]+)"', select)
    with app.app_context():
        expected = [city.slug for city in cities_sorted(lang)]
    assert shown == [*expected, "other"]


def test_request_form_names_languages_in_the_page_language_common_ones_first(client, directory):
    html = client.get("/uk/request").get_data(as_text=True)
    values = re.findall(r'name="languages"[^>]*value="(\w+)"', html)
    assert values[:5] == ["uk", "ru", "pl", "en", "be"]
    assert "Українська" in html and "Білоруська" in html
    english = client.get("/en/request").get_data(as_text=True)
    assert "Ukrainian" in english and "Georgian" in english


def test_request_form_explains_each_need_and_what_urgent_means(client, directory):
    html = client.get("/en/request").get_data(as_text=True)
    assert "Residence, work permits, asylum, your rights." in html
    assert "You may lose your home, job or legal stay within days, or you are not safe." in html
    assert 'href="/en/privacy"' in html


@pytest.mark.parametrize("lang", ["pl", "uk", "en"])
def test_the_example_phone_numbers_do_not_break_across_lines(client, directory, lang):
    html = client.get(f"/{lang}/request").get_data(as_text=True)
    hint = html.split('id="phone-hint">')[1].split("</p>")[0]
    assert "+48\u00a0512\u00a0345\u00a0678" in hint
    assert "+380\u00a067\u00a0123\u00a045\u00a067" in hint
    consent = html.split('id="consent-hint">')[1].split("</p>")[0]
    assert f'<a href="/{lang}/privacy">' in consent  # a hint's markup stays markup


@pytest.mark.parametrize(("lang", "required"), [("en", "(required)"), ("uk", "(обов’язково)")])
def test_the_consent_box_says_in_its_label_that_it_is_required(client, directory, lang, required):
    """The one box that must be ticked said so only in the error after sending."""
    html = client.get(f"/{lang}/request").get_data(as_text=True)
    labels = dict(re.findall(r'<label for="(consent|safe_to_message)">(.*?)</label>', html, re.S))
    assert labels["consent"].endswith(f'<span class="required">{required}</span>')
    assert "required" not in labels["safe_to_message"]


def test_a_request_makes_one_referral_per_need_each_routed_at_once(client, ctx, directory):
    post_intake(client)
    [request] = stored_requests()
    states = {r.specialism: (r.state, r.organisation) for r in request.referrals}
    assert set(states) == {"legal", "housing"}
    assert states["legal"] == ("offered", org("nomada"))
    assert all(state in ("offered", "unmatched") for state, _org in states.values())


def test_a_request_keeps_what_the_person_gave_with_the_consent_record(app, client, ctx, directory):
    post_intake(client, interpreter_needed="y", urgency="urgent")
    [request] = stored_requests()
    assert request.city.slug == "wroclaw" and request.voivodeship_teryt == "02"
    assert request.phone == "+380671234567"
    assert request.languages == ["ru", "uk"]
    assert request.contact_channel == "telegram"
    assert request.safe_to_message and request.interpreter_needed and request.urgent
    assert request.residence_status == "temporary_protection"
    assert request.consent_version == app.config["CONSENT_VERSION"]
    assert request.consent_language == "uk" and request.consent_at is not None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+380 67 123 45 67", "+380671234567"),
        ("067 123 45 67", "+380671234567"),
        ("00380671234567", "+380671234567"),
        ("512 345 678", "+48512345678"),
        ("+48 512-345-678", "+48512345678"),
    ],
)
def test_polish_and_ukrainian_phone_numbers_are_stored_in_international_form(
    client, ctx, directory, typed, stored
):
    post_intake(client, phone=typed)
    assert stored_requests()[0].phone == stored


def test_e_mail_alone_is_enough_to_be_reached(client, ctx, directory):
    post_intake(client, phone="", email="olena@example.org", contact_channel=None)
    [request] = stored_requests()
    assert request.phone is None and request.email == "olena@example.org"
    assert request.contact_channel == "email"


def test_a_city_not_in_the_list_is_routed_by_its_voivodeship(client, ctx, directory):
    post_intake(client, city="other", voivodeship="02")
    [request] = stored_requests()
    assert request.city is None and request.voivodeship_teryt == "02"
    assert len(request.referrals) == 2


def test_confirmation_shows_the_reference_the_status_link_and_what_happens_next(
    client, ctx, directory
):
    response = post_intake(client, lang="en")
    html = response.get_data(as_text=True)
    [request] = stored_requests()
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}", request.reference)
    assert request.reference in html
    assert re.search(r"/en/status/[\w-]{40,}", html)
    assert "Keep this link." in html and "What happens next" in html


@pytest.mark.parametrize(
    ("contact", "sent_by"),
    [
        (
            {"phone": "+48 512 345 678", "email": "olena@example.com"},
            "by text message and by e-mail",
        ),
        ({"phone": "+48 512 345 678", "email": ""}, "by text message"),
        ({"phone": "", "email": "olena@example.com", "contact_channel": "email"}, "by e-mail"),
    ],
)
def test_confirmation_says_where_else_the_link_went_and_to_delete_it_where_unsafe(
    client, directory, contact, sent_by
):
    """A person who said it is not safe to message them learns that their link went to their
    phone or mailbox all the same (issue 13: the link reaches everyone), and to delete it."""
    html = post_intake(client, lang="en", safe_to_message=None, **contact).get_data(as_text=True)
    assert f"We also sent this link to you {sent_by}." in html
    assert "If someone near you may read your messages" in html
    someone_else = {
        k: v.replace("678", "679").replace("olena", "oksana") for k, v in contact.items()
    }
    safe = post_intake(client, lang="en", **someone_else).get_data(as_text=True)
    assert f"We also sent this link to you {sent_by}." in safe
    assert "If someone near you may read" not in safe


def test_the_confirmations_language_switch_opens_the_status_page_in_that_language(
    client, directory
):
    """The confirmation shows the link once: switching language led to an empty form, and the
    link was gone from the screen."""
    html = post_intake(client, lang="uk").get_data(as_text=True)
    path = status_path(html)
    token = path.rsplit("/", 1)[1]
    assert f'href="/pl/status/{token}" lang="pl"' in html
    assert client.get(f"/pl/status/{token}").status_code == 200


def test_a_landline_gets_no_link_by_message_and_the_confirmation_promises_none(client, directory):
    html = post_intake(client, lang="en", phone="+48 71 123 45 67").get_data(as_text=True)
    assert "Keep this link." in html
    assert "We also sent this link" not in html


def test_status_page_names_the_organisation_of_each_need_in_the_page_language(client, directory):
    path = sent_request(client, "uk")
    html = client.get(path).get_data(as_text=True)
    assert "Асоціація «Номада»" in html and "Вроцлав" in html
    english = client.get(path.replace("/uk/", "/en/")).get_data(as_text=True)
    nomada = 'Nomada Association (<span lang="pl">Stowarzyszenie Nomada</span>)'
    assert f"Passed to: {nomada}, Wrocław." in english


def test_a_need_nobody_covers_says_the_coordinator_will_look(client, directory):
    path = sent_request(client, "en", needs=["housing"], city="other", voivodeship="28")
    html = client.get(path.replace("/uk/", "/en/")).get_data(as_text=True)
    assert "No organisation has taken this yet. We are looking for one" in html


def test_accepted_need_shows_the_channel_and_the_organisations_public_contact(app, client, staff):
    path = sent_request(client, "en", needs=["legal"])
    with app.app_context():
        referral = db.session.scalar(db.select(Referral))
        lifecycle.act(referral.id, user("staff@nomada.example"), Action.ACCEPT)
        nomada = org("nomada")
        website, email = nomada.website, nomada.email
    html = client.get(path).get_data(as_text=True)
    assert (
        'Accepted by: Nomada Association (<span lang="pl">Stowarzyszenie Nomada</span>). '
        "They will contact you this way: Telegram." in html
    )
    assert website in html and f"mailto:{email}" in html


def test_status_page_never_shows_decline_reasons_or_notes(app, client, staff):
    path = sent_request(client, "en", needs=["legal"])
    with app.app_context():
        referral = db.session.scalar(db.select(Referral))
        nomada_staff = user("staff@nomada.example")
        lifecycle.add_note(referral, nomada_staff, "INTERNAL-NOTE-TEXT", shared=False)
        lifecycle.add_note(referral, nomada_staff, "SHARED-NOTE-TEXT", shared=True)
        lifecycle.act(
            referral.id, nomada_staff, Action.DECLINE, reason_code="other", text="DECLINE-REASON"
        )
    html = client.get(path).get_data(as_text=True)
    for secret in ("INTERNAL-NOTE-TEXT", "SHARED-NOTE-TEXT", "DECLINE-REASON", "Nomada"):
        assert secret not in html


def test_unknown_status_link_answers_a_friendly_404(client, directory):
    sent_request(client)
    response = client.get("/en/status/not-a-real-token-at-all")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We could not find this request" in html
    assert "Olena" not in html and "Wrocław" not in html


def test_withdrawal_asks_first_then_withdraws_every_need_and_erases_the_data(
    app, client, directory
):
    path = sent_request(client, "en")
    confirm = client.post(f"{path}/withdraw")
    assert confirm.status_code == 200
    assert "Withdraw your request and erase your data?" in confirm.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(HelpRequest)).erased_at is None

    done = client.post(f"{path}/withdraw", data={"confirmed": "yes"})
    html = done.get_data(as_text=True)
    assert "Your request was withdrawn and your personal data was erased." in html
    assert "Your private link no longer works." in html and "Olena" not in html
    with app.app_context():
        request = db.session.scalar(db.select(HelpRequest))
        assert request.erased_at is not None
        assert (request.name, request.phone, request.description) == (None, None, None)
        assert {r.state for r in request.referrals} == {"withdrawn"}
        assert not db.session.scalars(db.select(Note)).all()
    assert client.get(path).status_code == 404  # the link opens nothing any more


def test_withdrawal_needs_the_confirmation_post_not_a_link(client, directory):
    path = sent_request(client, "en")
    assert client.get(f"{path}/withdraw").status_code == 405


def test_a_withdrawal_form_that_cannot_be_read_answers_without_a_redirect(app, client, directory):
    """The status link never travels in a Location header (decision 0005), a refused form
    included: it is answered on the POST, and nothing is erased."""
    path = sent_request(client, "en")
    refused = client.post(f"{path}/withdraw", data={"confirmed": "y\x00"})
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert "Withdraw your request and erase your data?" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(HelpRequest)).erased_at is None


@pytest.mark.parametrize("page", ["status", "withdraw", "request"])
def test_private_pages_leak_no_referrer_are_not_cached_and_not_indexed(client, directory, page):
    path = sent_request(client, "en")
    response = {
        "status": lambda: client.get(path),
        "withdraw": lambda: client.post(f"{path}/withdraw"),
        "request": lambda: post_intake(client, "en"),
    }[page]()
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_filled_honeypot_shows_a_neutral_page_and_stores_nothing(client, ctx, directory):
    response = post_intake(client, lang="en", homepage="http://spam.example")
    assert response.status_code == 200
    assert "Your form was received." in response.get_data(as_text=True)
    assert stored_requests() == []


def test_privacy_notice_names_the_members_legal_basis_retention_and_rights(app, client, directory):
    html = client.get("/en/privacy").get_data(as_text=True)
    assert "Nomada Association" in html
    assert "Article 6(1)(a)" in html and "Article 9(2)(a)" in html
    assert f"erased after {app.config['RETENTION_DAYS']} days" in html
    assert "Withdraw my request and erase my data" in html


@pytest.mark.parametrize("lang", ["pl", "uk"])
def test_public_pages_are_translated(client, directory, lang):
    html = client.get(f"/{lang}/request").get_data(as_text=True)
    assert "What do you need help with?" not in html
    assert "Send my request" not in html


# --- pages each process keeps --------------------------------------------------------------------


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_each_visitor_gets_a_csrf_token_of_their_own_in_the_kept_form(app, directory):
    first, second = app.test_client(), app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        pages = [c.get("/en/request").get_data(as_text=True) for c in (first, second)]
        tokens = [_csrf_token(page) for page in pages]
        form = {"csrf_token": tokens[1], "needs": "legal", "city": "wroclaw", "consent": "y"}
        response = second.post("/en/request", data={**form, "phone": "+48512345678"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert tokens[0] != tokens[1]
    assert pages[0].replace(tokens[0], "") == pages[1].replace(tokens[1], "")
    assert response.status_code == 200 and 'class="reference"' in response.get_data(as_text=True)


def test_a_directory_edit_in_another_process_shows_on_the_kept_pages(app, client, directory):
    assert "Stowarzyszenie Nomada" in client.get("/pl/").get_data(as_text=True)
    # Another process renames the organisation: only the database and its stamp change here.
    other = create_app(
        type(
            "Other",
            (TestConfig,),
            {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]},
        )
    )
    with other.app_context():
        org("nomada").name_pl = "Nomada (nowa nazwa)"
        db.session.commit()
    page = client.get("/pl/").get_data(as_text=True)
    assert "Nomada (nowa nazwa)" in page and "Stowarzyszenie Nomada" not in page


def test_an_offer_is_not_an_edit_of_the_directory(app, client, ctx, directory):
    from referral.directory import version

    client.get("/en/")
    before = version()
    lifecycle.submit_request(intake("legal"))
    db.session.remove()
    from flask import g

    g.pop("directory_version", None)
    assert version() == before


def test_an_intake_writes_its_messages_at_once_and_reads_back_nothing_it_wrote(app, directory):
    """The intake's statements (bench/bench_intake.py counts them): its mails and texts, to the
    person and to the organisations, in one INSERT whatever each is about, and the confirmation
    drawn from what was written, with no look for an appointment a new need cannot have."""
    from sqlalchemy import event

    client = app.test_client()
    post_intake(client, "en", needs=["legal", "housing"], email="olena@example.com")  # warm
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, sql, *args):
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        sent = post_intake(client, "en", needs=["legal", "housing"], phone="+48 601 999 888")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sent.status_code == 200
    inserts = [sql for sql in statements if sql.startswith("INSERT INTO outbox_message")]
    assert len(inserts) == 1, inserts
    assert not any("FROM appointment" in sql for sql in statements)
