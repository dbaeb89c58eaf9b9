"""The directory as Open Referral HSDS 3.0: every object checked against the official schemas."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from referral.extensions import db
from referral.models import Organisation

from ..helpers import org

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "hsds-3.0"
PAGE_KEYS = {
    "total_items",
    "total_pages",
    "page_number",
    "size",
    "first_page",
    "last_page",
    "empty",
    "contents",
}


def _registry() -> Registry:
    """The schema files refer to each other by file name ("organization.json")."""
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), DRAFT202012))
        for path in SCHEMAS.glob("*.json")
    ]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validator(name: str) -> Draft202012Validator:
    schema = REGISTRY.contents(f"{name}.json")
    return Draft202012Validator(
        schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(name: str, instance: dict) -> None:
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def all_pages(client, url: str, per_page: int) -> list[dict]:
    contents, page = [], 1
    joint = "&" if "?" in url else "?"
    while True:
        body = client.get(f"{url}{joint}page={page}&per_page={per_page}").get_json()
        assert set(body) == PAGE_KEYS
        contents += body["contents"]
        if body["last_page"]:
            return contents
        page += 1


def test_every_organization_is_valid_hsds(client, directory):
    organizations = all_pages(client, "/api/v1/hsds/organizations", per_page=3)
    assert len(organizations) == 8  # amnesty-pl does not take referrals
    for organization in organizations:
        assert_valid("organization", organization)


def test_every_service_is_valid_hsds_with_its_area_languages_and_specialism(client, directory):
    services = all_pages(client, "/api/v1/hsds/services", per_page=7)
    assert services
    for service in services:
        assert_valid("service", service)
    nomada_legal = next(
        s
        for s in services
        if s["organization"]["name"] == "Stowarzyszenie Nomada"
        and s["attributes"][0]["taxonomy_term"]["code"] == "legal"
    )
    assert {a["name"] for a in nomada_legal["service_areas"]} == {"Wrocław", "dolnośląskie"}
    assert {lang["code"] for lang in nomada_legal["languages"]} == {"pl", "en"}
    assert all(lang["note"] for lang in nomada_legal["languages"])  # not confirmed


@pytest.mark.parametrize(("lang", "poland"), [("en", "Poland"), ("pl", "Polska")])
def test_nationwide_coverage_is_all_of_poland(client, directory, lang, poland):
    services = client.get(f"/api/v1/hsds/services?per_page=200&lang={lang}").get_json()
    hfpc = next(
        s for s in services["contents"] if s["organization"]["website"] == "https://hfhr.pl/"
    )
    assert [a["name"] for a in hfpc["service_areas"]] == [poland]


def test_the_schema_check_catches_a_broken_nested_object():
    broken = {
        "id": "6f0c2a7e-3d52-4b8e-9a51-2f4c1f9e7b10",
        "name": "x",
        "status": "active",
        "organization": {"id": "not-a-uuid", "name": "x", "description": "x"},
    }
    assert list(validator("service").iter_errors(broken))


def test_the_page_shape_follows_the_hsds_api(client, directory):
    first = client.get("/api/v1/hsds/organizations?per_page=5").get_json()
    assert (first["total_items"], first["total_pages"], first["page_number"]) == (8, 2, 1)
    assert (first["size"], first["first_page"], first["last_page"]) == (5, True, False)
    second = client.get("/api/v1/hsds/organizations?per_page=5&page=2").get_json()
    assert (second["size"], second["last_page"], second["empty"]) == (3, True, False)
    beyond = client.get("/api/v1/hsds/organizations?per_page=5&page=9").get_json()
    assert beyond["empty"] is True and beyond["contents"] == []


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("page=0", "page"),
        ("per_page=100000", "per_page"),
        ("per_page=0", "per_page"),
        ("lang=de", "lang"),
    ],
)
def test_a_directory_parameter_that_does_not_fit_is_named(client, directory, query, parameter):
    """It was a 400 "could not be read", its reason dropped: now a 422 naming the parameter, as
    the referrals' list answers."""
    answer = client.get(f"/api/v1/hsds/services?{query}")
    problem = answer.get_json()
    assert (answer.status_code, problem["code"]) == (422, "invalid_request")
    assert [error["location"] for error in problem["errors"]] == [parameter]


def test_ids_are_stable_across_requests_and_edits(app, client, directory):
    before = client.get("/api/v1/hsds/services?per_page=200").get_json()["contents"]
    with app.app_context():
        org("nomada").description_en = "Changed."
        db.session.commit()
    after = client.get("/api/v1/hsds/services?per_page=200").get_json()["contents"]
    assert [s["id"] for s in before] == [s["id"] for s in after]
    with app.app_context():
        uuids = set(db.session.scalars(db.select(Organisation.uuid)))
    assert {s["organization_id"] for s in before} <= uuids


