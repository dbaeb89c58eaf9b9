"""Who calls the API: every route needs an organisation's token (``Authorization: Bearer``)
except those marked ``@open_to_all`` (the public directory, the API's description). No cookie is
read, so no CSRF token is asked; a token opens no HTML page (Flask-Login never looks at it).

Each call made with a token is recorded in the audit trail as its organisation's, is answered
``Cache-Control: no-store``, and counts towards that token's rate limit (``API_RATE_LIMIT``).
"""

from __future__ import annotations

import logging

from flask import current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from .. import api_tokens
from ..extensions import csrf, db, limiter
from ..i18n import browser_language
from ..models import ApiToken, Referral
from ..passwords import token_hash
from . import bp
from .listing import visible_or_404
from .problems import ApiProblem, response

log = logging.getLogger(__name__)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

csrf.exempt(bp)


def open_to_all(view):
    """Marks a view that needs no token (public data)."""
    view.open_to_all = True
    return view


def current_token() -> ApiToken:
    """The token of this call (the view needs one: ``authenticate`` made sure)."""
    return g.api_token


def current_referral() -> Referral:
    """The referral named in the address, which ``authenticate`` found visible to the token."""
    return g.referral


def rate_limit_key() -> str:
    """Per token on the routes that need one (its hash: the limiter's storage never holds a
    working token), else per address: the public routes check no token, and a made-up one would
    have had a bucket of its own at every call."""
    view = current_app.view_functions.get(request.endpoint or "")
    secret = api_tokens.bearer_token(request.headers.get("Authorization"))
    if secret and not getattr(view, "open_to_all", False):
        return f"api-token:{token_hash(secret)}"
    return _address_key()


def _address_key() -> str:
    return f"api-address:{request.remote_addr}"


def _refused(answer) -> bool:
    return bool(answer.status_code == 401)


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=rate_limit_key)(bp)
# Calls with a token that opens nothing count per address too: guessing tokens is limited.
limiter.limit(
    lambda: current_app.config["API_RATE_LIMIT"],
    key_func=_address_key,
    deduct_when=_refused,
    scope="api-refused",
)(bp)


@bp.before_request
def authenticate():
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "open_to_all", False):
        return
    # Names and labels in the caller's language (Accept-Language), never from a session cookie.
    g.lang = browser_language()
    token = api_tokens.authenticate(request.headers.get("Authorization"))
    if token is None:
        raise ApiProblem("unauthorized", headers={"WWW-Authenticate": 'Bearer realm="referral"'})
    g.api_token = token
    referral_id = (request.view_args or {}).get("referral_id")
    if referral_id is not None:
        # Before the body is even read: another organisation's referral is a 404, whatever was
        # sent, as on the pages.
        g.referral = visible_or_404(token, referral_id)
    if token.read_only and request.method not in SAFE_METHODS:
        raise ApiProblem("read_only_token")


@bp.before_request
def readable_body():
    """Every call that changes something sends JSON: another body (415), or JSON that does not
    parse (400), is said so before the schema is checked, which answered 422 "Field required"
    field by field (and did not look at a form's body at all). The body read, not its
    Content-Length, says whether there is one: a chunked body has none."""
    if request.method in SAFE_METHODS:
        return
    if not request.is_json:
        raise ApiProblem("unsupported_media_type")
    if _whole_body() and _json_or_none() is None:
        raise ApiProblem("bad_request")


def _whole_body() -> bytes:
    """The body, or 413 when it is larger than MAX_CONTENT_LENGTH. Werkzeug refuses a
    Content-Length above it, but reads a chunked body only up to it and stops without a word:
    one byte more left unread means the body is too large."""
    body = request.get_data()
    if (
        request.content_length is None
        and len(body) == request.max_content_length
        and request.environ["wsgi.input"].read(1)
    ):
        raise ApiProblem("too_large")
    return body


def _json_or_none():
    """The body's JSON, or None when it does not parse: nested deeper than the parser's stack
    goes raises RecursionError, not the ValueError ``silent`` catches."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


@bp.after_request
def record_call(answer):
    token = g.pop("api_token", None)
    if token is None:
        return answer
    answer.headers["Cache-Control"] = "no-store"
    rule = request.url_rule.rule if request.url_rule else request.path
    try:
        db.session.rollback()  # whatever the view left open is not the audit's to commit
        api_tokens.record_call(
            token,
            request.method,
            rule[:100],
            (request.view_args or {}).get("referral_id"),
            answer.status_code,
        )
    except SQLAlchemyError:
        db.session.rollback()
        log.error("API call not recorded: the database refused the audit row")
    return answer


@bp.errorhandler(ApiProblem)
def problem(error: ApiProblem):
    return response(error)
