"""The read side of the consortium directory: the routing view of the organisations (with the
candidates for a need), and the places (cities, voivodeships) with their names and choices."""

from __future__ import annotations

import math
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from typing import Any, TypeVar

from flask import current_app, g, has_app_context
from sqlalchemy import and_, bindparam, event, insert, inspect, or_, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from . import routing
from .extensions import db
from .handoff import warsaw_date
from .models import (
    City,
    Coverage,
    DirectoryVersion,
    Organisation,
    Referral,
    Voivodeship,
    utcnow,
)
from .routing import Scope, scope_rank
from .service_errors import ServiceError
from .vocabulary import Specialism

# --- the routing view ---------------------------------------------------------------------------

# (specialism, city slug, voivodeship TERYT): the place and need one candidate query answers.
_Place = tuple[str, str, str]


# The columns routing reads from an organisation's row.
_ROUTING_COLUMNS = (
    Organisation.id,
    Organisation.slug,
    Organisation.name_pl,
    Organisation.takes_referrals,
    Organisation.paused_until,
    Organisation.languages,
    Organisation.capacity,
    Organisation.open_load,
    Organisation.last_offered_at,
)

# The organisations whose coverage of a specialism may reach a place: nationwide, in the city or in
# its voivodeship; taking referrals and not paused. Built once, run with the need's values.
_REACHING = (
    select(*_ROUTING_COLUMNS, Coverage.scope, Coverage.area)
    .join(Coverage, Coverage.organisation_id == Organisation.id)
    .where(
        Coverage.specialism == bindparam("specialism"),
        or_(
            Coverage.scope == Scope.NATIONWIDE,
            and_(Coverage.scope == Scope.CITY, Coverage.area == bindparam("city")),
            and_(Coverage.scope == Scope.VOIVODESHIP, Coverage.area == bindparam("voivodeship")),
        ),
        Organisation.takes_referrals.is_(True),
        or_(Organisation.paused_until.is_(None), Organisation.paused_until < bindparam("today")),
    )
)


