"""The coordinator's reports with 100,000 referrals in the database: GET /admin/reports (the last
12 months, every table and chart) and one CSV export, through the test client, signed in as the
coordinator. Target: median under 1 s.

``.venv/bin/python bench/bench_reports.py [--database-url URL] [--runs N]``
"""

import sys
import time

from common import bulk_referrals, dialect_of, machine, make_app, median_ms, parse_args

from referral import reports, seed
from referral.extensions import db
from referral.models import User, utcnow

REFERRALS = 100_000
TARGET_MS = 1000


def main() -> int:
    args = parse_args(__doc__)
    app = make_app(args.database_url)
    app.config["WTF_CSRF_ENABLED"] = False  # the sign-in below posts without a page
    print(f"{dialect_of(app)} · {machine()}")
    started = time.perf_counter()
    counts = bulk_referrals(app, REFERRALS)
    print(f"{REFERRALS:,} referrals inserted in {time.perf_counter() - started:.1f} s: {counts}")
    with app.app_context():
        seed.load_demo_accounts()
        db.session.execute(db.update(User).values(language="en"))
        db.session.commit()
    client = app.test_client()
    signed_in = client.post(
        "/login",
        data={"email": "coordinator@konsorcjum.example", "password": seed.DEMO_PASSWORD},
    )
    assert signed_in.status_code == 302, "sign-in failed"

    worst = 0.0
    for label, url in (
        ("reports page, last 12 months", "/admin/reports"),
        ("offers and answers CSV", "/admin/reports/organisations.csv"),
        ("demand by voivodeship CSV", "/admin/reports/voivodeships.csv"),
    ):
        response = client.get(url)  # warm-up: templates compiled, caches filled
        assert response.status_code == 200, (url, response.status_code)
        ms = median_ms(lambda url=url: client.get(url).data, args.runs)
        worst = max(worst, ms)
        print(f"  {label:<32} median {ms:7.1f} ms over {args.runs} runs")

    with app.test_request_context():
        period = reports.Period.last_12_months(utcnow().date())
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
