"""The migrant's side in a real Chromium: by keyboard on a phone-sized screen, without JavaScript,
and checked by axe-core for accessibility."""

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from referral import appointments, lifecycle
from referral.extensions import db
from referral.handoff import Action
from referral.models import HelpRequest, Referral, utcnow

from ..helpers import intake, user

REFERENCE = re.compile(r"[A-Z0-9]{3}-[A-Z0-9]{3}")


def tab_to(page, selector: str, limit: int = 150) -> None:
    """Press Tab until the element matching ``selector`` has the focus, as a keyboard user does."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_ukrainian_speaker_asks_for_help_by_keyboard_and_withdraws(app, base_url, new_page):
    page = new_page(locale="uk-UA")
    started = time.monotonic()
    page.goto(f"{base_url}/uk/")
    tab_to(page, "main a[href='/uk/request']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/uk/request")

    tab_to(page, "input[name=needs][value=legal]")
    page.keyboard.press("Space")
    tab_to(page, "input[name=needs][value=housing]")
    page.keyboard.press("Space")
    tab_to(page, "select[name=city]")
    for _ in range(30):  # down the list, as on a phone's keyboard, until Wrocław
        if page.input_value("select[name=city]") == "wroclaw":
            break
        page.keyboard.press("ArrowDown")
    assert page.input_value("select[name=city]") == "wroclaw"
    tab_to(page, "input[name=languages][value=uk]")
    page.keyboard.press("Space")
    tab_to(page, "input[name=name]")
    page.keyboard.type("Олена")
    tab_to(page, "input[name=phone]")
    page.keyboard.type("+380 67 123 45 67")
    tab_to(page, "input[name=contact_channel]")  # the first one: a phone call
    for _ in range(4):
        page.keyboard.press("ArrowDown")  # ... SMS, e-mail, Viber, Telegram
    assert page.is_checked("input[name=contact_channel][value=telegram]")
    tab_to(page, "textarea[name=description]")
    page.keyboard.type("Мені потрібна консультація щодо карти побиту і житло.")
    tab_to(page, "input[name=consent]")
    page.keyboard.press("Space")
    tab_to(page, "form.intake button[type=submit]")
    page.keyboard.press("Enter")

    reference = page.locator(".reference").inner_text()
    assert REFERENCE.fullmatch(reference)
    assert time.monotonic() - started < 120
    tab_to(page, ".status-link a")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/uk/status/[\w-]{40,}$"))
    legal = page.locator(".needs li.card", has=page.locator("h3", has_text="Правова"))
    assert "Асоціація «Номада»" in legal.inner_text()
    assert reference in page.locator("h1").inner_text()

    status_url = page.url
    tab_to(page, "a[href$='/copy']")  # a copy of everything held, in Ukrainian
    page.keyboard.press("Enter")
    page.wait_for_url("**/copy")
    assert "Олена" in page.locator("main").inner_text()
    page.go_back()

    tab_to(page, "form button.danger")
    page.keyboard.press("Enter")
    page.wait_for_url("**/withdraw")
    tab_to(page, "form button.danger")
    page.keyboard.press("Enter")
    page.locator("div.flash-success").wait_for()  # "your personal data was erased"
    assert page.goto(status_url).status == 404  # the link opens nothing now
    with app.app_context():
        request = db.session.scalar(db.select(HelpRequest))
        assert request.erased_at is not None and request.name is None and request.phone is None


def test_each_error_of_a_refused_request_leads_to_its_field_which_names_it(base_url, new_page):
    """By keyboard and with a screen reader: the summary has the focus, each of its links leads to
    a field that is marked invalid and is described by its message, a group's choices too."""
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/request")
    tab_to(page, "form.intake button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.title().startswith("Помилка:")
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    errors = summary.locator("a").all_inner_texts()
    assert len(errors) == 4  # a need, the city, a phone or an e-mail, the agreement
    for position, error in enumerate(errors):
        summary.focus()
        for _ in range(position + 1):
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        field = page.locator(":focus")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile(re.escape(error)))
    # One need is enough: not one of the nine says it is required, the group's legend does.
    expect(page.locator("input[name=needs][required]")).to_have_count(0)
    assert "(обов’язково)" in page.locator("fieldset#needs legend").inner_text()


