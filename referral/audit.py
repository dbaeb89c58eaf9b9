"""The audit trail: every referral event, every staff sign-in, every administrative action
(``record``), every call through the API and every opening of a person's data (``access_log``),
newest first, in one list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    JSON,
    Integer,
    String,
    Text,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql import Select, Subquery

from .extensions import db
from .handoff import WARSAW
from .models import (
    AdminEvent,
    ApiCall,
    DataAccess,
    EventText,
    HelpRequest,
    Referral,
    ReferralEvent,
    SignInEvent,
    User,
)
from .paging import Page, capped_count, clamp, window
from .personal_data import keyring

PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilter:
    kind: str = ""  # "", "referral", "sign_in", "admin", "api" or "access"
    organisation_id: int | None = None
    user_id: int | None = None
    referral_id: int | None = None
    request_id: int | None = None  # a reference, looked up
    start: date | None = None
    end: date | None = None


def record(
    action: str,
    by: User | None,
    user: User | None = None,
    organisation_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Write an administrative action into the current transaction, so it is kept exactly when
    the change is. ``by`` None: the server's command line. ``before``/``after``: the changed
    fields only, never a password, token or code."""
    if organisation_id is None and user is not None:
        organisation_id = user.organisation_id
    db.session.add(
        AdminEvent(
            actor_id=by.id if by else None,
            action=action,
            user_id=user.id if user else None,
            organisation_id=organisation_id,
            before=before,
            after=after,
        )
    )


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields whose value changed, from both sides."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def _day(value: date) -> datetime:
    return datetime.combine(value, time(), WARSAW)


def _within_days(query, at, f: AuditFilter):
    """Keep what happened from the start day to the end day, both whole days in Warsaw."""
    if f.start:
        query = query.where(at >= _day(f.start))
    if f.end:
        query = query.where(at < _day(f.end + timedelta(days=1)))
    return query


def _referrals_of(request_id: int):
    return select(Referral.id).where(Referral.request_id == request_id)


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
        # The words as stored (encrypted): ``text_of`` reads them, row by row.
        type_coerce(EventText.body, Text).label("text"),
        cast(null(), String).label("email"),
        cast(null(), Integer).label("success"),
        *_no_changes(),
        ReferralEvent.api_token_id,
        cast(null(), Integer).label("status"),
        *_no_request(),
    ).outerjoin(EventText, EventText.event_id == ReferralEvent.id)
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
    if f.request_id:
        query = query.where(ReferralEvent.referral_id.in_(_referrals_of(f.request_id)))
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
        *_no_step(),
        cast(null(), String).label("text"),
        SignInEvent.email,
        cast(SignInEvent.success, Integer).label("success"),
        *_no_changes(),
        *_no_call(),
        *_no_request(),
    )
    if f.organisation_id:
        query = query.where(SignInEvent.organisation_id == f.organisation_id)
    if f.user_id:
        query = query.where(SignInEvent.user_id == f.user_id)
    if f.referral_id or f.request_id:
        query = query.where(false())
    return _within_days(query, SignInEvent.at, f)


def _no_step():
    return (
        cast(null(), String).label("from_state"),
        cast(null(), String).label("to_state"),
        cast(null(), String).label("reason_code"),
    )


def _no_changes():
    return (
        cast(null(), Integer).label("subject_id"),
        cast(null(), JSON).label("before"),
        cast(null(), JSON).label("after"),
    )


def _no_call():
    return cast(null(), Integer).label("api_token_id"), cast(null(), Integer).label("status")


def _no_request():
    """The request of an opening (a copy or the caseworker's page names no referral); the other
    kinds name their request through their referral, if any."""
    return (cast(null(), Integer).label("request_id"),)


def _admin_events(f: AuditFilter):
    query = select(
        literal("admin").label("kind"),
        AdminEvent.id,
        AdminEvent.at,
        AdminEvent.actor_id.label("user_id"),
        AdminEvent.organisation_id,
        cast(null(), Integer).label("offered_to_id"),
        cast(null(), Integer).label("referral_id"),
        AdminEvent.action,
        *_no_step(),
        cast(null(), String).label("text"),
        cast(null(), String).label("email"),
        cast(null(), Integer).label("success"),
        AdminEvent.user_id.label("subject_id"),
        AdminEvent.before,
        AdminEvent.after,
        *_no_call(),
        *_no_request(),
    )
    if f.organisation_id:
        query = query.where(AdminEvent.organisation_id == f.organisation_id)
    if f.user_id:
        query = query.where(or_(AdminEvent.actor_id == f.user_id, AdminEvent.user_id == f.user_id))
    if f.referral_id or f.request_id:
        query = query.where(false())
    return _within_days(query, AdminEvent.at, f)


