"""Errors of the API as ``application/problem+json`` (RFC 9457), with a ``title`` in the
caller's language (``Accept-Language``) and a stable ``code`` for programs."""

from __future__ import annotations

from flask import Response, current_app, json, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, Field
from werkzeug.exceptions import HTTPException

from ..i18n import browser_language
from ..service_errors import ServiceError

MEDIA_TYPE = "application/problem+json"

# code: (HTTP status, title). The titles are whole sentences for a person reading a log.
PROBLEMS = {
    "bad_request": (400, _l("The request could not be read.")),
    "invalid_cursor": (400, _l("This cursor is not one the API gave out.")),
    "unauthorized": (401, _l("A valid API token is needed.")),
    "read_only_token": (403, _l("This token may only read.")),
    ServiceError.NOT_YOURS: (403, _l("Your organisation cannot do this with this referral.")),
    "note_not_allowed": (
        403,
        _l("Only the organisations working on this referral can add notes."),
    ),
    ServiceError.NOT_FOUND: (404, _l("There is no such resource, or it is not yours to see.")),
    "method_not_allowed": (405, _l("This method is not allowed here.")),
    "not_acceptable": (406, _l("The API answers in JSON only.")),
    ServiceError.STALE_VERSION: (
        409,
        _l("Someone changed this referral since you read it. Nothing was changed."),
    ),
    ServiceError.NOT_ALLOWED_NOW: (
        409,
        _l("This is not possible in the referral's present state. Nothing was changed."),
    ),
    ServiceError.ALREADY_SENT: (
        409,
        _l("A request was already made with this Idempotency-Key. Nothing more was made."),
    ),
    "too_large": (413, _l("The request is too large.")),
    "unsupported_media_type": (415, _l("Send the request body as JSON.")),
    "invalid_request": (422, _l("The request does not match the API description.")),
    ServiceError.REASON_REQUIRED: (422, _l("Give a reason from the list.")),
    ServiceError.EXPLANATION_REQUIRED: (422, _l("Explain the reason in a few words.")),
    ServiceError.OUTCOME_REQUIRED: (422, _l("Give the outcome from the list.")),
    ServiceError.UNKNOWN_PLACE: (422, _l("There is no such city or voivodeship.")),
    ServiceError.NO_NEEDS: (422, _l("Give at least one need.")),
    "contact_required": (
        422,
        _l("Give a phone number or an e-mail, so that the organisation can reach the person."),
    ),
    "rate_limited": (429, _l("Too many requests. Wait a moment and try again.")),
    "server_error": (500, _l("Something went wrong on our side. Nothing was changed.")),
    "unavailable": (503, _l("The service is unavailable for a moment. Try again soon.")),
}
CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "read_only_token",
    404: ServiceError.NOT_FOUND,
    405: "method_not_allowed",
    406: "not_acceptable",
    409: ServiceError.STALE_VERSION,
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class FieldError(BaseModel):
    location: str = Field(
        description="Which field, by its name (`version`, `limit`), or `body` for the whole body."
    )
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 describes it."""

    type: str = Field(description="A URI naming the kind of problem: the reference page's entry.")
    title: str = Field(description="What went wrong, in the language of `Accept-Language`.")
    status: int
    code: str = Field(description="The same kind of problem, as a stable code for programs.")
    detail: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="For `invalid_request`: each field that did not fit."
    )
    reference: str | None = Field(
        default=None, description="For `already_sent`: the reference of the request made first."
    )


class ApiProblem(Exception):
    """Raised anywhere in an API view; answered by ``response``."""

    def __init__(
        self,
        code: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        reference: str | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code if code in PROBLEMS else "server_error"
        self.errors = errors
        self.reference = reference
        self.headers = headers or {}


def does_not_fit(location: str, message: str) -> ApiProblem:
    """``invalid_request`` naming one field, header or query parameter and why."""
    return ApiProblem("invalid_request", errors=[FieldError(location=location, message=message)])


def response(problem: ApiProblem) -> Response:
    status, title = PROBLEMS[problem.code]
    with force_locale(browser_language()):
        body = Problem(
            type=url_for("api.reference", _external=True) + f"#problem-{problem.code}",
            title=str(title),
            status=status,
            code=problem.code,
            errors=problem.errors,
            reference=problem.reference,
        )
    answer = current_app.response_class(
        json.dumps(body.model_dump(exclude_none=True)), status=status, mimetype=MEDIA_TYPE
    )
    answer.headers.update(problem.headers)
    answer.vary.add("Accept-Language")
    return answer


def from_http_error(error: HTTPException) -> Response:
    """Werkzeug's errors (404 of an unknown address, 405, 413, 429...) as problems."""
    allowed = getattr(error, "valid_methods", None)
    headers = {"Allow": ", ".join(allowed)} if allowed else {}
    code = CODE_OF_STATUS.get(error.code or 500, "server_error")
    return response(ApiProblem(code, headers=headers))


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")