def test_enter_in_a_field_sends_the_request_not_a_language_switch(base_url, new_page):
    """Enter in a field (the "Go" key of a phone's keyboard) sends the form with its default
    button, the first of its buttons in the page: that was the language switch's "Polski", in the
    header above, and a Ukrainian speaker who pressed Enter after their number got the form in
    Polish. It sends the request, here refused: nothing else was filled in."""
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/request")
    default = page.locator("button[form=intake-form][hidden]")
    assert default.count() == 1 and not default.is_visible()  # it was, above the header
    tab_to(page, "input[name=phone]")
    page.keyboard.type("+380 67 123 45 67")
    press_and_wait(page, "Enter")
    assert page.url == f"{base_url}/uk/request"
    assert page.locator("html").get_attribute("lang") == "uk"
    assert page.title().startswith("Помилка:")
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.input_value("input[name=phone]") == "+380 67 123 45 67"


def test_the_browser_may_fill_in_the_persons_own_name_phone_and_email(base_url, new_page):
    """WCAG 1.3.5: the fields about the person say what they hold, so that a phone fills them in
    (browsers keep no nickname to fill in); a phone number gets the keyboard of digits."""
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/request")
    attributes = "e => [e.autocomplete, e.inputMode]"
    assert page.locator("input[name=name]").evaluate(attributes) == ["name", ""]
    assert page.locator("input[name=phone]").evaluate(attributes) == ["tel", "tel"]
    assert page.locator("input[name=email]").evaluate(attributes) == ["email", ""]
    assert page.locator("input[name=email]").get_attribute("type") == "email"


def test_every_box_to_tick_on_the_form_is_a_target_of_24_pixels(base_url, new_page):
    """WCAG 2.5.8: each checkbox and radio button, in a group of choices or alone (consent, safe
    to message), is at least 24 by 24 CSS pixels on a phone."""
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/request")
    sizes = page.locator("form.intake input[type=checkbox], form.intake input[type=radio]")
    boxes = sizes.evaluate_all(
        "inputs => inputs.map(i => [i.name, i.getBoundingClientRect().width,"
        " i.getBoundingClientRect().height])"
    )
    assert {name for name, *_ in boxes} >= {"needs", "consent", "safe_to_message"}
    assert [box for box in boxes if min(box[1:]) < 24] == []


def in_sight(page, locator) -> bool:
    box = locator.bounding_box()
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= page.viewport_size["height"]
    )


def press_and_wait(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def test_each_answer_on_the_status_page_takes_the_focus_in_sight(app, base_url, staff, new_page):
    """Writing to the organisation, changing the contact and confirming the appointment, by
    keyboard on a phone: the page opens on what happened, which has the focus (a screen reader
    reads it), not 2,000 pixels below it with the focus nowhere."""
    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal"))
        referral_id = submitted.request.referrals[0].id
        holder = user("staff@nomada.example")
        lifecycle.act(referral_id, holder, Action.ACCEPT)
        referral = db.session.get(Referral, referral_id)
        appointments.propose(referral, holder, utcnow() + timedelta(days=2), "phone", None)
        token = submitted.status_token
        db.session.remove()
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/status/{token}")

    tab_to(page, "form[action*='/message'] button[type=submit]")
    press_and_wait(page, "Enter")  # nothing written
    assert page.title().startswith("Помилка:")
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    assert in_sight(page, summary)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("textarea[name=body]")).to_be_focused()
    page.keyboard.type("Мені зручніше ввечері.")
    page.keyboard.press("Tab")
    press_and_wait(page, "Enter")
    done = page.locator("main [role=status]", has_text="Дякуємо")
    expect(done).to_be_focused()
    assert in_sight(page, done)

    tab_to(page, "input[name=email]")
    page.keyboard.type("olena@example.com")
    tab_to(page, "form.contact-form button[type=submit]")
    press_and_wait(page, "Enter")
    expect(page.locator("main [role=status]", has_text="Дякуємо")).to_be_focused()

    tab_to(page, ".appointment form[action$='/confirm'] button")
    press_and_wait(page, "Enter")
    flash = page.locator("main .flash-success")
    expect(flash).to_be_focused()
    assert in_sight(page, flash)


def test_the_answer_to_a_lost_link_takes_the_focus(base_url, new_page):
    """The "we have just sent a new link" answer was a live region already there as the page
    loaded, which a screen reader does not read out, and the focus stayed nowhere."""
    page = new_page(locale="pl-PL")
    page.goto(f"{base_url}/pl/status/lost")
    tab_to(page, "input[name=contact]")
    page.keyboard.type("olena@example.com")
    press_and_wait(page, "Enter")
    answer = page.locator("main [role=status]")
    expect(answer).to_be_focused()
    expect(answer).to_contain_text("właśnie wysłaliśmy")
    assert in_sight(page, answer)


