"""The coordinator's reports with 100,000 referrals in the database: GET /admin/reports (the last
12 months, every table and chart) and one CSV export, through the test client, signed in as the
coordinator. Target: median under 1 s.

``.venv/bin/python bench/bench_reports.py [--database-url URL] [--runs N]``
"""

import sys
import time

from common import (
    bulk_referrals,
    dialect_of,
    load_demo_accounts_in_english,
    machine,
    make_app,
    median_ms,
    parse_args,
    signed_in_client,
    time_pages,
)

from referral import reports
from referral.handoff import warsaw_date
from referral.models import utcnow

REFERRALS = 100_000
TARGET_MS = 1000


def main() -> int:
    args = parse_args(__doc__)
    app = make_app(args.database_url)
    print(f"{dialect_of(app)} · {machine()}")
    started = time.perf_counter()
    counts = bulk_referrals(app, REFERRALS)
    print(f"{REFERRALS:,} referrals inserted in {time.perf_counter() - started:.1f} s: {counts}")
    load_demo_accounts_in_english(app)
    client = signed_in_client(app, "coordinator@konsorcjum.example")

    medians = time_pages(
        client,
        (
            ("reports page, last 12 months", "/admin/reports"),
            ("offers and answers CSV", "/admin/reports/organisations.csv"),
            ("demand by voivodeship CSV", "/admin/reports/voivodeships.csv"),
        ),
        args.runs,
        width=32,
    )
    worst = max(medians.values())

    with app.test_request_context():
        period = reports.Period.last_12_months(warsaw_date(utcnow()))
        for name, query in (
            ("  query: referral counts", lambda: reports.referral_counts(period)),
            ("  query: unmatched by voivodeship", lambda: reports.unmatched_by_voivodeship(period)),
            ("  query: event counts", lambda: reports.event_counts(period)),
            ("  query: answer times", lambda: reports.answer_times(period)),
        ):
            print(f"{name:<34} median {median_ms(query, args.runs):7.1f} ms")
    verdict = "OK" if worst < TARGET_MS else "SLOWER THAN TARGET"
    print(f"  target: every report under {TARGET_MS} ms: {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
