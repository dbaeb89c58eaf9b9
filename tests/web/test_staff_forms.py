"""Forms that fit their readers (issue 14.5): the caseworker's form in fieldsets speaking about the
person, the common languages first, "(required)" inside the label, and every staff form checked by
the server alone (novalidate), its errors in the page's language."""

import re

import pytest

from .staff_steps import PERSON, english_staff, refer  # noqa: F401 - fixture
from .test_staff import text_of

pytestmark = pytest.mark.usefixtures("english_staff")


def test_the_caseworker_form_is_in_fieldsets_with_the_common_languages_first(login_as):
    page = text_of(login_as("pfm").get("/staff/referrals/new"))
    form = re.search(r'<form method="post" action="/staff/referrals/new".*?</form>', page, re.S)[0]
    legends = [
        " ".join(re.sub(r"<[^>]+>", " ", legend).split())
        for legend in re.findall(r"<legend>(.*?)</legend>", form, re.S)
    ]
    assert legends[:3] == [
        "What help is needed",
        "What does the person need help with? (required)",
        "How urgent is it for the person?",
    ]
    assert "Contact" in legends and "Agreement" in legends
    common, rest = form.split("<details", 1)
    assert 'value="uk"' in common.split('name="languages"', 1)[1] or 'value="uk"' in common
    assert 'name="languages" type="checkbox" value="ka"' not in common
    assert 'value="ka"' in rest.split("</details>", 1)[0]
    # The input beside its own label, one list item each.
    assert re.search(
        r'<li class="check">\s*<input[^>]+id="needs-0"[^>]*>\s*<span>\s*<label for="needs-0">', form
    )


def test_the_caseworker_form_speaks_to_the_caseworker_about_the_person(login_as):
    page = text_of(login_as("pfm").get("/staff/referrals/new"))
    assert "Choose the person&#39;s city" in page or "Choose the person's city" in page
    for second_person in ("Choose your city", "your e-mail", "Your residence status"):
        assert second_person not in page
    missing = text_of(refer(login_as("pfm"), city="", phone="", email=""))
    assert "Choose the person&#39;s city" in missing or "Choose the person's city" in missing
    assert (
        "Give the person&#39;s phone number or e-mail" in missing
        or "Give the person's phone number or e-mail" in missing
    )


def test_required_stays_inside_the_label(login_as):
    page = text_of(login_as("pfm").get("/staff/referrals/new"))
    assert re.search(
        r'<label for="city">[^<]+<span class="required">\(required\)</span></label>', page
    )


@pytest.mark.parametrize("path", ["/staff/", "/staff/referrals/new", "/staff/profile"])
def test_every_staff_form_leaves_checking_to_the_server(login_as, path):
    page = text_of(login_as("pfm").get(path))
    forms = re.findall(r"<form\b[^>]*>", page)
    in_main = [f for f in forms if 'action="/language"' not in f and 'action="/logout"' not in f]
    assert in_main and all("novalidate" in f for f in in_main), in_main


def test_errors_come_in_the_pages_language(app, login_as):
    pfm = login_as("pfm")
    from referral.extensions import db
    from referral.models import User

    with app.app_context():
        db.session.execute(db.update(User).values(language="uk"))
        db.session.commit()
    page = text_of(refer(pfm, consent="", **{k: "" for k in ("needs",)}))
    assert 'lang="uk"' in page
    assert "Choose at least one kind of help." not in page
    assert PERSON["name"] in page


def refused_page_says_so(response) -> str:
    """A refused form's page: "Error:" before its title and an error summary that takes the
    focus, as on every other form; gives the summary."""
    page = text_of(response)
    title = re.search(r"<title>(.*?)</title>", page, re.S)[1]
    assert title.strip().startswith("Error:"), title
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert summary and "autofocus" in summary[0], page
    return summary[0]


@pytest.mark.parametrize(
    "path, data, message",
    [
        ("/admin/users/new", {"email": "not an address", "name": "", "role": "staff"}, "e-mail"),
        ("/admin/organisations/new", {"slug": "", "name_pl": ""}, "Enter a short name."),
        ("/admin/organisations/1/coverage", {"specialism": ""}, "Choose a specialism."),
        ("/admin/organisations/1/webhooks/new", {"url": "ftp://x"}, "https://"),
        ("/admin/organisations/1/api-tokens/new", {"name": "x" * 300}, ""),
        ("/admin/erase", {"erase-reference": ""}, "reference"),
    ],
)
def test_a_refused_admin_form_says_so_at_the_top_and_in_the_title(coordinator, path, data, message):
    summary = refused_page_says_so(coordinator.post(path, data=data))
    assert message in summary


def test_a_refused_password_change_says_so_at_the_top_and_in_the_title(login_as):
    data = {"current": "wrong", "password": "short", "repeat": "short"}
    summary = refused_page_says_so(login_as("nomada").post("/staff/profile/password", data=data))
    assert "12 characters" in summary


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/admin/reports?start=abc", "Enter a date like 2026-12-31."),
        ("/admin/audit?start=2026-13-45", "Enter a date like 2026-12-31."),
    ],
)
def test_a_date_that_cannot_be_read_gets_our_words_in_every_language(
    app, coordinator, path, expected
):
    """WTForms' own "Not a valid date value." came through in its translators' words ("Не
    дійсне значення дати.", misspelt); ours say what to type."""
    assert expected in text_of(coordinator.get(path))
    with app.app_context():
        from referral.extensions import db

        from ..helpers import user

        user("coordinator@konsorcjum.example").language = "uk"
        db.session.commit()
    page = text_of(coordinator.get(path))
    assert "Введіть дату у форматі 2026-12-31." in page
    assert "Не дійсне" not in page and "Not a valid" not in page


def test_a_capacity_that_is_not_a_whole_number_gets_one_message(app, coordinator):
    from .test_admin import organisation_form

    with app.app_context():
        from ..helpers import org

        organisation_id = org("nomada").id
    form = organisation_form(app, "nomada", capacity="1.5")
    page = text_of(coordinator.post(f"/admin/organisations/{organisation_id}", data=form))
    error = re.search(r'<p class="error" id="capacity-error">(.*?)</p>', page, re.S)[1]
    assert error.strip() == "Enter a whole number, 0 or more."
