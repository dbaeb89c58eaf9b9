"""Fixtures: one app per test session on the database of ``DATABASE_URL`` (SQLite by default),
migrated with Alembic; every test starts from empty tables."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings
from sqlalchemy import event, text

from referral import create_app, seed
from referral.config import TestConfig
from referral.extensions import db, limiter

from .canaries import person_with_history
from .helpers import enrol, user
from .mailbox import failing_smtp_server, smtp_server  # noqa: F401  (fixtures for every module)
from .sms_gateway import sms_gateway  # noqa: F401

# Properties are judged by what they find, not by how fast one example runs: on a shared machine
# under load a per-example deadline only makes tests fail at random.
settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machine")


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{Path(tempfile.mkdtemp(prefix='referral-test-')) / 'test.db'}"


# The first session of a process keeps a copy of its freshly migrated SQLite file; a later session
# in the same process starts from a copy of it instead of migrating again. `make mutation` runs
# one session per mutant, each in a child forked from one process (docs/mutation.md).
_MIGRATED_SQLITE: list[Path] = []


@pytest.fixture(scope="session")
def app():
    url = _database_url()
    sqlite_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if sqlite_file and _MIGRATED_SQLITE:
        shutil.copyfile(_MIGRATED_SQLITE[0], sqlite_file)
    app = create_app(type("Settings", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    if sqlite_file and _MIGRATED_SQLITE:
        return app
    with app.app_context():
        upgrade()
        db.engine.dispose()
    if sqlite_file:
        _MIGRATED_SQLITE.append(shutil.copyfile(sqlite_file, sqlite_file.with_name("migrated.db")))
    return app


# Every sequence of the schema back to 1, as a fresh database has them (tests name ids like 1):
# an insert rolled back, or rows a test deleted itself, leave a table empty and its sequence on.
_RESTART_SEQUENCES = text(
    "SELECT count(setval(c.oid, 1, false)) FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
)


@pytest.fixture(autouse=True)
def _fresh_tables(request):
    """Empty every table after each test that used the app. On PostgreSQL only the tables the
    test wrote to are truncated (found in one statement): truncating all 33 took 70–300 ms a
    test on a busy CI, most of the suite's time, and DELETE instead let PostgreSQL put new rows
    in freed space, so a test's unordered look read them out of the order written."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name != "postgresql":
                for table in tables:
                    conn.execute(text(f'DELETE FROM "{table}"'))
                return
            written = text(
                " UNION ALL ".join(
                    f"SELECT '{t}' WHERE EXISTS (SELECT FROM \"{t}\")" for t in tables
                )
            )
            if used := conn.execute(written).scalars().all():
                quoted = ", ".join(f'"{t}"' for t in used)
                conn.execute(text(f"TRUNCATE {quoted} CASCADE"))
            conn.execute(_RESTART_SEQUENCES)


@pytest.fixture
def limited_app(app):
    """A second app on the same database with the rate limits on (tests keep them off): intake
    60 an hour, sign-in 10 a minute, per address."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_ENABLED": True,
        "INTAKE_RATE_LIMIT": "60 per hour",
        "SIGN_IN_RATE_LIMIT": "10 per minute",
    }
    limited = create_app(type("Limited", (TestConfig,), settings))
    limiter.reset()
    yield limited
    limiter.reset()
    limiter.enabled = False  # the extension is shared: switch it back off for the other tests


@pytest.fixture
def ctx(app):
    """An app context for the whole test: for service-level tests, not for test-client ones
    (requests would share its ``g`` and session)."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def directory(app):
    """The consortium's demo directory, cities and voivodeships (the files the project ships)."""
    with app.app_context():
        seed.load_consortium()
        db.session.commit()


@pytest.fixture
def staff(app, directory):
    """One staff account per organisation (``staff@<slug>.example``) and a coordinator."""
    with app.app_context():
        seed.load_demo_accounts()
        db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


COORDINATOR = "coordinator@konsorcjum.example"


@pytest.fixture
def coordinator_codes(app, staff):
    """The demo coordinator enrolled in two-step sign-in (required of coordinators): the
    recovery codes, one used at each sign-in of ``login_as``."""
    with app.app_context():
        codes = enrol(COORDINATOR)
        db.session.remove()
    return codes


@pytest.fixture
def login_as(app, staff, coordinator_codes):
    """``login_as("nomada")`` gives a test client signed in as that organisation's staff;
    ``login_as("coordinator")`` as the coordinator (password, then a recovery code)."""

    def login(who: str):
        email = COORDINATOR if who == "coordinator" else f"staff@{who}.example"
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": seed.DEMO_PASSWORD})
        assert response.status_code == 302, response.data
        if response.headers["Location"] == "/login/code":
            response = client.post("/login/code", data={"code": coordinator_codes.pop()})
            assert response.status_code == 302, response.data
        return client

    return login


@pytest.fixture
def coordinator(app, login_as):
    """The demo coordinator, signed in, reading the pages in English."""
    with app.app_context():
        user(COORDINATOR).language = "en"
        db.session.commit()
    return login_as("coordinator")


@pytest.fixture
def person(app, client, login_as, smtp_server):  # noqa: F811 (the fixture)
    """A person whose request went through a decline, an acceptance, notes and mail, written
    with unique canary values (tests/canaries.py)."""
    return person_with_history(app, client, login_as, smtp_server)


@pytest.fixture
def count_queries(app):
    """``count_queries(fn)``: how many SQL statements calling ``fn`` sends to the database."""

    def count(fn) -> int:
        statements = []

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            fn()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    return count