@dataclass
class Directory:
    """The routing view of the directory for one use case (or one sweep).

    Routing one need reads only the organisations whose coverage of that specialism reaches the
    need's place (one indexed query on ``ix_coverage_reach``, plain rows, no ORM objects), never
    the whole directory; the answer is kept for the next need of the same kind and place, so a
    sweep re-routing thousands of referrals asks once per place. An organisation this use case
    has touched (offered a referral, released one) is read from its row in the session instead,
    where its open load and last offer are up to date. The open load is a column the lifecycle
    keeps in the same transaction as each step (``counters``): no referral is counted here. Only
    the coordinator's view (``assess``) reads every organisation.
    """

    today: date
    _rows: dict[int, Any] = field(default_factory=dict, repr=False)
    _reaching: dict[_Place, dict[int, frozenset[routing.Coverage]]] = field(
        default_factory=dict, repr=False
    )
    _everyone: dict[int, frozenset[routing.Coverage]] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, now: datetime) -> Directory:
        """The view as of ``now`` (pauses count by Warsaw date); it reads nothing until asked."""
        return cls(today=warsaw_date(now))

    def _candidates(self, need: routing.Need) -> dict[int, frozenset[routing.Coverage]]:
        """Organisation id -> its coverage of the need's specialism that may reach the need's
        place, for the organisations taking referrals and not paused; routing decides from them.
        """
        place = (need.specialism, need.city, need.voivodeship)
        if place not in self._reaching:
            rows = db.session.execute(
                _REACHING,
                {
                    "specialism": need.specialism,
                    "city": need.city,
                    "voivodeship": need.voivodeship,
                    "today": self.today,
                },
            )
            reaching: dict[int, set[routing.Coverage]] = {}
            for row in rows:
                self._rows[row.id] = row
                reaching.setdefault(row.id, set()).add(
                    routing.Coverage(need.specialism, Scope(row.scope), row.area)
                )
            self._reaching[place] = {org_id: frozenset(c) for org_id, c in reaching.items()}
        return self._reaching[place]

    def _all(self) -> dict[int, frozenset[routing.Coverage]]:
        """Every organisation with all its coverage: the coordinator's view, not routing's."""
        if self._everyone is None:
            for row in db.session.execute(select(*_ROUTING_COLUMNS)):
                self._rows[row.id] = row
            coverage: dict[int, set[routing.Coverage]] = {i: set() for i in self._rows}
            for org_id, specialism, scope, area in db.session.execute(
                select(Coverage.organisation_id, Coverage.specialism, Coverage.scope, Coverage.area)
            ):
                coverage[org_id].add(routing.Coverage(specialism, Scope(scope), area))
            self._everyone = {org_id: frozenset(rows) for org_id, rows in coverage.items()}
        return self._everyone

    def _profile(self, org_id: int, coverage: frozenset[routing.Coverage]) -> routing.Organisation:
        """Built afresh for each ranking: the load and last offer change as offers are made."""
        row = self._rows[org_id]
        touched = db.session.identity_map.get(identity_key(Organisation, org_id))
        return routing.Organisation(
            id=row.id,
            slug=row.slug,
            name=row.name_pl,
            takes_referrals=row.takes_referrals,
            paused=row.paused_until is not None and self.today <= row.paused_until,
            languages=frozenset(row.languages or ()),
            capacity=row.capacity,
            open_load=touched.open_load if touched is not None else row.open_load,
            last_offered_at=touched.last_offered_at if touched is not None else row.last_offered_at,
            coverage=coverage,
        )

    def row(self, candidate: routing.Candidate) -> Organisation:
        """The organisation behind a candidate: the one an offer goes to."""
        return db.session.get_one(Organisation, candidate.organisation.id)

    @staticmethod
    def tried(referral: Referral) -> frozenset[int]:
        """Ids of the organisations this referral was ever offered to (or is held by): routing
        never offers it to them again."""
        ids = {event.offered_to_id for event in referral.events} | {referral.organisation_id}
        return frozenset(i for i in ids if i is not None)

    def assess(
        self, need: routing.Need, tried: frozenset[int] = frozenset()
    ) -> list[routing.Candidate]:
        """Every organisation with its verdict (the coordinator's view)."""
        profiles = [self._profile(org_id, rows) for org_id, rows in self._all().items()]
        return routing.assess(need, profiles, tried)

    def _reaching_profiles(self, need: routing.Need) -> list[routing.Organisation]:
        return [self._profile(org_id, rows) for org_id, rows in self._candidates(need).items()]

    def rank(
        self, need: routing.Need, tried: frozenset[int] = frozenset()
    ) -> list[routing.Candidate]:
        """The candidates for one need, best first, each with its reasons."""
        return routing.rank(need, self._reaching_profiles(need), tried)

    def best(
        self, need: routing.Need, tried: frozenset[int] = frozenset()
    ) -> routing.Candidate | None:
        """The candidate an automatic offer goes to, or None (unmatched)."""
        return routing.best(need, self._reaching_profiles(need), tried)


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
            .options(
                selectinload(Organisation.coverage),
                selectinload(Organisation.home_city).selectinload(City.voivodeship),
            )
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


# --- what each process keeps from the directory ------------------------------------------------

T = TypeVar("T")
# Organisation columns that change with every offer: not an edit of the directory.
_ROUTINE = frozenset({"last_offered_at", "open_load"})
_kept: dict[Any, Any] = {}
_STAMP = object()  # the key under which _kept holds the stamp it was built at


_last_read: list = ["", -math.inf]  # the stamp this process read last, and when (monotonic)


def version() -> str:
    """The directory's version stamp ("" before the first edit): read at most once per request,
    and at most once every ``DIRECTORY_CHECK_SECONDS`` by a process (an edit elsewhere shows
    within that time; one made in this process, at once)."""
    if "directory_version" not in g:
        stamp, read_at = _last_read
        if time.monotonic() - read_at >= current_app.config["DIRECTORY_CHECK_SECONDS"]:
            stamp = db.session.scalar(select(DirectoryVersion.stamp)) or ""
            _last_read[:] = [stamp, time.monotonic()]
        g.directory_version = stamp
    return g.directory_version


