"""The public directory as Open Referral HSDS 3.0 (``/api/v1/hsds``), open to all."""

from flask import abort, request, url_for

from .. import hsds
from ..urls import MAX_ID
from ..vocabulary import UI_LANGUAGES
from . import bp
from .auth import open_to_all
from .problems import does_not_fit

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


@bp.get("/v1/")
@open_to_all
def index():
    return {
        "links": {
            "self": url_for("api.index", _external=True),
            "hsds": url_for("api.hsds_root", _external=True),
            "hsds_organizations": url_for("api.hsds_organizations", _external=True),
            "hsds_services": url_for("api.hsds_services", _external=True),
            "hsds_taxonomies": url_for("api.hsds_taxonomies", _external=True),
            "hsds_taxonomy_terms": url_for("api.hsds_taxonomy_terms", _external=True),
            "referrals": url_for("api.list_referrals", _external=True),
            "openapi": url_for("api.openapi", _external=True),
            "reference": url_for("api.reference", _external=True),
        }
    }


def _language() -> str:
    """HSDS holds one language: Polish unless ``?lang=uk`` or ``?lang=en`` asks otherwise."""
    language = request.args.get("lang", "pl")
    if language not in UI_LANGUAGES:
        raise does_not_fit("lang", "One of pl, uk, en.")
    return language


def _paged(items: list[dict]) -> dict:
    page = request.args.get("page", 1, type=int)
    per_page = request.args.get("per_page", DEFAULT_PER_PAGE, type=int)
    if not 1 <= page <= MAX_ID:
        raise does_not_fit("page", f"From 1 to {MAX_ID}.")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise does_not_fit("per_page", f"From 1 to {MAX_PER_PAGE}.")
    return hsds.paged(items, page, per_page)


@bp.get("/v1/hsds/")
@open_to_all
def hsds_root():
    return {"version": hsds.VERSION, "openapi_url": hsds.OPENAPI_URL}


@bp.get("/v1/hsds/organizations")
@open_to_all
def hsds_organizations():
    return _paged(hsds.organizations(_language()))


@bp.get("/v1/hsds/organizations/<id>")
@open_to_all
def hsds_organization(id: str):
    return _one(hsds.organizations(_language()), id)


@bp.get("/v1/hsds/services")
@open_to_all
def hsds_services():
    services = hsds.services(_language())
    organization_id = request.args.get("organization_id")
    if organization_id:
        services = [s for s in services if s["organization_id"] == organization_id]
    term_id = request.args.get("taxonomy_term_id")
    if term_id:
        services = [
            s for s in services if any(a["taxonomy_term_id"] == term_id for a in s["attributes"])
        ]
    return _paged(services)


@bp.get("/v1/hsds/services/<id>")
@open_to_all
def hsds_service(id: str):
    return _one(hsds.services(_language()), id)


@bp.get("/v1/hsds/taxonomies")
@open_to_all
def hsds_taxonomies():
    return _paged(hsds.taxonomies(_language()))


@bp.get("/v1/hsds/taxonomies/<id>")
@open_to_all
def hsds_taxonomy(id: str):
    return _one(hsds.taxonomies(_language()), id)


@bp.get("/v1/hsds/taxonomy_terms")
@open_to_all
def hsds_taxonomy_terms():
    terms = hsds.taxonomy_terms(_language())
    taxonomy_id = request.args.get("taxonomy_id")
    if taxonomy_id:
        terms = [term for term in terms if term["taxonomy_id"] == taxonomy_id]
    return _paged(terms)


@bp.get("/v1/hsds/taxonomy_terms/<id>")
@open_to_all
def hsds_taxonomy_term(id: str):
    return _one(hsds.taxonomy_terms(_language()), id)


def _one(items: list[dict], id: str) -> dict:
    found = next((item for item in items if item["id"] == id), None)
    if found is None:
        abort(404)
    return found
