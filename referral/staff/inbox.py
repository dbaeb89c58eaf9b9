"""The inbox queries: four parts of what a staff member may see, filtered, sorted and paged.

Every part starts from ``access.visible_referrals``. A coordinator has no organisation: their
parts cover every organisation (all offers, all accepted cases, all ended ones, all referrals), so
the inbox is the consortium's overview; the directory work stays under /admin. An organisation's
closed cases stay in a part of their own: the person who calls back months later is found by the
same search as an open case.

The search box takes a reference, a phone number, an e-mail or words of a name: contacts matched on
their keyed hashes, names on the keyed hashes of their words (``NameKey``), so no row is decrypted
to search. The parts hold only referrals the organisation holds, is offered or sent, whose person
it may see: one that passed a referral on cannot learn whose it was by searching a number or name.

A part counts its rows up to ``COUNT_CAP`` and pages through those: counting 50,000 referrals sent
by one organisation costs more than the page itself, and nobody pages past the thousandth row (the
filters and the search narrow the list instead). The needs of one request stand in one row
(``Row``): the part counts and pages requests, read in its order from its referrals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import CompoundSelect, Select, select
from sqlalchemy.orm import joinedload

from ..access import visible_referrals
from ..extensions import db
from ..handoff import State
from ..lifecycle import normalise_reference
from ..models import HelpRequest, NameKey, Referral, User
from ..paging import COUNT_CAP, Page, clamp, first_distinct
from ..personal_data import name_keys, normalised_phone

PAGE_SIZE = 25
PARTS = ("offered", "cases", "closed", "sent")
SORTS = ("deadline", "waiting", "urgent")


@dataclass
class Filters:
    reference: str = ""  # or a phone number, an e-mail or a name
    specialism: str = ""
    city_id: int | None = None
    state: str = ""
    mine: bool = False
    sort: str = "deadline"


@dataclass
class Row:
    """One request on a page of a part: its referrals there (one per need), in the part's order."""

    request: HelpRequest
    referrals: list[Referral]

    @property
    def urgent(self) -> bool:
        return any(r.urgent for r in self.referrals)

    @property
    def deadline(self):
        return min((r.deadline_at for r in self.referrals if r.deadline_at), default=None)

    @property
    def closed_at(self):
        """When the last of its needs here ended (a closed case's row)."""
        return max((r.closed_at for r in self.referrals if r.closed_at), default=None)


@dataclass
class Part:
    key: str
    page: Page
    rows: list[Row]


# Each part's order. Offers can be sorted (by time left, the default; by waiting time, longest
# first; or urgent ones first, then by time left); cases and referrals sent keep theirs. Each is
# served by an index: ix_referral_org_state_deadline, ix_referral_org_offers_waiting,
# ix_referral_org_offers_urgent, ix_referral_org_cases (our accepted and started cases, most
# recently changed first), ix_referral_org_state_updated (our closed cases, the same way; a
# coordinator's closed and withdrawn ones: ix_referral_updated), ix_referral_referrer_created.
ORDER = {
    "offered": (Referral.deadline_at, Referral.id),
    "cases": (Referral.updated_at.desc(), Referral.id.desc()),
    "closed": (Referral.updated_at.desc(), Referral.id.desc()),
    "sent": (Referral.created_at.desc(), Referral.id.desc()),
}
OFFER_ORDER = {
    "deadline": ORDER["offered"],
    "waiting": (Referral.created_at, Referral.id),
    "urgent": (Referral.urgent.desc(), *ORDER["offered"]),
}


def _order(key: str, sort: str) -> tuple:
    return OFFER_ORDER.get(sort, ORDER["offered"]) if key == "offered" else ORDER[key]