def test_one_organization_and_one_service_by_id(client, directory):
    service = client.get("/api/v1/hsds/services?per_page=1").get_json()["contents"][0]
    single = client.get(f"/api/v1/hsds/services/{service['id']}").get_json()
    assert single == service
    organization = client.get(f"/api/v1/hsds/organizations/{service['organization_id']}")
    assert organization.status_code == 200
    assert_valid("organization", organization.get_json())
    assert client.get("/api/v1/hsds/services/not-an-id").status_code == 404


@pytest.mark.parametrize(("lang", "name"), [("en", "Legal help"), ("pl", "Pomoc prawna")])
def test_the_specialism_is_a_term_of_our_taxonomy_in_the_asked_language(
    client, directory, lang, name
):
    services = client.get(f"/api/v1/hsds/services?per_page=200&lang={lang}").get_json()
    terms = {
        a["taxonomy_term"]["code"]: a["taxonomy_term"]
        for s in services["contents"]
        for a in s["attributes"]
    }
    assert terms["legal"]["name"] == name
    assert len({t["taxonomy_id"] for t in terms.values()}) == 1


def test_services_filter_by_organization(client, directory):
    everything = client.get("/api/v1/hsds/services?per_page=200").get_json()
    nomada = next(
        s["organization_id"]
        for s in everything["contents"]
        if s["organization"]["name"] == "Stowarzyszenie Nomada"
    )
    only = client.get(f"/api/v1/hsds/services?per_page=200&organization_id={nomada}").get_json()
    assert only["total_items"] == 3  # legal, psychological, information
    assert {s["organization_id"] for s in only["contents"]} == {nomada}


# --- the root and the taxonomy ------------------------------------------------------------------


def test_the_hsds_root_names_its_version_and_the_api_it_follows(client):
    root = client.get("/api/v1/hsds/")
    assert root.status_code == 200
    assert root.get_json() == {
        "version": "3.0",
        "openapi_url": "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json",
    }
    links = client.get("/api/v1/").get_json()["links"]
    assert links["hsds"].endswith("/api/v1/hsds/")


@pytest.mark.parametrize(("lang", "legal"), [("pl", "Pomoc prawna"), ("uk", "Правова допомога")])
def test_the_taxonomy_and_its_terms_are_valid_hsds_in_the_asked_language(
    client, directory, lang, legal
):
    [taxonomy] = all_pages(client, f"/api/v1/hsds/taxonomies?lang={lang}", per_page=1)
    assert_valid("taxonomy", taxonomy)
    assert client.get(f"/api/v1/hsds/taxonomies/{taxonomy['id']}?lang={lang}").get_json() == (
        taxonomy
    )
    terms = all_pages(client, f"/api/v1/hsds/taxonomy_terms?lang={lang}", per_page=4)
    assert len(terms) == 9  # one per need
    for term in terms:
        assert_valid("taxonomy_term", term)
        assert term["taxonomy_id"] == taxonomy["id"] and term["language"] == lang
    by_code = {term["code"]: term for term in terms}
    assert by_code["legal"]["name"] == legal
    one = client.get(f"/api/v1/hsds/taxonomy_terms/{by_code['legal']['id']}?lang={lang}")
    assert one.get_json() == by_code["legal"]
    for missing in ("/taxonomies/not-an-id", "/taxonomy_terms/not-an-id"):
        assert client.get(f"/api/v1/hsds{missing}").status_code == 404


def test_the_terms_listed_are_those_services_can_be_filtered_by(client, directory):
    """A client filtering services by taxonomy_term_id had no list of the terms to use."""
    terms = client.get("/api/v1/hsds/taxonomy_terms?per_page=200").get_json()["contents"]
    services = client.get("/api/v1/hsds/services?per_page=200").get_json()["contents"]
    used = {a["taxonomy_term_id"] for s in services for a in s["attributes"]}
    assert used <= {term["id"] for term in terms}
    for term in terms:
        found = client.get(f"/api/v1/hsds/services?per_page=200&taxonomy_term_id={term['id']}")
        codes = {a["value"] for s in found.get_json()["contents"] for a in s["attributes"]}
        assert codes <= {term["code"]}
    legal = next(term for term in terms if term["code"] == "legal")
    legal_services = client.get(f"/api/v1/hsds/services?taxonomy_term_id={legal['id']}")
    assert legal_services.get_json()["total_items"] > 0


def test_terms_filter_by_taxonomy_and_page_as_the_rest(client, directory):
    taxonomy_id = client.get("/api/v1/hsds/taxonomies").get_json()["contents"][0]["id"]
    mine = client.get(f"/api/v1/hsds/taxonomy_terms?taxonomy_id={taxonomy_id}").get_json()
    assert mine["total_items"] == 9
    other = client.get("/api/v1/hsds/taxonomy_terms?taxonomy_id=another").get_json()
    assert (other["total_items"], other["empty"]) == (0, True)
    assert client.get("/api/v1/hsds/taxonomy_terms?per_page=0").status_code == 422
    assert client.get("/api/v1/hsds/taxonomies?lang=de").status_code == 422
