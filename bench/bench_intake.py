"""Intake submissions per second: valid forms (two needs each) posted to POST /uk/request through
the WSGI app with the test client, each stored, split into referrals and routed at once, on top of
10,000 referrals already in the database. CSRF and the rate limit are off: this measures the app.
Beside the rate, the CPU time of one submission (which a loaded machine disturbs far less than
wall time) and the same for bench/bare_app.py's intake in this process, and the SQL statements
one submission sends.

``.venv/bin/python bench/bench_intake.py [--database-url URL] [--runs N]``
"""

import os
import random
import statistics
import sys
import time
from collections.abc import Callable

from common import bulk_referrals, dialect_of, machine, make_app, parse_args
from sqlalchemy import event, func, select

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
    with app.app_context():
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
        client.post("/uk/request", data=form(rng, sent))
    print(f"  {len(statements)} SQL statements a submission")
    ours = cpu_ms(lambda i: client.post("/uk/request", data=form(rng, i)))
    with app.app_context():
        os.environ["BENCH_DATABASE_URL"] = db.engine.url.render_as_string(hide_password=False)
    import bare_app

    with bare_app.app.app_context():
        bare_app.db.create_all()
    bare_client = bare_app.app.test_client()
    bare = cpu_ms(lambda i: bare_client.post("/intake", data=form(rng, i)))
    print(
        f"  CPU a submission: {ours:.1f} ms; the bare app's {bare:.1f} ms "
        f"(in process, ours runs at {bare / ours:.0%} of the ceiling)"
    )
    return 0


def cpu_ms(post: Callable[[int], object], n: int = 100) -> float:
    """The median CPU time of this process for one submission, in milliseconds."""
    times = []
    for i in range(n):
        start = time.process_time()
        post(100_000 + i)
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
