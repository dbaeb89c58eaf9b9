"""Run every benchmark (bench/bench_*.py) on SQLite and, when reachable, on PostgreSQL.

Usage: python bench/run.py [name ...]     e.g. `python bench/run.py routing sweep http`
PostgreSQL: a throw-away database on $BENCH_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432).
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
# A million rows on SQLite take long and tell nothing the production database would.
POSTGRES_ONLY = {"bench_million"}
SERVER = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


def postgres_database() -> str | None:
    """Create a fresh database for one run; None when no server answers."""
    name = f"referral_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(SERVER.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        return None
    return f"{SERVER}/{name}"


def drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(SERVER.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = 0
    for script in scripts:
        if script.stem not in POSTGRES_ONLY:
            print(f"== {script.stem} on SQLite", flush=True)
            failed |= subprocess.call([sys.executable, str(script)])
        url = postgres_database()
        if url is None:
            print(f"== {script.stem} on PostgreSQL: skipped, no server", flush=True)
            continue
        print(f"== {script.stem} on PostgreSQL", flush=True)
        try:
            failed |= subprocess.call([sys.executable, str(script), "--database-url", url])
        finally:
            drop(url)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
