"""Delivers the outbox over SMTP: ``flask --app referral send-mail``.

Each message is claimed before it is sent (``claim``), so two senders running at once, on one
machine or several, never send one message twice; a failed message is kept and retried later with
exponential back-off. Messages are never deleted. A crash between the SMTP hand-over and marking
the message sent can repeat it once: the stable Message-ID lets mail clients drop the duplicate.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, or_, select, update

from .extensions import db
from .models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
BATCH = 50
SMTP_TIMEOUT = 30


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8... minutes after the 1st, 2nd, 3rd, 4th... failure, at most six hours."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LONGEST_WAIT)


def _due(now: datetime):
    return (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def claim(now: datetime, limit: int = BATCH) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this sender; another sender's claims are skipped.

    PostgreSQL locks the due rows it picks and skips those another sender has locked
    (``FOR UPDATE SKIP LOCKED``), so senders on several machines share the backlog without
    waiting; SQLite, one machine's file, claims each with a conditional UPDATE."""
    due = select(OutboxMessage.id).where(*_due(now)).order_by(OutboxMessage.id).limit(limit)
    claim_until = {"claimed_until": now + CLAIM_FOR}
    if db.engine.dialect.name == "postgresql":
        claimed = list(db.session.scalars(due.with_for_update(skip_locked=True)))
        if claimed:
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(claimed))
                .values(**claim_until)
                .execution_options(synchronize_session=False)
            )
    else:
        claimed = []
        for message_id in db.session.scalars(due).all():
            taken = cast(
                CursorResult,
                db.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id, *_due(now))
                    .values(**claim_until)
                    .execution_options(synchronize_session=False)
                ),
            )
            if taken.rowcount == 1:
                claimed.append(message_id)
    db.session.commit()
    if not claimed:
        return []
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)
        )
    )


def _email(message: OutboxMessage) -> EmailMessage:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = f"<outbox-{message.id}@{config['MAIL_SERVER']}>"
    email.set_content(message.body)
    return email


def _error_of(error: Exception) -> str:
    """The kind of failure and the SMTP code only: server replies can quote the address."""
    code = getattr(error, "smtp_code", None)
    return f"{type(error).__name__}" + (f" {code}" if code else "")


def _failed(message: OutboxMessage, error: Exception, now: datetime) -> None:
    message.attempts += 1
    message.last_error = _error_of(error)[:300]
    message.next_attempt_at = now + retry_delay(message.attempts)
    message.claimed_until = None
    log.warning(
        "mail %s not delivered (%s), attempt %d", message.id, message.last_error, message.attempts
    )


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT)
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def deliver_pending(now: datetime | None = None) -> Delivery:
    """Send every message that is due, batch after batch, over one SMTP connection a batch."""
    now = now or utcnow()
    delivery = Delivery()
    while messages := claim(now):
        try:
            smtp = _connect()
        except (OSError, smtplib.SMTPException) as error:
            for message in messages:
                _failed(message, error, now)
            db.session.commit()
            delivery.failed += len(messages)
            break
        with smtp:
            for message in messages:
                try:
                    smtp.send_message(_email(message))
                except (OSError, smtplib.SMTPException) as error:
                    _failed(message, error, now)
                    delivery.failed += 1
                else:
                    message.sent_at = utcnow()
                    message.claimed_until = None
                    delivery.sent += 1
                # One commit per message: a crash later does not forget what was sent.
                db.session.commit()
    return delivery
