"""The coordinator's queues in a real Chromium, in Polish: the unmatched queue filtered, a referral
routed by hand from its page, the audit found by a reference, coverage removed after the question.
Every page passes axe-core (no serious or critical violation)."""

import re

from playwright.sync_api import expect

from referral import lifecycle
from referral.extensions import db
from referral.models import Coverage, OutboxMessage
from referral.seed import DEMO_PASSWORD

from ..conftest import COORDINATOR
from ..helpers import intake, org
from .test_public_browser import in_sight, press_and_wait, serious_violations, tab_to


def sign_in_as_coordinator(page, base_url, codes):
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", COORDINATOR)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.fill("input[name=code]", codes.pop())
    page.click("main button[type=submit]")


def test_the_coordinator_works_through_the_unmatched_queue(
    live_app, base_url, coordinator_codes, new_page
):
    with live_app.app_context():
        chelm = lifecycle.submit_request(intake("psychological", city_slug="chelm"))
        lifecycle.submit_request(intake("housing", city_slug="opole", urgent=True))
        reference = chelm.reference
        nomada = org("nomada")
        coverage_id = next(c.id for c in nomada.coverage if c.specialism == "psychological")
        nomada_id = nomada.id
        refused = OutboxMessage(
            kind="offer",
            to_address="intake@gone.example",
            subject=f"Nowe skierowanie {reference} czeka na odpowiedź",
            body="-",
            attempts=1,
            last_error="SMTPRecipientsRefused",
        )
        db.session.add(refused)
        db.session.flush()
        refused.next_attempt_at = None  # given up
        db.session.commit()
        db.session.remove()

    page = new_page(locale="pl-PL", viewport={"width": 1366, "height": 768})
    sign_in_as_coordinator(page, base_url, coordinator_codes)
    page.goto(f"{base_url}/admin/undelivered")
    assert page.locator("main tbody th").all_inner_texts() == ["intake@gone.example"]
    assert serious_violations(page) == []
    page.goto(f"{base_url}/admin/unmatched")
    expect(page.locator("main tbody tr")).to_have_count(2)
    assert serious_violations(page) == []
    page.select_option("select[name=voivodeship]", "06")
    page.click("main form.filters button[type=submit]")
    expect(page.locator("main tbody tr")).to_have_count(1)
    assert serious_violations(page) == []

    page.click("main tbody td a[href$='/route-by-hand']")
    expect(page.locator("main table")).to_have_count(1)  # every organisation, with why (not)
    assert serious_violations(page) == []
    page.go_back()

    page.click(f"main tbody th a:has-text('{reference}')")
    expect(page.locator("#route-by-hand")).to_be_visible()
    assert serious_violations(page) == []
    page.check("section[aria-labelledby=route-by-hand] input[type=radio] >> nth=0")
    page.fill(
        "section[aria-labelledby=route-by-hand] textarea[name=reason]", "Sesje online po ukraińsku."
    )
    page.click("section[aria-labelledby=route-by-hand] button[type=submit]")
    expect(page.locator(".flash, [role=status], .success").first).to_be_visible()
    assert serious_violations(page) == []

    page.goto(f"{base_url}/admin/audit")
    page.fill("input[name=reference]", reference.lower().replace("-", " "))
    page.click("main form button[type=submit]")
    page.wait_for_load_state()  # the answer parsed whole, on a loaded machine too
    assert page.locator(f"main tbody a:has-text('{reference}')").count() >= 2
    assert "liczb" not in page.locator("main form").inner_text()
    assert serious_violations(page) == []

    page.goto(f"{base_url}/admin/reports")
    page.select_option("select[name=voivodeship]", "06")
    page.click("main form button[type=submit]")
    expect(page.locator("h2#trend")).to_have_text(re.compile("lubelskie$"))  # the filtered page
    page.wait_for_load_state()
    assert page.locator("div.table-scroll[role=region]").count() >= 6
    assert serious_violations(page) == []

    page.goto(f"{base_url}/admin/organisations/{nomada_id}")
    page.fill("input[name=opens_MO]", "17:00")
    page.fill("input[name=closes_MO]", "09:00")
    page.click("main form button[type=submit] >> nth=0")
    expect(page.locator(".hours-day.has-error")).to_have_count(1)
    assert serious_violations(page) == []
    page.fill("input[name=opens_MO]", "09:00")
    page.fill("input[name=closes_MO]", "17:00")
    page.click("main form button[type=submit] >> nth=0")
    expect(page.locator(".flash-success")).to_be_visible()
    page.click(f"a[href$='/coverage/{coverage_id}/remove']")
    assert serious_violations(page) == []
    page.click("main form button[type=submit]")
    assert page.url.endswith(f"/admin/organisations/{nomada_id}#coverage")
    with live_app.app_context():
        assert db.session.get(Coverage, coverage_id) is None
        db.session.remove()


