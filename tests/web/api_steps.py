"""Steps shared by the API tests: tokens, calls with them, referrals to call about."""

from referral import api_tokens, lifecycle
from referral.extensions import db
from referral.models import Referral

from ..helpers import intake, org


def token_for(app, slug: str, read_only: bool = False, name: str = "") -> str:
    """A new token of that organisation, as the coordinator would issue it."""
    with app.app_context():
        secret = api_tokens.issue(org(slug).id, name or f"{slug} system", read_only, by=None).secret
        db.session.remove()
    return secret


def bearer(token: str, language: str = "en") -> dict:
    return {"Authorization": f"Bearer {token}", "Accept-Language": language}


def referral_to(app, *needs: str, referrer: str | None = None, **details) -> int:
    """A request (help in Wrocław, in Ukrainian) whose first referral goes where routing says;
    ``referrer``: the organisation of the caseworker who referred the person."""
    with app.app_context():
        submitted_by = None
        if referrer:
            submitted_by = api_tokens.issue(org(referrer).id, "referrer", False, by=None).token
        request = lifecycle.submit_request(
            intake(*(needs or ("legal",)), **details), submitted_by=submitted_by
        ).request
        referral_id = request.referrals[0].id
        db.session.remove()
    return referral_id


def placement(app, referral_id: int) -> tuple[str, str | None]:
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        result = (referral.state, referral.organisation.slug if referral.organisation else None)
        db.session.remove()
    return result


def version_of(client, token: str, referral_id: int) -> int:
    return client.get(f"/api/v1/referrals/{referral_id}", headers=bearer(token)).get_json()[
        "version"
    ]


def act(client, token: str, referral_id: int, action: str, **body):
    """POST an action with the version just read; gives the response."""
    if "version" not in body:
        body["version"] = version_of(client, token, referral_id)
    return client.post(
        f"/api/v1/referrals/{referral_id}/{action}", json=body, headers=bearer(token)
    )
