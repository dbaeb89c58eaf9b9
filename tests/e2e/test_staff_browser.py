"""The staff and admin side in a real Chromium: the decision panel above the fold, the inbox as
cards on a phone, destructive buttons that look destructive, and every staff and admin page in
Polish checked by axe-core (issue 14)."""

import itertools
import re

import pytest
from playwright.sync_api import expect

from referral import lifecycle
from referral.extensions import db
from referral.handoff import Action
from referral.models import Organisation, Referral, User
from referral.seed import DEMO_PASSWORD
from referral.staff import inbox as inbox_queries

from ..helpers import intake, user
from .test_public_browser import press_and_wait, serious_violations, tab_to

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 360, "height": 640}


def refer(app, **details) -> tuple[int, str]:
    """A caseworker of PFM refers a person who needs legal help in Wrocław (offered to Nomada):
    the referral's id and the person's status path."""
    with app.app_context():
        data = intake("legal", name="Olena Kovalenko", interpreter_needed=True, **details)
        submitted = lifecycle.submit_request(data, submitted_by=user("staff@pfm.example"))
        path = f"/uk/status/{submitted.status_token}"
        return submitted.request.referrals[0].id, path


def sign_in(page, base_url, email: str, code: str | None = None) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    if code:
        page.wait_for_url("**/login/code")
        page.fill("input[name=code]", code)
        page.click("main button[type=submit]")
    page.wait_for_url("**/staff/")


def above_the_fold(page, selector: str, viewport: dict) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


@pytest.mark.parametrize("language", ["pl", "uk"])
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366x768", "360x640"])
def test_the_decision_panel_shows_the_facts_and_both_answers_above_the_fold(
    app, base_url, staff, new_page, viewport, language
):
    referral_id, _ = refer(app, contact_channel="viber", languages=["uk", "ru"])
    with app.app_context():
        user("staff@nomada.example").language = language
        db.session.commit()
    page = new_page(viewport=viewport)
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    panel = page.locator(".decision").inner_text()
    assert "Viber" in panel
    assert {"pl": "Potrzebny tłumacz", "uk": "Потрібен перекладач"}[language] in panel
    assert above_the_fold(page, ".decide-accept button[type=submit]", viewport)
    assert above_the_fold(page, ".decide-decline summary", viewport)
    page.click(".decide-decline summary")
    expect(page.locator("select[name=decline-reason]")).to_be_visible()


def test_accepting_and_declining_by_keyboard_leave_the_focus_on_what_happened(
    app, base_url, staff, new_page
):
    """The message that says what the action did has the focus on the page the action leads to,
    so that a screen reader reads it; it was a live region drawn with the page, which none reads."""
    first, _ = refer(app)
    second, _ = refer(app)
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{first}")
    tab_to(page, ".decide-accept button[type=submit]")
    press_and_wait(page, "Enter")
    accepted = page.locator("main .flash-success[role=status]")
    expect(accepted).to_be_focused()
    assert accepted.inner_text() == "Przyjęto skierowanie."

    page.goto(f"{base_url}/staff/referrals/{second}")
    tab_to(page, ".decide-decline summary")
    page.keyboard.press("Enter")  # opens the reasons
    page.keyboard.press("Tab")
    expect(page.locator("select[name=decline-reason]")).to_be_focused()
    page.keyboard.press("ArrowDown")  # the first reason
    tab_to(page, ".decide-decline button[type=submit]")
    press_and_wait(page, "Enter")
    page.wait_for_url("**/staff/")
    expect(page.locator("main .flash-success[role=status]")).to_be_focused()