def _api_calls(f: AuditFilter):
    """A call made with an API token: the method as the action, the route as the text."""
    query = select(
        literal("api").label("kind"),
        ApiCall.id,
        ApiCall.at,
        cast(null(), Integer).label("user_id"),
        ApiCall.organisation_id,
        cast(null(), Integer).label("offered_to_id"),
        ApiCall.referral_id,
        ApiCall.method.label("action"),
        *_no_step(),
        ApiCall.endpoint.label("text"),
        cast(null(), String).label("email"),
        cast(null(), Integer).label("success"),
        *_no_changes(),
        ApiCall.api_token_id,
        ApiCall.status,
        *_no_request(),
    )
    if f.organisation_id:
        query = query.where(ApiCall.organisation_id == f.organisation_id)
    if f.user_id:
        query = query.where(false())
    if f.referral_id:
        query = query.where(ApiCall.referral_id == f.referral_id)
    if f.request_id:
        query = query.where(ApiCall.referral_id.in_(_referrals_of(f.request_id)))
    return _within_days(query, ApiCall.at, f)


def _accesses(f: AuditFilter):
    """An opening of a person's data: the page as the action; by an account or an API token."""
    query = select(
        literal("access").label("kind"),
        DataAccess.id,
        DataAccess.at,
        DataAccess.user_id,
        DataAccess.organisation_id,
        cast(null(), Integer).label("offered_to_id"),
        DataAccess.referral_id,
        DataAccess.page.label("action"),
        *_no_step(),
        cast(null(), String).label("text"),
        cast(null(), String).label("email"),
        cast(null(), Integer).label("success"),
        *_no_changes(),
        DataAccess.api_token_id,
        cast(null(), Integer).label("status"),
        DataAccess.request_id,
    )
    if f.organisation_id:
        query = query.where(DataAccess.organisation_id == f.organisation_id)
    if f.user_id:
        query = query.where(DataAccess.user_id == f.user_id)
    if f.referral_id:
        query = query.where(DataAccess.referral_id == f.referral_id)
    if f.request_id:
        query = query.where(DataAccess.request_id == f.request_id)
    return _within_days(query, DataAccess.at, f)


def _parts(f: AuditFilter) -> list[Select]:
    """The filtered trail's parts, one query for each kind of entry (kind, id, at, user_id, ...,
    email, success, subject_id, before, after, api_token_id, status, request_id)."""
    parts = []
    if f.kind in ("", "referral"):
        parts.append(_referral_events(f))
    if f.kind in ("", "sign_in"):
        parts.append(_sign_ins(f))
    if f.kind in ("", "admin"):
        parts.append(_admin_events(f))
    if f.kind in ("", "api"):
        parts.append(_api_calls(f))
    if f.kind in ("", "access"):
        parts.append(_accesses(f))
    return parts


def _union(parts: list[Select]) -> Subquery:
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def entries(f: AuditFilter) -> Subquery:
    """The whole filtered trail as one subquery (the columns of ``_parts``)."""
    return _union(_parts(f))


def _newest(part: Select, count: int) -> Select:
    """The ``count`` newest rows of one part, read backwards along its index on ``at``."""
    columns = part.selected_columns
    return select(part.order_by(columns.at.desc(), columns.id.desc()).limit(count).subquery())


def page(f: AuditFilter, number: int) -> Page:
    """One page of the trail, newest first. It is counted up to ``COUNT_CAP``, and each part gives
    only its newest rows up to the page's end: at a million referrals, the log's millions of
    rows were counted and sorted for every page (2.6 s)."""
    parts = _parts(f)
    total, capped = capped_count(select(_union(parts)))
    number = clamp(number, total, PER_PAGE)
    limit, offset = window(number, total, PER_PAGE)
    trail = _union([_newest(part, offset + limit) for part in parts])
    rows = db.session.execute(
        select(trail).order_by(trail.c.at.desc(), trail.c.id.desc()).limit(limit).offset(offset)
    ).all()
    return Page(list(rows), total, number, PER_PAGE, capped)


def every_row(f: AuditFilter):
    """The whole filtered trail, newest first, fetched in batches (for the CSV export). Each row
    carries its referral's ``reference`` and need (``specialism``), joined in the same query:
    names a coordinator can use outside the app, never the referral's number; an opening of a
    whole request (a copy, the caseworker's page after referring) carries its reference."""
    trail = entries(f)
    result = db.session.execute(
        select(trail, HelpRequest.reference, Referral.specialism)
        .outerjoin(Referral, Referral.id == trail.c.referral_id)
        .outerjoin(
            HelpRequest,
            HelpRequest.id == func.coalesce(Referral.request_id, trail.c.request_id),
        )
        .order_by(trail.c.at.desc(), trail.c.id.desc()),
        execution_options={"yield_per": 1000},
    )
    yield from result


def text_of(row) -> str | None:
    """A row's text as people read it: the words written with a referral's step are decrypted,
    an API call's route is as it is."""
    if row.kind == "referral" and row.text:
        return keyring().decrypt(row.text)
    return row.text


def referrals_with_words(f: AuditFilter):
    """The ids of the referrals whose written words the filtered trail holds (a subquery)."""
    trail = entries(f)
    return (
        select(trail.c.referral_id)
        .where(trail.c.kind == "referral", trail.c.text.is_not(None))
        .distinct()
    )


def with_words(referral_ids) -> list[tuple[int, int]]:
    """(request id, referral id) of these referrals (ids, or a subquery of them): whose data
    a page of the trail showed."""
    return [
        (request_id, referral_id)
        for request_id, referral_id in db.session.execute(
            select(Referral.request_id, Referral.id).where(Referral.id.in_(referral_ids))
        )
    ]
