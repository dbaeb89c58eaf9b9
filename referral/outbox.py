"""Claiming the due rows of an outbox: the mail outbox (``mailer``) and the webhook outbox
(``webhooks``) are delivered the same way.

Each row is claimed with a conditional UPDATE before it is sent, so two senders running at once
never send one row twice; a sender that dies leaves its claim to expire after CLAIM_FOR.
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
    """Take up to ``limit`` due rows for this sender; another sender's claims are skipped."""
    ids = db.session.scalars(
        select(model.id).where(*_due(model, now)).order_by(model.id).limit(limit)
    ).all()
    claimed = []
    for row_id in ids:
        taken = cast(
            CursorResult,
            db.session.execute(
                update(model)
                .where(model.id == row_id, *_due(model, now))
                .values(claimed_until=now + CLAIM_FOR)
                .execution_options(synchronize_session=False)
            ),
        )
        if taken.rowcount == 1:
            claimed.append(row_id)
    db.session.commit()
    if not claimed:
        return []
    return list(db.session.scalars(select(model).where(model.id.in_(claimed)).order_by(model.id)))
