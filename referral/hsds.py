"""The public directory as Open Referral HSDS 3.0 objects (organization, service, ...).

One HSDS service per organisation and specialism, with its service areas (cities, voivodeships or
Poland), its languages and its specialism as an attribute linking a term of our own taxonomy.
Identifiers are stable: the organisation's UUID, and UUIDv5 names under a fixed namespace for the
rest, so the same thing keeps its id from one export to the next.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from babel import Locale
from flask_babel import force_locale, gettext

from . import contact
from .directory import active_members
from .extensions import db
from .handoff import warsaw_date
from .models import City, Organisation, Voivodeship, utcnow
from .routing import Scope
from .vocabulary import Specialism

# The HSDS API's root names the version and the OpenAPI document the API follows: the canonical
# one of HSDS 3.0 (its paths, of which we serve the directory's), as the specification's example
# does. No HSDS profile is used, so the root names none.
VERSION = "3.0"
OPENAPI_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json"

NAMESPACE = uuid.UUID("6f0c2a7e-3d52-4b8e-9a51-2f4c1f9e7b10")
TAXONOMY_ID = str(uuid.uuid5(NAMESPACE, "taxonomy:specialism"))
TAXONOMY_VERSION = "1"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def term_id(specialism: str) -> str:
    return _id("taxonomy_term", "specialism", specialism)


def service_id(organisation: Organisation, specialism: str) -> str:
    return _id("service", organisation.uuid, specialism)


def taxonomy(language: str) -> dict:
    with force_locale(language):
        return {
            "id": TAXONOMY_ID,
            "name": gettext("Referral specialisms"),
            "description": gettext(
                "The kinds of help the consortium's members give, as used to route requests."
            ),
            "version": TAXONOMY_VERSION,
        }


def taxonomy_term(specialism: Specialism, language: str) -> dict:
    with force_locale(language):
        return {
            "id": term_id(specialism.value),
            "code": specialism.value,
            "name": gettext(specialism.label),
            "description": gettext(specialism.hint) or gettext(specialism.label),
            "taxonomy": taxonomy(language)["name"],
            "taxonomy_id": TAXONOMY_ID,
            "taxonomy_detail": taxonomy(language),
            "language": language,
        }


def taxonomies(language: str) -> list[dict]:
    """The one taxonomy of our own: the specialisms."""
    return [taxonomy(language)]


def taxonomy_terms(language: str) -> list[dict]:
    """Every specialism as a term, in the order of the form: the ``taxonomy_term_id`` a service's
    attribute links and a client filters services by."""
    return [taxonomy_term(specialism, language) for specialism in Specialism]


def organization(org: Organisation, language: str) -> dict:
    data: dict = {
        "id": org.uuid,
        "name": org.name_in(language),
        "description": org.description_in(language),
    }
    if org.name_in(language) != org.name_pl:
        data["alternate_name"] = org.name_pl
    if org.website:
        data["website"] = org.website
    with force_locale(language):
        # Facts from public sources the organisation has not confirmed are marked as such.
        note = None if org.contact_confirmed else gettext("Not confirmed by the organisation")
    if org.public_phone:
        data["phones"] = [_phone(org, note, language, organization_id=org.uuid)]
    if location := _location(org, note, language):
        data["locations"] = [location]
    return data


def _phone(org: Organisation, note: str | None, language: str, **link: str) -> dict:
    (owner,) = link.values()
    phone = {"id": _id("phone", owner, org.public_phone or ""), **link, "number": org.public_phone}
    with force_locale(language):
        phone["description"] = note or gettext("Public phone")
    return phone


def _location(org: Organisation, note: str | None, language: str) -> dict | None:
    """The organisation's place: its address in the home city, phone and opening hours."""
    groups = contact.hour_groups(org.opening_hours)
    if not (org.street_address or groups):
        return None
    lid = _id("location", org.uuid)
    city = org.home_city
    location: dict = {
        "id": lid,
        "location_type": "physical",
        "organization_id": org.uuid,
        "name": org.name_in(language),
    }
    # An address is written as the post and the street signs have it: in Polish.
    line = contact.address_line(org.street_address, org.postal_code, city.name_pl if city else None)
    if line or note:
        location["description"] = "; ".join(part for part in (line, note) if part)
    if org.street_address and org.postal_code and city:
        location["addresses"] = [
            {
                "id": _id("address", lid),
                "location_id": lid,
                "address_1": org.street_address,
                "city": city.name_pl,
                "state_province": city.voivodeship.name_pl,
                "postal_code": org.postal_code,
                "country": "PL",
                "address_type": "physical",
            }
        ]
    if org.public_phone:
        location["phones"] = [_phone(org, note, language, location_id=lid)]
    if groups:
        location["schedules"] = [_schedule(lid, group, note, language) for group in groups]
    return location


