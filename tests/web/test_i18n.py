"""Three languages: the URL carries the language on public pages, the browser picks the first."""

import re

import pytest
from werkzeug.exceptions import (
    BadRequest,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    TooManyRequests,
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("uk-UA,uk;q=0.9", "/uk/"),
        ("ru-RU,ru;q=0.9,en;q=0.5", "/uk/"),
        ("pl-PL,pl;q=0.9,en;q=0.8", "/pl/"),
        ("de-DE,de;q=0.9", "/en/"),
        ("de-DE,pl;q=0.5", "/pl/"),
        ("", "/en/"),
    ],
)
def test_root_redirects_by_browser_language(client, directory, accept, expected):
    response = client.get("/", headers={"Accept-Language": accept})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("uk", "Допомога для мігрантів і біженців у Польщі"),
        ("pl", "Pomoc dla migrantów i uchodźców w Polsce"),
        ("en", "Help for migrants and refugees in Poland"),
    ],
)
def test_home_page_speaks_the_language_of_its_url(client, directory, lang, title):
    page = client.get(f"/{lang}/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert title in page


def test_home_names_members_in_the_page_language(client, directory):
    assert "Асоціація «Номада»" in client.get("/uk/").get_data(as_text=True)
    assert "Nomada Association" in client.get("/en/").get_data(as_text=True)


def test_language_switcher_keeps_the_visitor_on_the_same_page(client, directory):
    page = client.get("/uk/").get_data(as_text=True)
    assert 'href="/pl/"' in page and 'href="/en/"' in page
    assert 'aria-current="true">Українська' in page


def test_unknown_language_is_not_found(client, directory):
    assert client.get("/de/").status_code == 404


def test_not_found_page_is_translated(client, directory):
    page = client.get("/nothing-here", headers={"Accept-Language": "uk"})
    assert page.status_code == 404
    assert "Сторінку не знайдено" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "title"), [("uk", "Сторінку не знайдено"), ("pl", "Nie znaleziono strony")]
)
def test_not_found_page_under_a_language_speaks_it_whatever_the_browser(
    client, directory, lang, title
):
    page = client.get(f"/{lang}/requst", headers={"Accept-Language": "en"})
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and title in html


def switch_link(html: str, code: str) -> str:
    return re.search(rf'<a href="([^"]*)" lang="{code}" hreflang="{code}"', html)[1]


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/uk/requst?from=poster", 404, "Nie znaleziono strony"),
        ("/uk/status/x/withdraw", 405, "Tu nie można tego zrobić"),  # a form's address, by GET
    ],
)
def test_the_language_switch_on_an_error_page_under_a_language_works(
    client, directory, path, status, title
):
    """A page under /<lang>/ that matched nothing: the switch used to post to /language, which
    sent the visitor back to the same path, whose language won again."""
    page = client.get(path)
    assert page.status_code == status
    target = switch_link(page.get_data(as_text=True), "pl")
    assert target == "/pl" + path.removeprefix("/uk")
    again = client.get(target)
    assert again.status_code == status
    html = again.get_data(as_text=True)
    assert '<html lang="pl">' in html and title in html


@pytest.mark.parametrize(
    ("path", "status"),
    [("/uk/", 200), ("/pl/status/lost", 200), ("/en/requst", 404), ("/uk/status/x/withdraw", 405)],
)
def test_a_page_under_a_language_says_it_in_content_language(client, directory, path, status):
    response = client.get(path, headers={"Accept-Language": "de"})
    assert response.status_code == status
    assert response.headers["Content-Language"] == path.split("/")[1]


def test_a_page_without_a_language_in_its_url_says_none(client, directory):
    response = client.get("/nothing-here", headers={"Accept-Language": "uk"})
    assert "Content-Language" not in response.headers


@pytest.mark.parametrize(
    "error",
    [
        BadRequest,
        NotFound,
        MethodNotAllowed,
        RequestEntityTooLarge,
        TooManyRequests,
        InternalServerError,
        RuntimeError,
    ],
)
def test_an_error_pages_title_names_the_error_as_its_heading_does(app, directory, error):
    """The title, which a screen reader says first, was "Щось пішло не так" for every error,
    whatever the heading said ("Сторінку не знайдено", "Забагато запитів")."""
    with app.test_request_context("/uk/failing"):
        response = app.make_response(app.handle_user_exception(error()))
    html = response.get_data(as_text=True)
    title = re.search(r"<title>(.*?) · [^<]*</title>", html).group(1)
    assert re.findall(r"<h1>(.*?)</h1>", html) == [title]


def test_staff_pages_use_the_users_language(app, login_as):
    client = login_as("homo-faber")
    assert '<html lang="pl">' in client.get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "month"), [("en", "December"), ("pl", "grudnia"), ("uk", "грудня")]
)
def test_a_deadline_names_its_month_in_words(app, client, directory, lang, month):
    """The short formats wrote 12/2/26, 5:00 PM in English (read in Poland as 12 February) and
    02.12.26 in Ukrainian; a deadline now says "2 grudnia, 17:00" and the like."""
    from datetime import UTC, datetime

    from referral.i18n import moment

    with app.test_request_context(f"/{lang}/"):
        from flask_babel import force_locale

        with force_locale(lang):
            text = moment(datetime(2030, 12, 2, 16, 0, tzinfo=UTC))
    assert month in text and "17:00" in text and "PM" not in text
    assert "2030" in text  # another year than this one is said

    from .test_public import post_intake

    page = post_intake(client, lang, needs=["legal"], city="wroclaw").get_data(as_text=True)
    assert not re.search(r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b", page)  # the offer's deadline
