"""The referral API (``/api/v1``): an organisation's system reads its referrals, answers, works
and closes them, adds notes and refers people, through the same use cases (``lifecycle``) and the
same isolation rule (``access``) as the staff pages. Another organisation's referral is a 404."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from .. import access, access_log, lifecycle
from ..handoff import Action
from ..lifecycle import IntakeData
from ..passwords import token_hash
from ..service_errors import ServiceError
from ..vocabulary import ContactChannel
from . import bp
from .auth import current_referral, current_token
from .listing import detail, note_out, referrals_page, status_url, summary
from .problems import ApiProblem, Problem, does_not_fit
from .schemas import (
    CloseBody,
    DeclineBody,
    ListQuery,
    NewRequest,
    NoteBody,
    NoteOut,
    ReferralDetail,
    ReferralPage,
    SubmittedRequest,
    VersionBody,
)
from .spec import IDEMPOTENCY_KEY_LENGTH, NO_SUCH_REFERRAL, answers, answers_to_a_body, spectree

TAG = "referrals"
# Each operation names its id, a verb and a noun in snake_case (accept_referral, add_note): code
# generators name their methods after it, so it stays as it is whatever the view is called.


def _validated(part: str) -> Any:
    """The query or body spectree validated for this call (a body that is not JSON never gets
    here: ``auth.readable_body``)."""
    return getattr(request.context, part)  # type: ignore[attr-defined]  # set by spectree


@bp.get("/v1/referrals")
@spectree.validate(
    query=ListQuery,
    resp=answers(
        HTTP_200=ReferralPage,
        HTTP_400=(Problem, "A cursor the API did not give out (invalid_cursor)"),
        HTTP_422=(Problem, "A query parameter that does not fit (invalid_request)"),
    ),
    tags=[TAG],
    operation_id="list_referrals",
)
def list_referrals():
    """List the referrals your organisation may see

    Offered to you, held by you, or sent by you (``box``), filtered by state, need and the last
    change; in the order of the last change, oldest first, a page at a time (``next_cursor``).
    """
    return referrals_page(current_token(), _validated("query"))


@bp.get("/v1/referrals/<int:referral_id>")
@spectree.validate(
    resp=answers(HTTP_200=ReferralDetail, HTTP_404=NO_SUCH_REFERRAL),
    tags=[TAG],
    operation_id="get_referral",
)
def get_referral(referral_id: int):
    """Read one referral

    With the person's data only while your organisation holds it, is offered it or sent it
    (``personal_data``), and the notes your organisation may read.
    """
    return detail(current_token(), referral_id)


# Each action: its body and what the body adds to the bare action.
ACTIONS: dict[Action, tuple[type[VersionBody], str]] = {
    Action.ACCEPT: (VersionBody, "Accept an offer"),
    Action.DECLINE: (DeclineBody, "Decline an offer, with a reason; it goes to the next"),
    Action.START: (VersionBody, "Start working on an accepted referral"),
    Action.HAND_BACK: (DeclineBody, "Hand a referral back, with a reason; it goes to the next"),
    Action.CLOSE: (CloseBody, "Close a referral with its outcome"),
    Action.WITHDRAW: (VersionBody, "Withdraw a referral your organisation sent"),
}


def _details(body: VersionBody) -> dict:
    if isinstance(body, DeclineBody):
        return {"reason_code": str(body.reason), "text": body.text}
    if isinstance(body, CloseBody):
        return {"outcome": str(body.outcome)}
    return {}


def _action_view(action: Action, body_model: type[VersionBody], summary_line: str):
    def view(referral_id: int):
        token = current_token()
        referral = current_referral()
        body = _validated("json")
        try:
            lifecycle.act(referral.id, token, action, body.version, **_details(body))
        except ServiceError as error:
            raise ApiProblem(error.code) from None
        return detail(token, referral_id)

    view.__doc__ = (
        f"{summary_line}\n\nSend the `version` you read: if the referral changed since, the "
        "answer is 409 and nothing is changed. Answers with the referral as it is now."
    )
    view.__name__ = f"{action.value}_referral"
    return spectree.validate(
        json=body_model,
        resp=answers_to_a_body(
            HTTP_200=ReferralDetail, HTTP_404=NO_SUCH_REFERRAL, HTTP_409=Problem
        ),
        tags=[TAG],
        operation_id=f"{action.value}_referral",
    )(view)


for _action, (_body, _summary) in ACTIONS.items():
    bp.add_url_rule(
        f"/v1/referrals/<int:referral_id>/{_action.value.replace('_', '-')}",
        endpoint=f"{_action.value}_referral",
        view_func=_action_view(_action, _body, _summary),
        methods=["POST"],
    )


@bp.post("/v1/referrals/<int:referral_id>/notes")
@spectree.validate(
    json=NoteBody,
    resp=answers_to_a_body(HTTP_201=NoteOut, HTTP_404=NO_SUCH_REFERRAL),
    tags=[TAG],
    operation_id="add_note",
)
def add_note(referral_id: int):
    """Add a note

    Shared with the other organisation working on the referral, or internal to yours. Only the
    organisations that may see the person's data may add notes.
    """
    token = current_token()
    referral = current_referral()
    if not access.may_add_note(token, referral):
        raise ApiProblem("note_not_allowed")
    body: NoteBody = _validated("json")
    try:
        note = lifecycle.add_note(referral, token, body.body, shared=body.shared)
    except ServiceError:  # erased a moment ago
        raise ApiProblem("note_not_allowed") from None
    return note_out(note), 201


def _idempotency_hash() -> str | None:
    """The call's ``Idempotency-Key``, the caller's organisation's own: hashed with it, as the
    public form's token is (``request.submission_hash``)."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > IDEMPOTENCY_KEY_LENGTH:
        raise does_not_fit("Idempotency-Key", f"At most {IDEMPOTENCY_KEY_LENGTH} characters.")
    return token_hash(f"api|{current_token().organisation_id}|{key}")


