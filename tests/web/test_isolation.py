"""Isolation over the whole URL map, CSRF on every POST route, and the issue's "Done when"
scenario from the first referral to the mails that arrived."""

import re

import pytest
from flask import url_for

from referral.extensions import db
from referral.models import Referral

from .staff_steps import (
    act,
    english_staff,  # noqa: F401 - fixture
    latest_referral,
    placement,
    refer,
    reference_of,
)

pytestmark = pytest.mark.usefixtures("english_staff")

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def referral_routes(app, referral_id: int) -> list[tuple[str, str]]:
    """(method, URL) of every page about one referral, whichever blueprint added it. The API's
    routes take no cookie (401 to these clients): test_api_referrals.py covers them."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "referral_id" in rule.arguments and not rule.endpoint.startswith("api."):
            url = rule.rule.replace("<int:referral_id>", str(referral_id))
            routes += [(method, url) for method in sorted(rule.methods - IGNORED_METHODS)]
    return routes


def statuses(client, routes) -> dict[tuple[str, str], int]:
    return {(m, url): client.open(url, method=m).status_code for m, url in routes}


def staff_routes(app, referral_id):
    return [(m, url) for m, url in referral_routes(app, referral_id) if url.startswith("/staff/")]


def test_the_referral_routes_are_all_found(app):
    urls = {url for _m, url in staff_routes(app, 7)}
    expected = {"", "/accept", "/decline", "/start", "/hand-back", "/close", "/withdraw", "/notes"}
    assert {f"/staff/referrals/7{suffix}" for suffix in expected} <= urls


def test_other_organisations_get_404_on_every_route_of_a_referral(app, login_as):
    refer(login_as("pfm"))
    referral_id = db_referral_id(app)
    for outsider in ("sip", "homo-faber", "mip-poznan"):
        seen = statuses(login_as(outsider), referral_routes(app, referral_id))
        assert set(seen.values()) == {404}, (outsider, seen)
    assert placement(app, referral_id) == ("offered", "nomada")


def test_a_referral_that_does_not_exist_answers_404_like_anothers(app, login_as):
    seen = statuses(login_as("pfm"), referral_routes(app, 999_999))
    assert set(seen.values()) == {404}


def test_coordinator_reaches_every_referral_route(app, login_as):
    refer(login_as("pfm"))
    referral_id = db_referral_id(app)
    seen = statuses(login_as("coordinator"), staff_routes(app, referral_id))
    # The case summary is the holding organisation's alone (decision 0029).
    assert seen.pop(("GET", f"/staff/referrals/{referral_id}/summary")) == 404
    assert 404 not in seen.values(), seen


def test_every_post_without_a_valid_csrf_token_is_refused(app, login_as):
    refer(login_as("pfm"))
    referral_id = db_referral_id(app)
    signed_in = login_as("nomada")
    anonymous = app.test_client()
    posts = []
    for rule in app.url_map.iter_rules():
        # The API takes a token, not a cookie: no CSRF token is asked (test_api_referrals.py).
        if "POST" in rule.methods and not rule.endpoint.startswith("api."):
            values = {arg: _example(arg, referral_id) for arg in rule.arguments}
            with app.test_request_context():
                posts.append(url_for(rule.endpoint, **values))
    assert len(posts) > 10
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for url in posts:
            for client in (signed_in, anonymous):
                assert client.post(url, data={}).status_code == 400, url
                assert client.post(url, data={"csrf_token": "forged"}).status_code == 400, url
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert placement(app, referral_id) == ("offered", "nomada")


def _example(argument: str, referral_id: int):
    """A plausible value for a URL argument, so the route is reached, not a 404 from routing."""
    if argument == "lang":
        return "en"
    if argument.endswith("id"):
        return referral_id
    return "x" * 43


def db_referral_id(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Referral.id).order_by(Referral.id.desc()))


def test_done_when(app, login_as, smtp_server):
    """pfm refers a person needing legal help in Wrocław; nomada declines for lack of capacity;
    hfpc, the next candidate, accepts and closes it as resolved; everyone sees what they should."""
    pfm, nomada, hfpc = login_as("pfm"), login_as("nomada"), login_as("hfpc")

    confirmation = refer(pfm).get_data(as_text=True)
    status_path = re.search(r'href="https?://[^/"]+(/uk/status/[^"]+)"', confirmation).group(1)
    referral_id = db_referral_id(app)
    reference = reference_of(app, referral_id)
    assert set(statuses(hfpc, referral_routes(app, referral_id)).values()) == {404}

    offered = nomada.get("/staff/").get_data(as_text=True)
    offered = offered[offered.index('id="offered"') : offered.index('id="cases"')]
    assert reference in offered and re.search(r"\d+ (hours?|days?) left", offered)
    act(app, nomada, referral_id, "decline", reason="no_capacity")
    assert placement(app, referral_id) == ("offered", "hfpc")

    assert reference in hfpc.get("/staff/").get_data(as_text=True)
    assert hfpc.get(f"/staff/referrals/{referral_id}").status_code == 200
    act(app, hfpc, referral_id, "accept")
    act(app, hfpc, referral_id, "close", outcome="resolved")
    assert placement(app, referral_id) == ("closed", "hfpc")

    sent = pfm.get("/staff/").get_data(as_text=True)
    sent = sent[sent.index('id="sent"') :]
    assert reference in sent and "Closed" in sent and "Resolved" in sent
    history = pfm.get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    for step in (
        "Offered to Nomada Association.",
        "Nomada Association declined the referral: We have no capacity now.",
        "Offered to Helsinki Foundation for Human Rights.",
        "Helsinki Foundation for Human Rights accepted the referral.",
        "Helsinki Foundation for Human Rights closed the referral. Outcome: Resolved.",
    ):
        assert step in history

    status = app.test_client().get(status_path).get_data(as_text=True)
    assert 'lang="uk"' in status and "state-closed" in status and reference in status

    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert "Sent: 5" in result.output
    arrived = {(m["To"], m["Subject"]) for m in smtp_server.messages}
    # The person: their link by e-mail (the news of each step goes by SMS, as they chose phone).
    assert [m["To"] for m in smtp_server.messages] == [
        "olena@example.com",
        "staff@nomada.example",
        "staff@hfpc.example",
        "staff@pfm.example",
        "staff@pfm.example",
    ], arrived


def test_a_coordinator_whose_account_names_an_organisation_acts_for_the_consortium(app, login_as):
    """A coordinator's account may name an organisation too (sip here). Their notes were that
    organisation's, read by its staff on a referral it never had; a person they referred was
    that organisation's to see and withdraw; their steps were its steps, to its webhooks."""
    from referral.models import Note, ReferralEvent

    from ..helpers import org, user

    with app.app_context():
        user("coordinator@konsorcjum.example").organisation_id = org("sip").id
        db.session.commit()
    coordinator, sip = login_as("coordinator"), login_as("sip")

    refer(login_as("pfm"))
    offered = latest_referral(app)[0]
    note = {"body": "For coordinators only: COORD-WORDS", "shared": ""}
    assert coordinator.post(f"/staff/referrals/{offered}/notes", data=note).status_code == 302
    unmatched = {"needs": ["psychological"], "city": "chelm"}  # nobody covers it there
    assert refer(coordinator, **unmatched).status_code == 200
    referred = latest_referral(app)[0]
    assert placement(app, referred) == ("unmatched", None)
    assert act(app, coordinator, referred, "withdraw", confirmed="y").status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(Note.organisation_id)) is None
        request = db.session.get(Referral, referred).request
        assert request.referring_organisation_id is None
        step = db.session.scalars(
            db.select(ReferralEvent).where(ReferralEvent.referral_id == referred)
        ).all()[-1]
        assert (step.action, step.organisation_id) == ("withdraw", None)
    assert sip.get(f"/staff/referrals/{offered}").status_code == 404
    assert "COORD-WORDS" not in login_as("nomada").get(f"/staff/referrals/{offered}").get_data(
        as_text=True
    )
    assert sip.get(f"/staff/referrals/{referred}").status_code == 404
