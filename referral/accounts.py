"""Staff accounts: sign-in with a database-kept throttle, session tokens, creation by the
coordinator, roles, deactivation and one-time password links. Every administrative change is
written to the audit (``AdminEvent``) in the same transaction."""

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, delete, func, select, update

from . import notifications, throttle, two_factor
from .audit import record as audit
from .extensions import db, locked
from .models import (
    HelpRequest,
    Organisation,
    PasswordReset,
    RecoveryCode,
    Referral,
    SignInEvent,
    User,
    utcnow,
)
from .passwords import hash_password, looks_like_token, new_token, token_hash, verify_password
from .personal_data import keyring
from .service_errors import ServiceError, get_or_refuse
from .vocabulary import Role


@functools.cache
def _stand_in_hash(profile: str) -> str:
    """Checked against when the e-mail is unknown: the same work as for a real account. Made
    once per process, never per attempt."""
    return hash_password(secrets.token_hex(16), profile)


@dataclass
class SignInResult:
    user: User | None = None
    locked_minutes: int = 0


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_taken(email: str) -> bool:
    """Whether an account already has this e-mail, in any letter case: one person, one account."""
    return (
        db.session.scalar(select(User.id).where(func.lower(User.email) == normalise_email(email)))
        is not None
    )


def _password_key(email: str) -> str:
    return throttle.key("password", email)


def sign_in(email: str, password: str) -> SignInResult:
    """Check a password, one hash per attempt whether or not the account exists; the account's
    attempts are counted first (``throttle.claim``), so a locked account costs no hash at all.
    A right password does not sign in yet: ``start_session`` (after the code, if enrolled)."""
    profile = current_app.config["ARGON2_PROFILE"]
    email = normalise_email(email)
    row_key = _password_key(email)
    attempt = throttle.claim(row_key)
    user = db.session.scalar(db.select(User).where(func.lower(User.email) == email))
    if not attempt.allowed:
        _record(email, user, success=False)  # an attempt on the account, locked: no hash
        db.session.commit()
        return SignInResult(locked_minutes=attempt.locked_minutes)

    stored = user.password_hash if user else _stand_in_hash(profile)
    ok = verify_password(stored, password, profile) and user is not None and user.active
    _record(
        email, user, success=ok, kind="password" if ok and user.two_factor_enabled else "sign_in"
    )
    if ok:
        throttle.clear(row_key)
    db.session.commit()
    return SignInResult(user=user if ok else None)


def start_session(user: User) -> str:
    """The user is signed in: a new session token (every earlier cookie stops working)."""
    user.last_sign_in_at = utcnow()
    token = rotate_session_token(user)
    db.session.commit()
    return token


# How a sign-in record names an address that is no account: "?" and a keyed mark of what was
# typed (``no_account_mark``), never the text (a password pasted in the wrong field, anyone's
# address an attacker tried).
NO_ACCOUNT = "?"


def no_account_mark(typed: str) -> str:
    """The same text typed gives the same mark: attempts on one address can be told apart."""
    return NO_ACCOUNT + keyring().match("sign_in", typed)[:12]


def _record(email: str, user: User | None, success: bool, kind: str = "sign_in") -> None:
    db.session.add(
        SignInEvent(
            email=user.email if user else no_account_mark(email),
            user_id=user.id if user else None,
            organisation_id=user.organisation_id if user else None,
            success=success,
            kind=kind,
        )
    )


