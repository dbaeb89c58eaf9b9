"""The outboxes: writing a message with the change it reports (``put``), and claiming the due
rows of an outbox: the mail outbox (``mailer``), its text messages (``sms``) and the webhook
outbox (``webhooks``) are delivered the same way.

A message is written at the commit of its change, all of a transaction's in one statement, after
the flush that gives a request or referral being created its id (a mail links to the referral's
page). Rolling back forgets them (a savepoint's rollback, those queued since it began);
erasing a request forgets its own (``forget``).

Each row is claimed before it is sent (``claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
conditional UPDATE on SQLite), so two senders running at once, on one machine or several, never
send one row twice; a sender that dies leaves its claim to expire after CLAIM_FOR. That holds
only while a sender finishes each batch within CLAIM_FOR of claiming it: a claim is not renewed,
and a row still unsent when it runs out is another sender's to take. A webhook run ends well
within it (``webhooks.RUN_SECONDS``, each post at most ``webhooks.TIMEOUT_SECONDS``); the site's
own SMTP server and SMS gateway are trusted to answer well within it (BATCH sends, each bounded
only by their timeouts per read).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnDefault,
    ColumnElement,
    CursorResult,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError

from .extensions import db
from .models import HelpRequest, OutboxMessage, Referral, WebhookMessage, utcnow

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)
BATCH = 50
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
# As long as a mail server keeps a message it cannot deliver (Postfix's default), then no more
# tries: staff see it on the referral's page, the operator in /healthz.
MESSAGE_LIFETIME = timedelta(days=5)

Row = TypeVar("Row", OutboxMessage, WebhookMessage)
Outbox = type[OutboxMessage] | type[WebhookMessage]


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0
    put_off: int = 0  # claimed, then left untried for the next run (webhooks only)

    def __str__(self) -> str:
        """The worker's record of one run (``worker_job.last_outcome``)."""
        outcome = f"Sent: {self.sent}, failed (kept, tried again unless given up): {self.failed}"
        if self.put_off:
            outcome += f", put off untried to the next run: {self.put_off}"
        return outcome


# --- writing ----------------------------------------------------------------------------------

# Stands for the id of the message's referral until the referral has one: alone (a webhook's
# ``referral_id``), the id itself; in a text (a mail's link), its digits.
REFERRAL_ID = "\x00referral-id\x00"
_QUEUED = "outbox messages to write"
_SAVEPOINTS = "outbox messages queued when each open savepoint began"


@dataclass
class _Queued:
    model: Outbox
    values: dict[str, Any]
    request: HelpRequest | None
    referral: Referral | None

    def row(self) -> dict[str, Any]:
        referral_id = self.referral.id if self.referral else None
        row = {key: _with_id(value, referral_id) for key, value in self.values.items()}
        if self.model is OutboxMessage:  # deleted with the request's personal data
            if self.referral is not None:
                row["request_id"] = self.referral.request_id
            elif self.request is not None:
                row["request_id"] = self.request.id
            # Every row names the same columns: the commit writes them in one statement.
            row.setdefault("request_id", None)
            row["referral_id"] = referral_id
            row.setdefault("calendar", None)
            row.setdefault("channel", _MAIL)
        return row

    def of(self, request: HelpRequest) -> bool:
        """A message to someone about ``request`` (a webhook's event, free of personal data,
        still tells the organisations' systems what happened)."""
        about = (self.request, self.referral.request if self.referral else None)
        return self.model is OutboxMessage and request in about


_MAIL = cast(ColumnDefault, OutboxMessage.__table__.c.channel.default).arg  # a row's channel unsaid


def _with_id(value: Any, referral_id: int | None) -> Any:
    if referral_id is None:
        return value
    if value == REFERRAL_ID:
        return referral_id
    if isinstance(value, str):
        return value.replace(REFERRAL_ID, str(referral_id))
    if isinstance(value, dict):
        return {key: _with_id(inner, referral_id) for key, inner in value.items()}
    return value


def put(
    model: Outbox = OutboxMessage,
    *,
    request: HelpRequest | None = None,
    referral: Referral | None = None,
    **values: Any,
) -> None:
    """Write a ``model`` row (a mail or text message, a webhook message) of ``values`` at the
    commit of this transaction; ``request`` or ``referral``: whom it is about (a message's row is
    deleted with the request's personal data; ``REFERRAL_ID`` in ``values`` becomes its id)."""
    db.session.info.setdefault(_QUEUED, []).append(_Queued(model, values, request, referral))


def forget(request: HelpRequest) -> None:
    """The messages about ``request`` not written yet are not written: it is being erased."""
    queued = db.session.info.get(_QUEUED, [])
    queued[:] = [message for message in queued if not message.of(request)]


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    if not session.info.get(_QUEUED):
        return
    session.flush()  # requests and referrals being created get the ids the rows name
    queued = session.info.pop(_QUEUED)
    for model in (OutboxMessage, WebhookMessage):
        if rows := [message.row() for message in queued if message.model is model]:
            # NULL written as such (``_Queued.row``): rows about a request or a need, or with a
            # calendar file or none, go in one statement, not one per set of columns given.
            session.execute(insert(model).execution_options(render_nulls=True), rows)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_SAVEPOINTS, {})
        marks[transaction] = len(session.info.get(_QUEUED, ()))


