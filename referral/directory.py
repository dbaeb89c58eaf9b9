"""The read side of the consortium directory: the routing view of the organisations (with the
candidates for a need), and the places (cities, voivodeships) with their names and choices."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from flask import g
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from . import routing
from .extensions import db
from .handoff import ACTIVE_STATES, warsaw_date
from .models import City, Coverage, Organisation, Referral, Voivodeship, utcnow
from .routing import Scope, scope_rank
from .service_errors import ServiceError
from .vocabulary import Specialism

# --- the routing view ---------------------------------------------------------------------------


@dataclass
class Directory:
    """The routing view of every organisation, loaded once per use case (and per sweep).

    Profiles are built once and replaced as offers change an organisation's load, so a sweep
    re-routing thousands of referrals does not rebuild the whole directory for each.
    """

    today: date
    organisations: dict[int, Organisation]
    open_load: dict[int, int]
    coverage: dict[int, frozenset[routing.Coverage]]
    _profiles: dict[int, routing.Organisation] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, now: datetime) -> Directory:
        organisations = {org.id: org for org in db.session.scalars(select(Organisation))}
        # Plain rows, not ORM objects: a big directory has tens of thousands of them.
        coverage: dict[int, set[routing.Coverage]] = {}
        for org_id, specialism, scope, area in db.session.execute(
            select(Coverage.organisation_id, Coverage.specialism, Coverage.scope, Coverage.area)
        ):
            coverage.setdefault(org_id, set()).add(
                routing.Coverage(specialism, routing.Scope(scope), area)
            )
        open_load: dict[int, int] = {
            org_id: n
            for org_id, n in db.session.execute(
                select(Referral.organisation_id, func.count())
                .where(Referral.state.in_(ACTIVE_STATES))
                .group_by(Referral.organisation_id)
            )
            if org_id is not None
        }
        return cls(
            today=warsaw_date(now),
            organisations=organisations,
            open_load=open_load,
            coverage={org_id: frozenset(rows) for org_id, rows in coverage.items()},
        )

    def profile(self, org: Organisation) -> routing.Organisation:
        profile = self._profiles.get(org.id)
        if profile is None:
            profile = self._profiles[org.id] = routing.Organisation(
                id=org.id,
                slug=org.slug,
                name=org.name_pl,
                takes_referrals=org.takes_referrals,
                paused=org.is_paused(self.today),
                languages=frozenset(org.languages or ()),
                capacity=org.capacity,
                open_load=self.open_load.get(org.id, 0),
                last_offered_at=org.last_offered_at,
                coverage=self.coverage.get(org.id, frozenset()),
            )
        return profile

    def _profiles_of_all(self) -> list[routing.Organisation]:
        return [self.profile(org) for org in self.organisations.values()]

    def _refresh(self, org_id: int) -> None:
        """Bring a cached profile up to date with the organisation's load and last offer."""
        if org_id in self._profiles:
            self._profiles[org_id] = replace(
                self._profiles[org_id],
                open_load=self.open_load.get(org_id, 0),
                last_offered_at=self.organisations[org_id].last_offered_at,
            )

    def row(self, candidate: routing.Candidate) -> Organisation:
        """The organisation behind a candidate: the one an offer goes to."""
        return self.organisations[candidate.organisation.id]

    @staticmethod
    def tried(referral: Referral) -> frozenset[int]:
        """Ids of the organisations this referral was ever offered to (or is held by): routing
        never offers it to them again."""
        ids = {event.offered_to_id for event in referral.events} | {referral.organisation_id}
        return frozenset(i for i in ids if i is not None)

    def assess(
        self, need: routing.Need, tried: frozenset[int] = frozenset()
    ) -> list[routing.Candidate]:
        return routing.assess(need, self._profiles_of_all(), tried)

    def rank(
        self, need: routing.Need, tried: frozenset[int] = frozenset()
    ) -> list[routing.Candidate]:
        return routing.rank(need, self._profiles_of_all(), tried)

    def offered(self, org: Organisation, now: datetime) -> None:
        """Keep the in-memory view true after an offer (a sweep routes many in a row)."""
        org.last_offered_at = now
        self.open_load[org.id] = self.open_load.get(org.id, 0) + 1
        self._refresh(org.id)

    def released(self, org_id: int | None) -> None:
        if org_id is not None and self.open_load.get(org_id):
            self.open_load[org_id] -= 1
            self._refresh(org_id)


