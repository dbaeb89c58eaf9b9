"""The OpenAPI document is valid OpenAPI 3.1, and the live app keeps to it: schemathesis calls every
operation with generated requests, on SQLite and on PostgreSQL, and checks that no answer is a
server error and that each one's status, media type, headers and body are those documented."""

import itertools
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from referral import api_tokens, lifecycle, seed
from referral.extensions import db

from .databases import KINDS, app_on, empty_tables
from .helpers import intake, org
from .web.api_steps import bearer, referral_to, token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


def test_the_reference_page_describes_every_operation_and_problem(client):
    page = client.get("/api/v1/reference").get_data(as_text=True)
    document = client.get("/api/v1/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in page
    assert 'id="problem-stale_version"' in page
    assert "<script" not in page
    # The document's `code` spans read as code, not as backticks (38 of them were shown so).
    assert "<code>Idempotency-Key</code>" in page and "`" not in page


def documented(client) -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every operation in the document."""
    document = client.get("/api/v1/openapi.json").get_json()
    return [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_each_operation_lists_only_the_answers_it_can_give(client):
    """Reads listed 413 and 422 (and every operation 405 and 406), which they cannot answer: a
    read sends no body, a path's other methods are other operations, and JSON comes whatever
    Accept asks."""
    for method, path, operation in documented(client):
        statuses = set(operation["responses"])
        reads_a_query = any(p["in"] == "query" for p in operation.get("parameters", []))
        assert not statuses & {"405", "406"}, (method, path)
        assert ("404" in statuses) == ("{referral_id}" in path), (method, path)
        if method == "get":
            assert not statuses & {"403", "413", "415"}, (method, path)
            assert ("422" in statuses) == reads_a_query, (method, path)
        else:
            assert {"400", "403", "413", "415", "422"} <= statuses, (method, path)


def test_the_headers_a_caller_relies_on_are_in_the_document(client):
    """``Idempotency-Key`` and ``Retry-After`` were only in the prose: a generated client knew
    of neither."""
    operations = {operation["operationId"]: operation for *_, operation in documented(client)}
    [key] = [p for p in operations["submit_request"]["parameters"] if p["in"] == "header"]
    assert (key["name"], key["required"], key["schema"]["maxLength"]) == (
        "Idempotency-Key",
        False,
        200,
    )
    for operation in operations.values():
        for status in {"429", "503"} & set(operation["responses"]):
            assert "Retry-After" in operation["responses"][status]["headers"]


def test_reads_answer_as_their_document_says(app, client, directory):
    """A query that does not fit is a 422 naming the parameter; a read with no query ignores one,
    and a body sent with a read is not read, so never too large."""
    headers = bearer(token_for(app, "nomada"))
    limit = client.get("/api/v1/referrals?limit=0", headers=headers)
    assert (limit.status_code, limit.get_json()["code"]) == (422, "invalid_request")
    assert [e["location"] for e in limit.get_json()["errors"]] == ["limit"]
    one = f"/api/v1/referrals/{referral_to(app)}"
    assert client.get(f"{one}?limit=0", headers=headers).status_code == 200
    large = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    for url in ("/api/v1/referrals", one):
        sent = client.get(url, data=large, headers={**headers, "Content-Type": "application/json"})
        assert sent.status_code == 200, url


# Each operation's id: a verb and what it acts on, in snake_case. Code generators name their
# methods after them, so they change only with the API's version.
OPERATION_IDS = {
    ("get", "/api/v1/referrals"): "list_referrals",
    ("get", "/api/v1/referrals/{referral_id}"): "get_referral",
    ("post", "/api/v1/referrals/{referral_id}/accept"): "accept_referral",
    ("post", "/api/v1/referrals/{referral_id}/decline"): "decline_referral",
    ("post", "/api/v1/referrals/{referral_id}/start"): "start_referral",
    ("post", "/api/v1/referrals/{referral_id}/hand-back"): "hand_back_referral",
    ("post", "/api/v1/referrals/{referral_id}/close"): "close_referral",
    ("post", "/api/v1/referrals/{referral_id}/withdraw"): "withdraw_referral",
    ("post", "/api/v1/referrals/{referral_id}/notes"): "add_note",
    ("post", "/api/v1/requests"): "submit_request",
}


def test_every_operation_has_a_stable_id_in_one_scheme(client):
    """Two ids were spectree's defaults from the path (get__api_v1_referrals_{referral_id}),
    beside accept_referral and the other actions' verb and noun."""
    ids = {
        (method, path): operation.get("operationId")
        for method, path, operation in documented(client)
    }
    assert ids == OPERATION_IDS
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)+", operation_id) for operation_id in ids.values())


@pytest.fixture(scope="module", params=KINDS)
def live_app(request):
    """The app on one kind of database, with the directory, a few referrals to find and a token
    of the organisation they are offered to."""
    for app in app_on(request.param):
        with app.app_context():
            empty_tables()
            seed.load_consortium()
            token = api_tokens.issue(org("nomada").id, "schemathesis", False, by=None).secret
            for _ in range(3):
                lifecycle.submit_request(intake("legal"))
            db.session.remove()
        app.config["TEST_API_TOKEN"] = token
        yield app


def operations(app) -> list:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_live_app_keeps_to_its_document(live_app):
    """Each operation in turn, with valid and invalid generated requests (schemathesis's pytest
    plugin is not used: its lazy fixtures do not run on pytest 9)."""
    headers = {"Authorization": f"Bearer {live_app.config['TEST_API_TOKEN']}"}
    checked = []
    for operation, mode in itertools.product(operations(live_app), GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def keeps_to_the_document(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        keeps_to_the_document()
        checked.append(operation.label)
    assert len(set(checked)) == 10, checked