def _part_query(user: User, key: str) -> Select:
    query = visible_referrals(user)
    org = user.organisation_id
    if key == "offered":
        query = query.where(Referral.state == State.OFFERED)
    elif key == "cases":
        query = query.where(Referral.state.in_((State.ACCEPTED, State.IN_PROGRESS)))
    elif key == "closed":
        # A withdrawal leaves the referral with no holder (and the holder without the person):
        # an organisation's closed cases are those it closed; the coordinator sees both.
        if not user.is_coordinator:
            return query.where(Referral.organisation_id == org, Referral.state == State.CLOSED)
        query = query.where(Referral.state.in_((State.CLOSED, State.WITHDRAWN)))
    if user.is_coordinator:
        return query
    if key == "sent":
        return query.where(Referral.referring_organisation_id == org)
    return query.where(Referral.organisation_id == org)


def _filtered(query: Select, user: User, key: str, filters: Filters, found: list[int] | None):
    if filters.specialism:
        query = query.where(Referral.specialism == filters.specialism)
    if filters.state:
        query = query.where(Referral.state == filters.state)
    if found is not None:
        query = query.where(Referral.request_id.in_(found))
    if filters.city_id:
        query = query.join(Referral.request).where(HelpRequest.city_id == filters.city_id)
    if filters.mine and key in ("cases", "closed"):
        query = query.where(Referral.assigned_user_id == user.id)
    return query


def _found(user: User, text: str) -> list[int]:
    """The requests with this reference, given this phone number or e-mail, or whose name holds
    every word typed, each by an index: at most COUNT_CAP of those the user may see (a common
    name's matches elsewhere must not crowd out the organisation's own)."""
    found: Select | CompoundSelect
    if "@" in text:
        found = select(HelpRequest.id).where(HelpRequest.with_contact(email=text))
    elif normalised_phone(text):
        found = select(HelpRequest.id).where(HelpRequest.with_contact(phone=text))
    else:
        found = select(HelpRequest.id).where(HelpRequest.reference == normalise_reference(text))
        if keys := name_keys(text):
            found = found.union(NameKey.requests_with_all(keys))
    request_id = found.subquery().c[0]
    # For each request found (an index each), whether one of its referrals is the user's to see.
    visible = visible_referrals(user).with_only_columns(Referral.id)
    seen = visible.where(Referral.request_id == request_id).exists()
    return list(db.session.scalars(select(request_id).where(seen).limit(COUNT_CAP)))


def found_by_person(parts: list[Part], text: str) -> list[Referral]:
    """The referrals a search shows for what it knows of the person (a name, phone number or
    e-mail, not the reference): a look at who they are, for the access log."""
    reference = normalise_reference(text)
    shown = {
        referral.id: referral
        for part in parts
        for referral in part.page.items
        if referral.request.reference != reference
    }
    return list(shown.values())


def _rows(referrals: list[Referral]) -> list[Row]:
    """The page's referrals, those of one request together where the first of them stood."""
    rows: dict[int, Row] = {}
    for referral in referrals:
        rows.setdefault(referral.request_id, Row(referral.request, [])).referrals.append(referral)
    return list(rows.values())


def inbox_parts(user: User, filters: Filters, pages: dict[str, int]) -> list[Part]:
    """The four parts, each one page long: two queries a part (and one for a search), whatever
    the data."""
    found = _found(user, filters.reference) if filters.reference else None
    parts = []
    for key in PARTS:
        query = _filtered(_part_query(user, key), user, key, filters, found)
        order = _order(key, filters.sort)
        # The part's requests in its order (each where its first referral stands), read from the
        # narrow index order; then the referrals of this page's requests, with what it shows.
        requests, capped = first_distinct(
            query.with_only_columns(Referral.request_id).order_by(*order)
        )
        page = clamp(pages.get(key, 1), len(requests), PAGE_SIZE)
        on_page = requests[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        referrals = db.session.scalars(
            query.where(Referral.request_id.in_(on_page))
            .options(
                joinedload(Referral.request).joinedload(HelpRequest.city),
                joinedload(Referral.request).joinedload(HelpRequest.voivodeship),
                joinedload(Referral.organisation),
                joinedload(Referral.referring_organisation),
                joinedload(Referral.assigned_user),
            )
            .order_by(*order)
        ).all()
        rows = _rows(list(referrals))
        total = len(requests)
        parts.append(Part(key, Page(list(referrals), total, page, PAGE_SIZE, capped), rows))
    return parts
