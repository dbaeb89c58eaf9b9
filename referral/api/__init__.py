"""The API (``/api``): the public directory as HSDS and the API's own description, open to all;
the referral API for the members' systems (``/api/v1``) and its FHIR view (``/api/fhir``), with
an organisation's token."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from . import auth, fhir_views, reference, referrals, views  # noqa: E402, F401
