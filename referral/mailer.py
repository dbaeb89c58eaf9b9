"""Delivers the outbox over SMTP: ``flask --app referral send-mail``.

Each message is claimed before it is sent (``outbox.claim``), so two senders running at once
never send one message twice; a failed message is kept and retried later with exponential
back-off. A message is deleted only when the request it is about is erased (even while it is being
sent). A crash between the SMTP hand-over and marking the message sent can repeat it once: the
stable Message-ID lets mail clients drop the duplicate.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from .extensions import db
from .models import OutboxMessage, utcnow
from .outbox import Delivery, claim

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
SMTP_TIMEOUT = 30


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8... minutes after the 1st, 2nd, 3rd, 4th... failure, at most six hours."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LONGEST_WAIT)


def _email(message: OutboxMessage) -> EmailMessage:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = f"<outbox-{message.id}@{config['MAIL_SERVER']}>"
    email.set_content(message.body)
    if message.calendar:
        email.add_attachment(
            message.calendar,
            subtype="calendar",
            filename="appointment.ics",
            params={"method": "PUBLISH"},
        )
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
    while messages := claim(OutboxMessage, now):
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
                try:
                    db.session.commit()
                except StaleDataError:  # erased with its request meanwhile: nothing to record
                    db.session.rollback()
    return delivery
