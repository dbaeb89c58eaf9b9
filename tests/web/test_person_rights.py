"""The person's rights on their own data: who opened it (recorded on every page and export that
shows it, read by the person and the coordinator), a copy of everything held (page and JSON, from
the status link or made by the coordinator), and a privacy notice whose numbers are the
settings."""

import csv
import io
import json
import re

import pytest
from flask import render_template_string
from jinja2 import TemplateRuntimeError
from sqlalchemy import select

from referral import lifecycle
from referral.access_log import Page
from referral.extensions import db
from referral.handoff import Action
from referral.models import DataAccess, HelpRequest

from ..helpers import org, user
from .api_steps import bearer, token_for
from .staff_steps import refer


def accesses(app) -> list[tuple[str, str | None, str]]:
    """(user e-mail, organisation slug or None, page) of every opening, oldest first."""
    with app.app_context():
        return [
            (a.user.email, a.organisation.slug if a.organisation else None, a.page)
            for a in db.session.scalars(select(DataAccess).order_by(DataAccess.id))
        ]


def reference(app) -> str:
    with app.app_context():
        return db.session.scalar(select(HelpRequest.reference))


# --- who opened the data ----------------------------------------------------------------------


def test_opening_a_referral_is_recorded_with_account_organisation_and_referral(app, person):
    ((email, organisation, page),) = accesses(app)  # the holder opened it once (the fixture)
    assert (email, organisation, page) == (
        f"staff@{person.holder}.example",
        person.holder,
        Page.REFERRAL,
    )
    with app.app_context():
        access = db.session.scalar(select(DataAccess))
        assert access.referral_id == person.referral_id and access.at is not None