def forget_old_sign_ins(now: datetime | None = None) -> int:
    """The purge: delete the sign-in records older than ACCESS_LOG_RETENTION_DAYS (kept as long
    as the access log) and the throttle's spent counts; gives how many records went."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["ACCESS_LOG_RETENTION_DAYS"])
    deleted = db.session.execute(delete(SignInEvent).where(SignInEvent.at < cutoff))
    throttle.forget_spent(now)
    db.session.commit()
    return cast(CursorResult, deleted).rowcount


def record_sign_in_step(user: User, success: bool, kind: str) -> None:
    """A second sign-in step (a code) in the audit; the caller commits."""
    _record(user.email, user, success, kind)


def rotate_session_token(user: User) -> str:
    """A new session token; every session cookie issued before stops working. Only its hash is
    stored: the token itself lives in the session cookie (Flask-Login's user id). A two-step
    secret not yet confirmed goes too: whoever saw it in another session (a stolen password)
    must not hold the factor the owner enrols next."""
    if not user.two_factor_enabled:
        user.totp_secret = None
    token = secrets.token_hex(32)
    user.session_token_hash = token_hash(token)
    user.session_token = token
    return token


def pending_seal(user: User) -> str:
    """What a half-done sign-in (password accepted, code not yet) keeps of the account's sessions:
    when they are renewed (a new password, a sign-in, a sign-out everywhere) the half-done one
    no longer matches and must start again."""
    return token_hash(f"pending sign-in:{user.session_token_hash}")[:32]


def user_for_session(token: str) -> User | None:
    """The active user whose session token this is (Flask-Login's user loader)."""
    if not looks_like_token(token):
        return None
    user = db.session.scalar(
        select(User).where(User.session_token_hash == token_hash(token), User.active.is_(True))
    )
    if user is not None:
        user.session_token = token
    return user


def end_sessions(user: User) -> None:
    rotate_session_token(user)
    db.session.commit()


def set_password(user: User, password: str) -> None:
    """A new password ends every session and every unused password link: a link handed over or
    mailed before must not set another password after this one."""
    user.password_hash = hash_password(password, current_app.config["ARGON2_PROFILE"])
    rotate_session_token(user)
    if user.id is not None:
        _end_password_links(user, utcnow())


def change_password(user: User, current: str, new: str) -> SignInResult:
    """Set a new password if ``current`` is right; every other session of the user ends. The
    current password is checked as at sign-in, counted first against the account's attempts
    (a lock refuses it unchecked) and recorded in the audit: a stolen session must not be a way
    to guess the password and keep the account."""
    profile = current_app.config["ARGON2_PROFILE"]
    result = _checked(
        user,
        _password_key(normalise_email(user.email)),
        "password_change",
        lambda: verify_password(user.password_hash, current, profile),
    )
    if result.user:
        set_password(user, new)
    db.session.commit()
    return result


def _checked(user: User, row_key: str, kind: str, check: Callable[[], bool]) -> SignInResult:
    """A secret of a known account checked: the attempt counted first (a lock refuses it
    unchecked), recorded in the audit as ``kind``, the count cleared by a success. The caller
    commits."""
    attempt = throttle.claim(row_key)
    ok = attempt.allowed and check()
    _record(user.email, user, success=ok, kind=kind)
    if ok:
        throttle.clear(row_key)
    return SignInResult(user=user if ok else None, locked_minutes=attempt.locked_minutes)


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


def create_account_with_password(
    email: str,
    password: str,
    name: str,
    organisation_id: int | None,
    role: str,
    language: str,
    by: User | None,
) -> User:
    """An account whose password the operator types (``flask create-user``), in the audit as
    every account made by the coordinator's page; not committed."""
    user = create_user(email, password, name, organisation_id, role=role, language=language)
    db.session.flush()
    audit("user_created", by, user, after=_account_facts(user))
    return user


def _account_facts(user: User) -> dict:
    return {
        "email": user.email,
        "role": user.role,
        "organisation_id": user.organisation_id,
        "active": user.active,
    }


def create_staff_account(
    email: str,
    name: str,
    organisation_id: int | None,
    role: str,
    language: str,
    by: User | None,
    now: datetime | None = None,
) -> tuple[User, str]:
    """A new account with an unknown random password and a one-time link (its token returned)
    for the person to choose their own: the coordinator never learns or sends a password."""
    user = create_user(email, new_token(), name, organisation_id, role=role, language=language)
    db.session.flush()
    token = _new_password_reset(user, now or utcnow())
    audit("user_created", by, user, after=_account_facts(user))
    audit("password_link_issued", by, user)
    db.session.commit()
    return user, token


def _check_role(role: str, organisation_id: int | None) -> None:
    if role == Role.STAFF and organisation_id is None:
        raise ServiceError(ServiceError.STAFF_NEED_ORGANISATION)
    if organisation_id is not None:
        get_or_refuse(Organisation, organisation_id)


def _keeps_a_coordinator(user: User, stays_one: bool) -> None:
    """No change leaves the consortium without an active coordinator: only a coordinator can set
    the directory, the users and the queues right, and without one they wait for someone with a
    shell. The active coordinators are locked and read afresh first: two removing each other at
    the same moment each found the other still there, and left none."""
    if user.role != Role.COORDINATOR or stays_one or not user.active:
        return
    active = select(User.id).where(User.role == Role.COORDINATOR, User.active.is_(True))
    coordinators = locked(User, *db.session.scalars(active))
    if not any(
        other.id != user.id and other.role == Role.COORDINATOR and other.active
        for other in coordinators
    ):
        raise ServiceError(ServiceError.LAST_COORDINATOR)


def change_role(user_id: int, role: str, organisation_id: int | None, by: User | None) -> User:
    user = _user(user_id)
    _check_role(role, organisation_id)
    if role != user.role and by is not None and by.id == user.id:
        raise ServiceError(ServiceError.CANNOT_CHANGE_OWN_ROLE)
    _keeps_a_coordinator(user, stays_one=role == Role.COORDINATOR)
    before: dict = {"role": user.role, "organisation_id": user.organisation_id}
    after: dict = {"role": role, "organisation_id": organisation_id}
    if organisation_id != user.organisation_id:
        # The cases assigned to them stay with their organisation, for a colleague to take; the
        # audit names them, the trail of who had a case.
        theirs = Referral.assigned_user_id == user.id
        before["cases"] = sorted(
            db.session.scalars(select(HelpRequest.reference).join(Referral).where(theirs))
        )
        after["cases"] = []
        db.session.execute(
            update(Referral)
            .where(theirs)
            .values(assigned_user_id=None, version=Referral.version + 1)
        )
    user.role = role
    user.organisation_id = organisation_id
    if after != before:
        audit("role_changed", by, user, before=before, after=after)
    db.session.commit()
    return user


def set_user_active(user_id: int, active: bool, by: User) -> User:
    """Deactivating ends the user's sessions at once (their session token is rotated) and kills
    every password link they have not used yet: reactivation does not bring one back."""
    user = _user(user_id)
    if not active and user.id == by.id:
        raise ServiceError(ServiceError.CANNOT_DEACTIVATE_SELF)
    _keeps_a_coordinator(user, stays_one=active)
    if user.active != active:
        audit(
            "user_" + ("activated" if active else "deactivated"),
            by,
            user,
            before={"active": user.active},
            after={"active": active},
        )
    user.active = active
    if not active:
        rotate_session_token(user)
        _end_password_links(user, utcnow())
    db.session.commit()
    return user


def _user(user_id: int) -> User:
    return get_or_refuse(User, user_id)


def issue_password_reset(user_id: int, by: User | None, now: datetime | None = None) -> str:
    """A one-time link for the user to set a new password; earlier unused links stop working
    (the coordinator's new link replaces them)."""
    user = _user(user_id)
    now = now or utcnow()
    _end_password_links(user, now)
    token = _new_password_reset(user, now)
    audit("password_link_issued", by, user)
    db.session.commit()
    return token


def _end_password_links(user: User, now: datetime) -> None:
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )


def _new_password_reset(user: User, now: datetime, hours: float | None = None) -> str:
    """A new link beside the user's others: the first one used ends the rest (``set_password``),
    so a stranger asking again at /login/forgot cannot kill the link on its way to the owner."""
    token = new_token()
    hours = hours or current_app.config["PASSWORD_RESET_HOURS"]
    db.session.add(
        PasswordReset(
            user_id=user.id, token_hash=token_hash(token), expires_at=now + timedelta(hours=hours)
        )
    )
    return token


def forgotten_password(email: str, now: datetime | None = None) -> tuple[User, str] | None:
    """A link by e-mail for someone who forgot their password, if the address has an active
    account and no link was sent to it in the last minutes; the caller writes the mail and
    commits. Whatever happens, the person is told the same."""
    now = now or utcnow()
    user = db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))
    if user is None or not user.active:
        return None
    config = current_app.config
    recent = now - timedelta(minutes=config["FORGOT_PASSWORD_EVERY_MINUTES"])
    if db.session.scalar(
        select(PasswordReset.id).where(
            PasswordReset.user_id == user.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
            PasswordReset.created_at > recent,
        )
    ):
        return None
    token = _new_password_reset(user, now, hours=config["FORGOT_PASSWORD_HOURS"])
    _record(user.email, user, success=True, kind="password_link_asked")
    return user, token


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
    """Set the new password through a one-time link; every existing session ends, and the
    account's sign-in lock is lifted (the link is the way in for someone locked out).

    The link is spent by a conditional UPDATE: of several uses at once, exactly one wins. Its
    use is a sign-in in the audit, and so is a try with a link of a user spent or expired."""
    now = now or utcnow()
    reset = find_password_reset(token, now)
    if reset is None or not _spend(reset, now):
        db.session.rollback()
        refuse_link(token)
        raise ServiceError(ServiceError.LINK_NOT_VALID)
    user = reset.user
    set_password(user, password)
    throttle.clear(_password_key(user.email))
    _record(user.email, user, success=True, kind="password_link")
    db.session.commit()
    return user


