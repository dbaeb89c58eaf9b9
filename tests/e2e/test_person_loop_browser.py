"""The loop closed with the person, in a real Chromium on a 360-pixel screen: a Ukrainian speaker
sends a request, gets the link by SMS (a local stand-in of SMSAPI.pl) and by e-mail (a local SMTP
server), hears that an organisation accepted, loses the link and gets a new one; axe-core checks
each new page."""

import re
from contextlib import contextmanager

import pytest

from referral import lifecycle, mailer, sms
from referral.extensions import db
from referral.handoff import Action
from referral.models import Referral

from ..helpers import user
from ..mailbox import Mailbox, _serve
from ..sms_gateway import gateway_for
from .test_public_browser import REFERENCE, serious_violations

NUMBER = "48600100200"
EMAIL = "olena@example.com"
LINK = re.compile(r"(https?://\S+/uk/status/[\w-]{43})")


@pytest.fixture
def outside(live_app, base_url, staff):
    """The live app's messages go to a local SMS stand-in and a local SMTP server, its links to
    the live server."""
    before = live_app.config["PUBLIC_URL"]
    live_app.config["PUBLIC_URL"] = base_url
    with gateway_for(live_app) as gateway, contextmanager(_serve)(live_app, Mailbox()) as mailbox:
        yield gateway, mailbox
    live_app.config["PUBLIC_URL"] = before


def deliver(live_app) -> None:
    """What the worker's send_mail and send_sms jobs do."""
    with live_app.app_context():
        mailer.deliver_pending()
        sms.deliver_pending()


def test_a_ukrainian_speaker_gets_the_link_hears_news_and_finds_the_way_back(
    live_app, base_url, new_page, outside
):
    gateway, mailbox = outside
    page = new_page(locale="uk-UA")
    assert page.viewport_size["width"] == 360
    page.goto(f"{base_url}/uk/request")
    page.check("input[name=needs][value=legal]")
    page.select_option("select[name=city]", "wroclaw")
    page.fill("input[name=phone]", "+48 600 100 200")
    page.fill("input[name=email]", EMAIL)
    page.check("input[name=contact_channel][value=sms]")
    page.check("input[name=safe_to_message]")
    page.check("input[name=consent]")
    page.click("form.intake button[type=submit]")
    reference = page.locator(".reference").inner_text()
    assert REFERENCE.fullmatch(reference)

    deliver(live_app)
    [link_sms] = gateway.to(NUMBER)
    old_link = LINK.search(link_sms).group(1)
    [link_mail] = mailbox.to(EMAIL)
    assert old_link in link_mail.get_content() and reference in link_mail["Subject"]
    page.goto(old_link)
    assert reference in page.locator("h1").inner_text()

    with live_app.app_context():
        referral = db.session.scalar(db.select(Referral))
        lifecycle.act(referral.id, user("staff@nomada.example"), Action.ACCEPT)
    deliver(live_app)
    accepted = gateway.to(NUMBER)[1]
    assert "прийнято" in accepted and "Асоціація «Номада»" in accepted

    found = []
    page.goto(f"{base_url}/uk/")
    page.click("main a[href='/uk/status/lost']")
    page.wait_for_url("**/uk/status/lost")
    found += serious_violations(page)
    page.fill("input[name=contact]", "600 100 200")
    page.click("main form button[type=submit]")
    assert "щойно надіслали" in page.locator("main").inner_text()
    found += serious_violations(page)

    deliver(live_app)
    new_link = LINK.search(gateway.to(NUMBER)[2]).group(1)
    assert new_link != old_link and len(mailbox.to(EMAIL)) == 1  # by SMS only, as asked
    page.goto(new_link)
    assert reference in page.locator("h1").inner_text()
    found += serious_violations(page)
    response = page.goto(old_link)
    assert response.status == 404
    found += serious_violations(page)
    assert found == []
