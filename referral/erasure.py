"""Erasing a person's data so that nothing is left: when they withdraw
(``lifecycle.withdraw_request``), when every need ended more than RETENTION_DAYS ago
(``purge_ended``), and when a need stayed open OPEN_RETENTION_DAYS after the request was sent
(``lifecycle.withdraw_requests_open_too_long``); ``flask purge`` runs the last two daily.

Erasing takes the request's personal fields and their matching hashes, its status token, the notes,
the words written with its steps and the person's own (messages, words asked again), its
appointments (where, and the person's words), and every
mail about it, sent or waiting. What stays is what
the reports count (needs, places, states, dates, the coded event log) and the log of who opened
the data. On SQLite, deleted content is overwritten (``secure_delete``) and the write-ahead log
emptied after each erasure (``leave_no_trace``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, Select, delete, func, or_, select, update

from . import outbox
from .extensions import db, locked
from .handoff import OPEN_STATES
from .models import (
    Appointment,
    DataAccess,
    EventText,
    FromPerson,
    FromPersonKind,
    HelpRequest,
    Note,
    OutboxMessage,
    Referral,
    WebhookMessage,
    utcnow,
)
from .paging import capped_count
from .passwords import new_token, token_hash
from .service_errors import ServiceError


def unerased(request: HelpRequest) -> HelpRequest:
    """The request locked until the commit and read afresh, or ALREADY_ERASED. Whatever writes
    the person's data beside it (a note, their message, a contact) calls this before its checks:
    an erasure committed since the page was read refuses it, and one under way waits for it and
    takes what it wrote (no purge looks at an erased request again)."""
    locked(HelpRequest, request.id)
    if request.erased_at is not None:
        raise ServiceError(ServiceError.ALREADY_ERASED)
    return request


def erase(request: HelpRequest, now: datetime) -> None:
    """Erase everything that identifies the person or tells their story, in the caller's
    transaction; the caller commits, then calls ``leave_no_trace``. The caller holds the
    request's lock (``unerased``, or the purge's, one at a time), so a step writing beside it
    finishes before the rows below are deleted."""
    request.name = request.phone = request.email = request.description = None
    request.contact_channel = request.residence_status = None
    request.languages = []
    request.safe_to_message = request.interpreter_needed = False
    request.status_token_hash = token_hash(new_token())  # the person's link opens nothing now
    request.submission_hash = None  # a hash of what they typed, salted, but still of it
    # "Possible duplicate" says two people shared a name, phone or e-mail: gone with either.
    request.possible_duplicate_of = None
    db.session.execute(
        update(HelpRequest)
        .where(HelpRequest.possible_duplicate_of == request.reference)
        .values(possible_duplicate_of=None)
    )
    request.erased_at = now
    for referral in request.referrals:  # why it was offered stays, not the languages they speak
        referral.routing_reasons = [
            {**reason, "params": {}} if reason["code"] == "speaks" else reason
            for reason in referral.routing_reasons or []
        ]
    referral_ids = select(Referral.id).where(Referral.request_id == request.id)
    for model in (Note, EventText, Appointment):
        db.session.execute(delete(model).where(model.referral_id.in_(referral_ids)))
    outbox.forget(request)
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.request_id == request.id))
    # What the person did through their link or the form (their words, the place they moved to,
    # that it got urgent) goes; a contact change's record holds no value and stays as its audit.
    db.session.execute(
        delete(FromPerson).where(
            FromPerson.request_id == request.id,
            FromPerson.kind != FromPersonKind.CONTACT_CHANGED,
        )
    )
    db.session.execute(
        update(FromPerson).where(FromPerson.request_id == request.id).values(submission_hash=None)
    )


def leave_no_trace() -> None:
    """SQLite keeps the pages an erasure replaced in the write-ahead log until a checkpoint: copy
    the log into the database file (where ``secure_delete`` zeroed what was deleted) and empty it.
    A reader still busy can hold the log back; the daily purge empties it again."""
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def has_open_need():
    """A WHERE clause: the request has a need still open."""
    return (
        select(Referral.id)
        .where(Referral.request_id == HelpRequest.id, Referral.state.in_(OPEN_STATES))
        .exists()
    )


def purge_ended(now: datetime | None = None, batch_size: int = 500) -> int:
    """Erase the requests whose needs all ended (closed or withdrawn) more than RETENTION_DAYS
    ago, ``batch_size`` requests a transaction: a year's backlog never holds one long
    transaction, and what was erased stays erased if the purge is stopped."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RETENTION_DAYS"])
    changed_since = (
        select(Referral.id)
        .where(Referral.request_id == HelpRequest.id, Referral.updated_at > cutoff)
        .exists()
    )
    due = (
        select(HelpRequest)
        .where(
            HelpRequest.erased_at.is_(None),
            HelpRequest.created_at < cutoff,
            ~has_open_need(),
            ~changed_since,
        )
        .order_by(HelpRequest.id)
        .limit(batch_size)
    )
    erased = 0
    while requests := db.session.scalars(due).all():
        held = 0
        for request in requests:
            # One at a time, in key order: erase() then locks the later requests that name it
            # (a batch locked together deadlocked with a withdrawal along such a chain).
            locked(HelpRequest, request.id)
            if request.erased_at is None:  # one erased by its person meanwhile keeps its date
                erase(request, now)
                held += 1
        db.session.commit()
        erased += held
    return erased


