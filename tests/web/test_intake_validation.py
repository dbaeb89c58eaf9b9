"""Bad input to the intake form: a clear error next to the field, what was typed kept, nothing
stored, never a server error. And the anti-spam rate limit."""

import re

import pytest

from referral.extensions import db
from referral.models import HelpRequest

from .test_public import VALID, post_intake


def stored_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(db.select(HelpRequest)).all())


def error_of(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    return match.group(1).strip() if match else ""


def refused(app, client, field: str, **changes) -> str:
    """Post the form with ``changes``; assert it was refused with an error on ``field``."""
    response = post_intake(client, "en", **changes)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert error_of(html, field), f"no error next to {field}"
    assert 'class="error-summary"' in html
    assert stored_count(app) == 0
    return error_of(html, field)


@pytest.mark.parametrize(
    ("field", "changes", "message"),
    [
        ("needs", {"needs": None}, "Choose at least one kind of help."),
        ("city", {"city": None}, "Choose your city"),
        ("consent", {"consent": None}, "Tick the box if you agree."),
        ("consent", {"consent": "0"}, "Tick the box if you agree."),
        ("phone", {"phone": "", "email": ""}, "Give a phone number or an e-mail"),
        ("phone", {"phone": "12"}, "This does not look like a phone number."),
        ("email", {"email": "not-an-address"}, "This does not look like an e-mail address."),
        ("voivodeship", {"city": "other"}, "choose its voivodeship"),
        ("contact_channel", {"contact_channel": "email"}, "please give your e-mail address"),
        ("contact_channel", {"phone": "", "email": "a@example.org"}, "please give your number"),
    ],
)
def test_missing_or_wrong_answers_get_a_clear_message_next_to_the_field(
    app, client, directory, field, changes, message
):
    assert message in refused(app, client, field, **changes)


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("needs", {"needs": ["legal", "astrology"]}),
        ("city", {"city": "atlantis"}),
        ("voivodeship", {"city": "other", "voivodeship": "99"}),
        ("languages", {"languages": ["uk", "klingon"]}),
        ("contact_channel", {"contact_channel": "pigeon"}),
        ("urgency", {"urgency": "yesterday"}),
        ("residence_status", {"residence_status": "king"}),
    ],
)
def test_forged_codes_are_refused_with_a_message_not_a_crash(
    app, client, directory, field, changes
):
    message = refused(app, client, field, **changes)
    assert "from the list" in message or "Choose" in message


def test_what_was_typed_is_kept_when_the_form_is_refused(client, directory):
    html = post_intake(client, "en", consent=None, name="Olena K.").get_data(as_text=True)
    assert 'value="Olena K."' in html
    assert 'value="+380 67 123 45 67"' in html
    assert VALID["description"] in html
    assert re.search(r'value="wroclaw"\s+selected|selected[^>]*value="wroclaw"', html)
    assert re.search(r'checked[^>]*value="legal"|value="legal"[^>]*checked', html)


def test_a_description_over_2000_characters_is_refused(app, client, directory):
    message = refused(app, client, "description", description="x" * 2001)
    assert "2000" in message


def test_a_2000_character_description_with_line_breaks_is_accepted(app, client, directory):
    text = ("y" * 98 + "\r\n") * 20  # 2000 characters as a browser counts them
    post_intake(client, "en", description=text)
    assert stored_count(app) == 1


def test_invalid_utf8_in_a_field_is_refused_with_a_message(app, client, directory):
    body = (
        b"--b\r\nContent-Disposition: form-data; name=description\r\n\r\ncaf\xff\xfe\r\n"
        + b"".join(
            b"--b\r\nContent-Disposition: form-data; name=%s\r\n\r\n%s\r\n" % item
            for item in [(b"needs", b"legal"), (b"city", b"wroclaw"), (b"consent", b"y")]
        )
        + b"--b--\r\n"
    )
    response = client.post("/en/request", data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 200
    assert "could not be read" in error_of(response.get_data(as_text=True), "description")
    assert stored_count(app) == 0


def test_a_body_that_is_not_utf8_gets_a_friendly_400_page(app, client, directory):
    body = b"needs=legal&city=wroclaw&phone=512345678&consent=y&description=caf\xff\xfe"
    response = client.post(
        "/en/request", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "We could not read this request" in response.get_data(as_text=True)
    assert stored_count(app) == 0


def test_an_empty_post_gets_the_form_back_with_messages(app, client, directory):
    response = client.post("/en/request")
    assert response.status_code == 200
    assert "Choose at least one kind of help." in response.get_data(as_text=True)


def test_control_characters_are_refused_not_sent_to_the_database(app, client, directory):
    refused(app, client, "name", name="Ole\x00na")


def test_a_huge_post_gets_a_friendly_413_page(app, client, directory):
    response = post_intake(client, "en", description="x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    assert response.status_code == 413
    assert "Too much text" in response.get_data(as_text=True)


def test_garbage_in_the_url_language_or_token_is_a_404_not_a_crash(client, directory):
    assert client.get("/xx/request").status_code == 404
    assert client.get("/en/status/%FF%FE").status_code == 404
    assert client.get("/en/status/" + "a" * 5000).status_code == 404


def test_errors_are_in_the_page_language(client, directory):
    html = post_intake(client, "uk", needs=None).get_data(as_text=True)
    assert error_of(html, "needs") and "Choose at least one kind of help." not in html


def test_the_form_is_refused_without_its_csrf_token(app, client, directory, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = post_intake(client, "en")
    assert response.status_code == 400
    assert stored_count(app) == 0


def test_100_posts_from_one_address_hit_the_limit_and_lose_no_accepted_request(
    limited_app, directory
):
    client = limited_app.test_client()
    assert client.get("/en/request").status_code == 200
    # A hundred people, each their own number (one number twice joins the open request).
    codes = [
        post_intake(client, "en", phone=f"+48 512 345 {i:03d}").status_code for i in range(100)
    ]
    assert codes.count(200) == 60 and codes.count(429) == 40
    assert codes[:60] == [200] * 60
    assert stored_count(limited_app) == 60

    page = post_intake(client, "en")
    html = page.get_data(as_text=True)
    assert page.status_code == 429
    assert re.search(r"Please try again in \d+ minutes?\.", html)
    assert "Retry-After" in page.headers
    assert client.get("/en/request").status_code == 200  # reading the form is never limited


def test_a_refused_form_is_announced_and_leads_to_the_first_choice(client, directory):
    """Without JavaScript: the page's title begins with "Error:" (read first by a screen reader),
    the summary takes the focus, and a group's error leads to its first box, not the fieldset."""
    html = post_intake(client, "uk", needs=None).get_data(as_text=True)
    assert re.search(r"<title>Помилка: Звернутися по допомогу", html)
    summary = re.search(r'<div class="error-summary"[^>]*>', html).group()
    assert "autofocus" in summary
    assert 'href="#needs-0"' in html and 'id="needs-0"' in html


def test_an_optional_choice_is_not_announced_as_required(client, directory):
    """A radio button of an optional group carried required="None", which a screen reader
    announces as required; a required group's carry required."""
    html = client.get("/uk/request").get_data(as_text=True)
    assert 'required="None"' not in html
    channel = re.findall(r'<input[^>]*name="contact_channel"[^>]*>', html)
    assert channel and not any("required" in tag for tag in channel)
