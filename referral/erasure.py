"""Erasing a person's data: when they withdraw (``lifecycle.withdraw_request``) and when the
retention period has passed (``flask purge``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .extensions import db
from .handoff import State
from .models import HelpRequest, Referral, utcnow


def erase(request: HelpRequest, now: datetime) -> None:
    """Empty the request's personal fields and delete the notes written about it; what the
    reports count (needs, places, states, dates) stays."""
    request.name = request.phone = request.email = request.description = None
    request.contact_channel = request.residence_status = None
    request.languages = []
    request.safe_to_message = request.interpreter_needed = False
    request.erased_at = now
    for referral in request.referrals:
        for note in referral.notes:
            db.session.delete(note)


def purge_expired(now: datetime | None = None, batch_size: int = 500) -> int:
    """Erase personal data of requests whose referrals all ended more than RETENTION_DAYS ago,
    ``batch_size`` requests a transaction: a year's backlog never holds one long transaction,
    and what was erased stays erased if the purge is stopped."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RETENTION_DAYS"])
    still_open = (
        select(Referral.id)
        .where(Referral.request_id == HelpRequest.id)
        .where(
            (Referral.state.not_in([State.CLOSED, State.WITHDRAWN]))
            | (Referral.updated_at > cutoff)
        )
        .exists()
    )
    due = (
        select(HelpRequest)
        .where(HelpRequest.erased_at.is_(None), HelpRequest.created_at < cutoff, ~still_open)
        .order_by(HelpRequest.id)
        .limit(batch_size)
        .options(selectinload(HelpRequest.referrals).selectinload(Referral.notes))
    )
    erased = 0
    while requests := db.session.scalars(due).all():
        for request in requests:
            erase(request, now)
        db.session.commit()
        erased += len(requests)
    return erased
