"""Small helpers shared by tests (fixtures live in conftest.py)."""

import re
import uuid

import psycopg
import pyotp
import pytest

from referral import two_factor
from referral.config import Config
from referral.extensions import db
from referral.lifecycle import IntakeData
from referral.models import Organisation, User


def org(slug: str) -> Organisation:
    return db.session.scalar(db.select(Organisation).where(Organisation.slug == slug))


def user(email: str) -> User:
    return db.session.scalar(db.select(User).where(User.email == email))


def intake(*needs: str, **details) -> IntakeData:
    """A request that passes the form's checks: help in Wrocław, asked in Ukrainian, by a person
    speaking Ukrainian, with a phone number; ``details`` change any of it."""
    return IntakeData(
        **{
            "needs": list(needs),
            "language": "uk",
            "consent_version": Config.CONSENT_VERSION,
            "city_slug": "wroclaw",
            "languages": ["uk"],
            "phone": "+48 600 100 200",
            **details,
        }
    )


def csrf_token_of(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def enrol(email: str) -> list[str]:
    """Turn on two-step sign-in for this account as its owner would; gives the recovery codes."""
    account = user(email)
    two_factor.begin(account)
    return two_factor.confirm(account, pyotp.TOTP(account.totp_secret).now())


POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


def new_postgres_database(prefix: str) -> tuple[str, str]:
    """A new, empty database on the local PostgreSQL server: its SQLAlchemy URL and its name
    (give it to ``drop_postgres_database``); a skip when no server answers."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(
            f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=3
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name


def drop_postgres_database(name: str) -> None:
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
