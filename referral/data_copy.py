"""A copy of everything held about a person (GDPR articles 15 and 20): what they told us, where
each need stands and who holds it, the dates, the appointments made with them, and which
organisations opened their data.

One dictionary, codes beside their words in the current language, is both the JSON file and what
the readable page shows. The person gets it through their status link; the coordinator makes it
for a reference when the person asks in person or by letter (recorded as an opening).
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import Response
from flask_babel import get_locale
from flask_babel import gettext as _

from . import access_log
from .appointments import TO_THE_PERSON, Kind
from .erasure import erasure_due
from .handoff import Outcome, State
from .i18n import current_language
from .models import HelpRequest, Organisation, Referral, utcnow
from .vocabulary import N_, ContactChannel, LabelledEnum, ResidenceStatus, Specialism


def _coded(vocabulary: type[LabelledEnum], code: str | None) -> dict | None:
    if not code:
        return None
    try:
        return {"code": code, "label": _(vocabulary(code).label)}
    except ValueError:
        return {"code": code, "label": code}


def _organisation(org: Organisation | None, language: str) -> str | None:
    return org.name_in(language) if org else None


# Each need's state as the status page tells it to the person, not the staff's word ("Offered").
STATE_TO_THE_PERSON: dict[str, str] = {
    State.NEW: N_("Received"),
    State.OFFERED: N_("Passed to an organisation"),
    State.ACCEPTED: N_("Accepted by the organisation"),
    State.IN_PROGRESS: N_("The organisation is working on it"),
    State.CLOSED: N_("Closed"),
    State.UNMATCHED: N_("Looking for an organisation"),
    State.WITHDRAWN: N_("Withdrawn"),
}


def _state_to_the_person(code: str) -> dict:
    return {"code": code, "label": _(STATE_TO_THE_PERSON[code])}


def _step_to_the_person(code: str) -> dict:
    """A step as the person reads it, addressed to them; its code as the staff's pages have it."""
    words = TO_THE_PERSON.get(code)
    return {"code": code, "label": _(words) if words else code}


def _appointment(referral: Referral, language: str) -> dict | None:
    """What the person was told and answered about the appointment: never who proposed it. One
    cancelled with the organisation the case left has only its steps (its time, place and words
    went with it)."""
    steps = [
        {"step": _step_to_the_person(step.code), "at": step.at, "starts_at": step.starts_at}
        for step in referral.appointment_steps
    ]
    appointment = referral.appointment
    if appointment is None:
        return {"steps": steps} if steps else None
    return {
        "starts_at": appointment.starts_at,
        "kind": _coded(Kind, appointment.kind),
        "place": appointment.place,
        "organisation": _organisation(appointment.organisation, language),
        "state": _step_to_the_person(appointment.state),
        "your_words": appointment.person_words,
        "steps": steps,
    }


def copy_of(request: HelpRequest) -> dict:
    """Everything held about the person who sent ``request``."""
    language = current_language()
    names = get_locale().languages
    erasure = erasure_due(request)
    return {
        "reference": request.reference,
        "made_at": utcnow(),
        "request": {
            "sent_at": request.created_at,
            "language": request.language,
            "city": request.city.name_in(language) if request.city else None,
            "voivodeship": request.voivodeship.name_in(language),
            "urgent": request.urgent,
            "name": request.name,
            "phone": request.phone,
            "email": request.email,
            "contact_channel": _coded(ContactChannel, request.contact_channel),
            "safe_to_message": request.safe_to_message,
            "interpreter_needed": request.interpreter_needed,
            "languages": [
                {"code": code, "label": names.get(code, code)} for code in request.languages or ()
            ],
            "description": request.description,
            "residence_status": _coded(ResidenceStatus, request.residence_status),
            "referred_by": _organisation(request.referring_organisation, language),
            "consent": {
                "version": request.consent_version,
                "given_at": request.consent_at,
                "language": request.consent_language,
            },
            "erased_at": request.erased_at,
        },
        "needs": [
            {
                "need": _coded(Specialism, referral.specialism),
                "state": _state_to_the_person(referral.state),
                "organisation": _organisation(referral.organisation, language),
                "received_at": referral.created_at,
                "offered_at": referral.offered_at,
                "answer_by": referral.deadline_at if referral.state == State.OFFERED else None,
                "closed_at": referral.closed_at,
                "outcome": _coded(Outcome, referral.outcome),
                "appointment": _appointment(referral, language),
            }
            for referral in request.referrals
        ],
        "your_messages": [
            {
                "kind": item.kind,
                "need": _coded(Specialism, item.referral.specialism) if item.referral else None,
                "to": _organisation(item.organisation, language),
                "at": item.created_at,
                "text": item.body,
            }
            for item in request.from_person
            if item.body
        ],
        "opened_by": [
            {
                "organisation": _organisation(access.organisation, language)
                or _("The consortium's coordinator"),
                "at": access.at,
            }
            for access in access_log.every_opening(request)
        ],
        "erasure": {"due": erasure.due, "while_open": erasure.open} if erasure else None,
    }


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    raise TypeError(type(value).__name__)


def as_json(copy: dict) -> str:
    return json.dumps(copy, ensure_ascii=False, indent=2, default=_iso)


def json_download(copy: dict) -> Response:
    """The copy as a JSON file to save (``referral-ABC-123.json``)."""
    return Response(
        as_json(copy),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="referral-{copy["reference"]}.json"'
        },
    )
