"""Two-step sign-in in a real Chromium: a caseworker enrols with the QR page's key, keeps the
recovery codes, signs out and signs in again with a code; the pages pass axe-core."""

import re
from datetime import UTC, datetime

import pyotp
from playwright.sync_api import expect

from referral.seed import DEMO_PASSWORD

from .test_public_browser import serious_violations


def sign_in_with_password(page, base_url):
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", "staff@nomada.example")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()  # the answer loaded, on a busy machine too


def test_a_caseworker_enrols_and_signs_in_with_a_code(base_url, staff, new_page):
    page = new_page(locale="pl-PL")
    sign_in_with_password(page, base_url)
    page.wait_for_url("**/staff/")
    page.click("a[href='/staff/profile']")
    page.click("a[href='/staff/profile/2fa']")
    expect(page.locator("figure.qr svg")).to_be_visible()
    assert serious_violations(page) == []
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.fill("input[name=code]", totp.now())
    page.click("main form button[type=submit]")
    page.wait_for_load_state()  # the answer loaded, on a busy machine too
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)

    page.click("nav.staff-nav button[type=submit]")  # sign out
    sign_in_with_password(page, base_url)
    page.wait_for_url("**/login/code")
    assert serious_violations(page) == []
    assert page.locator("html").get_attribute("lang") == "pl"
    page.fill("input[name=code]", totp.at(datetime.now(UTC), counter_offset=1))
    page.click("main button[type=submit]")
    page.wait_for_url("**/staff/")

    page.click("nav.staff-nav button[type=submit]")
    sign_in_with_password(page, base_url)
    page.fill("input[name=code]", codes[0])  # no phone: a recovery code
    page.click("main button[type=submit]")
    page.wait_for_url("**/staff/")


def test_a_caseworker_makes_new_recovery_codes_with_a_code_from_the_app(base_url, staff, new_page):
    page = new_page(locale="pl-PL")
    sign_in_with_password(page, base_url)
    page.wait_for_url("**/staff/")
    page.goto(f"{base_url}/staff/profile/2fa")
    totp = pyotp.TOTP(page.locator("code.secret").inner_text().replace(" ", ""))
    page.fill("input[name=code]", totp.now())
    page.click("main form button[type=submit]")
    page.wait_for_load_state()  # the answer loaded, on a busy machine too
    old_codes = page.locator(".recovery-codes code").all_inner_texts()

    page.goto(f"{base_url}/staff/profile")
    page.click("a[href='/staff/profile/2fa']")
    expect(page.locator("#recovery-codes")).to_be_visible()
    assert serious_violations(page) == []
    page.fill("input[name=code]", old_codes[0])  # a recovery code cannot renew the sheet
    page.click("main form button[type=submit]")
    page.wait_for_load_state()  # the answer loaded, on a busy machine too
    expect(page.locator("#code-error")).to_be_visible()
    assert serious_violations(page) == []
    page.fill("input[name=code]", totp.at(datetime.now(UTC), counter_offset=1))
    page.click("main form button[type=submit]")
    page.wait_for_load_state()  # the answer loaded, on a busy machine too
    new_codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert serious_violations(page) == []

    page.click("nav.staff-nav button[type=submit]")
    sign_in_with_password(page, base_url)
    page.fill("input[name=code]", old_codes[1])
    page.click("main button[type=submit]")
    page.wait_for_load_state()  # the answer loaded, on a busy machine too
    expect(page.locator("#code-error")).to_be_visible()
    page.fill("input[name=code]", new_codes[0])
    page.click("main button[type=submit]")
    page.wait_for_url("**/staff/")
