"""The sweep (``lifecycle.expire_overdue``) over 100,000 open referrals, a few percent of them
offers past their deadline, on the demo directory. Target on SQLite: under 10 s (median).

Every run starts from the same data: the filled database is copied (SQLite: the file;
PostgreSQL: CREATE DATABASE ... TEMPLATE) and the copy dropped afterwards.

Usage: .venv/bin/python bench/bench_sweep.py [--database-url URL] [--runs N]
"""

import os
import shutil
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from common import bulk_referrals, dialect_of, machine, make_app, parse_args
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from referral import lifecycle
from referral.extensions import db
from referral.models import ReferralEvent

REFERRALS = 100_000
OVERDUE_SHARE = 0.03
TARGET_S = 10.0


@contextmanager
def copy_of(database_url: str):
    """A copy of the database for one run, removed afterwards."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="referral-sweep-"))
        shutil.copyfile(url.database, folder / "copy.db")
        try:
            yield str(url.set(database=str(folder / "copy.db")))
        finally:
            shutil.rmtree(folder)
        return
    name = f"{url.database}_copy_{uuid.uuid4().hex[:6]}"
    server = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_sweep(database_url: str, now: datetime) -> tuple[float, int, int]:
    """Seconds for one sweep on a fresh copy, the offers it expired, and its expire events."""
    with copy_of(database_url) as url:
        app = make_app(url)
        with app.app_context():
            start = time.perf_counter()
            expired = lifecycle.expire_overdue(now=now)
            seconds = time.perf_counter() - start
            events = db.session.scalar(select(func.count()).where(ReferralEvent.action == "expire"))
            db.engine.dispose()
    return seconds, expired, events


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    now = datetime.now(UTC)
    app = make_app(args.database_url)
    # Each run's app on its copy reads the personal data with the keys they were written with.
    os.environ["BENCH_DATA_KEYS"] = app.config["DATA_KEYS"]
    os.environ["BENCH_MATCH_KEY"] = app.config["MATCH_KEY"]
    with app.app_context():
        database_url = db.engine.url.render_as_string(hide_password=False)
    start = time.perf_counter()
    counts = bulk_referrals(app, REFERRALS, open_share=1.0, overdue_share=OVERDUE_SHARE, now=now)
    filled = time.perf_counter() - start
    with app.app_context():
        db.engine.dispose()  # a PostgreSQL template must have no open connections
    overdue = round(REFERRALS * OVERDUE_SHARE)
    print(f"Sweep benchmark — {machine()}")
    print(
        f"  database: {dialect_of(app)}; {REFERRALS:,} open referrals "
        f"({', '.join(f'{state} {n:,}' for state, n in sorted(counts.items()))}), "
        f"{overdue:,} overdue; filled in {filled:.0f} s"
    )
    times = []
    for run in range(args.runs):
        seconds, expired, events = one_sweep(database_url, now)
        assert expired == events == overdue, (expired, events, overdue)
        times.append(seconds)
        print(f"  run {run + 1}: {seconds:.2f} s, {expired:,} offers expired and re-routed")
    median = statistics.median(times)
    verdict = f"under {TARGET_S:.0f} s: {'yes' if median < TARGET_S else 'NO'}"
    print(f"  expire_overdue median of {args.runs}: {median:.2f} s ({verdict})")


if __name__ == "__main__":
    main()
