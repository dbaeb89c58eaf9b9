"""A referral as FHIR R4 resources, the way the HL7 SDOH Clinical Care guide models a referral: a
ServiceRequest (what is asked for whom) and a Task (the request to one organisation to fulfil it,
with its status, the reason for a refusal and the outcome).

Pure: it reads the referral and is told who looks (``viewer_id``), whether they may see the
person (``personal``) and the address that names the code systems.
"""

from __future__ import annotations

from collections.abc import Callable

from .handoff import Action, DeclineReason, Outcome, State
from .models import Organisation, Referral, ReferralEvent
from .vocabulary import Specialism

# The guide's shape, not its profiles: no meta.profile. Its referral Task requires a requester (a
# PractitionerRole or an Organization) that a person who asked through the public form does not
# have, and it binds the outcome (Task.output) and the need (ServiceRequest.code, with a required
# SDOH category) to US procedure codes, where ours are our own code systems (docs/api.md).
SDOH_TEMPORARY_CODES = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
)
TASK_CODES = "http://hl7.org/fhir/CodeSystem/task-code"

TASK_STATUS = {
    State.NEW: "requested",
    State.OFFERED: "requested",
    State.ACCEPTED: "accepted",
    State.IN_PROGRESS: "in-progress",
    State.CLOSED: "completed",
    State.WITHDRAWN: "cancelled",
    State.UNMATCHED: "rejected",
}
SERVICE_REQUEST_STATUS = {State.CLOSED: "completed", State.WITHDRAWN: "revoked"}
# Steps that end an organisation's part: for it, the task was rejected.
LETTING_GO = (Action.DECLINE, Action.EXPIRE, Action.HAND_BACK)

Label = Callable[[str], str]  # a vocabulary label in the reader's language


def _instant(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _organisation(org: Organisation | None, base: str, language: str) -> dict | None:
    if org is None:
        return None
    return {
        "identifier": {"system": f"{base}/organisations", "value": org.slug},
        "display": org.name_in(language),
    }


def _coded(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _reason(event: ReferralEvent, base: str, label: Label) -> dict | None:
    if not event.reason_code:
        return None
    if event.reason_code in set(DeclineReason):
        display = label(DeclineReason(event.reason_code).label)
    else:
        display = event.reason_code.replace("_", " ")
    concept = _coded(f"{base}/CodeSystem/decline-reason", event.reason_code, display)
    if event.text:
        concept["text"] = event.text
    return concept


def _rejection(referral: Referral, viewer_id: int | None) -> ReferralEvent | None:
    """The step by which the referral left the viewer (their decline, expiry or hand-back), or,
    once unmatched, the last one that let it go."""
    steps = [event for event in referral.events if event.action in LETTING_GO]
    if referral.organisation_id != viewer_id:
        own = [event for event in steps if event.organisation_id == viewer_id]
        if own and referral.state != State.CLOSED:
            return own[-1]
    if referral.state == State.UNMATCHED and steps:
        return steps[-1]
    return None


def shows_words(referral: Referral, viewer_id: int | None) -> bool:
    """Whether the Task for this viewer carries words written about the person (the reason of
    the step that let the referral go): an opening of the person's data."""
    rejection = _rejection(referral, viewer_id)
    return bool(rejection and rejection.reason_code and rejection.text)


def task(referral: Referral, viewer_id: int | None, base: str, language: str, label: Label):
    """The Task: status from the state, or ``rejected`` with the reason for an organisation that
    let the referral go; the outcome of a closed referral as its output."""
    rejection = _rejection(referral, viewer_id)
    resource: dict = {
        "resourceType": "Task",
        "id": str(referral.id),
        "status": "rejected" if rejection else TASK_STATUS[State(referral.state)],
        "businessStatus": {"text": label(State(referral.state).label)},
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODES, "code": "fulfill"}]},
        "focus": {"reference": f"ServiceRequest/{referral.id}"},
        "for": {"identifier": {"system": f"{base}/requests", "value": referral.request.reference}},
        "authoredOn": _instant(referral.created_at),
        "lastModified": _instant(referral.updated_at),
    }
    requester = _organisation(referral.referring_organisation, base, language)
    if requester:
        resource["requester"] = requester
    owner = _organisation(referral.organisation, base, language)
    if owner and not rejection:
        resource["owner"] = owner
    if rejection and (reason := _reason(rejection, base, label)):
        resource["statusReason"] = reason
    if referral.state == State.CLOSED and referral.outcome:
        outcome = Outcome(referral.outcome)
        resource["output"] = [
            {
                "type": _coded(SDOH_TEMPORARY_CODES, "resulting-activity", "Resulting Activity"),
                "valueCodeableConcept": _coded(
                    f"{base}/CodeSystem/outcome", outcome.value, label(outcome.label)
                ),
            }
        ]
    return resource


def service_request(
    referral: Referral, personal: bool, base: str, language: str, label: Label
) -> dict:
    """The ServiceRequest: the need, its urgency and for whom (the person's name only for those
    who may see it; the request's reference for everyone)."""
    need = Specialism(referral.specialism)
    request = referral.request
    subject: dict = {"identifier": {"system": f"{base}/requests", "value": request.reference}}
    if personal and request.name and request.erased_at is None:
        subject["display"] = request.name
    resource: dict = {
        "resourceType": "ServiceRequest",
        "id": str(referral.id),
        "status": SERVICE_REQUEST_STATUS.get(State(referral.state), "active"),
        "intent": "order",
        "priority": "urgent" if referral.urgent else "routine",
        "code": _coded(f"{base}/CodeSystem/need", need.value, label(need.label)),
        "subject": subject,
        "authoredOn": _instant(referral.created_at),
    }
    requester = _organisation(referral.referring_organisation, base, language)
    if requester:
        resource["requester"] = requester
    performer = _organisation(referral.organisation, base, language)
    if performer:
        resource["performer"] = [performer]
    return resource
