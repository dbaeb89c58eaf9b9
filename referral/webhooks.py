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
import contextlib
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpcore
import httpx
from flask import current_app
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
    # The coordinator moved it: the organisation it was offered to no longer has it.
    Action.ROUTE_BY_HAND: "referral.routed_by_hand",
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
# One post, all told (connecting, sending, the answer's status and headers): httpx's timeouts
# count per read, and a receiver sending a byte at a time could hold the sender for ever.
TIMEOUT_SECONDS = 10
# One run's posting; what is left is put off to the next run (the worker's, 15 s later). With
# one post more, well within ``outbox.CLAIM_FOR``: a batch is posted before its claim runs out.
RUN_SECONDS = 60
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


def is_acceptable_url(url: str, private_addresses: bool) -> bool:
    """HTTPS, to the internet: no address of this machine or its network as an IP (a name is
    checked where each connection is made, ``_Network``), unless ``private_addresses``
    (WEBHOOK_PRIVATE_ADDRESSES: development and tests, which also take plain HTTP to this
    machine, a receiver under development). No user or password in the address. Read as httpx
    reads it when posting, so that an address it cannot post to (a port that is not a number, a
    host no IDNA name can be, such as one with a zero-width space pasted in) is refused here
    rather than failing at every delivery."""
    if len(url) > MAX_URL_LENGTH or any(ch.isspace() for ch in url):
        return False
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return False
    if not parts.host or parts.userinfo:
        return False
    if private_addresses:
        return parts.scheme == "https" or (parts.scheme == "http" and parts.host in LOOPBACK_HOSTS)
    return parts.scheme == "https" and parts.host not in LOOPBACK_HOSTS and not _inside(parts.host)


def _inside(host: str) -> bool:
    """An IP address that is not on the public internet (loopback, private, link-local such as a
    cloud's metadata service, reserved), or an IPv6 one carrying such an IPv4 address (mapped,
    6to4, Teredo, NAT64, IPv4-compatible, SIIT); a name is not judged here."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not all(each.is_global for each in (address, *_carried(address)))


# IPv6 networks whose last 32 bits are an IPv4 address a gateway or stack reaches: NAT64, the
# deprecated IPv4-compatible form and SIIT's translated form.
_CARRYING_IPV4 = tuple(
    ipaddress.ip_network(network)
    for network in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)


def _carried(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list:
    """The IPv4 addresses an IPv6 address leads to: a gateway translates them on the way."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    carried = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if any(address in network for network in _CARRYING_IPV4):
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [each for each in carried if each is not None]


class PrivateAddress(ValueError):
    """The receiver's name leads to an address that is not on the public internet."""


def _public_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host``, refused unless every address it resolves to is
    public; connections are made to the addresses checked, so a name cannot change between."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise httpcore.ConnectError(type(error).__name__) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses or any(_inside(address.split("%")[0]) for address in addresses):
        raise PrivateAddress(host)
    return addresses


def register(organisation_id: int, url: str, by: User | None) -> RegisteredEndpoint:
    """Add an endpoint for an organisation's events (audited; ``by`` None: the command line)."""
    org = get_or_refuse(Organisation, organisation_id)
    url = url.strip()
    if not is_acceptable_url(url, current_app.config["WEBHOOK_PRIVATE_ADDRESSES"]):
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
    """Post one message; None when the endpoint took it, else why not. Only the status is read:
    the answer's body is the receiver's, could quote anything and be of any size."""
    body = body_of(message)
    try:
        with client.stream(
            "POST",
            message.endpoint.url,
            content=body.encode(),
            headers=signed_headers(message, body, utcnow()),
        ) as response:
            status = response.status_code
    # An address httpx cannot read (one registered before it was checked as httpx reads it)
    # fails this message's attempt, not the whole run.
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as error:
        return type(error).__name__
    if httpx.codes.is_success(status):
        return None
    return f"HTTP {status}"