def kept(key: Any, build: Callable[[], T]) -> T:
    """What ``build`` makes from the directory, kept by this process until the directory's
    version stamp changes, in this process or any other (choices, place names, public pages)."""
    stamp = version()
    if _kept.get(_STAMP) != stamp:
        _kept.clear()
        _kept[_STAMP] = stamp
    if key not in _kept:
        _kept[key] = build()
    return _kept[key]


def _edits_directory(row: object) -> bool:
    if isinstance(row, Organisation):
        state = inspect(row)
        changed = set(state.mapper.attrs.keys()) - state.unmodified
        return state.pending or state.deleted or bool(changed - _ROUTINE)
    return isinstance(row, (Coverage, City, Voivodeship))


@event.listens_for(Session, "after_flush")
def _new_version_on_edit(session: Session, flush_context) -> None:
    """Any flush that adds, changes or removes an organisation, a coverage row or a place gives
    the directory a new stamp, in the same transaction."""
    if not any(map(_edits_directory, chain(session.new, session.dirty, session.deleted))):
        return
    new_version(session)


def new_version(session: Session) -> None:
    """Give the directory a new stamp: done on every edit; call it after writing the directory
    in bulk, past the ORM."""
    _last_read[1] = -math.inf  # this process reads the new one at once
    if has_app_context():
        g.pop("directory_version", None)
    connection = session.connection()
    stamp = secrets.token_hex(16)
    if not connection.execute(update(DirectoryVersion).values(stamp=stamp)).rowcount:
        connection.execute(insert(DirectoryVersion).values(id=1, stamp=stamp))


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
    return kept(
        ("city_choices", language, by),
        lambda: [
            (str(getattr(city, by)), city.name_in(language)) for city in cities_sorted(language)
        ],
    )


def covered_city_choices(organisation_id: int | None, language: str) -> list[tuple[str, str]]:
    """(id, name) of the cities an organisation's coverage reaches, in the reader's order (every
    city for a coordinator, who has no organisation, and for nationwide coverage)."""

    def build() -> list[tuple[str, str]]:
        reach = db.session.execute(
            select(Coverage.scope, Coverage.area).where(Coverage.organisation_id == organisation_id)
        ).all()
        if organisation_id is None or any(scope == Scope.NATIONWIDE for scope, _ in reach):
            return city_choices(language, by="id")
        areas = {(scope, area) for scope, area in reach}
        return [
            (str(city.id), city.name_in(language))
            for city in cities_sorted(language)
            if (Scope.CITY, city.slug) in areas
            or (Scope.VOIVODESHIP, city.voivodeship_teryt) in areas
        ]

    return kept(("covered_city_choices", organisation_id, language), build)


def voivodeship_choices(language: str) -> list[tuple[str, str]]:
    """(TERYT, name) for every voivodeship in the reader's order."""

    def build() -> list[tuple[str, str]]:
        voivodeships = sorted(
            db.session.scalars(select(Voivodeship)),
            key=lambda v: collation_key(v.name_in(language), language),
        )
        return [(v.teryt, v.name_in(language)) for v in voivodeships]

    return kept(("voivodeship_choices", language), build)


def place_names(language: str) -> dict[tuple[str, str], str]:
    """("city", slug) and ("voivodeship", TERYT) -> the place's name in ``language``, however many
    places a page names."""

    def build() -> dict[tuple[str, str], str]:
        names = {("city", c.slug): c.name_in(language) for c in db.session.scalars(select(City))}
        names.update(
            (("voivodeship", v.teryt), v.name_in(language))
            for v in db.session.scalars(select(Voivodeship))
        )
        return names

    return kept(("place_names", language), build)
