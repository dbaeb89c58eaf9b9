"""The access rules of access.py on their own: the referrals an organisation's queries start
from, who sees the person, who reads a note (the web tests walk the same rules page by page)."""

from dataclasses import dataclass

from referral import access, lifecycle
from referral.extensions import db
from referral.handoff import Action
from referral.models import Note, Referral

from .helpers import intake, org, user


@dataclass(frozen=True)
class Actor:
    """A staff account or an API token, as the rules see it."""

    organisation_id: int | None
    is_coordinator: bool = False


COORDINATOR = Actor(organisation_id=None, is_coordinator=True)
NO_ORGANISATION = Actor(organisation_id=None)
HOLDER, REFERRER, DECLINER, OUTSIDER = 1, 2, 3, 4


def of(slug: str) -> Actor:
    return Actor(org(slug).id)


def visible(actor: Actor) -> set[int]:
    return set(db.session.scalars(access.visible_referrals(actor)).all())


def referral(holder: int | None = HOLDER, referrer: int | None = REFERRER) -> Referral:
    return Referral(organisation_id=holder, referring_organisation_id=referrer)


def note(by: int | None, shared: bool, about: Referral | None = None) -> Note:
    return Note(organisation_id=by, shared=shared, referral=about or referral())


# visible_referrals: what every staff page and API call starts from


def test_an_organisation_sees_what_it_holds_sent_or_declined_and_nothing_else(ctx, staff):
    sent_by_pfm = lifecycle.submit_request(intake("legal"), submitted_by=user("staff@pfm.example"))
    (passed_on,) = sent_by_pfm.request.referrals
    assert passed_on.organisation.slug == "nomada"
    lifecycle.act(
        passed_on.id, user("staff@nomada.example"), Action.DECLINE, reason_code="no_capacity"
    )
    holder = passed_on.organisation.slug
    in_lublin = lifecycle.submit_request(intake("legal", city_slug="lublin")).request
    (elsewhere,) = in_lublin.referrals
    assert elsewhere.organisation.slug == "homo-faber" != holder

    for slug in ("pfm", "nomada", holder):  # the sender, the one that declined, the holder
        assert visible(of(slug)) == {passed_on}, slug
    assert visible(of("homo-faber")) == {elsewhere}
    assert visible(of("chlebem-i-sola")) == set()
    assert visible(COORDINATOR) == {passed_on, elsewhere}


def test_an_account_without_organisation_sees_no_referral(ctx, staff):
    lifecycle.submit_request(intake("legal"))
    assert visible(NO_ORGANISATION) == set()


# may_see_personal_data: the holder, the sender and coordinators


def test_holder_sender_and_coordinator_see_the_person():
    seen = referral()
    assert access.may_see_personal_data(Actor(HOLDER), seen)
    assert access.may_see_personal_data(Actor(REFERRER), seen)
    assert access.may_see_personal_data(COORDINATOR, seen)


def test_an_organisation_that_let_the_referral_go_does_not_see_the_person():
    assert not access.may_see_personal_data(Actor(DECLINER), referral())
    assert not access.may_add_note(Actor(DECLINER), referral())


def test_an_account_without_organisation_does_not_see_an_unmatched_persons_data():
    unmatched = referral(holder=None, referrer=None)
    assert not access.may_see_personal_data(NO_ORGANISATION, unmatched)
    assert access.may_see_personal_data(COORDINATOR, unmatched)


# may_see_note: internal notes stay with their organisation, shared ones reach the person's side


def test_an_internal_note_stays_with_its_organisation_even_after_it_let_go():
    internal = note(by=DECLINER, shared=False)
    assert access.may_see_note(Actor(DECLINER), internal)
    assert not access.may_see_note(Actor(HOLDER), internal)
    assert not access.may_see_note(Actor(REFERRER), internal)
    assert access.may_see_note(COORDINATOR, internal)


def test_a_shared_note_reaches_holder_and_sender_but_not_who_declined():
    shared = note(by=HOLDER, shared=True)
    assert access.may_see_note(Actor(REFERRER), shared)
    assert not access.may_see_note(Actor(DECLINER), shared)
    assert not access.may_see_note(Actor(OUTSIDER), note(by=REFERRER, shared=True))


def test_a_coordinators_note_is_read_by_coordinators_only():
    unmatched = referral(holder=None, referrer=None)
    by_coordinator = note(by=None, shared=False, about=unmatched)
    assert access.may_see_note(COORDINATOR, by_coordinator)
    assert not access.may_see_note(NO_ORGANISATION, by_coordinator)
    assert not access.may_see_note(Actor(OUTSIDER), by_coordinator)
