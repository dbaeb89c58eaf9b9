"""Two-step sign-in with time-based codes (TOTP, RFC 6238, pyotp) and recovery codes.

Enrolment: a secret is made and shown as a QR code (segno, inline SVG); it is in use once the
person types a code their app made from it, and they get ten single-use recovery codes, stored
hashed. Someone enrolled can make ten new recovery codes with a code from the app (never a
recovery code: whoever took a sheet of them must not renew it); the old ones stop working in the
same transaction. A code is accepted at most once: the last accepted time step is kept and moved
forward by a conditional UPDATE, so the same code sent twice at once also wins only once. Codes
are throttled per account like passwords (``throttle``).
"""

import hmac
import secrets
from base64 import b32encode
from dataclasses import dataclass
from typing import cast

import pyotp
import segno
from sqlalchemy import CursorResult, delete, or_, select, update

from . import throttle
from .audit import record as audit
from .extensions import db
from .models import RecoveryCode, User, utcnow
from .passwords import token_hash

ISSUER = "Referral"
RECOVERY_CODES = 10
# At most this many unused recovery codes left: the person is asked to make new ones.
FEW_RECOVERY_CODES = 3
# A code from the step before or after the server's clock is accepted (clocks drift by seconds).
DRIFT_STEPS = 1


def throttle_key(user: User) -> str:
    return throttle.key("code", str(user.id))


def begin(user: User) -> None:
    """A secret to scan, not in use until confirmed; kept until then, so that a second visit
    (another tab) shows the same QR code."""
    if user.totp_secret is None:
        user.totp_secret = pyotp.random_base32()
        db.session.commit()


def qr_svg(user: User) -> str:
    """The enrolment QR code as an SVG element to put in the page (no image request, no script)."""
    if user.totp_secret is None:
        raise ValueError("enrolment has not begun")
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def grouped_secret(user: User) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    secret = user.totp_secret or ""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _accept_totp(user: User, code: str) -> bool:
    """The code matches a step near now that is later than the last one accepted: take it.
    Six digits of another script (``²``, ``١``) are digits to ``str.isdigit`` but no code, and
    ``hmac.compare_digest`` refuses to compare them."""
    if not (user.totp_secret and len(code) == 6 and code.isascii() and code.isdigit()):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow()
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            taken = db.session.execute(
                update(User)
                .where(
                    User.id == user.id,
                    or_(User.totp_last_step.is_(None), User.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            return cast(CursorResult, taken).rowcount == 1
    return False


def _accept_recovery_code(user: User, code: str) -> bool:
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == token_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return cast(CursorResult, spent).rowcount == 1


def confirm(user: User, code: str) -> list[str] | None:
    """Finish enrolment with a code from the app: the recovery codes, or None if it is wrong."""
    if user.two_factor_enabled or not _accept_totp(user, _normalise(code)):
        db.session.rollback()
        return None
    user.two_factor_since = utcnow()
    codes = _new_recovery_codes(user)
    db.session.commit()
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits, 16 characters
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=token_hash(_normalise(raw))))
    return codes


@dataclass(frozen=True)
class Renewal:
    """``codes``: the new recovery codes, to show once; None: refused, and ``locked_minutes``
    when too many wrong codes were tried."""

    codes: list[str] | None = None
    locked_minutes: int = 0


def renew_recovery_codes(user: User, code: str) -> Renewal:
    """Ten new recovery codes for a code from the app, counted against the account's code
    throttle like the sign-in step; every old code stops working in the same commit, which the
    audit records."""
    row_key = throttle_key(user)
    attempt = throttle.claim(row_key)
    if not attempt.allowed:
        return Renewal(locked_minutes=attempt.locked_minutes)
    if not (user.two_factor_enabled and _accept_totp(user, _normalise(code))):
        db.session.rollback()
        return Renewal()
    throttle.clear(row_key)
    audit(
        "recovery_codes_renewed",
        user,
        user,
        before={"recovery_codes_left": recovery_codes_left(user)},
        after={"recovery_codes_left": RECOVERY_CODES},
    )
    codes = _new_recovery_codes(user)
    db.session.commit()
    return Renewal(codes=codes)


def verify(user: User, code: str) -> bool:
    """A code from the app or an unused recovery code; either is used up. The caller commits."""
    code = _normalise(code)
    if len(code) == 6:
        return _accept_totp(user, code)
    return len(code) == 16 and _accept_recovery_code(user, code)


def recovery_codes_left(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )
