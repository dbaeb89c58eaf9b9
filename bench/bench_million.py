"""Growth from 100,000 to 1,000,000 referrals: the same measurements at both sizes, in one run.

Routing one need through the database, the staff inbox of the busiest organisation, a
referral's page, that organisation's system reading ``GET /api/v1/referrals``, an intake, the
coordinator's pages (home, unmatched queue, requests soon erased, audit trail), the worker's
tally job and then the coordinator's reports page, the sweep, and the retention purge.
Data are written with COPY (bench/common.py): 100,000 referrals first, then 900,000 more.
Targets at a million: routing under 5 ms, the inbox under 150 ms (by time left and urgent first),
a referral's page, the API's list, an intake and the coordinator's pages under 150 ms, reports
under 1 s, the sweep of ~100,000 open offers under 10 s. Meant for PostgreSQL
(``--database-url``); slow on SQLite.

``.venv/bin/python bench/bench_million.py --database-url URL [--runs N]``; with
``BENCH_MEASURE_ONLY=1``, measures once the database an earlier run filled (with the same
``BENCH_DATA_KEYS`` and ``BENCH_MATCH_KEY`` set for both runs).
"""

import itertools
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

from bench_inbox import busiest
from bench_intake import form
from common import (
    SPAN_DAYS,
    bulk_referrals,
    dialect_of,
    load_demo_accounts_in_english,
    machine,
    make_app,
    median_ms,
    parse_args,
    settle,
    signed_in_client,
)
from sqlalchemy import delete, func, select, update

from referral import api_tokens, erasure, lifecycle, report_tallies, routing
from referral.directory import Directory
from referral.extensions import db, limiter
from referral.handoff import WARSAW, State, warsaw_date
from referral.models import (
    AnswerTally,
    EventTally,
    Organisation,
    Referral,
    ReferralEvent,
    StepTally,
    TallyMonth,
)

NEED = routing.Need("legal", "warszawa", "14", frozenset({"uk"}))
TARGETS = {
    "routing": 5,
    "inbox": 150,
    "inbox, urgent": 150,
    "referral page": 150,
    "api list": 150,
    "intake": 150,
    "audit trail": 150,
    "coordinator": 150,
    "unmatched": 150,
    "retention": 150,
    "reports": 1000,
}


def page_ms(client, url: str, runs: int) -> float:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return median_ms(lambda: client.get(url).data, runs)


