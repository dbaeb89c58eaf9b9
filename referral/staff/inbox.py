"""The inbox queries: three parts of what a staff member may see, filtered and paged.

Every part starts from ``access.visible_referrals``. A coordinator has no organisation: their
parts cover every organisation (all offers, all accepted cases, all referrals), so the inbox is
the consortium's overview; the directory work stays under /admin.

The search box takes a reference, a phone number or an e-mail, contacts matched on their keyed
hashes. The parts hold only referrals the organisation holds, is offered or sent, whose person
it may see: one that passed a referral on cannot learn whose it was by searching a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from ..access import visible_referrals
from ..extensions import db
from ..handoff import State
from ..lifecycle import normalise_reference
from ..models import HelpRequest, Referral, User
from ..paging import Page, clamp
from ..personal_data import normalised_phone

PAGE_SIZE = 25
PARTS = ("offered", "cases", "sent")


@dataclass
class Filters:
    reference: str = ""  # or a phone number, or an e-mail
    specialism: str = ""
    city_id: int | None = None
    state: str = ""
    mine: bool = False


@dataclass
class Part:
    key: str
    page: Page


# Each part's order. Offers and what we sent are served by an index (ix_referral_org_state_deadline,
# ix_referral_referrer_created); our cases, a few thousand at most, are sorted after the index
# on (organisation, state) found them: the most recently changed first.
ORDER = {
    "offered": (Referral.deadline_at, Referral.id),
    "cases": (Referral.updated_at.desc(), Referral.id.desc()),
    "sent": (Referral.created_at.desc(), Referral.id.desc()),
}


def _part_query(user: User, key: str) -> Select:
    query = visible_referrals(user)
    org = user.organisation_id
    if key == "offered":
        query = query.where(Referral.state == State.OFFERED)
    elif key == "cases":
        query = query.where(Referral.state.in_((State.ACCEPTED, State.IN_PROGRESS)))
    if user.is_coordinator:
        return query
    if key == "sent":
        return query.where(Referral.referring_organisation_id == org)
    return query.where(Referral.organisation_id == org)


def _filtered(query: Select, user: User, key: str, filters: Filters) -> Select:
    if filters.specialism:
        query = query.where(Referral.specialism == filters.specialism)
    if filters.state:
        query = query.where(Referral.state == filters.state)
    if filters.reference or filters.city_id:
        query = query.join(Referral.request)
        if filters.reference:
            query = query.where(_searched(filters.reference))
        if filters.city_id:
            query = query.where(HelpRequest.city_id == filters.city_id)
    if filters.mine and key == "cases":
        query = query.where(Referral.assigned_user_id == user.id)
    return query


def _searched(text: str):
    """Requests with this reference, or given this phone number or e-mail."""
    if "@" in text:
        return HelpRequest.with_contact(email=text)
    if normalised_phone(text):
        return HelpRequest.with_contact(phone=text)
    return HelpRequest.reference == normalise_reference(text)


def inbox_parts(user: User, filters: Filters, pages: dict[str, int]) -> list[Part]:
    """The three parts, each one page long: two queries a part, whatever the data."""
    parts = []
    for key in PARTS:
        ids = _filtered(_part_query(user, key), user, key, filters).with_only_columns(Referral.id)
        total = db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
        page = clamp(pages.get(key, 1), total, PAGE_SIZE)
        # Page the narrow id query first, then load those 25 rows with what the page shows:
        # joining before the LIMIT would sort thousands of wide rows.
        on_page = (
            ids.order_by(*ORDER[key]).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE).subquery()
        )
        referrals = db.session.scalars(
            select(Referral)
            .join(on_page, Referral.id == on_page.c.id)
            .options(
                joinedload(Referral.request).joinedload(HelpRequest.city),
                joinedload(Referral.organisation),
                joinedload(Referral.referring_organisation),
                joinedload(Referral.assigned_user),
            )
            .order_by(*ORDER[key])
        ).all()
        parts.append(Part(key, Page(list(referrals), total, page, PAGE_SIZE)))
    return parts
