"""Erasing a person's data: when they withdraw (``lifecycle.withdraw_request``) and when the
retention period has passed (``flask purge``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

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


def purge_expired(now: datetime | None = None) -> int:
    """Erase personal data of requests whose referrals all ended more than RETENTION_DAYS ago."""
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
    requests = db.session.scalars(
        select(HelpRequest).where(
            HelpRequest.erased_at.is_(None), HelpRequest.created_at < cutoff, ~still_open
        )
    ).all()
    for request in requests:
        erase(request, now)
    db.session.commit()
    return len(requests)