def reads_before(first: dict, second: dict) -> bool:
    """``first`` comes before ``second`` in reading order: on a line above, or beside and left."""
    if first["y"] + first["height"] <= second["y"]:
        return True
    return second["y"] + second["height"] > first["y"] and first["x"] < second["x"]


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366x768", "360x640"])
def test_the_tab_key_goes_through_the_decision_panel_in_the_order_it_is_seen(
    app, base_url, staff, new_page, viewport
):
    """On a phone the panel showed Accept and Decline on a line and the colleague to assign below
    them, while the Tab key went Accept, the colleague, then back up to Decline."""
    referral_id, _ = refer(app)
    page = new_page(viewport=viewport, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    tab_to(page, ".decide :is(button, select, summary)")
    stops = []
    while page.evaluate("document.activeElement.closest('.decide') !== null"):
        stops.append(page.evaluate("document.activeElement.getBoundingClientRect().toJSON()"))
        page.keyboard.press("Tab")
    assert len(stops) == 3
    assert all(reads_before(a, b) for a, b in itertools.pairwise(stops)), stops

    page.keyboard.press("Shift+Tab")  # back to the colleague, who goes with Accept
    page.keyboard.press("ArrowDown")
    tab_to(page, ".decide-accept button[type=submit]")
    press_and_wait(page, "Enter")
    with app.app_context():
        assert db.session.get(Referral, referral_id).assigned_user is not None


def test_a_note_added_leaves_the_focus_on_the_message_that_says_so(app, base_url, staff, new_page):
    """Added, the note brought the page back scrolled to #notes, the message out of sight, and
    the fragment kept the browser from giving it the focus: nothing was read out."""
    referral_id, _ = refer(app)
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    page.fill("textarea[name=body]", "Zadzwonię jutro rano.")
    page.click("button:has-text('Dodaj notatkę')")
    added = page.locator("main .flash-success[role=status]")
    expect(added).to_be_focused()
    assert "#" not in page.url


def follow_the_summary(page, position: int = 0):
    """From the error summary, which has the focus, to the field its nth link names."""
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    for _ in range(position + 1):
        page.keyboard.press("Tab")
    message = page.locator(":focus").inner_text()
    page.keyboard.press("Enter")
    field = page.locator(":focus")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile(re.escape(message)))
    return field


def test_a_refused_decline_or_note_says_so_and_leads_to_the_field(app, base_url, staff, new_page):
    """A decline without a reason and an empty note, by keyboard: the title says "Błąd", the
    error summary at the top has the focus, its link leads to the field. The page used to come
    back at its top, the note's message 3,000 pixels below, with nothing said."""
    referral_id, _ = refer(app)
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    tab_to(page, ".decide-decline summary")
    page.keyboard.press("Enter")
    tab_to(page, ".decide-decline button[type=submit]")
    press_and_wait(page, "Enter")
    assert page.title().startswith("Błąd:")
    assert follow_the_summary(page).get_attribute("name") == "decline-reason"

    tab_to(page, "section[aria-labelledby=notes] button[type=submit]")
    press_and_wait(page, "Enter")
    assert page.title().startswith("Błąd:")
    assert follow_the_summary(page).get_attribute("name") == "body"


