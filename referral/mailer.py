"""Delivers the outbox's e-mails over SMTP: ``flask --app referral send-mail``.

Each message is claimed before it is sent (``outbox.claim``), so two senders running at once never
send one message twice; a failed message is kept and retried later with exponential back-off, unless
the server refused it for good (a 5xx reply to its recipient or its content, RFC 5321's "do not
repeat") or it is five days old. A message is deleted only when the request it is about is erased
(even while it is being sent). A crash between the SMTP hand-over and marking the message sent can
repeat it once: the stable Message-ID lets mail clients drop the duplicate.

Each mail says it was written by a machine (RFC 3834's ``Auto-Submitted``, and Exchange's own
header): staff mailboxes' out-of-office replies do not come back to the sender.
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from flask import current_app

from .models import OutboxMessage, utcnow
from .outbox import Delivery, claim, each_still_there, settle

EMAIL = "email"
SMTP_TIMEOUT = 30


def _email(message: OutboxMessage) -> EmailMessage:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)  # when written, whatever the retries
    email["Message-ID"] = _message_id(message)
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    email.set_content(message.body)
    if message.calendar:
        email.add_attachment(
            message.calendar,
            subtype="calendar",
            filename="appointment.ics",
            params={"method": "PUBLISH"},
        )
    return email


def _message_id(message: OutboxMessage) -> str:
    """The same at every attempt; of this site (its public host); and with the time it was
    written, since a database restored from a backup gives the outbox's ids again, and a mail
    client drops a message whose Message-ID it has seen."""
    site = urlsplit(current_app.config["PUBLIC_URL"]).hostname
    return f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S%f}@{site}>"


def _error_of(error: Exception) -> str:
    """The kind of failure and the SMTP code only: server replies can quote the address."""
    code = getattr(error, "smtp_code", None)
    return f"{type(error).__name__}" + (f" {code}" if code else "")


def _refused_for_good(error: Exception) -> bool:
    """A 5xx reply to the recipient or to the message itself: sending it again cannot mend it.
    A refused sender is the site's own setting, not the message's: that is tried again."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT)
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def deliver_pending(now: datetime | None = None) -> Delivery:
    """Send every e-mail that is due, batch after batch, over one SMTP connection a batch."""
    now = now or utcnow()
    delivery = Delivery()
    while messages := claim(OutboxMessage, now, OutboxMessage.channel == EMAIL):
        try:
            smtp = _connect()
        except (OSError, smtplib.SMTPException) as error:
            for message in messages:
                settle(message, _error_of(error), now, delivery)
            break
        with smtp:
            for message in each_still_there(messages):
                try:
                    smtp.send_message(_email(message))
                except (OSError, smtplib.SMTPException) as error:
                    settle(
                        message,
                        _error_of(error),
                        now,
                        delivery,
                        for_good=_refused_for_good(error),
                    )
                else:
                    settle(message, None, now, delivery)
    return delivery
