"""Text messages to people, through the outbox (rows with ``channel`` "sms"), sent by the worker's
``send_sms`` job with the sender ``SMS_BACKEND`` names:

- ``log``: written to the application log, the number and any status link masked (development);
- ``smsapi``: SMSAPI.pl's REST API (``POST {SMSAPI_URL}/sms.do``, the token ``SMSAPI_TOKEN`` as a
  bearer token, the sender name ``SMSAPI_SENDER``), used by Polish organisations.

Each message is claimed before it is sent (``outbox.claim``), so two senders never send one twice;
a failed one is kept and tried again later, each time waiting longer (``outbox.settle``), unless
the gateway refused the number itself (``REFUSED_FOR_GOOD``) or it is five days old. What a
gateway answers is never recorded (it can quote the number): only the kind of failure.

``segments`` counts what a text costs: GSM-7 texts take 160 characters in one message and 153 a
part beyond; a text with any other character (Cyrillic, Polish letters) is sent as UCS-2, 70 in
one and 67 a part. The texts people get are written to fit two parts in every language.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import phonenumbers
from flask import Flask, current_app

from .models import OutboxMessage, utcnow
from .outbox import Delivery, claim, each_still_there, settle
from .personal_data import normalised_phone

log = logging.getLogger(__name__)

SMS = "sms"
BACKENDS = ("log", "smsapi")
TIMEOUT_SECONDS = 15

# GSM 03.38: the basic set takes one septet, the extension set two (an escape first).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "^{}\\[~]|€\f"


def segments(text: str) -> int:
    """How many messages the network sends for ``text`` (concatenated parts count one each)."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        septets = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return 1 if units <= 70 else math.ceil(units / 67)


def mobile_number(raw: str | None) -> str | None:
    """The number in E.164 if it can take a text message (a mobile, or a number that may be
    one), else None: a landline gets no SMS."""
    number = normalised_phone(raw)
    if number is None:
        return None
    kind = phonenumbers.number_type(phonenumbers.parse(number))
    mobile = (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    return number if kind in mobile else None


def masked(number: str) -> str:
    """Enough of a number to tell messages apart in a log, not to call it: +48…200."""
    return f"{number[:3]}…{number[-3:]}"


# A sender takes (number in E.164, text) and gives None when the message went, else why not.
Send = Callable[[str, str], str | None]

# Failures that trying again cannot mend: SMSAPI's "no correct phone numbers" (the number given
# cannot take a text). The gateway's other errors (its token, the account's credit) are the
# site's to mend, so those messages wait and are tried again.
REFUSED_FOR_GOOD = frozenset({"SMSAPI error 13"})


def _log_send(number: str, text: str) -> str | None:
    """The development sender: which number (masked) and how long, never a word of the text, which
    may hold what is encrypted at rest (an appointment's place); the outbox keeps the text."""
    log.info("sms to %s (%d part(s), %d characters)", masked(number), segments(text), len(text))
    return None


@contextmanager
def _smsapi() -> Iterator[Send]:
    config = current_app.config
    url = config["SMSAPI_URL"].rstrip("/") + "/sms.do"
    headers = {"Authorization": f"Bearer {config['SMSAPI_TOKEN']}"}
    sender = config["SMSAPI_SENDER"]

    def send(number: str, text: str) -> str | None:
        form = {"to": number.lstrip("+"), "message": text, "encoding": "utf-8", "format": "json"}
        if sender:
            form["from"] = sender
        try:
            response = client.post(url, data=form, headers=headers)
        except httpx.HTTPError as error:
            return type(error).__name__
        if not response.is_success:
            return f"HTTP {response.status_code}"
        try:
            answer = response.json()
        except ValueError:
            return "SMSAPI answer not JSON"
        # SMSAPI reports a refusal as {"error": code, "message": ...}: keep the code only.
        if not isinstance(answer, dict) or "error" in answer or not answer.get("count"):
            code = answer.get("error") if isinstance(answer, dict) else None
            return f"SMSAPI error {code}"
        return None

    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        yield send


@contextmanager
def _log() -> Iterator[Send]:
    yield _log_send


SENDERS = {"log": _log, "smsapi": _smsapi}


def deliver_pending(now: datetime | None = None) -> Delivery:
    """Send every text message that is due, batch after batch; safe to run twice at once."""
    now = now or utcnow()
    delivery = Delivery()
    with SENDERS[current_app.config["SMS_BACKEND"]]() as send:
        while messages := claim(OutboxMessage, now, OutboxMessage.channel == SMS):
            for message in each_still_there(messages):
                error = send(message.to_address, message.body)
                settle(message, error, now, delivery, for_good=error in REFUSED_FOR_GOOD)
    return delivery


class SmsSettingsMissing(RuntimeError):
    """SMS_BACKEND names no sender, or the gateway's token is missing: the app must not start."""


def check_settings(app: Flask) -> None:
    backend = app.config["SMS_BACKEND"]
    if backend not in BACKENDS:
        raise SmsSettingsMissing(f"SMS_BACKEND must be one of {', '.join(BACKENDS)}")
    if backend == "smsapi" and not app.config["SMSAPI_TOKEN"]:
        raise SmsSettingsMissing("SMS_BACKEND is smsapi but SMSAPI_TOKEN is not set")