@event.listens_for(Session, "after_soft_rollback")
def _forget_queued(session: Session, previous_transaction: SessionTransaction) -> None:
    """A savepoint rolled back forgets what was queued since it began; the transaction, all."""
    kept = session.info.get(_SAVEPOINTS, {}).get(previous_transaction, 0)
    del session.info.get(_QUEUED, [])[kept:]


@event.listens_for(Session, "after_transaction_end")
def _forget_marks(session: Session, transaction: SessionTransaction) -> None:
    # Not at a savepoint's end: its rollback (after its end) still reads its mark.
    if transaction.parent is None:
        session.info.pop(_SAVEPOINTS, None)


# --- delivering ---------------------------------------------------------------------------------


def _due(model: type[Row], now: datetime, *where: ColumnElement[bool]):
    return (
        *where,
        model.sent_at.is_(None),
        model.next_attempt_at <= now,
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )


def claim(
    model: type[Row], now: datetime, *where: ColumnElement[bool], limit: int = BATCH
) -> list[Row]:
    """Take up to ``limit`` rows due at ``now`` (of those ``where`` selects) for this sender;
    another sender's claims are skipped. The claim runs CLAIM_FOR from this moment, read afresh:
    ``now`` is when the run began, long past for a long run's later batches.

    PostgreSQL locks the due rows it picks and skips those another sender has locked
    (``FOR UPDATE SKIP LOCKED``), so senders on several machines share the backlog without
    waiting on each other; SQLite, one machine's file, claims each with a conditional UPDATE."""
    due = select(model.id).where(*_due(model, now, *where)).order_by(model.id).limit(limit)
    claim_until = {"claimed_until": utcnow() + CLAIM_FOR}
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
                    .where(model.id == row_id, *_due(model, now, *where))
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


def each_still_there(messages: list[OutboxMessage]) -> Iterator[OutboxMessage]:
    """Each claimed message, read again as its turn comes (each ``settle`` commits, which expires
    them all): one erased with its request meanwhile is gone, and skipped."""
    for message in messages:
        try:
            db.session.refresh(message)
        except InvalidRequestError:  # "could not refresh": its row is gone
            continue
        yield message


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8... minutes after the 1st, 2nd, 3rd, 4th... failure, at most six hours."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LONGEST_WAIT)


# The messages that carry a person's working status link (``person_messages.Kind``): their text
# is needed until it is sent or given up, no longer.
_WITH_THE_LINK = frozenset({"person_status_link", "person_fresh_link"})


def settle(
    message: OutboxMessage,
    error: str | None,
    now: datetime,
    delivery: Delivery,
    *,
    for_good: bool = False,
) -> None:
    """Record how sending one message went (``error``: None when it went, else the kind of
    failure, never what the server answered: it can quote the address) and commit at once, so a
    crash later does not forget what was sent. A failed message is kept and tried again later,
    each time waiting longer (``retry_delay``), unless the receiving side refused it for good
    (``for_good``: trying again cannot mend it) or it is MESSAGE_LIFETIME old: then it has no
    next attempt."""
    if error is None:
        message.sent_at = utcnow()
        delivery.sent += 1
    else:
        message.attempts += 1
        message.last_error = error[:300]
        given_up = for_good or now - message.created_at >= MESSAGE_LIFETIME
        message.next_attempt_at = None if given_up else now + retry_delay(message.attempts)
        delivery.failed += 1
        log.warning(
            "%s %s not delivered (%s), attempt %d%s",
            message.channel,
            message.id,
            message.last_error,
            message.attempts,
            ", no more tries" if given_up else "",
        )
    done = message.sent_at is not None or message.next_attempt_at is None
    if done and message.kind in _WITH_THE_LINK:
        message.body = ""  # sent or given up: only the link's hash is kept (decision 0005)
    message.claimed_until = None
    try:
        db.session.commit()
    except StaleDataError:  # erased with its request meanwhile: nothing to record
        db.session.rollback()


@dataclass(frozen=True)
class Backlog:
    """The mail and text messages not sent yet: those still to be tried (``pending``, the
    oldest written at ``oldest_at``) and those given up (``settle``)."""

    pending: int
    oldest_at: datetime | None
    given_up: int

    def waited(self, now: datetime) -> timedelta | None:
        return now - self.oldest_at if self.oldest_at else None


def backlog() -> Backlog:
    """What /healthz reports and the coordinator's start page warns of: a stopped worker or a
    mail server down leaves messages waiting, which nothing else shows."""
    unsent = select(func.count(), func.min(OutboxMessage.created_at)).where(
        OutboxMessage.sent_at.is_(None)
    )
    pending, oldest = db.session.execute(
        unsent.where(OutboxMessage.next_attempt_at.is_not(None))
    ).one()
    given_up = db.session.execute(unsent.where(OutboxMessage.next_attempt_at.is_(None))).one()[0]
    return Backlog(pending, oldest, given_up)