def test_each_field_of_the_profile_is_named_by_its_label_and_a_refused_password_leads_to_it(
    base_url, staff, new_page
):
    """The profile's section headings took the ids of the language and new-password fields: the
    labels named the headings, the fields had no name, and the summary's link to the refused
    password landed on the heading with the focus nowhere."""
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/profile")
    expect(page.locator("main select[name=language]")).to_have_accessible_name("Język interfejsu")
    new_password = page.locator("main input[name=password]")
    expect(new_password).to_have_accessible_name(re.compile(r"^Nowe hasło"))
    page.click("label[for=password]")
    expect(new_password).to_be_focused()

    page.fill("input[name=current]", DEMO_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type("short")
    page.keyboard.press("Tab")
    page.keyboard.type("short")
    press_and_wait(page, "Enter")
    assert page.title().startswith("Błąd:")
    assert follow_the_summary(page).get_attribute("name") == "password"


def test_the_language_switch_on_a_refused_decline_shows_the_referral(
    app, base_url, staff, new_page
):
    """The switch on the answer to a refused decline came back to the decline's address, which
    only takes a POST: 405 Method Not Allowed. It shows the referral's page in English."""
    referral_id, _ = refer(app)
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    page.click(".decide-decline summary")
    page.click(".decide-decline button[type=submit]")
    page.wait_for_url(f"**/staff/referrals/{referral_id}/decline")
    with page.expect_navigation() as navigation:
        page.click(".language-switcher button[lang=en]")
    assert navigation.value.status == 200
    assert page.url == f"{base_url}/staff/referrals/{referral_id}"
    assert page.locator("html").get_attribute("lang") == "en"


def test_a_refused_sign_in_says_so_and_has_the_focus(base_url, staff, coordinator_codes, new_page):
    """A wrong password, then a wrong code: the title says "Błąd" and the message has the focus
    (it was a role=alert drawn with the page, which no screen reader reads out)."""
    page = new_page(viewport=PHONE, locale="pl-PL")
    page.goto(f"{base_url}/login")
    tab_to(page, "input[name=email]")
    page.keyboard.type("coordinator@konsorcjum.example")
    page.keyboard.press("Tab")
    page.keyboard.type("not the password")
    press_and_wait(page, "Enter")
    assert page.title().startswith("Błąd:")
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text("Nieprawidłowy e-mail lub hasło.")

    tab_to(page, "input[name=password]")
    page.keyboard.type(DEMO_PASSWORD)
    press_and_wait(page, "Enter")
    page.wait_for_url("**/login/code")
    tab_to(page, "input[name=code]")
    page.keyboard.type("000000")
    press_and_wait(page, "Enter")
    assert page.title().startswith("Błąd:")
    assert follow_the_summary(page).get_attribute("name") == "code"
    page.keyboard.press("Control+A")  # the wrong code is still there
    page.keyboard.type(coordinator_codes.pop())
    press_and_wait(page, "Enter")
    page.wait_for_url("**/staff/")


def test_every_stop_of_the_tab_key_on_a_referral_has_a_name(app, base_url, staff, new_page):
    """Each thing the Tab key stops at on a referral's page (one accepted, with the messages sent
    to the person) is named for a screen reader: the table of messages scrolled in a box that
    took the focus as a nameless group."""
    referral_id, _ = refer(app)
    with app.app_context():
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    expect(page.locator("#person-messages ~ .table-scroll")).to_have_count(1)
    stops = 0
    while stops < 80:
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            break
        stops += 1
        # Marked, as :focus does not find a date field whose calendar button has the focus.
        page.evaluate("document.activeElement.dataset.stop = 'here'")
        expect(page.locator("[data-stop=here]")).to_have_accessible_name(re.compile(r"\S"))
        page.evaluate("delete document.activeElement.dataset.stop")
    assert stops > 20
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    assert [v["id"] for v in violations if v["id"] == "landmark-unique"] == []


def test_the_inbox_says_its_order_and_names_each_pager(app, base_url, staff, new_page, monkeypatch):
    """The offers' order, chosen by keyboard, is said on the column it sorts (aria-sort); each
    part's pages are a navigation named after the part, not three all called "Strony"."""
    monkeypatch.setattr(inbox_queries, "PAGE_SIZE", 2)
    for _ in range(3):
        refer(app)
    for _ in range(3):
        referral_id, _ = refer(app)
        with app.app_context():
            lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
    page = new_page(viewport=LAPTOP, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    sorted_by = (
        "[...document.querySelectorAll('th[aria-sort]')].map(t => [t.innerText, t.ariaSort])"
    )
    assert page.evaluate(sorted_by) == [["Pozostały czas", "ascending"]]

    tab_to(page, "select[name=sort]")
    page.keyboard.press("ArrowDown")  # waiting longest first
    tab_to(page, "form.filters button[type=submit]")
    press_and_wait(page, "Enter")
    assert page.evaluate(sorted_by) == [["Czas oczekiwania", "descending"]]

    pagers = page.locator("nav.pager")
    expect(pagers).to_have_count(2)
    expect(pagers.nth(0)).to_have_accessible_name(
        re.compile(r"^Zaproponowane nam \(3\) Strona 1 z 2")
    )
    expect(pagers.nth(1)).to_have_accessible_name(re.compile(r"^Nasze sprawy \(3\) Strona 1 z 2"))


def test_the_inbox_becomes_cards_on_a_phone(app, base_url, staff, new_page):
    refer(app)
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row = page.locator("#offered ~ div tbody tr").first
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert re.search(r"Zostało: \d+ \w+", row.inner_text())  # the time left, in sight


def test_destructive_buttons_look_destructive_not_like_the_main_action(app, base_url, new_page):
    _, status = refer(app)
    page = new_page(locale="uk-UA")
    page.goto(f"{base_url}{status}")
    style = "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]"
    danger = page.locator("button.danger").first.evaluate(style)
    assert danger == ["rgb(176, 0, 32)", "rgb(255, 255, 255)"]


def _walk(page, base_url, paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        response = page.goto(f"{base_url}{path}")
        assert response.status == 200, path
        assert page.locator("html").get_attribute("lang") == "pl", path
        found += serious_violations(page)
    return found


def test_every_staff_and_admin_page_in_polish_passes_axe(
    app, base_url, staff, coordinator_codes, new_page
):
    referral_id, _ = refer(app)
    with app.app_context():
        nomada = db.session.scalar(db.select(Organisation).where(Organisation.slug == "nomada"))
        colleague = user("staff@nomada.example").id
        accepted = db.session.scalar(db.select(Referral.id).where(Referral.id == referral_id))
        organisation_id = nomada.id
        assert db.session.scalar(db.select(User).where(User.id == colleague))
    found = []
    staff_pages = [
        "/staff/",
        f"/staff/referrals/{accepted}",
        "/staff/referrals/new",
        "/staff/profile",
        "/staff/profile/2fa",
    ]

    partner = new_page(viewport=LAPTOP, locale="pl-PL")
    sign_in(partner, base_url, "staff@nomada.example")
    found += _walk(partner, base_url, staff_pages)
    partner.goto(f"{base_url}/staff/referrals/{referral_id}")
    partner.click(".decide-decline summary")
    partner.click(".decide-decline button[type=submit]")  # no reason: the error on the form
    found += serious_violations(partner)

    caseworker = new_page(locale="pl-PL")
    sign_in(caseworker, base_url, "staff@pfm.example")
    found += _walk(caseworker, base_url, staff_pages)
    caseworker.goto(f"{base_url}/staff/referrals/new")
    caseworker.click("form.referral-form > button[type=submit]")  # empty: every message shown
    expect(caseworker.locator(".error-summary")).to_be_visible()
    found += serious_violations(caseworker)

    coordinator = new_page(viewport=LAPTOP, locale="pl-PL")
    sign_in(coordinator, base_url, "coordinator@konsorcjum.example", coordinator_codes.pop())
    found += _walk(
        coordinator,
        base_url,
        [
            "/staff/",
            f"/staff/referrals/{referral_id}",
            "/admin/",
            "/admin/organisations",
            "/admin/organisations/new",
            f"/admin/organisations/{organisation_id}",
            f"/admin/organisations/{organisation_id}/api-tokens/new",
            f"/admin/organisations/{organisation_id}/webhooks/new",
            "/admin/users",
            "/admin/users/new",
            f"/admin/users/{colleague}",
            "/admin/unmatched",
            f"/admin/referrals/{referral_id}/route-by-hand",
            "/admin/reports",
            "/admin/audit",
            "/admin/copy",
            "/admin/retention",
        ],
    )
    assert found == []


def apart(first: dict, second: dict, gap: float = 8) -> bool:
    """Two boxes that neither overlap nor touch: one beside or below the other by ``gap``."""
    return (
        first["x"] + first["width"] + gap <= second["x"]
        or second["x"] + second["width"] + gap <= first["x"]
        or first["y"] + first["height"] + gap <= second["y"]
        or second["y"] + second["height"] + gap <= first["y"]
    )


def test_the_sent_referral_page_fits_a_phone(base_url, staff, new_page):
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@pfm.example")
    page.goto(f"{base_url}/staff/referrals/new")
    page.check("input[name=needs][value=legal]")
    page.select_option("select[name=city]", "wroclaw")
    page.fill("input[name=phone]", "+48 512 345 678")
    page.select_option("select[name=person_language]", "uk")
    page.check("input[name=consent]")
    page.click("form.referral-form > button[type=submit]")
    link = page.locator(".status-link")
    link.wait_for()
    page.wait_for_load_state()  # its stylesheet applied: measured before, the page was 614 px wide
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = link.bounding_box()
    label = page.locator("dl.summary dt").last.bounding_box()
    assert label["y"] + label["height"] <= box["y"]  # the grey box does not cover its label
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    button, back = page.locator("main .actions > *").all()
    assert apart(button.bounding_box(), back.bounding_box())


def test_the_caseworkers_browser_does_not_offer_their_own_details_for_the_person(
    base_url, staff, new_page
):
    """The caseworker's form is about someone else: "name", "tel" and "email" would have the
    browser fill in the caseworker's own name, number and address for the person's."""
    page = new_page(locale="pl-PL")
    sign_in(page, base_url, "staff@pfm.example")
    page.goto(f"{base_url}/staff/referrals/new")
    for name in ("name", "phone", "email"):
        assert page.locator(f"input[name={name}]").get_attribute("autocomplete") == "off", name


def test_the_withdrawn_page_keeps_its_button_and_link_apart_on_a_phone(app, base_url, new_page):
    _, status = refer(app)
    page = new_page(viewport=PHONE, locale="uk-UA")
    page.goto(f"{base_url}{status}")
    page.click("form button.danger")
    page.wait_for_url("**/withdraw")
    page.click("form button.danger")
    page.locator("div.flash-success").wait_for()
    page.wait_for_load_state()  # measured with its stylesheet applied
    button = page.locator("main a.button").bounding_box()
    home = page.locator("main a.button ~ a").bounding_box()
    assert apart(button, home)


def test_the_colleague_to_assign_fits_the_decision_panel_on_a_phone(app, base_url, staff, new_page):
    referral_id, _ = refer(app)
    with app.app_context():
        user("staff@nomada.example").name = "Aleksandra Konstantynopolitańczykiewiczówna-Wierzbicka"
        db.session.commit()
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    panel = page.locator(".decision").bounding_box()
    select = page.locator(".decide-assign select").bounding_box()
    assert panel["x"] <= select["x"]
    assert select["x"] + select["width"] <= panel["x"] + panel["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_the_inbox_filters_show_their_choices_whole_on_a_laptop(
    app, base_url, staff, new_page, language
):
    with app.app_context():
        user("staff@nomada.example").language = language
        db.session.commit()
    page = new_page(viewport=LAPTOP)
    sign_in(page, base_url, "staff@nomada.example")
    # Each select against the widest of its choices, in its own font, with room for the arrow.
    cut = page.evaluate(
        """[...document.querySelectorAll('.filters select')].filter(select => {
             const context = document.createElement('canvas').getContext('2d');
             context.font = getComputedStyle(select).font;
             const widths = [...select.options].map(o => context.measureText(o.text).width);
             const widest = Math.max(...widths);
             return select.clientWidth < widest + 30;
           }).map(select => select.name)"""
    )
    assert cut == []


def test_a_long_link_in_a_note_or_a_decline_keeps_the_case_page_inside_a_phone(
    app, base_url, staff, new_page
):
    """A 160-character address pasted into a note or a decline's explanation pushed the whole
    page sideways (600 px on a phone; far more with longer text)."""
    link = "https://www.gov.pl/web/udsc/" + "wniosek-o-udzielenie-zezwolenia-na-pobyt-" * 4
    referral_id, _ = refer(app, description=link)
    with app.app_context():
        nomada = user("staff@nomada.example")
        lifecycle.act(referral_id, nomada, Action.DECLINE, reason_code="other", text=link)
        holder = user(f"staff@{db.session.get(Referral, referral_id).organisation.slug}.example")
        lifecycle.act(referral_id, holder, Action.ACCEPT)
        lifecycle.add_note(db.session.get(Referral, referral_id), holder, link, shared=True)
        email = holder.email
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, email)
    for path in (f"/staff/referrals/{referral_id}", f"/staff/referrals/{referral_id}/summary"):
        page.goto(f"{base_url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    when = page.locator("input[name=when]").bounding_box()
    assert when is not None and when["height"] >= 44  # as tall as every other field


def test_a_decline_refused_as_a_colleague_answered_keeps_the_words_readable_on_a_phone(
    app, base_url, staff, new_page
):
    """The page as it is now, the refusal at its top and the words to copy: readable at 360 px,
    with no serious accessibility violation."""
    referral_id, _ = refer(app)
    page = new_page(viewport=PHONE, locale="pl-PL")
    sign_in(page, base_url, "staff@nomada.example")
    page.goto(f"{base_url}/staff/referrals/{referral_id}")
    page.click(".decide-decline summary")
    page.select_option("select[name=decline-reason]", "other")
    words = "Nasza jedyna prawniczka mówiąca po ukraińsku jest na urlopie do marca."
    page.fill("textarea[name=decline-text]", words)
    with app.app_context():  # a colleague accepts it meanwhile
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
    page.click(".decide-decline button[type=submit]")
    unsaved = page.locator("section.unsaved")
    unsaved.wait_for()
    page.wait_for_load_state()
    expect(unsaved.locator("blockquote")).to_have_text(words)
    expect(page.locator(".flash-error")).to_contain_text("Ktoś inny")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert serious_violations(page) == []
