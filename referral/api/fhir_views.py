"""A referral as FHIR R4 (``/api/fhir``): the same token and the same isolation as the referral
API; another organisation's referral is a 404."""

from flask import current_app, json
from flask_babel import gettext

from .. import access, fhir
from ..i18n import current_language
from . import bp
from .auth import current_referral, current_token

MEDIA_TYPE = "application/fhir+json"


def _answer(resource: dict):
    return current_app.response_class(json.dumps(resource), mimetype=MEDIA_TYPE)


def _base() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/fhir"


@bp.get("/fhir/Task/<int:referral_id>")
def fhir_task(referral_id: int):
    token = current_token()
    referral = current_referral()
    return _answer(fhir.task(referral, token.organisation_id, _base(), current_language(), gettext))


@bp.get("/fhir/ServiceRequest/<int:referral_id>")
def fhir_service_request(referral_id: int):
    token = current_token()
    referral = current_referral()
    personal = access.may_see_personal_data(token, referral)
    return _answer(fhir.service_request(referral, personal, _base(), current_language(), gettext))
