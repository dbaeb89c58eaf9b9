"""Intake submissions per second: valid forms (two needs each) posted to POST /uk/request through
the WSGI app with the test client, each stored, split into referrals and routed at once, on top of
10,000 referrals already in the database. CSRF and the rate limit are off: this measures the app.

``.venv/bin/python bench/bench_intake.py [--database-url URL] [--runs N]``
"""

import random
import statistics
import sys
import time

from common import bulk_referrals, dialect_of, machine, make_app, parse_args
from sqlalchemy import func, select

from referral.extensions import db, limiter
from referral.models import HelpRequest, Referral

EXISTING = 10_000
PER_RUN = 200
CITIES = ["warszawa", "krakow", "wroclaw", "poznan", "lublin", "gdansk"]
NEEDS = ["legal", "housing", "information", "language", "psychological", "employment"]


def form(rng: random.Random, i: int) -> dict:
    return {
        "needs": rng.sample(NEEDS, 2),
        "city": rng.choice(CITIES),
        "languages": ["uk", "ru"],
        "name": f"Person {i}",
        "phone": f"+48 512 {i // 1000 % 1000:03d} {i % 1000:03d}",
        "contact_channel": "phone",
        "description": "I need advice about my residence permit and a place to stay. " * 5,
        "urgency": "urgent" if i % 7 == 0 else "normal",
        "consent": "y",
    }


def main() -> int:
    args = parse_args(__doc__)
    app = make_app(args.database_url)
    app.config["WTF_CSRF_ENABLED"] = False  # posted without fetching the page first
    limiter.enabled = False  # one address sends everything here
    print(f"{dialect_of(app)} · {machine()}")
    bulk_referrals(app, EXISTING)
    client = app.test_client()
    rng = random.Random(0)
    for i in range(20):  # warm-up: templates compiled, caches filled
        assert client.post("/uk/request", data=form(rng, i)).status_code == 200

    rates = []
    sent = 20
    for _ in range(args.runs):
        start = time.perf_counter()
        for _ in range(PER_RUN):
            response = client.post("/uk/request", data=form(rng, sent))
            assert response.status_code == 200 and b'class="reference"' in response.data
            sent += 1
        rates.append(PER_RUN / (time.perf_counter() - start))
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(HelpRequest)) - EXISTING
        referrals = db.session.scalar(select(func.count()).select_from(Referral)) - EXISTING
    assert stored == sent and referrals == 2 * sent, (stored, referrals, sent)
    print(
        f"{EXISTING:,} referrals before; {args.runs} runs of {PER_RUN} submissions "
        f"(2 needs each, routed at once)"
    )
    print(
        f"intake: median {statistics.median(rates):.0f} submissions/s "
        f"(min {min(rates):.0f}, max {max(rates):.0f}); "
        f"{1000 / statistics.median(rates):.1f} ms each"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
