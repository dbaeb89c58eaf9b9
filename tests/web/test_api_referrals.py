"""The referral API with an organisation's token: who gets in, what each organisation sees, the
actions through the same use cases, notes, referring a person, problems, audit, rate limit."""

import base64
import io
import json
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referral.extensions import db
from referral.models import ApiCall, ApiToken, HelpRequest, Note, ReferralEvent, utcnow

from ..helpers import org
from .api_steps import act, bearer, placement, referral_to, token_for

LIST = "/api/v1/referrals"


@pytest.fixture
def tokens(app, directory):
    """A read-write token for nomada (offered legal help in Wrocław first), hfpc (next), pfm (a
    referrer) and sip (an outsider)."""
    return {slug: token_for(app, slug) for slug in ("nomada", "hfpc", "pfm", "sip")}


def api_routes(app, referral_id: int) -> list[tuple[str, str]]:
    """(method, URL) of every API route about one referral."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and "referral_id" in rule.arguments:
            url = rule.rule.replace("<int:referral_id>", str(referral_id))
            routes += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


# --- who gets in --------------------------------------------------------------------------------


def test_calls_without_a_live_token_get_401_as_a_problem(app, client, tokens):
    revoked = token_for(app, "nomada")
    with app.app_context():
        token = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
        token.revoked_at = utcnow()
        db.session.commit()
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": tokens["nomada"]},
        bearer(revoked),
    ):
        answer = client.get(LIST, headers=headers)
        assert answer.status_code == 401
        assert answer.content_type == "application/problem+json"
        assert answer.get_json()["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_staff_cookie_does_not_open_the_api(app, login_as, tokens):
    referral_id = referral_to(app)
    nomada = login_as("nomada")
    assert nomada.get(LIST).status_code == 401
    assert nomada.post(f"{LIST}/{referral_id}/accept", json={"version": 1}).status_code == 401
    assert placement(app, referral_id) == ("offered", "nomada")


def test_a_token_does_not_open_the_html_pages(app, client, staff, tokens):
    referral_id = referral_to(app)
    for url in ("/staff/", f"/staff/referrals/{referral_id}", "/admin/"):
        answer = client.get(url, headers=bearer(tokens["nomada"]))
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], url


def test_another_organisations_referral_is_404_on_every_api_route(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm")
    routes = api_routes(app, referral_id)
    assert len(routes) >= 10
    for method, url in routes:
        answer = client.open(url, method=method, json={"version": 1}, headers=bearer(tokens["sip"]))
        assert answer.status_code == 404, (method, url, answer.get_json())
        assert answer.get_json()["code"] == "not_found"
    for method, url in api_routes(app, 999_999):
        answer = client.open(url, method=method, json={"version": 1}, headers=bearer(tokens["pfm"]))
        assert answer.status_code == 404, (method, url)
    assert placement(app, referral_id) == ("offered", "nomada")


# --- reading ------------------------------------------------------------------------------------


def test_each_box_lists_what_the_organisation_would_see_in_its_inbox(app, client, tokens):
    offered = referral_to(app, referrer="pfm")
    accepted = referral_to(app, referrer="pfm")
    assert act(client, tokens["nomada"], accepted, "accept").status_code == 200

    def ids(token, query=""):
        answer = client.get(f"{LIST}{query}", headers=bearer(token))
        assert answer.status_code == 200, answer.get_json()
        return [item["id"] for item in answer.get_json()["items"]]

    assert ids(tokens["nomada"], "?box=offered") == [offered]
    assert ids(tokens["nomada"], "?box=ours") == [accepted]
    assert ids(tokens["pfm"], "?box=sent") == [offered, accepted]
    assert ids(tokens["pfm"], "?box=offered") == []
    assert ids(tokens["sip"]) == []
    assert ids(tokens["pfm"], "?state=accepted") == [accepted]
    assert ids(tokens["pfm"], "?need=housing") == []
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert ids(tokens["pfm"], f"?updated_since={later.replace('+', '%2B')}") == []


def test_the_cursor_walks_every_referral_once_and_a_changed_one_comes_again(app, client, tokens):
    made = [referral_to(app, referrer="pfm") for _ in range(5)]
    seen, cursor = [], ""
    while True:
        page = client.get(f"{LIST}?limit=2{cursor}", headers=bearer(tokens["pfm"])).get_json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == made
    act(client, tokens["nomada"], made[0], "accept")
    page = client.get(f"{LIST}?{cursor[1:]}", headers=bearer(tokens["pfm"])).get_json()
    assert [item["id"] for item in page["items"]] == [made[4], made[0]]


def test_polling_from_the_resume_cursor_gives_only_what_changed_since(app, client, tokens):
    """A list that fits one page gave no cursor at all, and the last page's cursor gave that page
    again: ``resume_cursor`` is where the answer ended, whatever the page."""
    made = [referral_to(app, referrer="pfm") for _ in range(3)]
    page = client.get(f"{LIST}?limit=50", headers=bearer(tokens["pfm"])).get_json()
    assert [item["id"] for item in page["items"]] == made and page["next_cursor"] is None

    def since(cursor: str) -> dict:
        return client.get(f"{LIST}?cursor={cursor}", headers=bearer(tokens["pfm"])).get_json()

    quiet = since(page["resume_cursor"])
    assert quiet["items"] == [] and quiet["resume_cursor"] == page["resume_cursor"]
    act(client, tokens["nomada"], made[1], "accept")
    changed = since(page["resume_cursor"])
    assert [item["id"] for item in changed["items"]] == [made[1]]
    assert since(changed["resume_cursor"])["items"] == []


def test_a_cursor_that_was_not_given_out_is_a_400(client, tokens):
    answer = client.get(f"{LIST}?cursor=not-a-cursor", headers=bearer(tokens["pfm"]))
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_cursor"


def cursor_of(moment: str, referral_id) -> str:
    raw = json.dumps([moment, referral_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("updated_since=0001-01-01T00:00:00%2B14:00", 422, "invalid_request"),
        ("updated_since=9999-12-31T23:59:59-14:00", 422, "invalid_request"),
        (f"cursor={cursor_of('2024-01-01T00:00:00+00:00', 10**30)}", 400, "invalid_cursor"),
        (f"cursor={cursor_of('2024-01-01T00:00:00+00:00', True)}", 400, "invalid_cursor"),
        (f"cursor={cursor_of('0001-01-01T00:00:00+14:00', 1)}", 400, "invalid_cursor"),
        (f"cursor={cursor_of('9999-12-31T23:59:59-14:00', 1)}", 400, "invalid_cursor"),
    ],
)
def test_moments_and_ids_beyond_the_service_s_years_are_refused_not_a_500(
    client, tokens, query, status, code
):
    """Python's calendar ends at years 1 and 9999 in UTC, PostgreSQL's integers at 64 bits: a
    moment there in another zone, or a huge id, made the list answer 500."""
    answer = client.get(f"{LIST}?{query}", headers=bearer(tokens["pfm"]))
    assert (answer.status_code, answer.get_json()["code"]) == (status, code)


def test_personal_data_goes_to_the_holder_and_the_sender_only(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm", name="Olena", description="Needs a lawyer")
    for slug in ("nomada", "pfm"):
        seen = client.get(f"{LIST}/{referral_id}", headers=bearer(tokens[slug])).get_json()
        assert seen["personal_data"] == "shown"
        assert seen["person"]["name"] == "Olena" and seen["person"]["phone"] == "+48 600 100 200"
    assert (
        act(client, tokens["nomada"], referral_id, "decline", reason="no_capacity").status_code
        == 200
    )
    assert placement(app, referral_id) == ("offered", "hfpc")
    declined = client.get(f"{LIST}/{referral_id}", headers=bearer(tokens["nomada"])).get_json()
    assert declined["personal_data"] == "not_yours" and declined["person"] is None
    assert declined["allowed_actions"] == []
    assert "Olena" not in str(declined)


def test_erased_personal_data_is_said_to_be_erased(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm", name="Olena")
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        from referral import lifecycle

        lifecycle.withdraw_request(request)
        db.session.remove()
    seen = client.get(f"{LIST}/{referral_id}", headers=bearer(tokens["pfm"])).get_json()
    assert seen["state"] == "withdrawn"
    assert seen["personal_data"] == "erased" and seen["person"] is None


# --- acting -------------------------------------------------------------------------------------


def test_accept_start_and_close_through_the_api_are_recorded_as_the_token(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm")
    accepted = act(client, tokens["nomada"], referral_id, "accept")
    assert accepted.status_code == 200
    assert accepted.get_json()["state"] == "accepted"
    assert set(accepted.get_json()["allowed_actions"]) == {"start", "hand_back", "close"}
    assert act(client, tokens["nomada"], referral_id, "start").get_json()["state"] == "in_progress"
    closed = act(client, tokens["nomada"], referral_id, "close", outcome="resolved").get_json()
    assert (closed["state"], closed["outcome"]) == ("closed", "resolved")
    with app.app_context():
        events = db.session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.id)
        ).all()
        assert [e.action for e in events] == ["route", "accept", "start", "close"]
        assert all(e.actor_id is None for e in events)
        assert {e.api_token.name for e in events[1:]} == {"nomada system"}
        assert {e.organisation.slug for e in events[1:]} == {"nomada"}


def test_a_stale_version_gets_409_and_changes_nothing(app, client, tokens):
    referral_id = referral_to(app)
    answer = act(client, tokens["nomada"], referral_id, "accept", version=99)
    assert answer.status_code == 409 and answer.get_json()["code"] == "stale_version"
    assert placement(app, referral_id) == ("offered", "nomada")


def test_what_the_party_rules_refuse_is_refused_through_the_api(app, client, tokens):
    referral_id = referral_to(app, referrer="pfm")
    not_yours = act(client, tokens["pfm"], referral_id, "accept")
    assert not_yours.status_code == 403 and not_yours.get_json()["code"] == "not_yours"
    not_now = act(client, tokens["nomada"], referral_id, "start")
    assert not_now.status_code == 409 and not_now.get_json()["code"] == "not_allowed_now"
    explain = act(client, tokens["nomada"], referral_id, "decline", reason="other", text="  ")
    assert explain.status_code == 422 and explain.get_json()["code"] == "explanation_required"
    assert placement(app, referral_id) == ("offered", "nomada")
    withdrawn = act(client, tokens["pfm"], referral_id, "withdraw")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "withdrawn"


def test_a_read_only_token_reads_but_changes_nothing(app, client, tokens):
    reader = token_for(app, "nomada", read_only=True)
    referral_id = referral_to(app)
    assert client.get(f"{LIST}/{referral_id}", headers=bearer(reader)).status_code == 200
    answer = act(client, reader, referral_id, "accept")
    assert answer.status_code == 403 and answer.get_json()["code"] == "read_only_token"
    assert placement(app, referral_id) == ("offered", "nomada")


def test_a_body_that_does_not_fit_is_a_422_naming_the_fields_without_echoing_them(
    client, app, tokens
):
    referral_id = referral_to(app)
    answer = client.post(
        f"{LIST}/{referral_id}/decline",
        json={"version": "x", "reason": "secret-typed-by-someone", "extra": 1},
        headers=bearer(tokens["nomada"]),
    )
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["code"] == "invalid_request"
    assert {e["location"] for e in problem["errors"]} == {"version", "reason", "extra"}
    assert "secret-typed-by-someone" not in answer.get_data(as_text=True)
    form = client.post(
        f"{LIST}/{referral_id}/accept", data={"version": "1"}, headers=bearer(tokens["nomada"])
    )
    assert form.status_code == 415 and form.get_json()["code"] == "unsupported_media_type"


def test_a_version_must_be_the_integer_read(client, app, tokens):
    referral_id = referral_to(app)
    answer = client.post(
        f"{LIST}/{referral_id}/accept", json={"version": "1"}, headers=bearer(tokens["nomada"])
    )
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["location"] == "version"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", '{"version":', 400, "bad_request"),
        ("text/plain", '{"version": 1}', 415, "unsupported_media_type"),
        ("application/json", "[" * 5000 + "]" * 5000, 400, "bad_request"),
    ],
)
def test_a_body_that_cannot_be_read_is_said_so_not_field_by_field(
    client, app, tokens, content_type, body, status, code
):
    """Broken JSON, or JSON sent as text, was answered 422 "Field required" for every field;
    JSON nested deeper than the parser goes, 500."""
    answer = client.post(
        f"{LIST}/{referral_to(app)}/accept",
        data=body,
        headers={**bearer(tokens["nomada"]), "Content-Type": content_type},
    )
    assert (answer.status_code, answer.get_json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{bad", 400, "bad_request"),
        (b"[" * 5000 + b"]" * 5000, 400, "bad_request"),
        (b'{"body": "' + b"a" * 300_000 + b'"}', 413, "too_large"),
    ],
)
def test_a_chunked_body_is_checked_as_one_with_its_length(client, app, tokens, body, status, code):
    """A chunked body has no Content-Length: it skipped the checks and was answered 422 (gunicorn
    hands it on whole, saying so with ``wsgi.input_terminated``)."""
    answer = client.post(
        f"{LIST}/{referral_to(app)}/accept",
        input_stream=io.BytesIO(body),
        environ_overrides={"wsgi.input_terminated": True},
        headers={
            **bearer(tokens["nomada"]),
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    assert (answer.status_code, answer.get_json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("pl", "Potrzebny jest ważny token API."),
        ("uk", "Потрібен чинний токен API."),
        ("en", "A valid API token is needed."),
    ],
)
def test_problem_titles_follow_accept_language(client, language, title):
    answer = client.get(LIST, headers={"Accept-Language": f"{language};q=1"})
    assert answer.get_json()["title"] == title
    assert "Accept-Language" in answer.headers["Vary"]


# --- notes and new requests ---------------------------------------------------------------------


def test_notes_shared_reach_the_other_side_internal_ones_stay_home(app, client, login_as, tokens):
    referral_id = referral_to(app, referrer="pfm")
    url = f"{LIST}/{referral_id}/notes"
    internal = client.post(url, json={"body": "Call on Monday"}, headers=bearer(tokens["nomada"]))
    assert internal.status_code == 201
    assert internal.get_json()["author"] == "nomada system"
    shared = client.post(
        url,
        json={"body": "We have a lawyer free", "shared": True},
        headers=bearer(tokens["nomada"]),
    )
    assert shared.status_code == 201

    def bodies(slug):
        seen = client.get(f"{LIST}/{referral_id}", headers=bearer(tokens[slug])).get_json()
        return [note["body"] for note in seen["notes"]]

    assert bodies("nomada") == ["Call on Monday", "We have a lawyer free"]
    assert bodies("pfm") == ["We have a lawyer free"]
    refused = client.post(url, json={"body": "x"}, headers=bearer(tokens["hfpc"]))
    assert refused.status_code == 404  # hfpc was never offered it: it cannot see it
    page = login_as("pfm").get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert "We have a lawyer free" in page and "nomada system" in page
    with app.app_context():
        assert {n.author_id for n in db.session.scalars(select(Note))} == {None}


def test_a_caseworkers_system_refers_a_person_and_gets_the_status_link_once(app, client, tokens):
    answer = client.post(
        "/api/v1/requests",
        json={
            "needs": ["legal", "housing"],
            "city": "wroclaw",
            "language": "uk",
            "languages": ["uk", "ru"],
            "name": "Olena",
            "phone": "600 100 200",
            "consent": True,
        },
        headers=bearer(tokens["pfm"]),
    )
    assert answer.status_code == 201, answer.get_json()
    submitted = answer.get_json()
    assert [r["need"] for r in submitted["referrals"]] == ["legal", "housing"]
    assert {r["referring_organisation"]["slug"] for r in submitted["referrals"]} == {"pfm"}
    status_path = submitted["status_url"].split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{status_path}").status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        assert request.phone == "+48600100200" and request.submitted_by_id is None
        assert request.submitted_by_token_id is not None
        assert request.referring_organisation.slug == "pfm"


def test_a_referral_retried_with_its_idempotency_key_is_made_once(app, client, tokens):
    """After a timeout a system cannot tell whether its call got through: sent again with the
    same Idempotency-Key it makes nothing more and learns the reference made first."""
    body = {"needs": ["legal"], "city": "wroclaw", "language": "pl", "phone": "600100200"}
    body["consent"] = True

    def refer(key: str, token: str = tokens["pfm"]):
        headers = {**bearer(token), "Idempotency-Key": key}
        return client.post("/api/v1/requests", json=body, headers=headers)

    first = refer("case-4711")
    again = refer("case-4711")
    assert (first.status_code, again.status_code) == (201, 409)
    assert again.get_json()["code"] == "already_sent"
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert refer("case-4712").status_code == 201  # another person
    assert refer("case-4711", tokens["nomada"]).status_code == 201  # another organisation's key
    too_long = refer("k" * 201)  # named, as any field that does not fit (it was a bare 400)
    assert (too_long.status_code, too_long.get_json()["code"]) == (422, "invalid_request")
    assert [e["location"] for e in too_long.get_json()["errors"]] == ["Idempotency-Key"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HelpRequest)) == 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"city": None, "voivodeship": "99"}, "unknown_place"),
        ({"city": "atlantis"}, "unknown_place"),
        # PostgreSQL refuses NUL in a look-up: it answered 500.
        ({"city": "wroclaw\x00"}, "invalid_request"),
        ({"city": None, "voivodeship": "0\x002"}, "invalid_request"),
        ({"phone": None}, "contact_required"),
        ({"consent": False}, "invalid_request"),
        ({"needs": []}, "invalid_request"),
        ({"phone": "12"}, "invalid_request"),
    ],
)
def test_a_request_that_cannot_be_routed_or_reached_is_a_422(client, tokens, change, code):
    body = {
        "needs": ["legal"],
        "city": "wroclaw",
        "language": "pl",
        "phone": "600100200",
        "consent": True,
        **change,
    }
    answer = client.post("/api/v1/requests", json=body, headers=bearer(tokens["pfm"]))
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["code"] == code
    assert "reference" not in answer.get_json()  # what was sent is not said back (atlantis)


def test_a_lone_surrogate_in_what_a_system_writes_is_a_422_not_a_500(app, client, tokens):
    """JSON may escape half of a character ("\\ud800"), which no text can be encrypted or
    stored as: the encryption failed with a 500."""
    body = {"needs": ["legal"], "city": "wroclaw", "language": "pl", "phone": "600100200"}
    for field in ("name", "description"):
        answer = client.post(
            "/api/v1/requests",
            json={**body, "consent": True, field: "Ol\ud800ena"},
            headers=bearer(tokens["pfm"]),
        )
        assert answer.status_code == 422 and answer.get_json()["code"] == "invalid_request"
    referral_id = referral_to(app, "legal")
    declined = act(client, tokens["nomada"], referral_id, "decline", reason="other", text="x\udfff")
    assert declined.status_code == 422 and declined.get_json()["code"] == "invalid_request"
    assert placement(app, referral_id) == ("offered", "nomada")


# --- audit and rate limit -----------------------------------------------------------------------


def test_every_call_with_a_token_is_in_the_audit_trail_as_its_organisations(
    app, client, coordinator, tokens
):
    referral_id = referral_to(app)
    client.get(f"{LIST}/{referral_id}", headers=bearer(tokens["nomada"]))
    act(client, tokens["nomada"], referral_id, "accept", version=99)
    client.get(f"{LIST}/{referral_id}", headers=bearer(tokens["sip"]))
    with app.app_context():
        calls = db.session.scalars(select(ApiCall).order_by(ApiCall.id)).all()
        assert [(c.organisation_id, c.method, c.status, c.referral_id) for c in calls] == [
            (org("nomada").id, "GET", 200, referral_id),
            (org("nomada").id, "POST", 409, referral_id),
            (org("sip").id, "GET", 404, referral_id),
        ]
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "nomada system"))
        assert token.last_used_at is not None
        nomada_id = org("nomada").id
    trail = coordinator.get(f"/admin/audit?kind=api&organisation_id={nomada_id}")
    page = trail.get_data(as_text=True)
    assert trail.status_code == 200
    assert "nomada system" in page and "/api/v1/referrals/&lt;int:referral_id&gt;/accept" in page
    assert "sip system" not in page


def test_the_rate_limit_counts_each_token_apart(app, limited_app, tokens):
    limited_app.config["API_RATE_LIMIT"] = "3 per minute"
    client = limited_app.test_client()
    answers = [client.get(LIST, headers=bearer(tokens["nomada"])).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = client.get(LIST, headers=bearer(tokens["nomada"]))
    assert limited.get_json()["code"] == "rate_limited"
    assert limited.content_type == "application/problem+json"
    assert client.get(LIST, headers=bearer(tokens["pfm"])).status_code == 200


def test_retry_after_comes_with_a_refusal_only(app, limited_app, tokens):
    """Flask-Limiter sent Retry-After with every answer it counted, where RFC 9110 gives it a
    meaning only with 429 and 503 (and a redirect, whose following it would delay); the limit's
    own headers stay on every answer."""
    limited_app.config["API_RATE_LIMIT"] = "2 per minute"
    client = limited_app.test_client()
    answers = [client.get(LIST, headers=bearer(tokens["nomada"])) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["1", "0", "0"]
    assert not any("Retry-After" in answer.headers for answer in answers[:2])
    assert 0 < int(answers[2].headers["Retry-After"]) <= 60
    public = client.get("/api/v1/hsds/organizations")
    assert public.status_code == 200 and "Retry-After" not in public.headers


def test_made_up_tokens_share_their_address_limit(app, limited_app, tokens):
    """A bucket per token is for real tokens: a made-up one each call had a bucket of its own,
    so guesses (each a 401 and a lookup) and the public directory were never limited."""
    limited_app.config["API_RATE_LIMIT"] = "3 per minute"

    def calls(address: str, path: str, token: str | None = None) -> list[int]:
        client = limited_app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return [
            client.get(path, headers=bearer(token or secrets.token_urlsafe(32))).status_code
            for _ in range(4)
        ]

    assert calls("10.0.0.1", LIST) == [401, 401, 401, 429]
    assert calls("10.0.0.2", "/api/v1/hsds/organizations") == [200, 200, 200, 429]
    # A real token's calls count against the token, wherever they come from.
    assert calls("10.0.0.3", LIST, tokens["nomada"]) == [200, 200, 200, 429]
