"""The lifecycle at its edges: an offer at the second of its deadline, the sweep's batches, the
person's withdrawal through a coordinator, losing every race, the actions a page may offer, and
refusals that must say exactly why (found blind by mutation testing, docs/mutation.md)."""

from datetime import timedelta

import pytest
from sqlalchemy import event, update

from referral import lifecycle
from referral.extensions import db
from referral.handoff import Action, State
from referral.models import Referral
from referral.service_errors import ServiceError

from .helpers import org, user
from .test_lifecycle import (
    COORDINATOR,
    T0,
    act_as_holder,
    events_of,
    holder_of,
    only_referral,
    snapshot,
    staff_of,
    submit,
)

# The sweep and the deadline's last second


def test_sweep_at_the_exact_deadline_leaves_the_offer_alone(ctx, staff):
    referral = only_referral(submit("legal"))
    assert lifecycle.expire_overdue(now=referral.deadline_at) == 0
    assert referral.state == State.OFFERED and referral.organisation.slug == "nomada"
    assert lifecycle.expire_overdue(now=referral.deadline_at + timedelta(microseconds=1)) == 1


def test_offer_accepted_in_the_second_its_deadline_ends_is_not_expired(ctx, staff):
    referral = only_referral(submit("legal"))
    deadline = referral.deadline_at
    act_as_holder(referral, Action.ACCEPT, now=deadline)
    assert lifecycle.expire_overdue(now=deadline) == 0
    assert lifecycle.expire_overdue(now=deadline + timedelta(days=30)) == 0
    assert (referral.state, referral.organisation.slug) == (State.ACCEPTED, "nomada")
    assert [e.action for e in events_of(referral)] == ["route", "accept"]


def test_sweep_counts_the_offers_of_every_batch(ctx, staff):
    referrals = [only_referral(submit("legal")) for _ in range(3)]
    later = max(r.deadline_at for r in referrals) + timedelta(minutes=1)
    assert lifecycle.expire_overdue(now=later, batch_size=2) == 3
    assert all(r.organisation.slug != "nomada" for r in referrals if r.organisation)


# Withdrawal for the person


def test_coordinator_withdraws_for_the_person_and_the_log_says_who(ctx, staff):
    request = submit("legal")
    coordinator = user(COORDINATOR)
    lifecycle.withdraw_request(request, now=T0, by=coordinator)
    (referral,) = request.referrals
    assert referral.state == State.WITHDRAWN and request.erased_at == T0
    event = events_of(referral)[-1]
    assert (event.action, event.party, event.actor_id) == (
        "withdraw",
        "coordinator",
        coordinator.id,
    )


def test_staff_who_do_not_coordinate_cannot_withdraw_for_the_person(ctx, staff):
    request = submit("legal", by=staff_of("homo-faber"))
    referral = only_referral(request)
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        lifecycle.withdraw_request(request, now=T0, by=staff_of("homo-faber"))
    assert error.value.code == ServiceError.NOT_YOURS
    assert snapshot(referral.id) == before and request.erased_at is None


def test_a_request_erased_once_cannot_be_withdrawn_again(ctx, staff):
    request = submit("legal")
    lifecycle.withdraw_request(request, now=T0)
    with pytest.raises(ServiceError) as error:
        lifecycle.withdraw_request(request, now=T0 + timedelta(minutes=1))
    assert error.value.code == ServiceError.ALREADY_ERASED


def test_withdrawal_gives_up_after_losing_three_races_and_erases_nothing(ctx, staff):
    request = submit("legal")
    referral = only_referral(request)
    attempts = []

    def someone_else_acts_first(session, _flush_context, _instances):
        attempts.append(True)
        with db.engine.begin() as other:
            other.execute(
                update(Referral)
                .where(Referral.id == referral.id)
                .values(version=Referral.version + 1)
            )

    session = db.session()
    event.listen(session, "before_flush", someone_else_acts_first)
    try:
        with pytest.raises(ServiceError) as error:
            lifecycle.withdraw_request(request, now=T0)
    finally:
        event.remove(session, "before_flush", someone_else_acts_first)
    assert error.value.code == ServiceError.STALE_VERSION
    assert len(attempts) == 3
    db.session.expire_all()
    assert request.erased_at is None and request.phone is not None
    assert referral.state == State.OFFERED


# What a page may offer, and refusals that say why


def test_each_party_is_offered_only_the_actions_it_may_take(ctx, staff):
    referral = only_referral(submit("legal", by=staff_of("homo-faber")))
    assert lifecycle.allowed_actions(holder_of(referral), referral) == {
        Action.ACCEPT,
        Action.DECLINE,
    }
    assert lifecycle.allowed_actions(staff_of("homo-faber"), referral) == {Action.WITHDRAW}
    assert lifecycle.allowed_actions(staff_of("pfm"), referral) == set()
    assert lifecycle.allowed_actions(user(COORDINATOR), referral) == {
        Action.ROUTE_BY_HAND,
        Action.WITHDRAW,
    }


def test_decline_for_another_reason_without_any_words_is_refused(ctx, staff):
    referral = only_referral(submit("legal"))
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        act_as_holder(referral, Action.DECLINE, reason_code="other", text=None)
    assert error.value.code == ServiceError.EXPLANATION_REQUIRED
    assert snapshot(referral.id) == before


def test_assigning_an_account_that_does_not_exist_is_refused(ctx, staff):
    referral = only_referral(submit("legal"))
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        act_as_holder(referral, Action.ACCEPT, assignee_id=999_999)
    assert error.value.code == ServiceError.NOT_A_COLLEAGUE
    assert snapshot(referral.id) == before


def test_route_by_hand_to_an_organisation_that_does_not_exist_names_what_was_missing(ctx, staff):
    referral = only_referral(submit("psychological", city="chelm"))
    with pytest.raises(ServiceError) as error:
        lifecycle.act(
            referral.id, user(COORDINATOR), Action.ROUTE_BY_HAND, text="Agreed", organisation_id=0
        )
    assert (error.value.code, str(error.value)) == ("not_found", "not_found: organisation")
    assert org("homo-faber").open_load == 0
