"""Shared set-up for the benchmarks: an app on a fresh database with the demo directory, fast
bulk data written with SQLAlchemy Core, and a timing helper.

Benchmarks are not part of the test run; each script runs on its own:
``.venv/bin/python bench/bench_x.py [--database-url URL]`` (default: a new SQLite file).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyotp
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from psycopg.types.json import Json
from sqlalchemy import JSON, TypeDecorator, func, insert, select, text

from referral import counters, create_app, directory, handoff, routing, seed, two_factor
from referral.config import Config
from referral.extensions import db
from referral.handoff import Action, Party, State
from referral.lifecycle import REFERENCE_ALPHABET
from referral.models import (
    City,
    Coverage,
    HelpRequest,
    Organisation,
    Referral,
    ReferralEvent,
    User,
)
from referral.personal_data import match_key
from referral.vocabulary import Specialism

BATCH = 5_000
CHUNK = 50_000  # requests generated before they are written
SPECIALISM_WEIGHTS = {
    Specialism.LEGAL: 30,
    Specialism.INFORMATION: 20,
    Specialism.HOUSING: 12,
    Specialism.LANGUAGE: 10,
    Specialism.PSYCHOLOGICAL: 9,
    Specialism.EMPLOYMENT: 8,
    Specialism.MATERIAL: 5,
    Specialism.EDUCATION: 4,
    Specialism.MEDICAL: 2,
}
# Where requests come from: the big cities far more often than the small ones.
CITY_WEIGHTS = {"warszawa": 30, "krakow": 12, "wroclaw": 12, "poznan": 8, "lublin": 8, "gdansk": 6}
PERSON_LANGUAGES = [["uk"], ["uk", "ru"], ["ru"], ["be", "ru"], ["en"], ["uk", "en"], []]
CLOSED_MIX = [
    (State.CLOSED, 60),
    (State.WITHDRAWN, 10),
    (State.UNMATCHED, 5),
]
OPEN_MIX = [(State.OFFERED, 30), (State.ACCEPTED, 30), (State.IN_PROGRESS, 40)]
# How far back the referrals go: thirteen months, so that a year of reports reads whole months
# and a day holds what a live service's day holds (~2,500 referrals a day at a million), not a
# pile of recent ones. Open offers are the exception: made over the last OFFERS_DAYS (an offer
# waits days, not months), which keeps ~100,000 of them open at a million for the sweep's target.
SPAN_DAYS = 395
OFFERS_DAYS = 30


def make_app(database_url: str | None = None) -> Flask:
    """An app on ``database_url`` (default: a new SQLite file in a temporary directory), migrated
    with Alembic and holding the demo directory (places and the consortium)."""
    if database_url is None:
        folder = Path(tempfile.mkdtemp(prefix="referral-bench-"))
        database_url = f"sqlite:///{folder / 'bench.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "ARGON2_PROFILE": "CHEAPEST",
            # Personal data is encrypted as in production, with keys made for this run (or
            # given, to measure again a database an earlier run filled).
            "DATA_KEYS": os.environ.get("BENCH_DATA_KEYS") or Fernet.generate_key().decode(),
            "MATCH_KEY": os.environ.get("BENCH_MATCH_KEY") or secrets.token_urlsafe(32),
        }
    )
    with app.app_context():
        upgrade()
        seed.load_consortium()
        db.session.commit()
    return app


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--database-url", help="An empty database to fill (default: a new SQLite file)."
    )
    parser.add_argument("--runs", type=int, default=5, help="Timed runs (the median is printed).")
    return parser.parse_args()


def median_ms(fn: Callable[[], object], runs: int = 5) -> float:
    """The median wall time of ``fn`` over ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, " + (
        f"Python {platform.python_version()}"
    )


def dialect_of(app: Flask) -> str:
    with app.app_context():
        return db.engine.dialect.name


# --- pages through the test client ---------------------------------------------------------------


def load_demo_accounts_in_english(app: Flask) -> None:
    """The demo accounts, each using English, so that every run renders the same pages."""
    with app.app_context():
        seed.load_demo_accounts()
        db.session.execute(db.update(User).values(language="en"))
        db.session.commit()


def signed_in_client(app: Flask, email: str) -> FlaskClient:
    """A test client signed in with a demo account's password (and, for an account that must
    use two-step sign-in, enrolled first and signed in with a recovery code)."""
    app.config["WTF_CSRF_ENABLED"] = False  # the sign-in below posts without a page
    with app.app_context():
        account = db.session.scalar(select(User).where(User.email == email))
        code = None
        if account.two_factor_required and not account.two_factor_enabled:
            two_factor.begin(account)
            code = two_factor.confirm(account, pyotp.TOTP(account.totp_secret).now())[0]
        elif account.two_factor_enabled:
            code = pyotp.TOTP(account.totp_secret).now()  # enrolled earlier in this run
    client = app.test_client()
    signed_in = client.post("/login", data={"email": email, "password": seed.DEMO_PASSWORD})
    assert signed_in.status_code == 302, "sign-in failed"
    if signed_in.headers["Location"] == "/login/code":
        signed_in = client.post("/login/code", data={"code": code})
        assert signed_in.status_code == 302, "the code was refused"
    return client


