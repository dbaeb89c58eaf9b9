"""Routing rules, each on its own, then the demo directory and properties over random ones."""

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from referral.routing import (
    Candidate,
    Coverage,
    Need,
    Organisation,
    Reason,
    Scope,
    assess,
    best,
    rank,
    scope_rank,
)

T0 = datetime(2025, 3, 3, 10, tzinfo=UTC)
LEGAL_IN_WROCLAW = Need("legal", "wroclaw", "02", frozenset({"uk"}))


# Each test organisation's id, given by its slug: tests name organisations, routing knows ids.
_IDS: dict[str, int] = {}


def id_of(slug: str) -> int:
    return _IDS.setdefault(slug, len(_IDS) + 1)


def tried(*slugs: str) -> frozenset[int]:
    return frozenset(map(id_of, slugs))


def org(slug: str, *coverage: Coverage, **fields) -> Organisation:
    defaults = dict(
        id=id_of(slug),
        slug=slug,
        name=fields.pop("name", slug.title()),
        takes_referrals=True,
        paused=False,
        languages=frozenset({"pl"}),
        capacity=None,
        open_load=0,
        last_offered_at=None,
        coverage=frozenset(coverage or {Coverage("legal", Scope.NATIONWIDE, None)}),
    )
    return Organisation(**defaults | fields)


def slugs(candidates: list[Candidate]) -> list[str]:
    return [c.organisation.slug for c in candidates]


def codes(candidate: Candidate) -> list[str]:
    return [reason.code for reason in candidate.reasons]


CITY = Coverage("legal", Scope.CITY, "wroclaw")
VOIVODESHIP = Coverage("legal", Scope.VOIVODESHIP, "02")
NATIONWIDE = Coverage("legal", Scope.NATIONWIDE, None)


# Eligibility


def test_eligible_organisation_is_ranked():
    assert slugs(rank(LEGAL_IN_WROCLAW, [org("a")])) == ["a"]


def test_not_taking_referrals_is_not_ranked():
    candidates = assess(LEGAL_IN_WROCLAW, [org("a", takes_referrals=False)])
    assert not candidates[0].eligible
    assert codes(candidates[0]) == ["not_taking_referrals"]
    assert rank(LEGAL_IN_WROCLAW, [org("a", takes_referrals=False)]) == []


def test_paused_is_not_ranked():
    (candidate,) = assess(LEGAL_IN_WROCLAW, [org("a", paused=True)])
    assert (candidate.eligible, codes(candidate)) == (False, ["paused"])


def test_tried_is_not_ranked():
    (candidate,) = assess(LEGAL_IN_WROCLAW, [org("a")], tried=tried("a"))
    assert (candidate.eligible, codes(candidate)) == (False, ["tried_before"])


def test_not_covering_is_not_ranked():
    other_city = Coverage("legal", Scope.CITY, "poznan")
    other_voivodeship = Coverage("legal", Scope.VOIVODESHIP, "30")
    other_specialism = Coverage("housing", Scope.NATIONWIDE, None)
    organisations = [
        org("a", other_city),
        org("b", other_voivodeship),
        org("c", other_specialism),
    ]
    assert rank(LEGAL_IN_WROCLAW, organisations) == []
    for candidate in assess(LEGAL_IN_WROCLAW, organisations):
        assert candidate.scope is None
        assert candidate.reasons == (Reason("does_not_cover", (("specialism", "legal"),)),)


def test_every_reason_for_refusal_is_given():
    (candidate,) = assess(
        LEGAL_IN_WROCLAW,
        [org("a", Coverage("housing", Scope.CITY, "wroclaw"), takes_referrals=False, paused=True)],
        tried=tried("a"),
    )
    assert codes(candidate) == ["not_taking_referrals", "paused", "tried_before", "does_not_cover"]


def test_ineligible_organisation_is_explained_at_its_most_local_scope():
    (paused,) = assess(LEGAL_IN_WROCLAW, [org("a", NATIONWIDE, CITY, paused=True)])
    assert (paused.eligible, paused.scope) == (False, Scope.CITY)


def test_organisation_listed_once_at_its_most_local_scope():
    everywhere = org("a", NATIONWIDE, VOIVODESHIP, CITY)
    (candidate,) = rank(LEGAL_IN_WROCLAW, [everywhere])
    assert candidate.scope is Scope.CITY
    (candidate,) = rank(LEGAL_IN_WROCLAW, [org("a", NATIONWIDE, VOIVODESHIP)])
    assert candidate.scope is Scope.VOIVODESHIP


# Ranking, one rule at a time (everything else equal)


def test_more_local_scope_ranks_first():
    organisations = [
        org("n", NATIONWIDE, name="A"),
        org("v", VOIVODESHIP, name="B"),
        org("c", CITY, name="C"),
    ]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["c", "v", "n"]


def test_no_matching_scope_sorts_after_every_scope():
    assert [scope_rank(scope) for scope in Scope] == [0, 1, 2]
    assert scope_rank(None) == 3


def test_speaking_a_persons_language_ranks_first():
    organisations = [org("a"), org("b", languages=frozenset({"pl", "uk"}))]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["b", "a"]


def test_no_language_bonus_when_the_person_gave_none():
    need = replace(LEGAL_IN_WROCLAW, languages=frozenset())
    organisations = [org("a"), org("b", languages=frozenset({"uk"}))]
    ranked = rank(need, organisations)
    assert slugs(ranked) == ["a", "b"]
    assert all(not {"speaks", "no_shared_language"} & set(codes(candidate)) for candidate in ranked)


def test_scope_outranks_language():
    organisations = [org("n", NATIONWIDE, languages=frozenset({"uk"})), org("c", CITY)]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["c", "n"]


def test_full_organisation_ranks_last_but_is_kept():
    organisations = [
        org("a", capacity=2, open_load=2, name="A"),
        org("b", capacity=10, open_load=9, name="B"),
    ]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["b", "a"]
    only_full = rank(LEGAL_IN_WROCLAW, [org("a", capacity=2, open_load=5)])
    assert slugs(only_full) == ["a"]
    assert Reason("full", (("open_load", 5), ("capacity", 2))) in only_full[0].reasons


def test_organisation_at_exact_capacity_ranks_after_one_with_room():
    organisations = [
        org("a", capacity=3, open_load=3, name="A"),
        org("b", capacity=100, open_load=99, name="B"),
    ]
    ranked = rank(LEGAL_IN_WROCLAW, organisations)
    assert slugs(ranked) == ["b", "a"]
    assert Reason("full", (("open_load", 3), ("capacity", 3))) in ranked[1].reasons
    assert Reason("load", (("open_load", 99), ("capacity", 100))) in ranked[0].reasons


def test_organisation_with_capacity_zero_is_full_and_ranks_last():
    organisations = [
        org("a", capacity=0, open_load=0, name="A"),
        org("b", capacity=1, open_load=0, name="B"),
        org("c", capacity=1, open_load=1, name="C"),
    ]
    ranked = rank(LEGAL_IN_WROCLAW, organisations)
    assert slugs(ranked) == ["b", "c", "a"]
    assert Reason("full", (("open_load", 0), ("capacity", 0))) in ranked[2].reasons


def test_among_full_organisations_the_most_overloaded_ranks_last():
    organisations = [
        org("a", capacity=1, open_load=3, name="A"),
        org("b", capacity=2, open_load=2, name="B"),
    ]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["b", "a"]


def test_no_capacity_limit_is_never_full():
    organisations = [org("a", capacity=1, open_load=1, name="A"), org("b", open_load=99, name="B")]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["b", "a"]


def test_lower_load_ratio_ranks_first():
    organisations = [
        org("a", capacity=10, open_load=3, name="A"),
        org("b", capacity=4, open_load=1, name="B"),
        org("c", open_load=50, name="C"),
    ]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["c", "b", "a"]


def test_least_recently_offered_ranks_first():
    organisations = [
        org("a", last_offered_at=T0, name="A"),
        org("b", last_offered_at=T0 - timedelta(days=1), name="B"),
        org("c", last_offered_at=None, name="C"),
    ]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["c", "b", "a"]


def test_name_breaks_the_last_tie():
    organisations = [org("z", name="Zeta"), org("a", name="Alfa"), org("m", name="Mu")]
    assert slugs(rank(LEGAL_IN_WROCLAW, organisations)) == ["a", "m", "z"]


def test_eligible_reasons():
    organisation = org("a", CITY, languages=frozenset({"uk", "ru", "pl"}), capacity=10, open_load=3)
    need = replace(LEGAL_IN_WROCLAW, languages=frozenset({"ru", "uk", "en"}))
    (candidate,) = rank(need, [organisation])
    assert candidate.reasons == (
        Reason("covers", (("specialism", "legal"), ("scope", "city"), ("area", "wroclaw"))),
        Reason("speaks", (("languages", "ru,uk"),)),
        Reason("load", (("open_load", 3), ("capacity", 10))),
    )
    (candidate,) = rank(LEGAL_IN_WROCLAW, [org("b", open_load=4)])
    assert candidate.reasons == (
        Reason("covers", (("specialism", "legal"), ("scope", "nationwide"))),
        Reason("no_shared_language"),
        Reason("no_capacity_limit", (("open_load", 4),)),
    )


def test_assess_lists_eligible_in_rank_order_then_the_rest_by_name():
    organisations = [
        org("x", paused=True, name="Xi"),
        org("b", NATIONWIDE, name="Beta"),
        org("w", takes_referrals=False, name="Alfa"),
        org("a", CITY, name="Omega"),
    ]
    candidates = assess(LEGAL_IN_WROCLAW, organisations)
    assert slugs(candidates) == ["a", "b", "w", "x"]
    assert [c.eligible for c in candidates] == [True, True, False, False]


# The demo directory (a copy of ../shared/data/demo_coverage.csv, so the tests stand alone)

DEMO_COVERAGE = """\
org,name,home_city,languages,takes_referrals,scope,specialisms
hfpc,Helsińska Fundacja Praw Człowieka,warszawa,pl ru en,yes,nationwide,legal
sip,Stowarzyszenie Interwencji Prawnej,warszawa,pl en,yes,nationwide,legal
sip,Stowarzyszenie Interwencji Prawnej,warszawa,pl en,yes,city:warszawa,legal information material
mip-poznan,Migrant Info Point,poznan,pl ru uk en,yes,city:poznan,legal employment language information
mip-poznan,Migrant Info Point,poznan,pl ru uk en,yes,voivodeship:30,information
pfm,Polskie Forum Migracyjne,warszawa,pl ru uk en,yes,city:warszawa,psychological legal employment housing education medical
pfm,Polskie Forum Migracyjne,warszawa,pl ru uk en,yes,voivodeship:14,psychological
nomada,Stowarzyszenie Nomada,wroclaw,pl en,yes,city:wroclaw,legal psychological information
nomada,Stowarzyszenie Nomada,wroclaw,pl en,yes,voivodeship:02,legal
chlebem-i-sola,Fundacja Polska Gościnność (Chlebem i Solą / Uchodźcy.Info),warszawa,pl,yes,city:warszawa,housing language education information
nasz-wybor,Fundacja Nasz Wybór,warszawa,uk pl,yes,city:warszawa,information language legal
homo-faber,Stowarzyszenie Homo Faber,lublin,uk pl be en ru,yes,city:lublin,legal psychological language information education
homo-faber,Stowarzyszenie Homo Faber,lublin,uk pl be en ru,yes,voivodeship:06,information
amnesty-pl,Amnesty International Polska,warszawa,pl en,no,,
"""  # noqa: E501


def demo_directory() -> list[Organisation]:
    organisations: dict[str, Organisation] = {}
    for row in csv.DictReader(io.StringIO(DEMO_COVERAGE)):
        coverage = set()
        if row["scope"]:
            scope, _, area = row["scope"].partition(":")
            coverage = {
                Coverage(specialism, Scope(scope), area or None)
                for specialism in row["specialisms"].split()
            }
        known = organisations.get(row["org"])
        organisations[row["org"]] = Organisation(
            id=id_of(row["org"]),
            slug=row["org"],
            name=row["name"],
            takes_referrals=row["takes_referrals"] == "yes",
            paused=False,
            languages=frozenset(row["languages"].split()),
            capacity=None,
            open_load=0,
            last_offered_at=None,
            coverage=frozenset(coverage) | (known.coverage if known else frozenset()),
        )
    return list(organisations.values())


def test_demo_legal_in_wroclaw_goes_to_nomada_first():
    ranked = rank(Need("legal", "wroclaw", "02", frozenset({"uk"})), demo_directory())
    assert slugs(ranked)[0] == "nomada"
    assert ranked[0].scope is Scope.CITY


def test_demo_psychological_in_lublin_goes_to_homo_faber_first():
    ranked = rank(Need("psychological", "lublin", "06"), demo_directory())
    assert slugs(ranked)[0] == "homo-faber"


def test_demo_housing_in_warszawa_prefers_pfm_for_ukrainian_speakers():
    ranked = slugs(rank(Need("housing", "warszawa", "14", frozenset({"uk"})), demo_directory()))
    assert ranked.index("pfm") < ranked.index("chlebem-i-sola")


def test_demo_information_in_chelm_reaches_homo_faber_across_the_voivodeship():
    (candidate, *_) = rank(Need("information", "chelm", "06"), demo_directory())
    assert (candidate.organisation.slug, candidate.scope) == ("homo-faber", Scope.VOIVODESHIP)


def test_demo_psychological_in_chelm_is_unmatched():
    assert rank(Need("psychological", "chelm", "06"), demo_directory()) == []


def test_demo_amnesty_is_never_ranked():
    directory = demo_directory()
    for specialism in ("legal", "information", "psychological", "housing"):
        for city, voivodeship in (("warszawa", "14"), ("wroclaw", "02"), ("lublin", "06")):
            need = Need(specialism, city, voivodeship, frozenset({"pl", "en"}))
            assert "amnesty-pl" not in slugs(rank(need, directory))
    (amnesty,) = [
        c
        for c in assess(Need("legal", "warszawa", "14"), directory)
        if c.organisation.slug == "amnesty-pl"
    ]
    assert codes(amnesty) == ["not_taking_referrals", "does_not_cover"]


# Properties over random directories

SPECIALISMS = st.sampled_from(["legal", "housing", "information"])
CITIES = {"wroclaw": "02", "walbrzych": "02", "lublin": "06", "warszawa": "14"}
LANGUAGES = st.frozensets(st.sampled_from(["pl", "uk", "ru", "en"]), max_size=3)


@st.composite
def coverages(draw) -> Coverage:
    scope = draw(st.sampled_from(Scope))
    city = draw(st.sampled_from(sorted(CITIES)))
    area = {Scope.CITY: city, Scope.VOIVODESHIP: CITIES[city], Scope.NATIONWIDE: None}[scope]
    return Coverage(draw(SPECIALISMS), scope, area)


@st.composite
def organisations(draw) -> list[Organisation]:
    count = draw(st.integers(0, 8))
    return [
        Organisation(
            id=index,
            slug=f"org-{index}",
            name=draw(st.sampled_from(["Alfa", "Beta", "Gamma"])),
            takes_referrals=draw(st.booleans()),
            paused=draw(st.booleans()),
            languages=draw(LANGUAGES),
            capacity=draw(st.none() | st.integers(0, 5)),
            open_load=draw(st.integers(0, 7)),
            last_offered_at=draw(st.none() | st.integers(0, 3).map(lambda d: T0 + timedelta(d))),
            coverage=draw(st.frozensets(coverages(), max_size=4)),
        )
        for index in range(count)
    ]


@st.composite
def needs(draw) -> Need:
    city = draw(st.sampled_from(sorted(CITIES)))
    return Need(draw(SPECIALISMS), city, CITIES[city], draw(LANGUAGES))


def reaches(coverage: Coverage, need: Need) -> bool:
    return coverage.specialism == need.specialism and (
        coverage.scope is Scope.NATIONWIDE
        or (coverage.scope is Scope.CITY and coverage.area == need.city)
        or (coverage.scope is Scope.VOIVODESHIP and coverage.area == need.voivodeship)
    )


@given(needs(), organisations(), st.frozensets(st.integers(0, 7)))
def test_every_ranked_candidate_covers_the_need_and_was_not_tried(need, directory, tried):
    ranked = rank(need, directory, tried)
    for candidate in ranked:
        organisation = candidate.organisation
        assert any(reaches(c, need) for c in organisation.coverage)
        assert organisation.id not in tried
        assert organisation.takes_referrals and not organisation.paused
    assert len(set(slugs(ranked))) == len(ranked)
    assessed = assess(need, directory, tried)
    assert sorted(slugs(assessed)) == sorted(o.slug for o in directory)
    assert assessed[: len(ranked)] == ranked


@given(needs(), organisations())
def test_ranking_is_deterministic_whatever_the_input_order(need, directory):
    assert rank(need, directory) == rank(need, list(reversed(directory)))


def test_fair_rotation_alternates_between_equal_candidates():
    directory = {o.slug: o for o in (org("a", name="Same"), org("b", name="Same"))}
    winners = []
    for request in range(6):
        winner = rank(LEGAL_IN_WROCLAW, directory.values())[0].organisation
        winners.append(winner.slug)
        directory[winner.slug] = replace(winner, last_offered_at=T0 + timedelta(minutes=request))
    assert winners == ["a", "b", "a", "b", "a", "b"]


@given(
    st.lists(st.sampled_from(["a", "b", "c"]), unique=True, min_size=2),
    st.integers(2, 12),
)
def test_fair_rotation_shares_requests_evenly(names, requests):
    directory = {n: org(n, name="Same") for n in names}
    counts = dict.fromkeys(names, 0)
    previous = None
    for request in range(requests):
        winner = rank(LEGAL_IN_WROCLAW, directory.values())[0].organisation
        assert winner.slug != previous
        previous = winner.slug
        counts[winner.slug] += 1
        directory[winner.slug] = replace(winner, last_offered_at=T0 + timedelta(minutes=request))
    assert max(counts.values()) - min(counts.values()) <= 1


@given(needs(), organisations(), st.frozensets(st.integers(0, 7)))
def test_best_is_the_first_ranked_candidate(need, directory, tried):
    ranked = rank(need, directory, tried)
    assert best(need, directory, tried) == (ranked[0] if ranked else None)
