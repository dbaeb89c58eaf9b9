"""A way back in: /<lang>/status/lost sends a fresh link to the phone or e-mail given then."""

import re

import pytest

from referral import erasure, lifecycle, mailer, sms
from referral.extensions import db
from referral.models import HelpRequest, OutboxMessage, utcnow

from ..helpers import intake

PHONE = "+48 600 100 200"
EMAIL = "olena@example.com"
LINK = re.compile(r"https?://\S+(/\w\w/status/[\w-]{43})")
SAME_ANSWER = "If a request was sent with this phone number or e-mail"


@pytest.fixture
def old_link(app, directory) -> str:
    """A person asked in Ukrainian and gave both a phone and an e-mail; the path of their link."""
    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal", phone=PHONE, email=EMAIL))
        return f"/uk/status/{submitted.status_token}"


def fresh_links() -> list[OutboxMessage]:
    return db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.kind == "person_fresh_link")
    ).all()


def ask(client, contact: str):
    return client.post("/uk/status/lost", data={"contact": contact})


def test_a_fresh_link_goes_by_sms_to_the_phone_only_and_the_old_one_stops(
    app, client, old_link, sms_gateway
):
    response = ask(client, "600 100 200")  # another spelling of the same number
    assert response.status_code == 200
    with app.app_context():
        assert [m.channel for m in fresh_links()] == ["sms"]
        sms.deliver_pending()
    [message] = [m for m in sms_gateway.to("48600100200") if "Нове посилання" in m]
    new_link = LINK.search(message).group(1)
    assert client.get(new_link).status_code == 200
    assert client.get(old_link).status_code == 404


def test_a_fresh_link_goes_by_email_to_the_email_only(app, client, old_link, smtp_server):
    ask(client, " Olena@Example.com ")
    with app.app_context():
        assert [m.channel for m in fresh_links()] == ["email"]
        mailer.deliver_pending()
    [mail] = [m for m in smtp_server.to(EMAIL) if "нове" in m["Subject"]]
    assert client.get(LINK.search(mail.get_content()).group(1)).status_code == 200


def test_the_answer_is_the_same_whether_or_not_a_request_was_found(app, client, old_link):
    found = ask(client, PHONE).get_data(as_text=True)
    not_found = ask(client, "+48 601 999 999").get_data(as_text=True)
    assert found == not_found
    assert "Дякуємо" in found or SAME_ANSWER in found
    with app.app_context():
        assert len(fresh_links()) == 1


def test_asking_again_soon_sends_no_second_link(app, client, old_link):
    ask(client, PHONE)
    ask(client, PHONE)
    with app.app_context():
        assert len(fresh_links()) == 1


def test_an_erased_request_gets_no_link(app, client, old_link):
    with app.app_context():
        erasure.erase(db.session.scalar(db.select(HelpRequest)), utcnow())
        db.session.commit()
    ask(client, PHONE)
    with app.app_context():
        assert fresh_links() == []


def test_the_field_claims_no_purpose_it_has_not(client, directory):
    """It takes a phone number or an e-mail, yet said autocomplete="email": a phone offered only
    e-mail addresses to fill it in, where most people had given their number."""
    html = client.get("/uk/status/lost").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="contact"[^>]*>', html).group(0)
    assert "autocomplete" not in field


@pytest.mark.parametrize("typed", ["", "hello", "12", "x" * 300])
def test_what_is_not_a_phone_or_an_email_gets_an_error_on_the_form(client, directory, typed):
    response = client.post("/en/status/lost", data={"contact": typed})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="error"' in html and SAME_ANSWER not in html
    # As on every form: the title says so first, and a summary that takes the focus leads to it.
    assert "<title>Error: Lost your link?" in html
    assert re.search(r'class="error-summary" role="alert"[^>]*autofocus', html)
    assert 'href="#contact"' in html


def test_the_form_is_refused_without_its_csrf_token(app, client, old_link, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert ask(client, PHONE).status_code == 400
    with app.app_context():
        assert fresh_links() == []


def test_asking_is_rate_limited_per_address(limited_app, directory):
    """Every post counts, answered or refused: 5 an hour from one address."""
    client = limited_app.test_client()
    codes = [
        client.post("/en/status/lost", data={"contact": f"not a contact {n}"}).status_code
        for n in range(7)
    ]
    assert codes == [200] * 5 + [429] * 2
    assert client.get("/en/status/lost").status_code == 200


@pytest.mark.parametrize("page", ["/en/", "/en/status/not-a-token"])
def test_the_home_page_and_the_not_found_page_lead_to_it(client, directory, page):
    assert 'href="/en/status/lost"' in client.get(page).get_data(as_text=True)


def test_a_number_no_message_can_reach_leaves_the_link_working(app, client, directory):
    """A landline takes no text message: the link was replaced all the same, and no message
    told the person the new one, so anyone knowing the number could kill it at will, unlimited
    (the limit counts the messages written)."""
    from .test_public import post_intake, status_path

    landline = "+48 22 123 45 67"
    sent = post_intake(client, "en", needs=["legal"], phone=landline, email="")
    path = status_path(sent.get_data(as_text=True))
    client.post("/en/status/lost", data={"contact": landline})
    post_intake(app.test_client(), "en", needs=["legal"], phone=landline, email="")
    assert client.get(path).status_code == 200
