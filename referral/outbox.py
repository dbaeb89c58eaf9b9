"""Claiming the due rows of an outbox: the mail outbox (``mailer``) and the webhook outbox
(``webhooks``) are delivered the same way.

Each row is claimed before it is sent (``claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
conditional UPDATE on SQLite), so two senders running at once, on one machine or several, never
send one row twice; a sender that dies leaves its claim to expire after CLAIM_FOR.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import CursorResult, or_, select, update

from .extensions import db
from .models import OutboxMessage, WebhookMessage

CLAIM_FOR = timedelta(minutes=5)
BATCH = 50

Row = TypeVar("Row", OutboxMessage, WebhookMessage)


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0


def _due(model: type[Row], now: datetime):
    return (
        model.sent_at.is_(None),
        model.next_attempt_at <= now,
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )


def claim(model: type[Row], now: datetime, limit: int = BATCH) -> list[Row]:
    """Take up to ``limit`` due rows for this sender; another sender's claims are skipped.

    PostgreSQL locks the due rows it picks and skips those another sender has locked
    (``FOR UPDATE SKIP LOCKED``), so senders on several machines share the backlog without
    waiting on each other; SQLite, one machine's file, claims each with a conditional UPDATE."""
    due = select(model.id).where(*_due(model, now)).order_by(model.id).limit(limit)
    claim_until = {"claimed_until": now + CLAIM_FOR}
    if db.engine.dialect.name == "postgresql":
        claimed = list(db.session.scalars(due.with_for_update(skip_locked=True)))
        if claimed:
            db.session.execute(
                update(model)
                .where(model.id.in_(claimed))
                .values(**claim_until)
                .execution_options(synchronize_session=False)
            )
    else:
        claimed = []
        for row_id in db.session.scalars(due).all():
            taken = cast(
                CursorResult,
                db.session.execute(
                    update(model)
                    .where(model.id == row_id, *_due(model, now))
                    .values(**claim_until)
                    .execution_options(synchronize_session=False)
                ),
            )
            if taken.rowcount == 1:
                claimed.append(row_id)
    db.session.commit()
    if not claimed:
        return []
    return list(db.session.scalars(select(model).where(model.id.in_(claimed)).order_by(model.id)))
