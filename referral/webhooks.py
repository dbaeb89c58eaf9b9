"""Signed webhooks: an organisation's own system hears of its referrals' steps.

A step writes one message per endpoint of each organisation concerned, in the step's own
transaction (an outbox, like the mail's); ``deliver_pending`` posts them signed as the Standard
Webhooks specification says (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``), with
retries and back-off, until the endpoint answers 2xx: at least once, every attempt with the same
``webhook-id``. Bodies carry ids and states, never personal data: the receiver reads the referral
with its API token.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from . import audit, outbox
from .extensions import db
from .handoff import Action
from .models import (
    Note,
    Organisation,
    Referral,
    ReferralEvent,
    User,
    WebhookEndpoint,
    WebhookMessage,
    utcnow,
)
from .outbox import Delivery, claim
from .service_errors import ServiceError, get_or_refuse, get_owned_or_refuse

log = logging.getLogger(__name__)

OFFERED = "referral.offered"
NOTE_ADDED = "referral.note_added"
# A step's own event, sent to the organisation whose step it was and to the referring one.
EVENT_OF_ACTION = {
    Action.ACCEPT: "referral.accepted",
    Action.DECLINE: "referral.declined",
    Action.EXPIRE: "referral.expired",
    Action.START: "referral.started",
    Action.HAND_BACK: "referral.handed_back",
    Action.CLOSE: "referral.closed",
    Action.WITHDRAW: "referral.withdrawn",
}
EVENT_TYPES = (OFFERED, *EVENT_OF_ACTION.values(), NOTE_ADDED)

# The waits after each failed attempt (the Standard Webhooks' suggested schedule); after the last
# one the message is given up, its last error kept for the coordinator's page.
RETRY_AFTER = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
TIMEOUT_SECONDS = 10
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_URL_LENGTH = 500


# --- registering endpoints (the coordinator) ------------------------------------------------


@dataclass
class RegisteredEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once to the coordinator, who gives it to the organisation


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def is_acceptable_url(url: str) -> bool:
    """HTTPS, or plain HTTP to this machine only (a receiver under development); no user or
    password in the address. Read as httpx reads it when posting, so that an address it cannot
    post to (a port that is not a number, a host no IDNA name can be, such as one with a
    zero-width space pasted in) is refused here rather than failing at every delivery."""
    if len(url) > MAX_URL_LENGTH or any(ch.isspace() for ch in url):
        return False
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return False
    if not parts.host or parts.userinfo:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.host in LOOPBACK_HOSTS)


def register(organisation_id: int, url: str, by: User | None) -> RegisteredEndpoint:
    """Add an endpoint for an organisation's events (audited; ``by`` None: the command line)."""
    org = get_or_refuse(Organisation, organisation_id)
    url = url.strip()
    if not is_acceptable_url(url):
        raise ServiceError(ServiceError.INVALID_WEBHOOK_URL)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organisation_id=org.id, url=url, secret=secret, created_by_id=by.id if by else None
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook_added", by, organisation_id=org.id, after={"url": url})
    db.session.commit()
    return RegisteredEndpoint(endpoint, secret)


def remove(organisation_id: int, endpoint_id: int, by: User | None) -> None:
    """Stop sending to an endpoint; what was queued for it is not sent either."""
    endpoint = get_owned_or_refuse(WebhookEndpoint, endpoint_id, organisation_id)
    if endpoint.removed_at is None:
        endpoint.removed_at = utcnow()
        audit.record(
            "webhook_removed", by, organisation_id=organisation_id, before={"url": endpoint.url}
        )
    db.session.commit()


def endpoints_of(organisation_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.organisation_id == organisation_id,
                WebhookEndpoint.removed_at.is_(None),
            )
            .order_by(WebhookEndpoint.id)
        )
    )


# --- writing events (in the transaction of the change) -------------------------------------------


def stepped(referral: Referral, event: ReferralEvent) -> None:
    """The events of one step: what happened, for the organisation whose step it was and for the
    referring one; and the offer, for the organisation it now goes to."""
    event_type = EVENT_OF_ACTION.get(Action(event.action))
    if event_type:
        _queue(
            event_type, {event.organisation_id, referral.referring_organisation_id}, referral, {}
        )
    if event.offered_to_id:
        _queue(OFFERED, {event.offered_to_id}, referral, {})