def need_of(referral: Referral) -> routing.Need:
    request = referral.request
    return routing.Need(
        specialism=referral.specialism,
        city=request.city.slug if request.city else "",
        voivodeship=request.voivodeship_teryt,
        languages=frozenset(request.languages or ()),
    )


def candidate_lists(
    referrals: Iterable[Referral], now: datetime | None = None
) -> dict[int, list[routing.Candidate]]:
    """Every organisation with its verdict for each referral (the coordinator's view), loading
    the directory once for all of them."""
    directory = Directory.load(now or utcnow())
    return {
        referral.id: directory.assess(need_of(referral), directory.tried(referral))
        for referral in referrals
    }


def candidates_for(referral: Referral, now: datetime | None = None) -> list[routing.Candidate]:
    return candidate_lists([referral], now)[referral.id]


def route_preview(
    specialism: str, city_slug: str, languages: Iterable[str] = ()
) -> list[routing.Candidate]:
    """Ranked candidates for a hypothetical need: for checking the directory."""
    city = db.session.scalar(select(City).where(City.slug == city_slug))
    if city is None:
        raise ServiceError(ServiceError.UNKNOWN_PLACE, city_slug)
    need = routing.Need(specialism, city.slug, city.voivodeship_teryt, frozenset(languages))
    return Directory.load(utcnow()).rank(need)


def active_members() -> list[Organisation]:
    """Members that take referrals, with their coverage, in a stable order."""
    return list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.takes_referrals.is_(True))
            .options(selectinload(Organisation.coverage), selectinload(Organisation.home_city))
            .order_by(Organisation.name_pl)
        )
    )


def coverage_summary(
    organisation: Organisation, names: dict[tuple[str, str], str], nationwide: str
) -> list[tuple[str, list[str]]]:
    """(specialism, where) for each specialism the organisation covers, in the vocabulary's order;
    places most local first, ``nationwide`` standing for all of Poland."""
    summary = []
    for specialism in Specialism:
        rows = [c for c in organisation.coverage if c.specialism == specialism]
        rows.sort(key=lambda c: (scope_rank(Scope(c.scope)), names.get((c.scope, c.area or ""))))
        places = [
            nationwide if c.scope == Scope.NATIONWIDE else names.get((c.scope, c.area or ""), "")
            for c in rows
        ]
        if places:
            summary.append((specialism.value, places))
    return summary


# --- places -------------------------------------------------------------------------------------

# Alphabets of the interface languages, to sort names as a native reader expects ("ł" after "l").
_ALPHABETS = {
    "pl": "aąbcćdeęfghijklłmnńoóprsśtuwyzźż",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
}


def collation_key(text: str, language: str) -> tuple:
    lowered = text.lower()
    alphabet = _ALPHABETS.get(language)
    if alphabet is None:
        return tuple(unicodedata.normalize("NFKD", lowered))
    return tuple(alphabet.find(ch) if ch in alphabet else 1000 + ord(ch) for ch in lowered)


def cities_sorted(language: str) -> list[City]:
    """Cities ordered by their name in ``language``."""
    cities = db.session.scalars(select(City)).all()
    return sorted(cities, key=lambda city: collation_key(city.name_in(language), language))


def city_choices(language: str, by: str = "slug") -> list[tuple[str, str]]:
    """(value, name) for every city in the reader's order; ``by`` is the value: slug or id."""
    return [(str(getattr(city, by)), city.name_in(language)) for city in cities_sorted(language)]


def voivodeship_choices(language: str) -> list[tuple[str, str]]:
    """(TERYT, name) for every voivodeship in the reader's order."""
    voivodeships = sorted(
        db.session.scalars(select(Voivodeship)),
        key=lambda v: collation_key(v.name_in(language), language),
    )
    return [(v.teryt, v.name_in(language)) for v in voivodeships]


def place_names(language: str) -> dict[tuple[str, str], str]:
    """("city", slug) and ("voivodeship", TERYT) -> the place's name in ``language``: read once per
    request, however many places a page names."""
    cache = g.setdefault("place_names", {})
    if language not in cache:
        names = {("city", c.slug): c.name_in(language) for c in db.session.scalars(select(City))}
        names.update(
            (("voivodeship", v.teryt), v.name_in(language))
            for v in db.session.scalars(select(Voivodeship))
        )
        cache[language] = names
    return cache[language]
