"""The coordinator keeps the directory: organisations and what they cover, where.

Each use case commits on its own, with its entry in the audit trail (who, what, before/after).
Routing reads the directory afresh for each use case (and each sweep), so a change counts from
the next routing on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date

from sqlalchemy import select

from .audit import changed, record
from .extensions import db
from .models import Coverage, Organisation, User
from .routing import Scope
from .service_errors import ServiceError, get_or_refuse


@dataclass
class OrganisationData:
    """The fields of an organisation the coordinator edits; validated by the form."""

    name_pl: str
    name_uk: str = ""
    name_en: str = ""
    description_pl: str = ""
    description_uk: str = ""
    description_en: str = ""
    website: str | None = None
    home_city_id: int | None = None
    languages: list[str] = field(default_factory=list)
    languages_confirmed: bool = True
    email: str | None = None
    takes_referrals: bool = True
    capacity: int | None = None
    paused_until: date | None = None
    pause_reason: str | None = None
    street_address: str | None = None
    postal_code: str | None = None
    public_phone: str | None = None
    opening_hours: dict | None = None  # {"MO": ["09:00", "17:00"], ...}; None: not given
    contact_confirmed: bool = True


def facts(organisation: Organisation) -> dict:
    """The edited fields as the audit keeps them (dates as ISO text, JSON's types): also what the
    edit page showed (``seen``), to tell a colleague's change from one's own."""
    values = {f.name: getattr(organisation, f.name) for f in fields(OrganisationData)}
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


def _apply(organisation: Organisation, data: OrganisationData) -> Organisation:
    for name, value in vars(data).items():
        setattr(organisation, name, value)
    organisation.languages = sorted(set(data.languages))
    organisation.opening_hours = data.opening_hours or None
    if organisation.paused_until is None:
        organisation.pause_reason = None
    return organisation


def _merged(data: OrganisationData, seen: dict, organisation: Organisation) -> OrganisationData:
    """What the coordinator changed from what their page showed (``seen``), over what is saved
    now: a colleague's change to another field since stays. The same field changed by both, to
    different values, is refused (STALE_VERSION, the fields' names)."""
    mine, now = facts(_apply(Organisation(), data)), facts(organisation)
    clashing = [
        name
        for name, value in mine.items()
        if value != seen.get(name) and now[name] != seen.get(name) and value != now[name]
    ]
    if clashing:
        raise ServiceError(ServiceError.STALE_VERSION, ",".join(clashing))
    unchanged = {name: getattr(organisation, name) for name in mine if mine[name] == seen.get(name)}
    return replace(data, **unchanged)


def save_organisation(
    data: OrganisationData,
    organisation_id: int | None = None,
    slug: str | None = None,
    *,
    by: User | None,
    seen: dict | None = None,
) -> Organisation:
    """Create an organisation (give ``slug``; SLUG_TAKEN when another has it) or update one:
    with ``seen`` (its ``facts`` as the edit page showed them), only what the coordinator
    changed from them (``_merged``). The slug is in addresses and exports: chosen once."""
    if organisation_id is None:
        if not slug or db.session.scalar(select(Organisation.id).where(Organisation.slug == slug)):
            raise ServiceError(ServiceError.SLUG_TAKEN, slug or "")
        organisation = Organisation(slug=slug)
        db.session.add(organisation)
        before = {}
    else:
        organisation = get_or_refuse(Organisation, organisation_id)
        before = facts(organisation)
        if seen is not None:
            data = _merged(data, seen, organisation)
    _apply(organisation, data)
    db.session.flush()
    old, new = changed(before, facts(organisation))
    if new or organisation_id is None:
        action = "organisation_created" if organisation_id is None else "organisation_changed"
        record(action, by, organisation_id=organisation.id, before=old or None, after=new)
    db.session.commit()
    return organisation


def _coverage_facts(coverage: Coverage) -> dict:
    return {"specialism": coverage.specialism, "scope": coverage.scope, "area": coverage.area}


def add_coverage(
    organisation_id: int, specialism: str, scope: str, area: str | None, *, by: User | None
) -> Coverage:
    """Add one specialism × place to an organisation; ALREADY_COVERED when it has it."""
    organisation = get_or_refuse(Organisation, organisation_id)
    area = None if scope == Scope.NATIONWIDE else area
    if any(
        (c.specialism, c.scope, c.area) == (specialism, scope, area) for c in organisation.coverage
    ):
        raise ServiceError(ServiceError.ALREADY_COVERED)
    coverage = Coverage(specialism=specialism, scope=scope, area=area)
    organisation.coverage.append(coverage)
    record("coverage_added", by, organisation_id=organisation.id, after=_coverage_facts(coverage))
    db.session.commit()
    return coverage


def remove_coverage(organisation_id: int, coverage_id: int, *, by: User | None) -> None:
    coverage = db.session.get(Coverage, coverage_id)
    if coverage is None or coverage.organisation_id != organisation_id:
        raise ServiceError(ServiceError.NOT_FOUND, "coverage")
    record(
        "coverage_removed", by, organisation_id=organisation_id, before=_coverage_facts(coverage)
    )
    db.session.delete(coverage)
    db.session.commit()