@bp.post("/v1/requests")
@spectree.validate(
    json=NewRequest,
    resp=answers_to_a_body(HTTP_201=SubmittedRequest, HTTP_409=Problem),
    tags=[TAG],
    operation_id="submit_request",
)
def submit_request():
    """Refer a person

    As a caseworker does on the staff page: one referral per need, each routed at once to the
    organisation that covers it. The answer holds the person's status link, once. With an
    `Idempotency-Key` header (any string of up to 200 characters, new for each person referred),
    a call sent again (after a timeout, say) makes nothing more: 409 `already_sent`, with the
    `reference` of the request the first call made.
    """
    body: NewRequest = _validated("json")
    channel = body.contact_channel or (ContactChannel.PHONE if body.phone else ContactChannel.EMAIL)
    reachable = body.email if channel == ContactChannel.EMAIL else body.phone
    if not reachable:
        raise ApiProblem("contact_required")
    intake = IntakeData(
        needs=[str(need) for need in body.needs],
        language=body.language,
        consent_version=current_app.config["CONSENT_VERSION"],
        city_slug=body.city,
        voivodeship=None if body.city else body.voivodeship,
        languages=[str(language) for language in body.languages],
        name=body.name,
        phone=body.phone,
        email=str(body.email) if body.email else None,
        contact_channel=str(channel),
        safe_to_message=body.safe_to_message,
        interpreter_needed=body.interpreter_needed,
        description=body.description,
        urgent=body.urgent,
        residence_status=str(body.residence_status) if body.residence_status else None,
        submission_hash=_idempotency_hash(),
    )
    try:
        lifecycle.refuse_if_sent(intake.submission_hash)
        submitted = lifecycle.submit_request(intake, submitted_by=current_token())
    except ServiceError as error:
        # The reference of the request already made: the only detail to say back (another's,
        # an unknown place's, is what the caller sent).
        sent = error.detail if error.code == ServiceError.ALREADY_SENT else None
        raise ApiProblem(error.code, reference=sent) from None
    help_request = submitted.request
    answer = SubmittedRequest(
        reference=help_request.reference,
        status_url=status_url(help_request.language, submitted.status_token),
        referrals=[summary(referral) for referral in help_request.referrals],
    )
    # The person's status link, as on the caseworker's page after referring: recorded alike.
    access_log.record(current_token(), access_log.Page.SUBMITTED, [(help_request.id, None)])
    return answer, 201
