"""An app of its own on each kind of database, for the tests that must run on both whatever
``DATABASE_URL`` says (races, the API's schema tests): SQLite in a temporary file, and PostgreSQL
from ``DATABASE_URL`` or a throw-away database on the local server (skipped when none answers)."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from referral import create_app
from referral.config import TestConfig
from referral.extensions import db

from .helpers import drop_postgres_database, new_postgres_database

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _postgres_url():
    """DATABASE_URL when it is PostgreSQL; else a throw-away database on the local server, or a
    skip when none answers. Gives the URL and the name of the database to drop, if ours."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        return url, None
    return new_postgres_database("referral_test")


def empty_tables() -> None:
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))


def app_on(kind: str) -> Iterator[Flask]:
    """A migrated app on a database of that kind; emptied and dropped afterwards."""
    throwaway = None
    if kind == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='referral-db-')) / 'test.db'}"
    else:
        url, throwaway = _postgres_url()
    app = create_app(type("Settings", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        empty_tables()
        db.engine.dispose()
    if throwaway:
        drop_postgres_database(throwaway)
