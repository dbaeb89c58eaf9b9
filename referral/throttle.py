"""The sign-in throttle: a few attempts per account, then a lock that grows each time; and a floor
under the time of answers that must not tell what they found (``taking_at_least``).

An attempt is counted *before* the password or code is checked, in one INSERT ... ON CONFLICT
DO UPDATE statement that also decides whether it may go ahead; the count is committed before the
slow check starts. Forty parallel guesses therefore get exactly ``max_attempts`` checks, never a
duplicate-key error. The key is the account (whatever the address): a per-address limit on the
sign-in form (Flask-Limiter) keeps one address from trying many accounts.
"""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, and_, case, delete, or_, update

from .extensions import db, upsert_into
from .models import SignInThrottle, utcnow
from .personal_data import keyring

LONGEST_LOCK = timedelta(hours=24)
FORGET_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class Attempt:
    """``allowed``: go on and check; else ``locked_minutes`` until the next try."""

    allowed: bool
    locked_minutes: int = 0


def key(kind: str, subject: str) -> str:
    """The row's key: ``kind`` (password, code) and the account, hashed with MATCH_KEY (no
    e-mail stored, none found by hashing a list of addresses)."""
    return keyring().match(f"throttle-{kind}", subject)


def forget_spent(now: datetime) -> int:
    """Delete the counts of accounts nobody tried for FORGET_AFTER, no lock running: an
    attacker who waits that long gains one new round of attempts a month, the growing lock back
    at its first length."""
    idle = delete(SignInThrottle).where(
        SignInThrottle.updated_at < now - FORGET_AFTER,
        or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until < now),
    )
    return cast(CursorResult, db.session.execute(idle)).rowcount


def lock_length(locks_before: int) -> timedelta:
    """SIGN_IN_LOCK_MINUTES the first time, then twice as long each time, at most a day."""
    minutes = current_app.config["SIGN_IN_LOCK_MINUTES"] * 2 ** min(locks_before, 16)
    return min(timedelta(minutes=minutes), LONGEST_LOCK)


def claim(row_key: str, now: datetime | None = None) -> Attempt:
    """Count one attempt for this key and say whether it may be checked; commits."""
    now = now or utcnow()
    most = current_app.config["SIGN_IN_MAX_FAILURES"]
    row = SignInThrottle
    lock_over = row.locked_until <= now
    statement = (
        upsert_into(row)
        .values(key=row_key, attempts=1, locks=0, updated_at=now)
        .on_conflict_do_update(
            index_elements=[row.key],
            set_={
                # A lock that is over starts a new round of attempts; the lock count stays.
                "attempts": case((lock_over, 1), else_=row.attempts + 1),
                "locked_until": case((lock_over, None), else_=row.locked_until),
                "updated_at": now,
            },
            where=or_(lock_over, and_(row.locked_until.is_(None), row.attempts < most)),
        )
        .returning(row.attempts, row.locks)
    )
    counted = db.session.execute(statement).first()
    if counted is None:
        locked = db.session.get(SignInThrottle, row_key)
        locked_until = locked.locked_until if locked and locked.locked_until else now
        db.session.commit()
        seconds = (locked_until - now).total_seconds()
        return Attempt(False, locked_minutes=max(1, math.ceil(seconds / 60)))
    attempts, locks = counted
    if attempts >= most:
        # The last attempt of this round: whatever its outcome, the next ones wait.
        db.session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.key == row_key)
            .values(locked_until=now + lock_length(locks), locks=locks + 1)
        )
    db.session.commit()
    return Attempt(True)


def clear(row_key: str) -> None:
    """After a success (or a new password): the count and the lock history start again."""
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.key == row_key))


@contextmanager
def taking_at_least(seconds: float) -> Iterator[None]:
    """An answer that must not tell by its time whether something was found (an account, a
    request) takes at least ``seconds``: the slower path's work hides behind the floor."""
    started = time.monotonic()
    yield
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
