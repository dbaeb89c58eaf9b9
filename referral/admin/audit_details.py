"""What an administrative action changed (``audit.record``'s before/after), in the reader's words.

The audit keeps field names and JSON values (``role``, ``organisation_id``, ``true``, ``[]``); the
coordinator's page showed them as they are, in English and Python's spelling, an organisation by its
id. Here each field has a translated label and each value its reading: a name for an id, yes or no,
a role's, a scope's or a specialism's label, "—" for nothing. A field left as it was is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..contact import day_names, hour_groups
from ..directory import place_names
from ..explain import language_names, specialism_label
from ..extensions import db
from ..i18n import current_language
from ..models import City, Organisation
from ..routing import Scope
from ..vocabulary import Role

NOTHING = "—"

# Every key ``audit.record`` is given (accounts, two_factor, organisations, api_tokens,
# webhooks): a test writes each kind of action and checks none reaches the page untranslated.
LABELS = {
    # Accounts
    "email": _l("E-mail"),
    "role": _l("Role"),
    "organisation_id": _l("Organisation"),
    "active": _l("Can sign in"),
    "cases": _l("Cases assigned"),
    "two_factor": _l("Two-step sign-in"),
    "require_two_factor": _l("Two-step sign-in required of its staff"),
    "recovery_codes_left": _l("Recovery codes left"),
    # API tokens and webhooks
    "token": _l("API token"),
    "name": _l("Name"),
    "url": _l("Webhook address"),
    # Coverage
    "specialism": _l("Specialism"),
    "scope": _l("Where"),
    "area": _l("Place"),
    # Organisations (organisations.OrganisationData: the labels of its form)
    "name_pl": _l("Name in Polish"),
    "name_uk": _l("Name in Ukrainian"),
    "name_en": _l("Name in English"),
    "description_pl": _l("Description in Polish"),
    "description_uk": _l("Description in Ukrainian"),
    "description_en": _l("Description in English"),
    "website": _l("Website"),
    "home_city_id": _l("Home city"),
    "languages": _l("Languages the staff serve in"),
    "languages_confirmed": _l("The organisation has confirmed these languages"),
    "takes_referrals": _l("Takes referrals"),
    "capacity": _l("Capacity (open referrals at most)"),
    "paused_until": _l("Paused until (inclusive)"),
    "pause_reason": _l("Reason for the pause"),
    "street_address": _l("Street address"),
    "postal_code": _l("Postal code"),
    "public_phone": _l("Public phone"),
    "opening_hours": _l("Opening hours"),
    "contact_confirmed": _l(
        "The organisation has confirmed its home city and these contact details"
    ),
}
# An API token's scope, beside the coverage's (the same key in the audit).
TOKEN_LABELS = {"scope": _l("Access"), "name": _l("Name of the system")}
TOKEN_SCOPES = {"read": _l("Only read"), "read_write": _l("Read and change")}
COVERAGE_SCOPES = {
    Scope.CITY: _l("In one city"),
    Scope.VOIVODESHIP: _l("In one voivodeship"),
    Scope.NATIONWIDE: _l("All of Poland, remotely"),
}


@dataclass(frozen=True)
class Change:
    label: str
    before: str | None  # None: the action wrote no value before (a creation)
    after: str | None  # None: none after (a removal)


@dataclass
class Names:
    """What the values' ids name, read once for a page of rows."""

    organisations: dict[int, Organisation]
    api_tokens: dict[int, str]
    cities: dict[int, str]

    @classmethod
    def for_rows(cls, rows, organisations: dict[int, Organisation], api_tokens: dict[int, str]):
        language = current_language()
        city_ids = {
            values["home_city_id"]
            for row in rows
            for values in (getattr(row, "before", None), getattr(row, "after", None))
            if isinstance(values, dict) and values.get("home_city_id")
        }
        cities = (
            {
                c.id: c.name_in(language)
                for c in db.session.scalars(select(City).where(City.id.in_(city_ids)))
            }
            if city_ids
            else {}
        )
        return cls(organisations, api_tokens, cities)


def _hours(hours: dict) -> str:
    days = day_names(current_language())
    return "; ".join(
        f"{days[group.days[0]]}"
        + (f"–{days[group.days[-1]]}" if len(group.days) > 1 else "")
        + f" {group.opens}–{group.closes}"
        for group in hour_groups(hours)
    )


def reading(key: str, value: Any, values: dict, token: bool, names: Names) -> str:
    """``value`` of field ``key`` as the reader reads it; ``values`` the row's other fields."""
    if value is None or value == "" or value == [] or value == {}:
        return NOTHING
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    language = current_language()
    if key == "role":
        return _(Role(value).label) if value in set(Role) else str(value)
    if key == "organisation_id":
        organisation = names.organisations.get(value)
        return organisation.name_in(language) if organisation else NOTHING
    if key == "home_city_id":
        return names.cities.get(value, NOTHING)
    if key == "token":
        return names.api_tokens.get(value, NOTHING)
    if key == "scope":
        return str((TOKEN_SCOPES if token else COVERAGE_SCOPES).get(value, value))
    if key == "area":
        return place_names(language).get((values.get("scope", ""), value), str(value))
    if key == "specialism":
        return specialism_label(value)
    if key == "languages":
        return language_names(value)
    if key == "cases":
        return ", ".join(value)
    if key == "opening_hours":
        return _hours(value)
    if key == "paused_until":
        return format_date(date.fromisoformat(value), "long")
    if isinstance(value, int):
        return format_decimal(value)
    return str(value)


def changes(action: str, before: dict | None, after: dict | None, names: Names) -> list[Change]:
    """The fields ``action`` changed, each labelled and read; those left as they were left out."""
    before, after = before or {}, after or {}
    token = action.startswith("api_token")
    shown = []
    for key in dict.fromkeys([*after, *before]):
        if key in before and key in after and before[key] == after[key]:
            continue
        label = (TOKEN_LABELS if token else {}).get(key) or LABELS.get(key, key)
        was = reading(key, before[key], before, token, names) if key in before else None
        now = reading(key, after[key], after, token, names) if key in after else None
        if was == now or NOTHING == (was or NOTHING) == (now or NOTHING):
            continue  # None to "", or nothing written on a creation or a removal
        shown.append(Change(str(label), was, now))
    return shown
