"""The isolation rule: staff see only referrals offered to, held by or sent by their organisation.

Every query for referrals, from a staff page or through an organisation's API token, starts from
``visible_referrals``; anything outside it answers 404.
"""

from typing import Protocol

from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true

from .handoff import State
from .models import Note, Referral, ReferralEvent

# A case an organisation holds or held: what it may print as a summary.
_CASE_STATES = frozenset({State.ACCEPTED, State.IN_PROGRESS, State.CLOSED})


class Actor(Protocol):
    """Who reads or acts: a staff account (``User``) or an organisation's system through its API
    token (``ApiToken``, never a coordinator). The rules below ask nothing else of either."""

    @property
    def organisation_id(self) -> int | None: ...

    @property
    def is_coordinator(self) -> bool: ...


def acting_organisation_id(actor: Actor) -> int | None:
    """The organisation whose step, note, referral or look it is when ``actor`` acts: none for a
    coordinator, who acts for the consortium by their role, whatever organisation their account
    also names (its staff would read their notes and see the people they refer)."""
    return None if actor.is_coordinator else actor.organisation_id


def offered_to(organisation_id: int):
    """Referrals ever offered to this organisation (including by a coordinator's hand)."""
    return exists().where(
        ReferralEvent.offered_to_id == organisation_id,
        ReferralEvent.referral_id == Referral.id,
    )


def visible_referrals(user: Actor) -> Select:
    query = select(Referral)
    if user.is_coordinator:
        return query
    org = user.organisation_id
    if org is None:
        return query.where(false())
    return query.where(
        or_(
            Referral.organisation_id == org,
            Referral.referring_organisation_id == org,
            offered_to(org),
        )
    )


def may_see_personal_data(user: Actor, referral: Referral) -> bool:
    """Personal data: the organisation the referral is offered to or held by, the sender, and
    coordinators; an organisation that declined it earlier sees the referral, not the person."""
    if user.is_coordinator:
        return True
    org = user.organisation_id
    return org is not None and org in (referral.organisation_id, referral.referring_organisation_id)


def sees_person_of(user: Actor) -> ColumnElement[bool]:
    """``may_see_personal_data`` as a condition on referrals, for a query."""
    if user.is_coordinator:
        return true()
    org = user.organisation_id
    if org is None:
        return false()
    return or_(Referral.organisation_id == org, Referral.referring_organisation_id == org)


def may_see_note(user: Actor, note: Note) -> bool:
    """Internal notes stay with the author's organisation; shared ones reach whoever may see the
    person (the holder and the sender); coordinators read every note."""
    if user.is_coordinator:
        return True
    if note.organisation_id is not None and note.organisation_id == user.organisation_id:
        return True
    return note.shared and may_see_personal_data(user, note.referral)


def may_add_note(user: Actor, referral: Referral) -> bool:
    """Only those talking about the person: an organisation that let it go has nothing to add,
    and nobody once the person is erased (no purge would reach the words)."""
    return may_see_personal_data(user, referral) and referral.request.erased_at is None


def may_print_summary(user: Actor, referral: Referral) -> bool:
    """The case summary is for the organisation that holds the case (accepted, started or closed
    by it), not for the sender, one that only saw the offer, nor the coordinator."""
    org = acting_organisation_id(user)
    return org is not None and org == referral.organisation_id and referral.state in _CASE_STATES
