"""Staff accounts: sign-in with a database-kept throttle, session tokens, creation."""

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func

from .extensions import db
from .models import SignInEvent, SignInThrottle, User, utcnow
from .passwords import hash_password, verify_password

# Verified against when the e-mail is unknown, so both cases take the same time.
_DUMMY_HASH: dict[str, str] = {}


@dataclass
class SignInResult:
    user: User | None = None
    locked_minutes: int = 0


def _throttle_key(email: str, client: str) -> str:
    return hashlib.sha256(f"{email}|{client}".encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def sign_in(email: str, password: str, client: str) -> SignInResult:
    """Check a password; after N failures from one client on one account, make that pair wait."""
    config = current_app.config
    profile = config["ARGON2_PROFILE"]
    email = normalise_email(email)
    now = utcnow()
    key = _throttle_key(email, client)
    existing = db.session.get(SignInThrottle, key)
    throttle = existing or SignInThrottle(key=key, failures=0)
    if throttle.locked_until and throttle.locked_until > now:
        _record(email, None, success=False)
        db.session.commit()
        wait = (throttle.locked_until - now).total_seconds()
        return SignInResult(locked_minutes=max(1, math.ceil(wait / 60)))

    user = db.session.scalar(db.select(User).where(func.lower(User.email) == email))
    if user is None:
        dummy = _DUMMY_HASH.setdefault(profile, hash_password(secrets.token_hex(8), profile))
        verify_password(dummy, password, profile)
        ok = False
    else:
        ok = verify_password(user.password_hash, password, profile) and user.active

    if ok:
        if existing:
            db.session.delete(existing)
        user.last_sign_in_at = now
        _record(email, user, success=True)
        db.session.commit()
        return SignInResult(user=user)

    throttle.failures += 1
    throttle.updated_at = now
    if throttle.failures >= config["SIGN_IN_MAX_FAILURES"]:
        throttle.locked_until = now + timedelta(minutes=config["SIGN_IN_LOCK_MINUTES"])
        throttle.failures = 0
    db.session.add(throttle)
    _record(email, user, success=False)
    db.session.commit()
    return SignInResult()


def _record(email: str, user: User | None, success: bool) -> None:
    db.session.add(
        SignInEvent(
            email=email[:254],
            user_id=user.id if user else None,
            organisation_id=user.organisation_id if user else None,
            success=success,
        )
    )


def end_sessions(user: User) -> None:
    """Rotate the session token: every cookie issued before stops working."""
    user.session_token = secrets.token_hex(32)
    db.session.commit()


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password, current_app.config["ARGON2_PROFILE"])
    user.session_token = secrets.token_hex(32)


def create_user(
    email: str,
    password: str,
    name: str,
    organisation_id: int | None,
    role: str = "staff",
    language: str = "pl",
) -> User:
    user = User(
        email=normalise_email(email),
        name=name,
        organisation_id=organisation_id,
        role=role,
        language=language,
        active=True,
    )
    set_password(user, password)
    db.session.add(user)
    return user
