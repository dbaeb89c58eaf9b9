"""Browser tests: the app served over HTTP on the test database (CSRF on, as in production) and
Debian's Chromium driven by Playwright, one browser for the whole session."""

import os

import pytest

from referral import create_app
from referral.config import TestConfig

from .server import serving

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_app(app):
    """A second app on the session's test database, with CSRF protection switched on."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "WTF_CSRF_ENABLED": True,
    }
    return create_app(type("Live", (TestConfig,), settings))


@pytest.fixture(scope="session")
def live_server(live_app):
    with serving(live_app) as url:
        yield url


@pytest.fixture
def base_url(live_server, directory):
    """The live server's URL, with the demo directory loaded for this test."""
    return live_server


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """``new_page(**context_options)``: a page in a fresh browser context (no shared cookies)."""
    contexts = []

    def make(**options):
        context = browser.new_context(**{"viewport": {"width": 360, "height": 640}, **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