def note_added(note: Note) -> None:
    """A note reaches its author's organisation, and if shared, whoever may read it with the
    person's data (the holder and the referrer: ``access.may_see_note``)."""
    referral = note.referral
    organisations = {note.organisation_id}
    if note.shared:
        organisations |= {referral.organisation_id, referral.referring_organisation_id}
    if note.id is None:
        db.session.flush()
    _queue(NOTE_ADDED, organisations, referral, {"note_id": note.id})


_LIVE = "live webhook endpoints"


def _live_endpoints() -> dict[int, list[int]]:
    """Organisation -> ids of its live endpoints, read once per transaction: a sweep re-routing
    thousands of offers (or an intake routing several needs) asks once, not at every step."""
    live = db.session.info.get(_LIVE)
    if live is None:
        live = {}
        # No autoflush: the step's changes reach the database at its commit, in the order the
        # use case wrote them (a flush here would write the referral twice, change lock order).
        with db.session.no_autoflush:
            rows = db.session.execute(
                select(WebhookEndpoint.organisation_id, WebhookEndpoint.id)
                .where(WebhookEndpoint.removed_at.is_(None))
                .order_by(WebhookEndpoint.id)
            )
            for organisation_id, endpoint_id in rows:
                live.setdefault(organisation_id, []).append(endpoint_id)
        db.session.info[_LIVE] = live
    return live


@listens_for(Session, "after_transaction_end")
def _forget_live_endpoints(session: Session, transaction) -> None:
    session.info.pop(_LIVE, None)


def _queue(event_type: str, organisations: set[int | None], referral: Referral, data: dict):
    wanted = {org for org in organisations if org is not None}
    if not wanted:
        return
    live = _live_endpoints()
    endpoints = [endpoint for org in sorted(wanted) for endpoint in live.get(org, ())]
    if not endpoints:
        return
    now = utcnow()
    payload = {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        # A referral being created gets its id at the commit, where the outbox puts it in.
        "data": {"referral_id": outbox.REFERRAL_ID, "state": str(referral.state), **data},
    }
    for endpoint_id in endpoints:
        outbox.put(
            WebhookMessage,
            referral=referral,
            message_id=f"msg_{uuid.uuid4().hex}",
            endpoint_id=endpoint_id,
            event_type=event_type,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
        )


# --- delivering (a job: ``flask --app referral send-webhooks`` or the worker) ---------------------


def body_of(message: WebhookMessage) -> str:
    """The JSON posted, the same bytes at every attempt."""
    return json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signed_headers(message: WebhookMessage, body: str, now: datetime) -> dict[str, str]:
    signature = Webhook(message.endpoint.secret).sign(message.message_id, now, body)
    return {
        "content-type": "application/json",
        "user-agent": "Referral-Webhooks/1",
        "webhook-id": message.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def _failed(message: WebhookMessage, error: str, now: datetime) -> None:
    message.attempts += 1
    message.last_error = error[:300]
    message.claimed_until = None
    waits = RETRY_AFTER[message.attempts - 1 : message.attempts]
    message.next_attempt_at = now + waits[0] if waits else None
    log.warning(
        "webhook %s to endpoint %s failed (%s), attempt %d",
        message.message_id,
        message.endpoint_id,
        message.last_error,
        message.attempts,
    )


def _post(client: httpx.Client, message: WebhookMessage) -> str | None:
    """Post one message; None when the endpoint took it, else why not (no response body: it
    is the receiver's, and could quote anything)."""
    body = body_of(message)
    try:
        response = client.post(
            message.endpoint.url,
            content=body.encode(),
            headers=signed_headers(message, body, utcnow()),
        )
    # An address httpx cannot read (one registered before it was checked as httpx reads it)
    # fails this message's attempt, not the whole run.
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as error:
        return type(error).__name__
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"


def deliver_pending(now: datetime | None = None) -> Delivery:
    """Post every message that is due, batch after batch; safe to run twice at once."""
    now = now or utcnow()
    delivery = Delivery()
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        while messages := claim(WebhookMessage, now):
            for message in messages:
                if message.endpoint.removed_at is not None:
                    message.next_attempt_at = message.claimed_until = None
                    message.last_error = "endpoint removed"
                    db.session.commit()
                    continue
                error = _post(client, message)
                if error is None:
                    message.sent_at = utcnow()
                    message.claimed_until = None
                    message.attempts += 1
                    delivery.sent += 1
                else:
                    _failed(message, error, now)
                    delivery.failed += 1
                # One commit per message: a crash later does not forget what was sent.
                db.session.commit()
    return delivery