class _Network(httpcore.NetworkBackend):
    """httpcore's own network, each connect, read and write given only what is left of the
    attempt's time (``until``, on ``time.monotonic``) in place of httpx's timeout per read."""

    def __init__(self, private_addresses: bool) -> None:
        self.network = httpcore.SyncBackend()
        self.until = 0.0
        self.private_addresses = private_addresses

    def left(self, timed_out: type[httpcore.TimeoutException]) -> float:
        left = self.until - time.monotonic()
        if left <= 0:
            raise timed_out("the attempt's time is up")
        return left

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        """To each address checked in turn (as the socket library would), the next when one
        cannot be reached, within what is left of the attempt's time."""
        *earlier, last = [host] if self.private_addresses else _public_addresses(host, port)
        for address in earlier:
            with contextlib.suppress(httpcore.ConnectError):
                return self._connect(address, port, local_address, socket_options)
        return self._connect(last, port, local_address, socket_options)

    def _connect(self, address, port, local_address, socket_options) -> _Stream:
        stream = self.network.connect_tcp(
            address, port, self.left(httpcore.ConnectTimeout), local_address, socket_options
        )
        return _Stream(stream, self)

    def sleep(self, seconds: float) -> None:
        self.network.sleep(seconds)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, network: _Network) -> None:
        self.stream = stream
        self.network = network

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.network.left(httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self.network.left(httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> _Stream:
        stream = self.stream.start_tls(
            ssl_context, server_hostname, self.network.left(httpcore.ConnectTimeout)
        )
        return _Stream(stream, self.network)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


class _Transport(httpx.HTTPTransport):
    """httpx's transport, its connection pool over ``_Network``: httpx has no setting for the
    network, so the pool it built is replaced by one built the same way with it (keep-alive as
    httpx's). No proxy from the environment: receivers are posted to directly (docs/deploy.md)."""

    def __init__(self, network: _Network) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), keepalive_expiry=5.0, network_backend=network
        )


def _put_off(messages: list[WebhookMessage], delivery: Delivery) -> None:
    """Leave claimed messages untried, due as they were, for the next run."""
    for message in messages:
        message.claimed_until = None
    delivery.put_off += len(messages)
    db.session.commit()


def deliver_pending(now: datetime | None = None) -> Delivery:
    """Post every message that is due, batch after batch, for RUN_SECONDS at most; safe to run
    twice at once. An endpoint that fails once is not tried again in the run: its other messages
    are put off, untried, to the next run, so a dead or slow receiver costs one attempt's time a
    run, not one per message, and does not hold back the other endpoints' messages."""
    now = now or utcnow()
    delivery = Delivery()
    run_ends = time.monotonic() + RUN_SECONDS
    failing: set[int] = set()  # endpoints
    network = _Network(current_app.config["WEBHOOK_PRIVATE_ADDRESSES"])
    client = httpx.Client(
        transport=_Transport(network), timeout=TIMEOUT_SECONDS, follow_redirects=False
    )
    with client:
        while messages := claim(WebhookMessage, now, WebhookMessage.endpoint_id.not_in(failing)):
            for turn, message in enumerate(messages):
                if time.monotonic() >= run_ends:
                    _put_off(messages[turn:], delivery)
                    return delivery
                if message.endpoint_id in failing:
                    _put_off([message], delivery)
                    continue
                if message.endpoint.removed_at is not None:
                    message.next_attempt_at = message.claimed_until = None
                    message.last_error = "endpoint removed"
                    db.session.commit()
                    continue
                network.until = time.monotonic() + TIMEOUT_SECONDS
                error = _post(client, message)
                if error is None:
                    message.sent_at = utcnow()
                    message.claimed_until = None
                    message.attempts += 1
                    delivery.sent += 1
                else:
                    _failed(message, error, now)
                    failing.add(message.endpoint_id)
                    delivery.failed += 1
                # One commit per message: a crash later does not forget what was sent.
                db.session.commit()
    return delivery
