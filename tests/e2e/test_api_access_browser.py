"""The coordinator gives an organisation's system a token in a real Chromium, and the API's
reference page reads well: both pass axe-core."""

from playwright.sync_api import expect

from referral.seed import DEMO_PASSWORD

from ..conftest import COORDINATOR
from .test_public_browser import serious_violations


def test_the_coordinator_issues_a_token_shown_once(base_url, coordinator_codes, new_page):
    page = new_page(locale="pl-PL")
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", COORDINATOR)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.fill("input[name=code]", coordinator_codes.pop())
    page.click("main button[type=submit]")
    page.goto(f"{base_url}/admin/organisations")
    page.click("main th a:has-text('Nomada')")
    page.click("a[href$='/api-tokens/new']")
    assert serious_violations(page) == []
    page.fill("input[name=name]", "Case system")
    page.click("main form button[type=submit]")
    secret = page.locator("code.secret").inner_text()
    assert secret.startswith("rfl_")
    assert serious_violations(page) == []
    page.click("main a[href$='#api']")
    expect(page.locator("#api")).to_be_visible()  # waits for the page the link opens
    page.wait_for_load_state()  # read whole below
    assert secret not in page.content() and "Case system" in page.content()
    assert serious_violations(page) == []


def test_the_api_reference_page_reads_well(base_url, new_page):
    page = new_page(locale="pl-PL")
    page.goto(f"{base_url}/api/v1/reference")
    expect(page.locator("h2#accept_referral")).to_be_visible()
    assert serious_violations(page) == []


def test_the_api_reference_fits_a_phone_and_reads_its_english_with_an_english_voice(
    base_url, new_page
):
    """At 360 px the long paths in the headings and links could not wrap (the page scrolled
    sideways to 498 px); the OpenAPI document's English was read with the page's Polish voice;
    each operation's "Parametry" and "Odpowiedzi" were regions of the same name."""
    page = new_page(locale="pl-PL")
    page.goto(f"{base_url}/api/v1/reference")
    assert page.locator("html").get_attribute("lang") == "pl"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    summary = page.locator("#accept_referral ~ p strong")
    assert summary.evaluate("e => e.closest('[lang]').lang") == "en"
    operations = page.locator("nav[aria-labelledby=operations] li")
    assert operations.first.evaluate("e => e.closest('[lang]').lang") == "en"
    intro = page.locator("main h1 + p")
    assert intro.evaluate("e => e.closest('[lang]').lang") == "en"
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    assert [v["nodes"] for v in violations if v["id"] == "landmark-unique"] == []