def test_the_caseworkers_page_after_referring_a_person_is_recorded(app, login_as):
    response = refer(login_as("pfm"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert accesses(app) == [("staff@pfm.example", "pfm", Page.SUBMITTED)]


def test_a_system_referring_a_person_is_recorded_as_the_caseworkers_page_is(app, client, staff):
    """The API's answer to a referral holds the person's status link, as the caseworker's page
    does; the page was recorded, the answer not, so a person referred through the API never read
    that the referring organisation had been given their link."""
    body = {"needs": ["legal"], "city": "wroclaw", "language": "uk", "phone": "600100200"}
    token = token_for(app, "pfm")
    answer = client.post("/api/v1/requests", json={**body, "consent": True}, headers=bearer(token))
    assert answer.status_code == 201, answer.get_json()
    with app.app_context():
        (opening,) = db.session.scalars(select(DataAccess)).all()
        request_id = db.session.scalar(select(HelpRequest.id))
        assert (opening.page, opening.user_id, opening.organisation.slug) == (
            Page.SUBMITTED,
            None,
            "pfm",
        )
        assert (opening.request_id, opening.referral_id) == (request_id, None)
        assert opening.api_token_id is not None


def test_staff_who_open_a_persons_own_pages_through_their_link_are_recorded(
    app, client, person, login_as
):
    """The caseworker who referred the person was given their link; opening the status page or
    its copy later, signed in, is a look at the person's data like any other. The person
    opening their own pages is not recorded."""
    before = accesses(app)
    assert client.get(person.path).status_code == 200
    assert client.get(f"{person.path}/copy").status_code == 200
    assert accesses(app) == before
    pfm = login_as("pfm")
    assert pfm.get(person.path).status_code == 200
    assert pfm.get(f"{person.path}/copy.json").status_code == 200
    assert accesses(app)[len(before) :] == [("staff@pfm.example", "pfm", Page.STATUS_LINK)] * 2
    assert "Polish Migration Forum" in client.get(person.path).get_data(as_text=True)


def test_the_person_sees_which_organisations_opened_their_data_never_who(
    app, client, person, coordinator
):
    coordinator.get(f"/staff/referrals/{person.referral_id}")
    with app.app_context():
        holder = user(f"staff@{person.holder}.example")
        holder.name = "Anna Staff-Member"  # the demo accounts carry their organisation's name
        db.session.commit()
    html = client.get(person.path).get_data(as_text=True)
    assert "Who opened your data" in html
    with app.app_context():
        holder = user(f"staff@{person.holder}.example")
        assert holder.organisation.name_en in html
        assert holder.name not in html and holder.email not in html
    assert "The consortium's coordinator" in html


SCROLLED_TABLE = re.compile(r'<div class="table-scroll"[^>]*>')


def test_each_table_that_scrolls_sideways_is_named_for_a_screen_reader(
    app, client, person, login_as
):
    """Focusable so that a keyboard scrolls it, the box of the openings (and of the needs on the
    caseworker's page after referring) had no role and no name: a Tab stop read as nothing."""
    status = client.get(person.path).get_data(as_text=True)
    assert SCROLLED_TABLE.findall(status) == [
        '<div class="table-scroll" tabindex="0" role="region" aria-label="Who opened your data">'
    ]
    sent = refer(login_as("pfm")).get_data(as_text=True)
    assert SCROLLED_TABLE.findall(sent) == [
        '<div class="table-scroll" tabindex="0" role="region"'
        ' aria-label="Dokąd trafiła każda potrzeba tej osoby">'
    ]
    with (
        app.test_request_context(),
        pytest.raises(TemplateRuntimeError, match="needs_a_label_or_a_caption"),
    ):
        render_template_string(
            '{% from "macros/tables.html" import scroll_table %}'
            "{% call scroll_table(['Who']) %}{% endcall %}"
        )


def test_a_coordinator_who_also_belongs_to_an_organisation_opens_as_the_coordinator(
    app, client, person, coordinator
):
    """A coordinator's account may name an organisation too; their openings were recorded as that
    organisation's, so the person read that an organisation which never had their need opened
    their data, and the trail counted it among that organisation's openings."""
    with app.app_context():
        account = user("coordinator@konsorcjum.example")
        account.organisation_id = org("sip").id
        db.session.commit()
        sip = org("sip").name_en
    coordinator.get(f"/staff/referrals/{person.referral_id}")
    coordinator.get("/admin/copy", query_string={"reference": reference(app)})
    assert accesses(app)[1:] == [
        ("coordinator@konsorcjum.example", None, Page.REFERRAL),
        ("coordinator@konsorcjum.example", None, Page.COPY),
    ]
    html = client.get(person.path).get_data(as_text=True)
    assert "The consortium's coordinator" in html and sip not in html


def test_an_organisation_that_saw_neither_the_person_nor_words_about_them_is_not_recorded(
    app, client, login_as
):
    client.post(
        "/en/request",
        data={
            "needs": ["legal"],
            "city": "wroclaw",
            "phone": "+48 600 100 200",
            "contact_channel": "phone",
            "urgency": "normal",
            "consent": "y",
        },
    )
    with app.app_context():
        referral_id = db.session.scalar(select(HelpRequest)).referrals[0].id
        holder = db.session.scalar(select(HelpRequest)).referrals[0].organisation.slug
    with app.app_context():
        lifecycle.act(
            referral_id, user(f"staff@{holder}.example"), Action.DECLINE, reason_code="no_capacity"
        )
    login_as(holder).get(f"/staff/referrals/{referral_id}")
    assert accesses(app) == []


def test_the_coordinator_reads_the_openings_in_the_audit_filtered_by_reference(
    app, person, coordinator, login_as
):
    theirs = reference(app)
    refer(login_as("pfm"), city="krakow")  # someone else's request, opened too
    html = coordinator.get(
        "/admin/audit", query_string={"reference": theirs.lower().replace("-", "")}
    ).get_data(as_text=True)
    assert "Opened the referral" in html
    assert "Referred the person" not in html  # the other request's opening is filtered out
    assert "Declined" in html and "Accepted" in html  # the request's steps are there too
    only_openings = coordinator.get("/admin/audit", query_string={"kind": "access"})
    assert "Referred the person" in only_openings.get_data(as_text=True)
    unknown = coordinator.get("/admin/audit", query_string={"reference": "ZZZ-ZZZ"})
    assert "No request has this reference." in unknown.get_data(as_text=True)


def test_reading_and_exporting_words_in_the_audit_are_openings_too(app, person, coordinator):
    page = coordinator.get("/admin/audit", query_string={"kind": "referral"})
    assert person.canaries.staff_words in page.get_data(as_text=True)
    export = coordinator.get("/admin/audit.csv", query_string={"kind": "referral"})
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert any(person.canaries.staff_words in row for row in rows)
    pages = [page for _email, _org, page in accesses(app)]
    assert pages == [Page.REFERRAL, Page.AUDIT, Page.EXPORT]


# --- a copy of my data ------------------------------------------------------------------------


def test_the_person_downloads_everything_held_about_them_in_their_language(app, client, person):
    ukrainian = person.path.replace("/en/", "/uk/")
    html = client.get(f"{ukrainian}/copy").get_data(as_text=True)
    assert 'lang="uk"' in html
    canaries = person.canaries
    for value in (canaries.name, canaries.email, canaries.story, canaries.person_words):
        assert value in html
    assert "Правова допомога" in html or "Юридична допомога" in html
    response = client.get(f"{ukrainian}/copy.json")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    copy = json.loads(response.get_data(as_text=True))
    assert copy["reference"] == reference(app)
    assert copy["request"]["name"] == person.canaries.name
    assert copy["request"]["phone"] == person.canaries.e164
    assert copy["request"]["description"] == person.canaries.story
    (need,) = copy["needs"]
    assert need["state"]["code"] == "accepted" and need["organisation"]
    assert need["received_at"] and need["offered_at"]
    assert copy["opened_by"][0]["organisation"] == need["organisation"]
    assert copy["erasure"]["while_open"] is True
    [message] = copy["your_messages"]  # what they wrote to the holder through the status link
    assert message["text"] == person.canaries.person_words and message["to"] == need["organisation"]
    # What staff wrote about the person is theirs to keep: not in the person's copy.
    assert person.canaries.internal_note not in json.dumps(copy, ensure_ascii=False)


def test_the_status_page_offers_the_copy(client, person):
    html = client.get(person.path).get_data(as_text=True)
    assert f'href="{person.path}/copy"' in html and f'href="{person.path}/copy.json"' in html


def test_the_coordinator_makes_the_copy_for_a_reference_and_it_is_recorded(
    app, person, coordinator
):
    form = coordinator.get("/admin/copy")
    assert "Make the copy" in form.get_data(as_text=True)
    found = coordinator.get("/admin/copy", query_string={"reference": reference(app)})
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and person.canaries.story in html
    assert 'lang="en"' in html  # the person wrote in English
    as_json = coordinator.get(
        "/admin/copy", query_string={"reference": reference(app), "format": "json"}
    )
    assert json.loads(as_json.get_data(as_text=True))["request"]["name"] == person.canaries.name
    assert [page for _e, _o, page in accesses(app)][-2:] == [Page.COPY, Page.COPY]
    audit = coordinator.get("/admin/audit", query_string={"kind": "access"})
    assert "Made a copy of the person's data" in audit.get_data(as_text=True)


def test_the_coordinator_is_told_when_there_is_no_such_request_or_nothing_is_held(
    app, client, person, coordinator
):
    unknown = coordinator.get("/admin/copy", query_string={"reference": "ZZZ-ZZZ"})
    assert unknown.status_code == 400
    assert "No request has this reference." in unknown.get_data(as_text=True)
    client.post(f"{person.path}/withdraw", data={"confirmed": "yes"})
    erased = coordinator.get("/admin/copy", query_string={"reference": reference(app)})
    assert erased.status_code == 400
    assert "nothing is held about the person" in erased.get_data(as_text=True)
    assert person.canaries.name not in erased.get_data(as_text=True)


def test_staff_of_an_organisation_cannot_make_copies(login_as, person):
    assert login_as(person.holder).get("/admin/copy").status_code == 404


# --- the privacy notice -----------------------------------------------------------------------

SETTINGS = {
    "RETENTION_DAYS": 37,
    "OPEN_RETENTION_DAYS": 411,
    "ACCESS_LOG_RETENTION_DAYS": 523,
    "BACKUP_RETENTION_DAYS": 19,
    "CONTROLLER_NAME": "Konsorcjum Testowe",
    "PRIVACY_CONTACT": "dane@testowe.example",
}


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_the_privacy_notice_gives_the_kept_times_and_the_controller_from_the_settings(
    app, client, directory, monkeypatch, language
):
    for name, value in SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)
    html = client.get(f"/{language}/privacy").get_data(as_text=True)
    for value in SETTINGS.values():
        assert str(value) in html, value
    assert f'href="mailto:{SETTINGS["PRIVACY_CONTACT"]}"' in html
    assert "180" not in html and "365" not in html  # no number of days written in by hand


def test_the_privacy_notice_tells_who_sees_what_and_how_to_get_a_copy_and_erase(client, directory):
    html = client.get("/en/privacy").get_data(as_text=True)
    for section in ("Who sees what", "How long we keep it", "A copy of your data"):
        assert section in html
    assert "Withdraw my request and erase my data" in html
    assert "encrypted" in html


def test_the_coordinator_erases_a_persons_data_when_they_ask_by_letter(
    app, client, person, coordinator
):
    page = coordinator.get("/admin/copy").get_data(as_text=True)
    assert "Erase a person's data" in page
    unconfirmed = coordinator.post("/admin/erase", data={"erase-reference": reference(app)})
    assert unconfirmed.status_code == 400
    assert "Confirm that the person asked for it." in unconfirmed.get_data(as_text=True)
    done = coordinator.post(
        "/admin/erase",
        data={"erase-reference": reference(app), "erase-confirmed": "y"},
        follow_redirects=True,
    )
    assert "was withdrawn and the person&#39;s data erased" in done.get_data(as_text=True)
    assert person.canaries.traces(app) == []
    assert client.get(person.path).status_code == 404
    with app.app_context():
        (referral,) = db.session.scalar(select(HelpRequest)).referrals
        last = referral.events[-1]
        assert (last.action, last.party) == ("withdraw", "coordinator")
        assert last.actor.email == "coordinator@konsorcjum.example"
    again = coordinator.post(
        "/admin/erase", data={"erase-reference": reference(app), "erase-confirmed": "y"}
    )
    assert "nothing is held about the person" in again.get_data(as_text=True)


def test_reading_a_person_through_the_api_is_an_opening_of_the_organisation(app, client, person):
    token = token_for(app, person.holder, name="holder's case system")
    answer = client.get(f"/api/v1/referrals/{person.referral_id}", headers=bearer(token))
    assert answer.get_json()["person"]["name"] == person.canaries.name
    client.get(f"/api/fhir/ServiceRequest/{person.referral_id}", headers=bearer(token))
    with app.app_context():
        api_openings = db.session.scalars(
            select(DataAccess).where(DataAccess.api_token_id.is_not(None))
        ).all()
        assert [(a.page, a.user_id, a.organisation.slug) for a in api_openings] == [
            (Page.API, None, person.holder),
            (Page.API, None, person.holder),
        ]
    status = client.get(person.path).get_data(as_text=True)
    assert "holder&#39;s case system" not in status and "case system" not in status


def test_an_api_answer_without_the_person_is_no_opening(app, client, person):
    token = token_for(app, person.declined_by)
    answer = client.get(f"/api/v1/referrals/{person.referral_id}", headers=bearer(token))
    assert answer.get_json()["personal_data"] == "not_yours"
    with app.app_context():
        assert (
            db.session.scalars(select(DataAccess).where(DataAccess.api_token_id.is_not(None))).all()
            == []
        )


def test_the_copy_gives_its_times_as_people_read_them(client, person):
    """Not "1 грудня 2026 р., 03:52:21 +0100": the day, the month in words, the year, the time."""
    page = client.get(f"{person.path}/copy").get_data(as_text=True)
    assert not re.search(r"\d\d:\d\d:\d\d|[+-]\d{4}\b", page)
    assert re.search(r"\d{1,2} \w+ \d{4}|\w+ \d{1,2}, \d{4}", page)


def test_the_copy_names_each_need_s_state_as_the_status_page_does(client, person):
    """The copy said "Offered" / "Запропоновано", the staff's word, where the status page says
    "Passed to"; it speaks to the person now, its code still the staff's."""
    copy = json.loads(client.get(f"{person.path}/copy.json").get_data(as_text=True))
    (need,) = copy["needs"]
    assert need["state"] == {"code": "accepted", "label": "Accepted by the organisation"}
    page = client.get(f"{person.path}/copy").get_data(as_text=True)
    assert "Accepted by the organisation" in page


def test_the_audit_names_the_request_of_an_opening_made_without_a_referral(
    app, person, coordinator, login_as
):
    """A copy of a person's data and the caseworker's page after referring are openings of the
    request, not of one referral: the trail and its CSV named no request for them, so the
    coordinator read "Made a copy of the person's data" without learning whose."""
    theirs = reference(app)
    coordinator.get("/admin/copy", query_string={"reference": theirs})
    refer(login_as("pfm"), city="krakow")
    with app.app_context():
        referred = db.session.scalar(
            select(HelpRequest.reference).where(HelpRequest.reference != theirs)
        )
    html = coordinator.get("/admin/audit", query_string={"kind": "access"}).get_data(as_text=True)
    rows = re.findall(r"<tr>.*?</tr>", html, re.S)
    copied = next(row for row in rows if "Made a copy of the person's data" in row)
    submitted = next(row for row in rows if "Referred the person" in row)
    assert theirs in copied and referred not in copied
    assert referred in submitted and theirs not in submitted
    export = coordinator.get("/admin/audit.csv", query_string={"kind": "access"})
    lines = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert {(line[1], line[2]) for line in lines[1:]} >= {
        (Page.COPY, theirs),
        (Page.SUBMITTED, referred),
    }
