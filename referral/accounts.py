"""Staff accounts: sign-in with a database-kept throttle, session tokens, creation by the
coordinator, roles, deactivation and one-time password links."""

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from .extensions import db
from .models import Organisation, PasswordReset, SignInEvent, SignInThrottle, User, utcnow
from .passwords import hash_password, looks_like_token, new_token, token_hash, verify_password
from .service_errors import ServiceError, get_or_refuse
from .vocabulary import Role

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


def email_taken(email: str) -> bool:
    """Whether an account already has this e-mail, in any letter case: one person, one account."""
    return (
        db.session.scalar(select(User.id).where(func.lower(User.email) == normalise_email(email)))
        is not None
    )


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


def rotate_session_token(user: User) -> None:
    """Every session cookie issued before stops working (the token is Flask-Login's user id)."""
    user.session_token = secrets.token_hex(32)


def end_sessions(user: User) -> None:
    rotate_session_token(user)
    db.session.commit()


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password, current_app.config["ARGON2_PROFILE"])
    rotate_session_token(user)


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password if ``current`` is right; every other session of the user ends."""
    if not verify_password(user.password_hash, current, current_app.config["ARGON2_PROFILE"]):
        return False
    set_password(user, new)
    db.session.commit()
    return True


def create_user(
    email: str,
    password: str,
    name: str,
    organisation_id: int | None,
    role: str = "staff",
    language: str = "pl",
) -> User:
    """A new active account (not committed); EMAIL_TAKEN when the e-mail has one already."""
    if email_taken(email):
        raise ServiceError(ServiceError.EMAIL_TAKEN)
    _check_role(role, organisation_id)
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


def create_staff_account(
    email: str,
    name: str,
    organisation_id: int | None,
    role: str,
    language: str,
    now: datetime | None = None,
) -> tuple[User, str]:
    """A new account with an unknown random password and a one-time link (its token returned)
    for the person to choose their own: the coordinator never learns or sends a password."""
    user = create_user(email, new_token(), name, organisation_id, role=role, language=language)
    db.session.flush()
    token = _new_password_reset(user, now or utcnow())
    db.session.commit()
    return user, token


def _check_role(role: str, organisation_id: int | None) -> None:
    if role == Role.STAFF and organisation_id is None:
        raise ServiceError(ServiceError.STAFF_NEED_ORGANISATION)
    if organisation_id is not None:
        get_or_refuse(Organisation, organisation_id)


def change_role(user_id: int, role: str, organisation_id: int | None) -> User:
    user = _user(user_id)
    _check_role(role, organisation_id)
    user.role = role
    user.organisation_id = organisation_id
    db.session.commit()
    return user


def set_user_active(user_id: int, active: bool, by: User) -> User:
    """Deactivating ends the user's sessions at once (their session token is rotated)."""
    user = _user(user_id)
    if not active and user.id == by.id:
        raise ServiceError(ServiceError.CANNOT_DEACTIVATE_SELF)
    user.active = active
    if not active:
        rotate_session_token(user)
    db.session.commit()
    return user


def _user(user_id: int) -> User:
    return get_or_refuse(User, user_id)


def issue_password_reset(user_id: int, now: datetime | None = None) -> str:
    """A one-time link for the user to set a new password; earlier unused links stop working."""
    token = _new_password_reset(_user(user_id), now or utcnow())
    db.session.commit()
    return token


def _new_password_reset(user: User, now: datetime) -> str:
    for earlier in db.session.scalars(
        select(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    ):
        earlier.used_at = now
    token = new_token()
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    db.session.add(
        PasswordReset(
            user_id=user.id, token_hash=token_hash(token), expires_at=now + timedelta(hours=hours)
        )
    )
    return token


def find_password_reset(token: str, now: datetime | None = None) -> PasswordReset | None:
    """The reset behind a link, if it is unused, not expired and its user still active."""
    if not looks_like_token(token):
        return None
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))
    )
    if (
        reset is None
        or reset.used_at is not None
        or reset.expires_at <= (now or utcnow())
        or not reset.user.active
    ):
        return None
    return reset


def reset_password(token: str, password: str, now: datetime | None = None) -> User:
    """Set the new password through a one-time link; every existing session ends."""
    now = now or utcnow()
    reset = find_password_reset(token, now)
    if reset is None:
        raise ServiceError(ServiceError.LINK_NOT_VALID)
    reset.used_at = now
    set_password(reset.user, password)
    db.session.commit()
    return reset.user
