"""Staff see on the referral which messages went to the person, never what they said."""

import pytest

from referral import lifecycle, mailer
from referral.extensions import db
from referral.models import Referral

from .staff_steps import english_staff, latest_referral, refer  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("english_staff")


def messages_section(client, referral_id: int) -> tuple[str, str]:
    """The referral page as ``client`` sees it, and its section of messages to the person."""
    html = client.get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    return html, html.split('id="person-messages"')[1].split("</section>")[0]


def test_the_referral_page_lists_the_messages_to_the_person_without_their_text(
    app, login_as, smtp_server
):
    caseworker = login_as("pfm")
    page = refer(caseworker, safe_to_message="").get_data(as_text=True)
    token = page.split("/status/")[1].split('"')[0]
    with app.app_context():
        mailer.deliver_pending()
    referral_id, _version = latest_referral(app)
    html, section = messages_section(login_as("nomada"), referral_id)
    assert "Private status link" in section
    assert "E-mail" in section and "SMS" in section
    assert "Sent " in section and "Waiting to be sent" in section
    assert "each message about a step says only that there is news" in section
    assert token not in html


def test_a_message_given_up_says_so_and_what_to_check(app, login_as, smtp_server):
    smtp_server.unknown.add("olena@example.com")
    refer(login_as("pfm"), email="olena@example.com")
    with app.app_context():
        mailer.deliver_pending()
    referral_id, _version = latest_referral(app)
    _html, section = messages_section(login_as("nomada"), referral_id)
    assert "Not delivered after 1 attempt; given up" in section
    assert "Check the contact details with the person." in section


def test_staff_without_the_personal_data_do_not_see_the_messages(app, login_as):
    refer(login_as("pfm"))
    referral_id, _version = latest_referral(app)
    html = login_as("hfpc").get(f"/staff/referrals/{referral_id}")
    assert 'id="person-messages"' not in html.get_data(as_text=True)


def test_the_mail_to_staff_when_the_person_writes_is_not_a_message_to_the_person(app, login_as):
    refer(login_as("pfm"))
    referral_id, _version = latest_referral(app)
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        holder = referral.organisation.slug
        lifecycle.write_to_holder(referral.request, referral_id, "Please call after 17:00.")
    _html, section = messages_section(login_as(holder), referral_id)
    assert "Private status link" in section
    assert "person_wrote" not in section


def test_each_organisation_sees_the_messages_about_its_own_need_and_the_requests_link(
    app, login_as
):
    """Two needs of one request held by two organisations: what the person was told about the
    other need (accepted by someone else, closed and how) is that organisation's business."""
    from referral.handoff import Action

    from ..helpers import intake, user

    with app.app_context():
        request = lifecycle.submit_request(
            intake("legal", "material", city_slug="warszawa", email="o@example.com")
        ).request
        by_need = {referral.specialism: referral for referral in request.referrals}
        legal, material = by_need["legal"], by_need["material"]
        material_holder = user(f"staff@{material.organisation.slug}.example")
        legal_holder, legal_id, material_id = legal.organisation.slug, legal.id, material.id
        assert legal_holder != material.organisation.slug
        lifecycle.act(material_id, material_holder, Action.ACCEPT)
        lifecycle.act(material_id, material_holder, Action.CLOSE, outcome="resolved")
    _html, section = messages_section(login_as(legal_holder), legal_id)
    assert "Private status link" in section  # about the whole request: for every holder
    assert "Accepted" not in section and "Closed" not in section
    _html, own = messages_section(login_as("coordinator"), material_id)
    assert "Accepted" in own and "Closed" in own