def refuse_link(token: str) -> None:
    """A new password sent through a link that no longer works (used or expired): a failed
    sign-in in the audit when the link was a user's, as a wrong password would be."""
    if not looks_like_token(token):
        return
    named = db.session.scalar(
        select(User).join(PasswordReset).where(PasswordReset.token_hash == token_hash(token))
    )
    if named is not None:
        _record(named.email, named, success=False, kind="password_link")
        db.session.commit()


def _spend(reset: PasswordReset, now: datetime) -> bool:
    """Mark the link used unless someone else did first: of several uses at once, one wins."""
    spent = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    return cast(CursorResult, spent).rowcount == 1


def require_two_factor(organisation_id: int, required: bool, by: User) -> Organisation:
    """A coordinator asks (or stops asking) every staff member of an organisation for two-step
    sign-in; those not enrolled are sent to enrol at their next page."""
    org = get_or_refuse(Organisation, organisation_id)
    if org.require_two_factor != required:
        audit(
            "two_factor_required" if required else "two_factor_not_required",
            by,
            organisation_id=org.id,
            before={"require_two_factor": org.require_two_factor},
            after={"require_two_factor": required},
        )
        org.require_two_factor = required
    db.session.commit()
    return org


def reset_two_factor(email: str, by: User | None) -> User:
    """For a lost phone: two-step sign-in is switched off and its recovery codes deleted; the
    person enrols again at their next sign-in if they must. Every session ends."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))
    if user is None:
        raise ServiceError(ServiceError.NOT_FOUND, "User")
    audit(
        "two_factor_reset",
        by,
        user,
        before={"two_factor": user.two_factor_enabled},
        after={"two_factor": False},
    )
    user.totp_secret = None
    user.two_factor_since = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    throttle.clear(throttle.key("code", str(user.id)))
    rotate_session_token(user)
    db.session.commit()
    return user


def check_code(user: User, code: str) -> SignInResult:
    """The second sign-in step: a code from the app or a recovery code, counted per account
    before it is checked, like passwords."""
    result = _checked(
        user, two_factor.throttle_key(user), "two_factor", lambda: two_factor.verify(user, code)
    )
    db.session.commit()
    return result


def send_password_link(email: str) -> None:
    """Forgot password: a one-time link by e-mail through the outbox, if the address has an
    active account. The link is built on PUBLIC_URL, never on the request's Host header."""
    found = forgotten_password(email)
    if found is None:
        return
    user, token = found
    link = current_app.config["PUBLIC_URL"].rstrip("/") + f"/reset/{token}"
    notifications.password_link(user, link, current_app.config["FORGOT_PASSWORD_HOURS"])
    db.session.commit()
