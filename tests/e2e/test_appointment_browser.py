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


def test_a_time_changed_while_the_person_wrote_keeps_their_words(app, base_url, staff, new_page):
    """The organisation proposed a new time while the person was writing when suits them: the
    page shows the new time, says so, and keeps what they wrote in its field."""
    from referral import appointments
    from referral.models import Referral

    soon = (utcnow() + timedelta(days=2)).astimezone(WARSAW).replace(hour=11, minute=0)
    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal", email="olena@example.com"))
        referral_id = submitted.request.referrals[0].id
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
        nomada = user("staff@nomada.example")
        appointments.propose(db.session.get(Referral, referral_id), nomada, soon, "phone", None)
        token = submitted.status_token
        db.session.remove()
    phone = new_page(locale="uk-UA")  # 360 × 640
    phone.goto(f"{base_url}/uk/status/{token}")
    words = "Краще в четвер після 15:00."
    phone.fill(f"#words-{referral_id}", words)
    with app.app_context():  # meanwhile, another time
        later, nomada = soon + timedelta(days=1), user("staff@nomada.example")
        appointments.propose(db.session.get(Referral, referral_id), nomada, later, "phone", None)
        db.session.remove()
    phone.click(f"#appointment-{referral_id} form[action$='/another-time'] button")
    phone.locator(".flash-error").wait_for()
    phone.wait_for_load_state()
    expect(phone.locator(f"#words-{referral_id}")).to_have_value(words)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
