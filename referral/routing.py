"""Rank the member organisations for one need.

Pure (no Flask, no session) so the rules can be tested on their own and every offer can be
explained. Each candidate carries its reasons as codes with parameters, never prose: the web layer
maps each code to a translated sentence.

Reason codes and their parameters:

| code                 | eligible | params                                                       |
| -------------------- | -------- | ------------------------------------------------------------ |
| covers               | yes      | specialism, scope, area (city slug or TERYT; absent when     |
|                      |          | nationwide)                                                  |
| speaks               | yes      | languages: the shared codes, sorted, comma-joined ("ru,uk")  |
| no_shared_language   | yes      | (none); only when the person gave languages                  |
| load                 | yes      | open_load, capacity; below capacity                          |
| full                 | yes      | open_load, capacity; at or over capacity, so it ranks last   |
| no_capacity_limit    | yes      | open_load                                                    |
| not_taking_referrals | no       | (none)                                                       |
| paused               | no       | (none)                                                       |
| tried_before         | no       | (none)                                                       |
| does_not_cover       | no       | specialism                                                   |
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property


class Scope(StrEnum):
    """Where a coverage applies; declared most local first, which is the ranking order."""

    CITY = "city"
    VOIVODESHIP = "voivodeship"
    NATIONWIDE = "nationwide"


SCOPE_ORDER = {scope: index for index, scope in enumerate(Scope)}


@dataclass(frozen=True)
class Need:
    """One need of a person: what, where (city slug and its voivodeship's TERYT code), in which
    languages (ISO 639-1)."""

    specialism: str
    city: str
    voivodeship: str
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Coverage:
    """A specialism served in a scope; area is the city slug, the TERYT code, or None nationwide."""

    specialism: str
    scope: Scope
    area: str | None

    def reaches(self, city: str, voivodeship: str) -> bool:
        """Whether a person in ``city`` (a slug; "" for a place not in the list) of
        ``voivodeship`` (a TERYT code) is served here: the one rule of where coverage applies."""
        if self.scope is Scope.NATIONWIDE:
            return True
        return self.area == (city if self.scope is Scope.CITY else voivodeship)


@dataclass(frozen=True)
class Organisation:
    """The routing view of one member: only what ranking needs, loaded by the caller. ``id`` is
    the organisation's row: the chosen candidate is offered by it, never looked up again."""

    id: int
    slug: str
    name: str
    takes_referrals: bool
    paused: bool
    languages: frozenset[str]
    capacity: int | None
    open_load: int
    last_offered_at: datetime | None
    coverage: frozenset[Coverage]

    @cached_property
    def _coverage_by_specialism(self) -> dict[str, tuple[Coverage, ...]]:
        grouped: dict[str, list[Coverage]] = {}
        for coverage in self.coverage:
            grouped.setdefault(coverage.specialism, []).append(coverage)
        return {specialism: tuple(rows) for specialism, rows in grouped.items()}

    def coverage_of(self, specialism: str) -> tuple[Coverage, ...]:
        """The coverage rows of one specialism, grouped once per profile: ranking a directory of
        a thousand organisations then looks at a few rows each, not at all of them."""
        return self._coverage_by_specialism.get(specialism, ())


@dataclass(frozen=True)
class Reason:
    """One explanation as a code and parameters, so it can be translated when shown."""

    code: str
    params: tuple[tuple[str, str | int], ...] = ()


@dataclass(frozen=True)
class Candidate:
    """An organisation with its verdict; scope is the most local matching one, if any."""

    organisation: Organisation
    scope: Scope | None
    eligible: bool
    reasons: tuple[Reason, ...]


def _closest_coverage(need: Need, organisation: Organisation) -> Coverage | None:
    """The most local coverage of the need's specialism that reaches its city, if any."""
    closest = None
    for coverage in organisation.coverage_of(need.specialism):
        if coverage.reaches(need.city, need.voivodeship) and (
            closest is None or SCOPE_ORDER[coverage.scope] < SCOPE_ORDER[closest.scope]
        ):
            closest = coverage
    return closest


def _is_full(organisation: Organisation) -> bool:
    return organisation.capacity is not None and organisation.open_load >= organisation.capacity


def _load_ratio(organisation: Organisation) -> float:
    if organisation.capacity is None:
        return 0.0
    if organisation.capacity <= 0:
        return math.inf
    return organisation.open_load / organisation.capacity


def _shared_languages(need: Need, organisation: Organisation) -> frozenset[str]:
    return need.languages & organisation.languages


def scope_rank(scope: Scope | None) -> int:
    """Most local first; no matching coverage (a candidate never ranked) after every scope."""
    return len(SCOPE_ORDER) if scope is None else SCOPE_ORDER[scope]


def _rank_key(need: Need, organisation: Organisation, scope: Scope | None) -> tuple:
    offered = organisation.last_offered_at
    return (
        scope_rank(scope),
        not _shared_languages(need, organisation),
        _is_full(organisation),
        _load_ratio(organisation),
        # Never offered sorts first; the datetime is only compared between two offered ones.
        (offered is not None, offered or datetime.min),
        organisation.name,
        organisation.slug,
    )


def _eligible_reasons(need: Need, organisation: Organisation, coverage: Coverage) -> list[Reason]:
    covers: tuple[tuple[str, str | int], ...] = (
        ("specialism", need.specialism),
        ("scope", coverage.scope.value),
    )
    if coverage.area is not None:
        covers += (("area", coverage.area),)
    reasons = [Reason("covers", covers)]
    if need.languages:
        shared = _shared_languages(need, organisation)
        if shared:
            reasons.append(Reason("speaks", (("languages", ",".join(sorted(shared))),)))
        else:
            reasons.append(Reason("no_shared_language"))
    if organisation.capacity is None:
        reasons.append(Reason("no_capacity_limit", (("open_load", organisation.open_load),)))
    else:
        load = (("open_load", organisation.open_load), ("capacity", organisation.capacity))
        reasons.append(Reason("full" if _is_full(organisation) else "load", load))
    return reasons


def _judge(need: Need, organisation: Organisation, tried: frozenset[int]) -> Candidate:
    coverage = _closest_coverage(need, organisation)
    refusals = []
    if not organisation.takes_referrals:
        refusals.append(Reason("not_taking_referrals"))
    if organisation.paused:
        refusals.append(Reason("paused"))
    if organisation.id in tried:
        refusals.append(Reason("tried_before"))
    if coverage is None:
        refusals.append(Reason("does_not_cover", (("specialism", need.specialism),)))
    if coverage is None or refusals:
        scope = coverage.scope if coverage else None
        return Candidate(organisation, scope, eligible=False, reasons=tuple(refusals))
    return _eligible(need, organisation, coverage)


def _eligible(need: Need, organisation: Organisation, coverage: Coverage) -> Candidate:
    reasons = _eligible_reasons(need, organisation, coverage)
    return Candidate(organisation, coverage.scope, eligible=True, reasons=tuple(reasons))


def assess(
    need: Need, organisations: Iterable[Organisation], tried: frozenset[int] = frozenset()
) -> list[Candidate]:
    """Every organisation with its verdict, for the coordinator's explanation: the eligible ones
    in rank order, then the ineligible ones by name, each saying why not."""
    judged = [_judge(need, organisation, tried) for organisation in organisations]
    eligible = sorted(
        (c for c in judged if c.eligible), key=lambda c: _rank_key(need, c.organisation, c.scope)
    )
    ineligible = sorted(
        (c for c in judged if not c.eligible),
        key=lambda c: (c.organisation.name, c.organisation.slug),
    )
    return eligible + ineligible


def rank(
    need: Need, organisations: Iterable[Organisation], tried: frozenset[int] = frozenset()
) -> list[Candidate]:
    """The organisations that may be offered this need, best first; empty means unmatched.
    ``tried`` holds the ids of the organisations it was offered to before.

    The eligible part of ``assess``, without judging the others: the fast path for routing.
    """
    reached = sorted(_reached(need, organisations, tried), key=lambda pair: pair[0])
    return [_eligible(need, organisation, coverage) for _key, organisation, coverage in reached]


def best(
    need: Need, organisations: Iterable[Organisation], tried: frozenset[int] = frozenset()
) -> Candidate | None:
    """The first candidate of ``rank``, or None: what an automatic offer needs, without ranking
    and explaining all the others."""
    first = min(_reached(need, organisations, tried), key=lambda pair: pair[0], default=None)
    return _eligible(need, first[1], first[2]) if first else None


def _reached(
    need: Need, organisations: Iterable[Organisation], tried: frozenset[int]
) -> Iterator[tuple[tuple, Organisation, Coverage]]:
    """(rank key, organisation, its closest coverage) for each organisation that may be offered
    the need."""
    for organisation in organisations:
        if (
            organisation.takes_referrals
            and not organisation.paused
            and organisation.id not in tried
        ):
            coverage = _closest_coverage(need, organisation)
            if coverage is not None:
                yield _rank_key(need, organisation, coverage.scope), organisation, coverage