def measure(app, runs: int, now: datetime) -> dict[str, float]:
    figures: dict[str, float] = {}
    settle(app)
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Referral))
        offered = db.session.scalar(select(func.count()).where(Referral.state == State.OFFERED))
        today = datetime.combine(warsaw_date(now), dt_time(), WARSAW)  # midnight in Warsaw
        events_today = db.session.scalar(
            select(func.count()).where(ReferralEvent.at >= today, ReferralEvent.at <= now)
        )

        def route():
            db.session.expunge_all()
            return Directory.load(now).best(NEED)

        figures["routing"] = median_ms(route, runs * 4)
    slug, own = busiest(app)
    staff = signed_in_client(app, f"staff@{slug}.example")
    coordinator = signed_in_client(app, "coordinator@konsorcjum.example")
    with app.app_context():
        org_referral = db.session.scalar(
            select(Referral.id).where(Referral.state == State.IN_PROGRESS).limit(1)
        )
    figures["inbox"] = page_ms(staff, "/staff/", runs)
    figures["inbox, urgent"] = page_ms(staff, "/staff/?sort=urgent", runs)
    figures["referral page"] = page_ms(coordinator, f"/staff/referrals/{org_referral}", runs)
    with app.app_context():
        org_id = db.session.scalar(select(Organisation.id).where(Organisation.slug == slug))
        secret = api_tokens.issue(org_id, "bench", read_only=True, by=None).secret
    system = app.test_client()  # the organisation's system, reading its referrals
    system.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    figures["api list"] = page_ms(system, "/api/v1/referrals", runs)
    # A person never seen before asks for two kinds of help (the duplicate checks find nothing
    # and must not read every request to learn it).
    limiter.enabled = False  # one address posts them all
    person, numbers = app.test_client(), itertools.count(500_000 + time.time_ns() % 400_000)

    def intake():
        answer = person.post("/uk/request", data=form(random.Random(0), next(numbers)))
        assert answer.status_code == 200 and b'class="reference"' in answer.data

    figures["intake"] = median_ms(intake, runs * 4)
    figures["audit trail"] = page_ms(coordinator, "/admin/audit", runs)
    figures["coordinator"] = page_ms(coordinator, "/admin/", runs)
    figures["unmatched"] = page_ms(coordinator, "/admin/unmatched", runs)
    figures["retention"] = page_ms(coordinator, "/admin/retention", runs)
    with app.app_context():
        # The bulk data were written into the past, which the app never does (an event is
        # stamped when it happens): the tallies start afresh, then the worker's tally job counts
        # every month up to today, as it would have done day by day. (Measuring again the data
        # of an earlier run, the job only adds what happened since.)
        if not os.environ.get("BENCH_MEASURE_ONLY"):
            for model in (TallyMonth, StepTally, EventTally, AnswerTally):
                db.session.execute(delete(model))
            db.session.commit()
        start = time.perf_counter()
        # As the job would leave them at worst: run ten minutes before the data's end (it runs
        # every ten minutes), so that the report counts the last twenty minutes' events itself.
        report_tallies.advance_all(now=now - timedelta(minutes=10))
        figures["tally job"] = (time.perf_counter() - start) * 1000
    figures["reports"] = page_ms(coordinator, "/admin/reports", max(1, runs // 2))
    with app.app_context():
        start = time.perf_counter()
        expired = lifecycle.expire_overdue(now=now)
        figures["sweep"] = (time.perf_counter() - start) * 1000
        # The purge: requests ended more than SPAN_DAYS - 1 days ago (the oldest few per thousand).
        app.config["RETENTION_DAYS"] = SPAN_DAYS - 1
        start = time.perf_counter()
        erased = erasure.purge_ended(now=now)
        figures["purge"] = (time.perf_counter() - start) * 1000
    print(
        f"  {total:,} referrals ({offered:,} open offers); busiest organisation {slug} "
        f"({own:,} its own); {events_today:,} events so far today"
    )
    for label, value in figures.items():
        target = TARGETS.get(label)
        verdict = f" (target {target} ms: {'OK' if value < target else 'SLOWER'})" if target else ""
        print(f"    {label:<14} {value:9.1f} ms{verdict}")
    print(f"    the sweep expired and re-routed {expired:,}; the purge erased {erased:,} requests")
    return figures


def overdue_again(app, n: int, now: datetime) -> None:
    """Put ``n`` open offers past their deadline, as the bulk data did: for a sweep to measure
    on a database an earlier run has swept."""
    with app.app_context():
        offers = (
            select(Referral.id)
            .where(Referral.state == State.OFFERED, Referral.deadline_at >= now)
            .order_by(Referral.id)
            .limit(n)
        )
        db.session.execute(
            update(Referral)
            .where(Referral.id.in_(offers.scalar_subquery()))
            .values(deadline_at=now - timedelta(hours=1))
        )
        db.session.commit()


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    app = make_app(args.database_url)
    load_demo_accounts_in_english(app)
    now = datetime.now(UTC)
    print(f"Growth benchmark — {dialect_of(app)} · {machine()}")
    stages = [(100_000, 0.01), (900_000, 3_000 / 900_000)]
    if os.environ.get("BENCH_MEASURE_ONLY"):  # the data are there from an earlier run
        overdue_again(app, 3_000, now)  # the earlier run's sweep took its overdue offers
        measure(app, args.runs, now)
        return 0
    results = []
    for size, overdue in stages:
        start = time.perf_counter()
        bulk_referrals(app, size, open_share=0.3, overdue_share=overdue, seed=size, now=now)
        print(f"  + {size:,} referrals written in {time.perf_counter() - start:.0f} s")
        results.append(measure(app, args.runs, now + timedelta(seconds=1)))
    print("  growth, 100,000 -> 1,000,000 referrals:")
    for label in results[0]:
        small, large = results[0][label], results[1][label]
        print(f"    {label:<14} {small:9.1f} ms -> {large:9.1f} ms  (x{large / small:.1f})")
    ok = all(results[1][k] < v for k, v in TARGETS.items())
    print(f"  every target met at a million: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
