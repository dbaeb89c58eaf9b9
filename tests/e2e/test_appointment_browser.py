"""An appointment in a real Chromium: nomada's staff propose one on the referral's page, and the
person sees it on a phone-sized status page (360 px) and confirms it; axe-core finds nothing
serious on either page."""

from datetime import timedelta

from playwright.sync_api import expect

from referral import lifecycle
from referral.extensions import db
from referral.handoff import WARSAW, Action
from referral.models import utcnow

from ..helpers import intake, user
from .test_public_browser import serious_violations
from .test_two_factor_browser import sign_in_with_password

ADDRESS = "ul. Kanarkowa 7/3, Wrocław"


def test_staff_propose_an_appointment_and_the_person_sees_it_on_a_phone(
    app, base_url, staff, new_page
):
    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal", email="olena@example.com"))
        referral_id = submitted.request.referrals[0].id
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
        token = submitted.status_token
        db.session.remove()
    when = (utcnow() + timedelta(days=2)).astimezone(WARSAW).replace(hour=11, minute=0)

    page = new_page(locale="pl-PL", viewport={"width": 1366, "height": 768})
    sign_in_with_password(page, base_url)
    page.wait_for_url("**/staff/")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    form = page.locator("form[action$='/appointment']")
    form.locator("input[name=when]").fill(when.strftime("%Y-%m-%dT%H:%M"))
    form.locator("select[name=kind]").select_option("in_person")
    form.locator("input[name=place]").fill(ADDRESS)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/staff/referrals/{referral_id}")
    expect(page.locator("main .flash-success[role=status]")).to_be_focused()
    assert ADDRESS in page.locator("#appointment").locator("..").inner_text()
    assert serious_violations(page) == []

    phone = new_page(locale="uk-UA")  # 360 × 640
    phone.goto(f"{base_url}/uk/status/{token}")
    card = phone.locator(f"#appointment-{referral_id}")
    assert ADDRESS in card.inner_text()
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    card.locator("form[action$='/confirm'] button").click()
    assert "Ви підтвердили цей час." in phone.locator(f"#appointment-{referral_id}").inner_text()
    assert serious_violations(phone) == []
