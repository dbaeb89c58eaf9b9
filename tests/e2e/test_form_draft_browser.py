"""Issue 13.7 in a real Chromium on a 360-px screen: a Ukrainian speaker half-fills the form,
switches to English, and finds everything they typed, with JavaScript (the page then checked by
axe-core) and without."""

import pytest
from playwright.sync_api import expect

from .test_public_browser import REFERENCE, serious_violations


@pytest.mark.parametrize("javascript", [True, False])
def test_switching_language_mid_form_keeps_what_was_typed(base_url, new_page, javascript):
    page = new_page(locale="uk-UA", java_script_enabled=javascript)
    assert page.viewport_size["width"] == 360
    page.goto(f"{base_url}/uk/request")
    page.check("input[name=needs][value=legal]")
    page.check("input[name=urgency][value=urgent]")
    page.select_option("select[name=city]", "lublin")
    page.fill("input[name=name]", "Олена Коваленко")
    page.fill("input[name=phone]", "+380 67 123 45 67")
    page.check("input[name=contact_channel][value=viber]")
    page.fill("textarea[name=description]", "Мені потрібна консультація щодо карти побиту.")
    page.select_option("select[name=residence_status]", "temporary_residence")

    page.click(".language-switcher button[lang=en]")
    page.locator("h1", has_text="Ask for help").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_attribute("form.intake", "action") == "/en/request"
    assert page.is_checked("input[name=needs][value=legal]")
    assert page.is_checked("input[name=urgency][value=urgent]")
    assert page.input_value("select[name=city]") == "lublin"
    assert page.input_value("input[name=name]") == "Олена Коваленко"
    assert page.input_value("input[name=phone]") == "+380 67 123 45 67"
    assert page.is_checked("input[name=contact_channel][value=viber]")
    assert page.input_value("textarea[name=description]").startswith("Мені потрібна")
    assert page.input_value("select[name=residence_status]") == "temporary_residence"
    assert not page.locator(".error-summary").count()  # a draft is not checked
    if javascript:  # axe-core runs as a script in the page
        assert serious_violations(page) == []

    page.check("input[name=consent]")
    page.click("form.intake button[type=submit]")
    assert REFERENCE.fullmatch(page.locator(".reference").inner_text())
    assert "Passed to: Homo Faber Association" in page.locator(".needs").inner_text()


def test_a_form_whose_session_was_lost_comes_back_as_typed(base_url, new_page):
    """The cookies cleared under a half-typed form (a shared phone's browser, a privacy setting):
    the CSRF check fails, and Chromium's own Sec-Fetch-Site says the post came from our page, so
    the form comes back as typed with a fresh token, and sent again it goes through."""
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/request")
    page.check("input[name=needs][value=legal]")
    page.select_option("select[name=city]", "lublin")
    page.fill("input[name=phone]", "+380 67 123 45 67")
    page.fill("textarea[name=description]", "Мені потрібна консультація щодо карти побиту.")
    page.check("input[name=consent]")
    page.context.clear_cookies()
    page.click("form.intake button[type=submit]")
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.input_value("textarea[name=description]").startswith("Мені потрібна")
    assert page.input_value("input[name=phone]") == "+380 67 123 45 67"
    assert serious_violations(page) == []
    page.click("form.intake button[type=submit]")
    assert REFERENCE.fullmatch(page.locator(".reference").inner_text())