def _schedule(lid: str, group: contact.HoursGroup, note: str | None, language: str) -> dict:
    schedule = {
        "id": _id("schedule", lid, ",".join(group.days)),
        "location_id": lid,
        "freq": "WEEKLY",
        "wkst": "MO",
        "byday": ",".join(group.days),
        "opens_at": group.opens,
        "closes_at": group.closes,
        "description": contact.describe_group(group, language),
    }
    if note:
        schedule["notes"] = note
    return schedule


@dataclass(frozen=True)
class _Places:
    cities: dict[str, City]
    voivodeships: dict[str, Voivodeship]

    @classmethod
    def load(cls) -> _Places:
        return cls(
            {c.slug: c for c in db.session.scalars(db.select(City))},
            {v.teryt: v for v in db.session.scalars(db.select(Voivodeship))},
        )


def _service_area(sid: str, scope: str, area: str | None, places: _Places, language: str) -> dict:
    with force_locale(language):
        if scope == Scope.CITY and area in places.cities:
            name = places.cities[area].name_in(language)
            description = gettext("City")
        elif scope == Scope.VOIVODESHIP and area in places.voivodeships:
            voivodeship = places.voivodeships[area]
            name = voivodeship.name_in(language)
            description = gettext("Voivodeship %(code)s", code=voivodeship.iso_code)
        else:
            name = gettext("Poland")
            description = gettext("All of Poland, remotely: by phone, e-mail or online")
    return {
        "id": _id("service_area", sid, scope, area or ""),
        "service_id": sid,
        "name": name,
        "description": description,
    }


def _languages(org: Organisation, sid: str, language: str) -> list[dict]:
    names = Locale.parse(language).languages
    with force_locale(language):
        note = None if org.languages_confirmed else gettext("Not confirmed by the organisation")
    result = []
    for code in org.languages or ():
        item = {"id": _id("language", sid, code), "service_id": sid, "name": names.get(code, code)}
        item["code"] = code
        if note:
            item["note"] = note
        result.append(item)
    return result


def _status(org: Organisation) -> str:
    if not org.takes_referrals:
        return "inactive"
    if org.is_paused(warsaw_date(utcnow())):
        return "temporarily closed"
    return "active"


def services_of(org: Organisation, places: _Places, language: str) -> list[dict]:
    by_specialism: dict[str, list] = {}
    for coverage in org.coverage:
        by_specialism.setdefault(coverage.specialism, []).append(coverage)
    result = []
    for specialism in Specialism:
        if specialism.value not in by_specialism:
            continue
        sid = service_id(org, specialism.value)
        with force_locale(language):
            label = gettext(specialism.label)
        areas = sorted(by_specialism[specialism.value], key=lambda c: (c.scope, c.area or ""))
        result.append(
            {
                "id": sid,
                "organization_id": org.uuid,
                "name": f"{label} — {org.name_in(language)}",
                "description": org.description_in(language),
                "status": _status(org),
                "organization": organization(org, language),
                "service_areas": [
                    _service_area(sid, c.scope, c.area, places, language) for c in areas
                ],
                "languages": _languages(org, sid, language),
                "attributes": [
                    {
                        "id": _id("attribute", sid, "specialism"),
                        "link_id": sid,
                        "link_type": "specialism",
                        "link_entity": "service",
                        "taxonomy_term_id": term_id(specialism.value),
                        "value": specialism.value,
                        "taxonomy_term": taxonomy_term(specialism, language),
                    }
                ],
            }
        )
    return result


def organizations(language: str) -> list[dict]:
    return [organization(org, language) for org in active_members()]


def services(language: str) -> list[dict]:
    places = _Places.load()
    return [service for org in active_members() for service in services_of(org, places, language)]


def paged(items: list[dict], page: int, size: int) -> dict:
    """The HSDS API's page envelope around one page of ``items``."""
    total_pages = max(1, math.ceil(len(items) / size))
    contents = items[(page - 1) * size : page * size]
    return {
        "total_items": len(items),
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }
