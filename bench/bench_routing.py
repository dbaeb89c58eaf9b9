"""Routing with 1,000 organisations and 20,000 coverage rows: ``routing.rank`` on its own, and
through ``directory.Directory`` on a database of that size holding BENCH_REFERRALS referrals
(default 100,000; 1,000,000 for the figure in the README). Target: under 5 ms (median), both.

Usage: .venv/bin/python bench/bench_routing.py [--database-url URL] [--runs N]
"""

import os
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from common import (
    bulk_directory,
    bulk_referrals,
    dialect_of,
    machine,
    make_app,
    median_ms,
    parse_args,
)

from referral import routing
from referral.directory import Directory, route_preview
from referral.extensions import db
from referral.vocabulary import Specialism

ORGANISATIONS = 1_000
COVERAGE_ROWS = 20_000
TARGET_MS = 5.0
# (specialism, city slug, its voivodeship's TERYT, languages)
NEEDS = [
    routing.Need("legal", "warszawa", "14", frozenset({"uk"})),
    routing.Need("psychological", "lublin", "06", frozenset({"uk", "ru"})),
    routing.Need("housing", "chelm", "06", frozenset()),
]


def synthetic_directory(seed: int = 0) -> list[routing.Organisation]:
    """The in-memory routing view of 1,000 organisations with 20,000 coverage rows in all."""
    rng = random.Random(seed)
    cities = [("warszawa", "14"), ("krakow", "12"), ("wroclaw", "02"), ("lublin", "06")]
    cities += [(f"city-{i}", f"{i % 16 * 2 + 2:02d}") for i in range(20)]
    coverage: dict[int, set[routing.Coverage]] = {i: set() for i in range(ORGANISATIONS)}
    total = 0
    while total < COVERAGE_ROWS:
        org = rng.randrange(ORGANISATIONS)
        scope = rng.choices(list(routing.Scope), weights=[70, 25, 5])[0]
        city, voivodeship = rng.choice(cities)
        area = {routing.Scope.CITY: city, routing.Scope.VOIVODESHIP: voivodeship}.get(scope)
        row = routing.Coverage(rng.choice(list(Specialism)).value, scope, area)
        if row not in coverage[org]:
            coverage[org].add(row)
            total += 1
    now = datetime.now(UTC)
    return [
        routing.Organisation(
            id=i,
            slug=f"org-{i}",
            name=f"Organisation {i}",
            takes_referrals=rng.random() < 0.95,
            paused=rng.random() < 0.03,
            languages=frozenset(rng.sample(["pl", "uk", "ru", "en", "be"], rng.randint(1, 4))),
            capacity=rng.choice([None, 10, 20, 50]),
            open_load=rng.randint(0, 40),
            last_offered_at=now - timedelta(minutes=rng.randint(0, 10**5)),
            coverage=frozenset(coverage[i]),
        )
        for i in range(ORGANISATIONS)
    ]


def bench_pure(runs: int) -> bool:
    organisations = synthetic_directory()
    # The first rank over new profiles also groups each one's coverage by specialism.
    first = median_ms(lambda: routing.rank(NEEDS[0], [replace(o) for o in organisations]), 1)
    print(f"  routing.rank over fresh copies of the profiles (groups coverage): {first:.1f} ms")
    ok = True
    for need in NEEDS:
        ranked = routing.rank(need, organisations)
        ms = median_ms(lambda need=need: routing.rank(need, organisations), runs)
        ok &= ms < TARGET_MS
        print(
            f"  routing.rank, {need.specialism} in {need.city}: {ms:.2f} ms median of {runs} "
            f"({len(ranked)} candidates)"
        )
    return ok


def bench_directory(database_url: str | None, runs: int, referrals: int) -> bool:
    """Routing through the database as a use case does it: a fresh Directory (nothing cached in
    the session), the candidates query for the need's place, and the ranking."""
    app = make_app(database_url)
    bulk_directory(app, ORGANISATIONS, COVERAGE_ROWS)
    bulk_referrals(app, referrals, open_share=0.3, overdue_share=0.01)
    print(
        f"  database: {dialect_of(app)}, {ORGANISATIONS:,} organisations (+ the demo ones), "
        f"{COVERAGE_ROWS:,} coverage rows, {referrals:,} referrals"
    )
    ok = True
    with app.app_context():
        now = datetime.now(UTC)
        for need in NEEDS:

            def route(need=need):
                db.session.expunge_all()  # as a new request would: nothing cached
                return Directory.load(now).best(need)

            def explain(need=need):
                db.session.expunge_all()
                return Directory.load(now).rank(need)

            ms = median_ms(route, runs * 4)
            ok &= ms < TARGET_MS
            print(
                f"  routing {need.specialism} in {need.city} through the database: {ms:.2f} ms "
                f"median; every candidate ranked and explained ({len(explain())}): "
                f"{median_ms(explain, runs):.1f} ms"
            )
        preview = median_ms(lambda: route_preview("legal", "warszawa", ["uk"]), runs)
        print(f"  directory.route_preview (city lookup + routing): {preview:.1f} ms median")
        everyone = median_ms(lambda: Directory.load(now).assess(NEEDS[0]), runs)
        print(f"  Directory.assess, every organisation (the coordinator's view): {everyone:.1f} ms")
    return ok


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    print(f"Routing benchmark — {machine()}")
    ok = bench_pure(max(args.runs, 200))
    referrals = int(os.environ.get("BENCH_REFERRALS", "100000"))
    ok &= bench_directory(args.database_url, args.runs, referrals)
    print(
        f"  routing under {TARGET_MS:.0f} ms, pure and through the database: "
        + ("yes" if ok else "NO")
    )


if __name__ == "__main__":
    main()