def open_too_long(now: datetime, within_days: int = 0) -> Select:
    """The ids of the requests with a need still open OPEN_RETENTION_DAYS after they were sent
    (``within_days``: or that will be within so many days), oldest first.

    Read from the open referrals alone, by a partial index (ix_referral_open_created): a request's
    referrals are made with it, at its time (``lifecycle.submit_request``), and an erased request
    has none open (erasure withdraws them first, or waits for them to end). Reading the requests
    walked every request older than the limit, the long-closed oldest first: at a million
    referrals, a third of a second for a page, and growing with the years."""
    cutoff = now - timedelta(days=current_app.config["OPEN_RETENTION_DAYS"] - within_days)
    return (
        select(Referral.request_id)
        .where(Referral.state.in_(OPEN_STATES), Referral.created_at < cutoff)
        .group_by(Referral.request_id)
        .order_by(func.min(Referral.created_at), Referral.request_id)
    )


def forget_old_accesses(now: datetime | None = None) -> int:
    """Delete the entries of the access log older than ACCESS_LOG_RETENTION_DAYS."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["ACCESS_LOG_RETENTION_DAYS"])
    deleted = db.session.execute(delete(DataAccess).where(DataAccess.at < cutoff))
    db.session.commit()
    return cast(CursorResult, deleted).rowcount


def forget_old_deliveries(now: datetime | None = None) -> int:
    """Delete what was written DELIVERY_RETENTION_DAYS ago, since delivered or given up, and
    belongs to no request (those go with it): mail to staff (password links, digests) and
    webhook deliveries."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["DELIVERY_RETENTION_DAYS"])
    forgotten = 0
    for model in (OutboxMessage, WebhookMessage):
        done = or_(model.sent_at.is_not(None), model.next_attempt_at.is_(None))
        old = delete(model).where(done, model.created_at < cutoff)
        if model is OutboxMessage:
            old = old.where(OutboxMessage.request_id.is_(None))
        forgotten += cast(CursorResult, db.session.execute(old)).rowcount
    db.session.commit()
    return forgotten


@dataclass(frozen=True)
class Erasure:
    """When a request's data will be erased if nothing changes: ``open`` while a need is open
    (OPEN_RETENTION_DAYS after it was sent), else RETENTION_DAYS after the last change."""

    due: datetime
    open: bool


def erasure_due(request: HelpRequest) -> Erasure | None:
    """None once erased."""
    if request.erased_at is not None:
        return None
    config = current_app.config
    if any(referral.state in OPEN_STATES for referral in request.referrals):
        return Erasure(request.created_at + timedelta(days=config["OPEN_RETENTION_DAYS"]), True)
    last_change = max(
        [request.created_at, *(referral.updated_at for referral in request.referrals)]
    )
    return Erasure(last_change + timedelta(days=config["RETENTION_DAYS"]), False)


def count_open_too_long(now: datetime, within_days: int) -> tuple[int, bool]:
    """How many requests ``open_too_long`` finds, up to COUNT_CAP, and whether there are more."""
    return capped_count(open_too_long(now, within_days))
