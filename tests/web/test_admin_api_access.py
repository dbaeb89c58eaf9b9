"""The coordinator gives an organisation's systems access: tokens and webhooks on the
organisation's page and on the command line, shown once, kept hashed, revocable, audited."""

import re

from sqlalchemy import select

from referral.extensions import db
from referral.models import AdminEvent, ApiToken, WebhookEndpoint
from referral.passwords import token_hash

from ..helpers import csrf_token_of, org
from .api_steps import bearer


def organisation_page(app, coordinator, slug="nomada"):
    with app.app_context():
        organisation_id = org(slug).id
    return organisation_id, coordinator.get(f"/admin/organisations/{organisation_id}")


def test_a_token_issued_on_the_page_is_shown_once_and_stored_hashed(app, coordinator):
    organisation_id, _page = organisation_page(app, coordinator)
    issued = coordinator.post(
        f"/admin/organisations/{organisation_id}/api-tokens/new",
        data={"name": "Case system", "read_only": "y"},
    )
    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    assert issued.headers["Referrer-Policy"] == "no-referrer"
    secret = re.search(r'class="secret">([^<]+)<', issued.get_data(as_text=True)).group(1)
    assert secret.startswith("rfl_")
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.token_hash == token_hash(secret) and secret not in str(vars(token))
        assert (token.name, token.read_only) == ("Case system", True)
        audited = db.session.scalar(
            select(AdminEvent).where(AdminEvent.action == "api_token_issued")
        )
        assert audited.after == {"token": token.id, "name": "Case system", "scope": "read"}
    page = organisation_page(app, coordinator)[1].get_data(as_text=True)
    assert "Case system" in page and "Only read" in page and secret not in page
    assert app.test_client().get("/api/v1/referrals", headers=bearer(secret)).status_code == 200
    assert "Never" not in organisation_page(app, coordinator)[1].get_data(as_text=True)


def test_a_token_without_a_name_is_refused_with_a_message(app, coordinator):
    organisation_id, _page = organisation_page(app, coordinator)
    answer = coordinator.post(
        f"/admin/organisations/{organisation_id}/api-tokens/new", data={"name": "  "}
    )
    assert answer.status_code == 400
    assert "Name the system that will use the token." in answer.get_data(as_text=True)


def test_a_revoked_token_stops_working_at_once(app, coordinator):
    organisation_id, _page = organisation_page(app, coordinator)
    issued = coordinator.post(
        f"/admin/organisations/{organisation_id}/api-tokens/new", data={"name": "CRM"}
    ).get_data(as_text=True)
    secret = re.search(r'class="secret">([^<]+)<', issued).group(1)
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    page = coordinator.get(f"/admin/organisations/{organisation_id}").get_data(as_text=True)
    revoked = coordinator.post(
        f"/admin/organisations/{organisation_id}/api-tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token_of(page)},
    )
    assert revoked.status_code == 302
    assert app.test_client().get("/api/v1/referrals", headers=bearer(secret)).status_code == 401
    with app.app_context():
        other = org("pfm").id
    elsewhere = coordinator.post(f"/admin/organisations/{other}/api-tokens/{token_id}/revoke")
    assert elsewhere.status_code == 404


def test_a_webhook_added_on_the_page_shows_its_secret_once(app, coordinator):
    organisation_id, _page = organisation_page(app, coordinator)
    refused = coordinator.post(
        f"/admin/organisations/{organisation_id}/webhooks/new",
        data={"url": "http://cases.example.org/hooks"},
    )
    assert (
        refused.status_code == 400
        and "Use the https:// address of a server on the internet" in refused.get_data(as_text=True)
    )
    added = coordinator.post(
        f"/admin/organisations/{organisation_id}/webhooks/new",
        data={"url": "https://cases.example.org/hooks"},
    ).get_data(as_text=True)
    secret = re.search(r'class="secret">([^<]+)<', added).group(1)
    assert secret.startswith("whsec_")
    page = coordinator.get(f"/admin/organisations/{organisation_id}").get_data(as_text=True)
    assert "https://cases.example.org/hooks" in page and secret not in page
    with app.app_context():
        endpoint_id = db.session.scalar(select(WebhookEndpoint.id))
    coordinator.post(f"/admin/organisations/{organisation_id}/webhooks/{endpoint_id}/remove")
    page = coordinator.get(f"/admin/organisations/{organisation_id}").get_data(as_text=True)
    assert "https://cases.example.org/hooks" not in page


def test_staff_cannot_reach_the_api_access_pages(app, login_as):
    with app.app_context():
        organisation_id = org("nomada").id
    staff = login_as("nomada")
    assert staff.get(f"/admin/organisations/{organisation_id}/api-tokens/new").status_code == 404
    assert staff.post(f"/admin/organisations/{organisation_id}/webhooks/new").status_code == 404


def test_create_api_token_prints_the_token_once(app, directory):
    result = app.test_cli_runner().invoke(
        args=["create-api-token", "--org", "pfm", "--name", "CRM", "--read-only"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert "'CRM' for pfm (read)" in result.output
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.token_hash == token_hash(secret) and token.organisation.slug == "pfm"
        assert db.session.scalar(select(AdminEvent.actor_id)) is None  # the command line
    unknown = app.test_cli_runner().invoke(args=["create-api-token", "--org", "nobody"])
    assert unknown.exit_code != 0 and "No organisation" in unknown.output