def time_pages(
    client: FlaskClient, pages: Iterable[tuple[str, str]], runs: int, width: int
) -> dict[str, float]:
    """The median time of GET for each (label, url), printed and returned by label; a first
    request warms up (templates compiled, caches filled) and must answer 200."""
    medians = {}
    for label, url in pages:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        medians[label] = median_ms(lambda url=url: client.get(url).data, runs)
        print(f"  {label:<{width}} median {medians[label]:7.1f} ms over {runs} runs")
    return medians


# --- bulk data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    city_id: int
    city_slug: str
    voivodeship: str


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _reference(number: int) -> str:
    digits = []
    for _ in range(6):
        number, digit = divmod(number, len(REFERENCE_ALPHABET))
        digits.append(REFERENCE_ALPHABET[digit])
    return f"{''.join(digits[:3])}-{''.join(digits[3:])}"


def _insert(model, rows: list[dict]) -> None:
    """Rows in bulk: COPY on PostgreSQL (a million rows in seconds), batched INSERTs on SQLite."""
    if not rows:
        return
    table = model.__table__
    if db.engine.dialect.name != "postgresql":
        for start in range(0, len(rows), BATCH):
            db.session.execute(insert(table), rows[start : start + BATCH])
        return
    columns = list(rows[0])
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    # COPY passes values as they are: what a column's type does on the way in (encrypting a
    # personal field) is done here.
    dialect = db.engine.dialect
    decorated = {
        c.name: c.type
        for c in table.columns
        if isinstance(c.type, TypeDecorator) and c.name in rows[0]
    }
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            values = {
                **row,
                **{c: t.process_bind_param(row[c], dialect) for c, t in decorated.items()},
            }
            copy.write_row([Json(values[c]) if c in as_json else values[c] for c in columns])


