"""Small helpers shared by tests (fixtures live in conftest.py)."""

import re

from referral.extensions import db
from referral.models import Organisation, User


def org(slug: str) -> Organisation:
    return db.session.scalar(db.select(Organisation).where(Organisation.slug == slug))


def user(email: str) -> User:
    return db.session.scalar(db.select(User).where(User.email == email))


def csrf_token_of(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
