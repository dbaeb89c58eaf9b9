"""The audit trail: every referral event and every staff sign-in, newest first, in one list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Integer, String, cast, false, func, literal, null, or_, select, union_all

from .extensions import db
from .handoff import WARSAW
from .models import ReferralEvent, SignInEvent
from .paging import Page, clamp

PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilter:
    kind: str = ""  # "", "referral" or "sign_in"
    organisation_id: int | None = None
    user_id: int | None = None
    referral_id: int | None = None
    start: date | None = None
    end: date | None = None


def _day(value: date) -> datetime:
    return datetime.combine(value, time(), WARSAW)


def _within_days(query, at, f: AuditFilter):
    """Keep what happened from the start day to the end day, both whole days in Warsaw."""
    if f.start:
        query = query.where(at >= _day(f.start))
    if f.end:
        query = query.where(at < _day(f.end + timedelta(days=1)))
    return query


def _referral_events(f: AuditFilter):
    query = select(
        literal("referral").label("kind"),
        ReferralEvent.id,
        ReferralEvent.at,
        ReferralEvent.actor_id.label("user_id"),
        ReferralEvent.organisation_id,
        ReferralEvent.offered_to_id,
        ReferralEvent.referral_id,
        ReferralEvent.action,
        ReferralEvent.from_state,
        ReferralEvent.to_state,
        ReferralEvent.reason_code,
        ReferralEvent.text,
        cast(null(), String).label("email"),
        cast(null(), Integer).label("success"),
    )
    if f.organisation_id:
        query = query.where(
            or_(
                ReferralEvent.organisation_id == f.organisation_id,
                ReferralEvent.offered_to_id == f.organisation_id,
            )
        )
    if f.user_id:
        query = query.where(ReferralEvent.actor_id == f.user_id)
    if f.referral_id:
        query = query.where(ReferralEvent.referral_id == f.referral_id)
    return _within_days(query, ReferralEvent.at, f)


def _sign_ins(f: AuditFilter):
    query = select(
        literal("sign_in").label("kind"),
        SignInEvent.id,
        SignInEvent.at,
        SignInEvent.user_id,
        SignInEvent.organisation_id,
        cast(null(), Integer).label("offered_to_id"),
        cast(null(), Integer).label("referral_id"),
        SignInEvent.kind.label("action"),
        cast(null(), String).label("from_state"),
        cast(null(), String).label("to_state"),
        cast(null(), String).label("reason_code"),
        cast(null(), String).label("text"),
        SignInEvent.email,
        cast(SignInEvent.success, Integer).label("success"),
    )
    if f.organisation_id:
        query = query.where(SignInEvent.organisation_id == f.organisation_id)
    if f.user_id:
        query = query.where(SignInEvent.user_id == f.user_id)
    if f.referral_id:
        query = query.where(false())
    return _within_days(query, SignInEvent.at, f)


def entries(f: AuditFilter):
    """The filtered trail as one subquery (kind, id, at, user_id, ..., email, success)."""
    parts = []
    if f.kind in ("", "referral"):
        parts.append(_referral_events(f))
    if f.kind in ("", "sign_in"):
        parts.append(_sign_ins(f))
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def page(f: AuditFilter, number: int) -> Page:
    trail = entries(f)
    total = db.session.scalar(select(func.count()).select_from(trail)) or 0
    number = clamp(number, total, PER_PAGE)
    rows = db.session.execute(
        select(trail)
        .order_by(trail.c.at.desc(), trail.c.id.desc())
        .limit(PER_PAGE)
        .offset((number - 1) * PER_PAGE)
    ).all()
    return Page(list(rows), total, number, PER_PAGE)


def every_row(f: AuditFilter):
    """The whole filtered trail, newest first, fetched in batches (for the CSV export)."""
    trail = entries(f)
    result = db.session.execute(
        select(trail).order_by(trail.c.at.desc(), trail.c.id.desc()),
        execution_options={"yield_per": 1000},
    )
    yield from result