def _advance_sequences(*models) -> None:
    """Rows were given explicit ids: move PostgreSQL's sequences past them."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in models:
        table = model.__table__
        top = db.session.scalar(select(func.max(table.c.id))) or 1
        db.session.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :top)"),
            {"table": f'"{table.name}"', "top": top},
        )


def _candidates(organisations: Iterable[Organisation]) -> dict[tuple[str, str], list[int]]:
    """(specialism, city slug) -> organisations covering it there, from the coverage rows."""
    cities = db.session.scalars(select(City).order_by(City.id)).all()
    covering: dict[tuple[str, str], list[int]] = {}
    for org in organisations:
        if not org.takes_referrals:
            continue
        for row in sorted(org.coverage, key=lambda c: c.id):
            coverage = routing.Coverage(row.specialism, routing.Scope(row.scope), row.area)
            for city in cities:
                if coverage.reaches(city.slug, city.voivodeship_teryt):
                    covering.setdefault((coverage.specialism, city.slug), []).append(org.id)
    return covering


def _weighted(rng: random.Random, weights: dict) -> object:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def bulk_referrals(
    app: Flask,
    n: int,
    *,
    open_share: float = 0.3,
    overdue_share: float = 0.01,
    organisations: list[str] | None = None,
    seed: int = 0,
    now: datetime | None = None,
) -> dict[str, int]:
    """Insert ``n`` requests, one referral each, and their event logs, fast (Core batches).

    ``open_share`` of them are open (offered, accepted or in progress), of which ``overdue_share``
    (a share of ``n``) are offers past their deadline; the rest are closed, withdrawn or
    unmatched. Dates spread evenly over the SPAN_DAYS before ``now`` (open offers: the last
    OFFERS_DAYS). Each referral goes to an
    organisation (from ``organisations`` slugs, default: all) that covers its need in its city,
    voivodeship or nationwide; a fifth of the offers were declined by someone else first.
    Returns the number of referrals per state.
    """
    if overdue_share > open_share:
        raise ValueError("overdue referrals are open ones: overdue_share <= open_share")
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    with app.app_context():
        query = select(Organisation).order_by(Organisation.id)
        if organisations is not None:
            query = query.where(Organisation.slug.in_(organisations))
        orgs = db.session.scalars(query).all()
        covering = _candidates(orgs)
        places = {
            c.slug: _Place(c.id, c.slug, c.voivodeship_teryt)
            for c in db.session.scalars(select(City).order_by(City.id))
        }
        city_weights = {slug: CITY_WEIGHTS.get(slug, 2) for slug in places}
        referrers = [org.id for org in orgs] + [None] * len(orgs)  # half come from the public form
        request_id, referral_id, event_id = (
            _next_id(HelpRequest),
            _next_id(Referral),
            _next_id(ReferralEvent),
        )
        requests, referrals, events = [], [], []
        counts: dict[str, int] = {}
        n_overdue = round(n * overdue_share)
        n_open = round(n * open_share)
        for i in range(n):
            specialism = _weighted(rng, SPECIALISM_WEIGHTS)
            place = places[_weighted(rng, city_weights)]
            if i < n_overdue:
                state = State.OFFERED
            elif i < n_open:
                state = rng.choices(*zip(*OPEN_MIX, strict=True))[0]
            else:
                state = rng.choices(*zip(*CLOSED_MIX, strict=True))[0]
            candidates = covering.get((specialism, place.city_slug), [])
            if state != State.UNMATCHED and not candidates:
                # Keep the data consistent: placed referrals go where someone covers the need.
                specialism, city_slug = rng.choice(list(covering))
                place, candidates = places[city_slug], covering[(specialism, city_slug)]
            days = OFFERS_DAYS if state == State.OFFERED else SPAN_DAYS
            created = now - timedelta(days=rng.uniform(0, days))
            urgent = rng.random() < 0.15
            referrer = rng.choice(referrers)
            phone = f"+48 600 {i % 1000:03d} {i // 1000 % 1000:03d}"
            requests.append(
                {
                    "id": request_id,
                    "reference": _reference(request_id),
                    "status_token_hash": hashlib.sha256(f"bench-{request_id}".encode()).hexdigest(),
                    "created_at": created,
                    "language": rng.choice(["uk", "uk", "pl", "en"]),
                    "city_id": place.city_id,
                    "voivodeship_teryt": place.voivodeship,
                    "urgent": urgent,
                    "interpreter_needed": rng.random() < 0.3,
                    "name": None,
                    "phone": phone,
                    "phone_match": match_key("phone", phone),
                    "email": None,
                    "contact_channel": "phone",
                    "safe_to_message": True,
                    "languages": rng.choice(PERSON_LANGUAGES),
                    "description": "Bench request.",
                    "residence_status": None,
                    "consent_version": Config.CONSENT_VERSION,
                    "consent_at": created,
                    "consent_language": "uk",
                    "submitted_by_id": None,
                    "referring_organisation_id": referrer,
                    "erased_at": None,
                }
            )
            log = _event_log(rng, state, candidates, created, now)
            # Offered: the last offer's target; accepted and later: the holder.
            org_id = {State.OFFERED: log[-1][3], State.ACCEPTED: log[-1][2]}.get(state, log[-1][2])
            if state in (State.UNMATCHED, State.WITHDRAWN):
                org_id = None
            offered_at = log[-1][0] if state == State.OFFERED else None
            deadline = None
            if state == State.OFFERED:
                deadline = (
                    now - timedelta(hours=rng.uniform(1, 72))
                    if i < n_overdue
                    else now + timedelta(hours=rng.uniform(1, 48))
                )
            ended = state in (State.CLOSED, State.WITHDRAWN)
            referrals.append(
                {
                    "id": referral_id,
                    "request_id": request_id,
                    "specialism": specialism,
                    "state": state,
                    "organisation_id": org_id,
                    "referring_organisation_id": referrer,
                    "assigned_user_id": None,
                    "urgent": urgent,
                    "offered_at": offered_at,
                    "deadline_at": deadline,
                    "outcome": rng.choice(list(handoff.Outcome)) if state == State.CLOSED else None,
                    "routing_reasons": [],
                    "routing_scope": None,
                    "created_at": created,
                    "updated_at": log[-1][0],
                    "closed_at": log[-1][0] if ended else None,
                    "version": len(log),
                }
            )
            before = None
            for at, action, org, offered_to, after in log:
                events.append(
                    {
                        "id": event_id,
                        "referral_id": referral_id,
                        "at": at,
                        "action": action,
                        "party": PARTY_OF.get(action, Party.HOLDER),
                        "actor_id": None,
                        "from_state": before,
                        "to_state": after,
                        "organisation_id": org,
                        "offered_to_id": offered_to,
                        "reason_code": "no_capacity" if action == Action.DECLINE else None,
                    }
                )
                before = after
                event_id += 1
            counts[state] = counts.get(state, 0) + 1
            request_id += 1
            referral_id += 1
            if len(requests) == CHUNK or i == n - 1:  # memory stays flat for a million rows
                _insert(HelpRequest, requests)
                _insert(Referral, referrals)
                _insert(ReferralEvent, events)
                requests, referrals, events = [], [], []
        _advance_sequences(HelpRequest, Referral, ReferralEvent)
        counters.recount_open_load()  # written past the lifecycle, which keeps it
        db.session.commit()
        settle(app)
    return counts


def settle(app: Flask) -> None:
    """The state a live database keeps itself in: planner statistics (autovacuum on PostgreSQL,
    `flask sweep`'s PRAGMA optimize on SQLite) and, on PostgreSQL, the visibility map that lets
    a count read the index alone (autovacuum after bulk writes)."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()


# One step of a generated log: (at, action, organisation, offered_to, to_state).
_Step = tuple[datetime, Action, int | None, int | None, State]
PARTY_OF = {Action.ROUTE: Party.SYSTEM, Action.EXPIRE: Party.SYSTEM, Action.WITHDRAW: Party.PERSON}


def _later(rng: random.Random, at: datetime, delta: timedelta, now: datetime) -> datetime:
    """``delta`` after ``at``, or somewhere before ``now`` if that is later: steps of recent
    referrals spread over the last hours instead of piling up at ``now``."""
    return at + delta if at + delta < now else at + (now - at) * rng.random()


def _event_log(
    rng: random.Random, state: State, candidates: list[int], created: datetime, now: datetime
) -> list[_Step]:
    """A plausible history ending in ``state``, as (at, action, organisation, offered_to, to)."""
    at = created
    if state == State.UNMATCHED or not candidates:
        return [(at, Action.ROUTE, None, None, State.UNMATCHED)]
    order = rng.sample(candidates, len(candidates))
    log = [(at, Action.ROUTE, None, order[0], State.OFFERED)]
    if len(order) > 1 and rng.random() < 0.2:
        at = _later(rng, at, timedelta(hours=rng.uniform(1, 30)), now)
        log.append((at, Action.DECLINE, order[0], order[1], State.OFFERED))
    holder = log[-1][3]

    def step(action: Action, to: State, offered_to: int | None = None) -> None:
        nonlocal at
        at = _later(rng, at, timedelta(hours=rng.uniform(1, 48)), now)
        log.append((at, action, holder, offered_to, to))

    if state == State.WITHDRAWN:
        step(Action.WITHDRAW, State.WITHDRAWN)
        return log
    if state == State.OFFERED:
        return log
    step(Action.ACCEPT, State.ACCEPTED)
    if state == State.ACCEPTED:
        return log
    step(Action.START, State.IN_PROGRESS)
    if state == State.CLOSED:
        step(Action.CLOSE, State.CLOSED)
    return log


# --- a large directory ---------------------------------------------------------------------------


def bulk_directory(app: Flask, n_organisations: int, n_coverage: int, seed: int = 0) -> None:
    """Add ``n_organisations`` synthetic organisations with ``n_coverage`` coverage rows in all
    (city, voivodeship and nationwide scopes mixed) to the database."""
    rng = random.Random(seed)
    with app.app_context():
        cities = db.session.scalars(select(City)).all()
        voivodeships = sorted({c.voivodeship_teryt for c in cities})
        org_id = _next_id(Organisation)
        first = org_id
        orgs = []
        for i in range(n_organisations):
            orgs.append(
                {
                    "id": org_id + i,
                    "uuid": f"00000000-0000-4000-8000-{org_id + i:012d}",
                    "slug": f"bench-{org_id + i}",
                    "name_pl": f"Organizacja {org_id + i}",
                    "name_uk": f"Організація {org_id + i}",
                    "name_en": f"Organisation {org_id + i}",
                    "description_pl": "",
                    "description_uk": "",
                    "description_en": "",
                    "languages": rng.sample(["pl", "uk", "ru", "en", "be"], rng.randint(1, 4)),
                    "languages_confirmed": True,
                    "takes_referrals": rng.random() < 0.95,
                    "capacity": rng.choice([None, 10, 20, 50, 100]),
                    "paused_until": None,
                    "last_offered_at": datetime.now(UTC) - timedelta(minutes=rng.randint(0, 10**5)),
                    "created_at": datetime.now(UTC),
                }
            )
        seen, coverage = set(), []
        specialisms = list(Specialism)
        while len(coverage) < n_coverage:
            org = first + rng.randrange(n_organisations)
            scope = rng.choices(["city", "voivodeship", "nationwide"], weights=[70, 25, 5])[0]
            area = {
                "city": lambda: rng.choice(cities).slug,
                "voivodeship": lambda: rng.choice(voivodeships),
                "nationwide": lambda: None,
            }[scope]()
            key = (org, rng.choice(specialisms).value, scope, area)
            if key not in seen:
                seen.add(key)
                coverage.append(
                    {
                        "organisation_id": key[0],
                        "specialism": key[1],
                        "scope": key[2],
                        "area": key[3],
                    }
                )
        _insert(Organisation, orgs)
        _insert(Coverage, coverage)
        _advance_sequences(Organisation)
        directory.new_version(db.session())  # written past the ORM, which stamps each edit
        db.session.commit()