def test_the_language_switch_on_an_answer_leads_to_the_status_page(app, base_url, new_page):
    """After writing to the organisation (the page is the answer to a POST), the language links
    lead to the status page in that language: they led to the address of the form's POST, which
    answered 405 Method Not Allowed. After withdrawing, the link being dead, to the home page."""
    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal"))
        token, reference = submitted.status_token, submitted.reference
        db.session.remove()
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/status/{token}")
    tab_to(page, "textarea[name=body]")
    page.keyboard.type("Я можу прийти у вівторок.")
    page.keyboard.press("Tab")
    press_and_wait(page, "Enter")
    for _ in range(30):  # back up to the language links
        if page.evaluate("document.activeElement.matches('a[hreflang=pl]')"):
            break
        page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.lang") == "pl"
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")
    assert navigation.value.status == 200
    assert page.url == f"{base_url}/pl/status/{token}"
    assert page.locator("html").get_attribute("lang") == "pl"
    assert reference in page.locator("h1").inner_text()

    tab_to(page, "form button.danger")
    press_and_wait(page, "Enter")  # are you sure?
    tab_to(page, "form button.danger")
    press_and_wait(page, "Enter")
    assert page.get_attribute("a[hreflang=en]", "href") == "/en/"


def test_a_polish_address_on_the_ukrainian_directory_is_read_as_polish(base_url, new_page):
    """An organisation's street address is written in Polish whatever the page's language: marked
    lang=pl, a screen reader reads "ul. Krakowskie Przedmieście" with a Polish voice, not spelled
    out by a Ukrainian one. The language links say theirs too."""
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}/uk/organisations")
    assert page.locator("html").get_attribute("lang") == "uk"
    address = page.get_by_text("ul. Krakowskie Przedmieście 39B")
    assert address.evaluate("e => e.closest('[lang]').lang") == "pl"
    languages = page.locator(".language-switcher a")
    assert [a.get_attribute("lang") for a in languages.all()] == ["pl", "uk", "en"]
    assert [a.get_attribute("hreflang") for a in languages.all()] == ["pl", "uk", "en"]


def test_the_form_is_sent_with_javascript_turned_off(base_url, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(f"{base_url}/en/request")
    page.check("input[name=needs][value=legal]")
    page.select_option("select[name=city]", "wroclaw")
    page.fill("input[name=email]", "olena@example.org")
    page.check("input[name=consent]")
    page.click("form.intake button[type=submit]")
    assert REFERENCE.fullmatch(page.locator(".reference").inner_text())
    page.click(".status-link a")
    needs = page.locator(".needs").inner_text()
    assert "Passed to: Nomada Association (Stowarzyszenie Nomada), Wrocław" in needs


LABELS_OFF_THEIR_FIELD = """[...document.querySelectorAll('label[for]')]
    .filter(label => !label.control).map(label => label.htmlFor)"""
REPEATED_IDS = """[...document.querySelectorAll('[id]')].map(e => e.id)
    .filter((id, i, ids) => ids.indexOf(id) !== i)"""


def serious_violations(page) -> list[str]:
    """What axe-core finds serious or critical, each label that names no field and each id used
    twice: axe looks only for an element with the label's id, so a heading that took a field's
    id left the field without a name unseen."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state()  # a click that submits a form may still be loading the answer
    results = Axe().run(page)
    return [
        f"{page.url} {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ] + [
        f"{page.url} {check}: {id_}"
        for check, script in (
            ("label-off-its-field", LABELS_OFF_THEIR_FIELD),
            ("repeated-id", REPEATED_IDS),
        )
        for id_ in page.evaluate(script)
    ]


@pytest.mark.parametrize("lang", ["pl", "uk", "en"])
def test_public_pages_have_no_serious_accessibility_violations(base_url, new_page, lang):
    page = new_page()
    found = []
    for path in ("/", "/request", "/privacy"):
        page.goto(f"{base_url}/{lang}{path}")
        found += serious_violations(page)

    page.goto(f"{base_url}/{lang}/request")
    page.click("form.intake button[type=submit]")  # empty: every message shown
    expect(page.locator(".error-summary")).to_be_visible()
    found += serious_violations(page)

    page.check("input[name=needs][value=legal]")
    page.select_option("select[name=city]", "wroclaw")
    page.fill("input[name=phone]", "512 345 678")
    page.check("input[name=consent]")
    page.click("form.intake button[type=submit]")
    found += serious_violations(page)  # the confirmation
    page.click(".status-link a")
    found += serious_violations(page)  # the status page
    status_url = page.url
    page.goto(f"{status_url}/copy")
    found += serious_violations(page)  # the copy of the person's data
    page.goto(status_url)
    page.click("form button.danger")
    found += serious_violations(page)  # are you sure?
    page.click("form button.danger")
    page.locator("div.flash-success").wait_for()
    found += serious_violations(page)  # withdrawn and erased
    page.goto(f"{base_url}/{lang}/status/no-such-token")
    found += serious_violations(page)
    assert found == []