def test_the_coordinator_routes_by_hand_by_keyboard(
    live_app, base_url, coordinator_codes, new_page
):
    """From the queue to the routing page by keyboard: offering with nothing chosen says so in the
    title and in a summary with the focus, whose link leads to the first organisation, marked
    invalid and described by the message (the page came back at its top, the messages under
    the table of every organisation, the choices saying nothing). Offered from the referral's
    page, the page opens on "Offered to ...", which has the focus: it opened at the form."""
    with live_app.app_context():
        chelm = lifecycle.submit_request(intake("psychological", city_slug="chelm"))
        referral_id = chelm.request.referrals[0].id
        db.session.remove()
    page = new_page(locale="pl-PL")  # 360 px wide
    sign_in_as_coordinator(page, base_url, coordinator_codes)
    page.goto(f"{base_url}/admin/unmatched")
    tab_to(page, "main tbody td a[href$='/route-by-hand']")
    press_and_wait(page, "Enter")
    tab_to(page, "main form button[type=submit]")
    press_and_wait(page, "Enter")
    assert page.title().startswith("Błąd:")
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    page.keyboard.press("Tab")
    message = page.locator(":focus").inner_text()
    page.keyboard.press("Enter")
    choice = page.locator(":focus")
    assert choice.get_attribute("type") == "radio"
    expect(choice).to_have_attribute("aria-invalid", "true")
    expect(choice).to_have_accessible_description(re.compile(re.escape(message)))

    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    tab_to(page, "#route-by-hand ~ form input[type=radio]")
    page.keyboard.press("Space")
    tab_to(page, "#route-by-hand ~ form textarea[name=reason]")
    page.keyboard.type("Sesje online po ukraińsku.")
    page.keyboard.press("Tab")
    press_and_wait(page, "Enter")
    offered = page.locator("main .flash-success")
    expect(offered).to_be_focused()
    assert in_sight(page, offered)


def test_the_public_directory_with_contact_reads_well(base_url, new_page):
    page = new_page(locale="pl-PL")
    page.goto(f"{base_url}/pl/organisations")
    expect(page.locator("text=ul. Krakowskie Przedmieście 39B, Lublin")).to_be_visible()
    assert serious_violations(page) == []


def test_the_unmatched_queue_does_not_scroll_sideways_on_a_phone(
    live_app, base_url, coordinator_codes, new_page
):
    with live_app.app_context():
        lifecycle.submit_request(intake("psychological", city_slug="chelm"))
        db.session.remove()

    page = new_page(locale="pl-PL")  # 360 px wide
    sign_in_as_coordinator(page, base_url, coordinator_codes)
    page.goto(f"{base_url}/admin/unmatched")
    expect(page.locator("main tbody tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_the_reports_fit_a_laptop_with_charts_in_the_text_size(
    live_app, base_url, coordinator_codes, new_page
):
    with live_app.app_context():
        lifecycle.submit_request(intake("legal", "housing", "material"))
        db.session.remove()

    page = new_page(locale="pl-PL", viewport={"width": 1280, "height": 800})
    sign_in_as_coordinator(page, base_url, coordinator_codes)
    page.goto(f"{base_url}/admin/reports")
    cut = page.evaluate(
        "[...document.querySelectorAll('main .table-scroll')]"
        ".filter(e => e.scrollWidth > e.clientWidth).map(e => e.getAttribute('aria-label'))"
    )
    assert cut == []  # the month-by-need table too
    # The charts' labels, drawn 13 units high in a picture 400 wide, as large as they are shown.
    label_sizes = page.evaluate(
        "[...document.querySelectorAll('main svg.chart')]"
        ".map(s => 13 * s.getBoundingClientRect().width / s.viewBox.baseVal.width)"
    )
    assert label_sizes and all(12 <= size <= 17 for size in label_sizes), label_sizes
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    assert [v["id"] for v in violations if v["id"] == "landmark-unique"] == []


def test_the_users_list_becomes_cards_on_a_phone(live_app, base_url, coordinator_codes, new_page):
    """The users' table was 1,090 px wide in a 328 px box: the role, the password link and
    Deactivate sat off-screen with nothing to say so. On a phone each user is a card."""
    page = new_page(locale="pl-PL")  # 360 px wide
    sign_in_as_coordinator(page, base_url, coordinator_codes)
    page.goto(f"{base_url}/admin/users")
    cut = page.evaluate(
        "[...document.querySelectorAll('main .table-scroll')]"
        ".filter(e => e.scrollWidth > e.clientWidth).length"
    )
    assert cut == 0
    deactivate = page.locator("main tbody tr").first.locator("button").last.bounding_box()
    assert deactivate is not None and deactivate["x"] + deactivate["width"] <= 360
    role = page.locator("main tbody tr").first.locator("td[data-label='Rola']")
    assert role.inner_text() == "Koordynator"
    assert role.evaluate("e => getComputedStyle(e, '::before').content") == '"Rola: "'
