"""The use cases of lifecycle.py on the database, with the demo directory: routing at intake,
decline, expiry, hand back, close, withdraw, route by hand, refusals, and properties over random
sequences of actions."""

from datetime import UTC, datetime, timedelta

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from referral import accounts, directory, erasure, handoff, lifecycle
from referral.extensions import db
from referral.handoff import Action, State
from referral.models import (
    City,
    Coverage,
    HelpRequest,
    Organisation,
    OutboxMessage,
    Referral,
    ReferralEvent,
    utcnow,
)
from referral.service_errors import ServiceError

from .helpers import intake, org, user

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Warsaw
COORDINATOR = "coordinator@konsorcjum.example"


def staff_of(slug: str):
    return user(f"staff@{slug}.example")


def submit(*needs, city="wroclaw", languages=("uk",), urgent=False, by=None, now=T0) -> HelpRequest:
    data = intake(*needs, city_slug=city, languages=list(languages), urgent=urgent)
    return lifecycle.submit_request(data, submitted_by=by, now=now).request


def only_referral(request: HelpRequest) -> Referral:
    (referral,) = request.referrals
    return referral


def events_of(referral: Referral) -> list[ReferralEvent]:
    return list(
        db.session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.id)
        )
    )


def holder_of(referral: Referral):
    return staff_of(referral.organisation.slug)


def act_as_holder(referral: Referral, action: Action, now=T0, **fields) -> Referral:
    return lifecycle.act(
        referral.id, holder_of(referral), action, referral.version, now=now, **fields
    )


def snapshot(referral_id: int) -> tuple:
    """What a refused action must leave untouched (a query autoflushes anything left dirty)."""
    row = db.session.execute(
        select(Referral.state, Referral.organisation_id, Referral.version, Referral.outcome).where(
            Referral.id == referral_id
        )
    ).one()
    events = db.session.scalar(
        select(func.count())
        .select_from(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id)
    )
    outbox = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    return (*row, events, outbox)


def ranked(specialism: str, city: str, languages=("uk",)) -> list[str]:
    return [c.organisation.slug for c in directory.route_preview(specialism, city, languages)]


# Intake: one referral per need, routed at once


def test_each_need_becomes_one_referral_offered_at_once(ctx, staff):
    request = submit("legal", "psychological", "legal")
    legal, psychological = request.referrals
    assert [legal.specialism, psychological.specialism] == ["legal", "psychological"]
    for referral in (legal, psychological):
        assert referral.state == State.OFFERED
        assert referral.organisation.slug == "nomada"
        assert referral.offered_at == T0
        assert referral.deadline_at == handoff.response_deadline(T0, 16)
        (event,) = events_of(referral)
        assert (event.action, event.from_state, event.to_state) == ("route", None, "offered")
        assert event.offered_to.slug == "nomada"
    assert legal.routing_scope == "city"
    assert [r["code"] for r in legal.routing_reasons][:1] == ["covers"]
    offers = select(func.count()).where(OutboxMessage.kind == "offer")
    assert db.session.scalar(offers) == 2


def test_urgent_request_gets_the_short_deadline(ctx, staff):
    referral = only_referral(submit("legal", urgent=True))
    assert referral.deadline_at == handoff.response_deadline(T0, 4)


def test_need_nobody_covers_is_unmatched_at_once(ctx, staff):
    referral = only_referral(submit("psychological", city="chelm"))
    assert referral.state == State.UNMATCHED
    assert referral.organisation_id is None and referral.deadline_at is None
    (event,) = events_of(referral)
    assert (event.action, event.to_state, event.offered_to_id) == ("route", "unmatched", None)


def test_unknown_city_is_refused(ctx, staff):
    with pytest.raises(ServiceError) as error:
        submit("legal", city="atlantis")
    assert error.value.code == ServiceError.UNKNOWN_PLACE
    assert db.session.scalar(select(func.count()).select_from(HelpRequest)) == 0


def test_caseworker_request_records_the_referring_organisation(ctx, staff):
    caseworker = staff_of("homo-faber")
    referral = only_referral(submit("legal", by=caseworker))
    assert referral.referring_organisation_id == org("homo-faber").id
    assert referral.request.submitted_by_id == caseworker.id


# Decline, expiry, hand back: on to the next candidate, never back


def test_declined_referral_goes_to_next_candidate_and_records_who_and_why(ctx, staff):
    expected = ranked("legal", "wroclaw")
    referral = only_referral(submit("legal"))
    decliner = holder_of(referral)
    later = T0 + timedelta(hours=1)
    act_as_holder(referral, Action.DECLINE, now=later, reason_code="no_capacity", text="Full")
    assert referral.state == State.OFFERED
    assert referral.organisation.slug == expected[1]
    assert referral.offered_at == later
    event = events_of(referral)[-1]
    assert (event.action, event.from_state, event.to_state) == ("decline", "offered", "offered")
    assert event.actor_id == decliner.id
    assert event.organisation.slug == expected[0] == "nomada"
    assert (event.reason_code, event.text) == ("no_capacity", "Full")
    assert event.offered_to.slug == expected[1]


def test_referral_is_unmatched_when_every_candidate_declined(ctx, staff):
    expected = ranked("legal", "wroclaw")
    referral = only_referral(submit("legal"))
    offered = [referral.organisation.slug]
    while referral.state == State.OFFERED:
        act_as_holder(referral, Action.DECLINE, reason_code="out_of_scope")
        if referral.organisation:
            offered.append(referral.organisation.slug)
    assert offered == expected
    assert referral.state == State.UNMATCHED and referral.organisation_id is None
    last = events_of(referral)[-1]
    assert (last.to_state, last.offered_to_id, last.organisation.slug) == (
        "unmatched",
        None,
        expected[-1],
    )


def test_decline_needs_a_known_reason_and_words_for_other(ctx, staff):
    referral = only_referral(submit("legal"))
    before = snapshot(referral.id)
    for fields, code in (
        ({}, ServiceError.REASON_REQUIRED),
        ({"reason_code": "bored"}, ServiceError.REASON_REQUIRED),
        ({"reason_code": "other", "text": "  "}, ServiceError.EXPLANATION_REQUIRED),
    ):
        with pytest.raises(ServiceError) as error:
            act_as_holder(referral, Action.DECLINE, **fields)
        assert error.value.code == code
        assert snapshot(referral.id) == before
    act_as_holder(referral, Action.DECLINE, reason_code="other", text="Moved abroad")
    assert events_of(referral)[-1].text == "Moved abroad"


def test_sweep_leaves_offers_alone_before_their_deadline(ctx, staff):
    referral = only_referral(submit("legal"))
    assert lifecycle.expire_overdue(now=referral.deadline_at - timedelta(seconds=1)) == 0
    assert referral.organisation.slug == "nomada" and len(events_of(referral)) == 1


def test_expired_offer_is_rerouted_and_never_offered_again_to_who_let_it_expire(ctx, staff):
    expected = ranked("legal", "wroclaw")
    referral = only_referral(submit("legal"))
    offered = [referral.organisation.slug]
    while referral.state == State.OFFERED:
        expiring = referral.organisation_id
        deadline = referral.deadline_at
        assert lifecycle.expire_overdue(now=deadline + timedelta(minutes=1)) == 1
        event = events_of(referral)[-1]
        assert (event.action, event.party, event.actor_id) == ("expire", "system", None)
        assert (event.organisation_id, event.reason_code) == (expiring, "deadline_passed")
        if referral.organisation:
            offered.append(referral.organisation.slug)
            assert referral.deadline_at > deadline
    assert offered == expected  # each once, in rank order
    assert referral.state == State.UNMATCHED


def test_hand_back_offers_the_referral_to_the_next_candidate(ctx, staff):
    expected = ranked("legal", "wroclaw")
    referral = only_referral(submit("legal"))
    act_as_holder(referral, Action.ACCEPT)
    act_as_holder(referral, Action.START)
    nomada = holder_of(referral)
    act_as_holder(referral, Action.HAND_BACK, reason_code="cannot_contact")
    assert referral.state == State.OFFERED and referral.organisation.slug == expected[1]
    assert referral.assigned_user_id is None and referral.deadline_at is not None
    event = events_of(referral)[-1]
    assert (event.action, event.from_state, event.actor_id) == (
        "hand_back",
        "in_progress",
        nomada.id,
    )
    assert event.organisation.slug == "nomada" and event.reason_code == "cannot_contact"


def test_accept_with_a_colleague_start_and_close_with_outcome(ctx, staff):
    referral = only_referral(submit("legal"))
    colleague = accounts.create_user(
        "second@nomada.example", "long-password-1", "Second", org("nomada").id
    )
    db.session.commit()
    act_as_holder(referral, Action.ACCEPT, now=T0 + timedelta(hours=1), assignee_id=colleague.id)
    assert referral.state == State.ACCEPTED
    assert (referral.assigned_user_id, referral.deadline_at) == (colleague.id, None)
    act_as_holder(referral, Action.START)
    assert referral.state == State.IN_PROGRESS
    closed_at = T0 + timedelta(days=3)
    act_as_holder(referral, Action.CLOSE, now=closed_at, outcome="resolved")
    assert (referral.state, referral.outcome, referral.closed_at) == (
        "closed",
        "resolved",
        closed_at,
    )
    steps = [(e.action, e.to_state) for e in events_of(referral)]
    assert steps == [
        ("route", "offered"),
        ("accept", "accepted"),
        ("start", "in_progress"),
        ("close", "closed"),
    ]
    assert events_of(referral)[-1].reason_code == "resolved"


def test_close_needs_a_known_outcome(ctx, staff):
    referral = only_referral(submit("legal"))
    act_as_holder(referral, Action.ACCEPT)
    before = snapshot(referral.id)
    for outcome in (None, "happy"):
        with pytest.raises(ServiceError) as error:
            act_as_holder(referral, Action.CLOSE, outcome=outcome)
        assert error.value.code == ServiceError.OUTCOME_REQUIRED
        assert snapshot(referral.id) == before


def test_assigning_someone_outside_the_organisation_changes_nothing(ctx, staff):
    referral = only_referral(submit("legal"))
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        act_as_holder(referral, Action.ACCEPT, assignee_id=staff_of("pfm").id)
    assert error.value.code == ServiceError.NOT_A_COLLEAGUE
    assert snapshot(referral.id) == before


# Withdraw


def test_referring_caseworker_withdraws_an_open_referral(ctx, staff):
    caseworker = staff_of("homo-faber")
    referral = only_referral(submit("legal", by=caseworker))
    lifecycle.act(referral.id, caseworker, Action.WITHDRAW, referral.version, now=T0)
    assert referral.state == State.WITHDRAWN
    assert referral.organisation_id is None and referral.closed_at == T0
    event = events_of(referral)[-1]
    assert (event.action, event.party, event.actor_id) == ("withdraw", "referrer", caseworker.id)


def test_person_withdraws_and_their_data_is_erased(ctx, staff):
    request = submit("legal", "housing", city="warszawa")
    lifecycle.withdraw_request(request, now=T0)
    assert [r.state for r in request.referrals] == ["withdrawn", "withdrawn"]
    assert request.phone is None and request.erased_at == T0
    assert {events_of(r)[-1].party for r in request.referrals} == {"person"}


def test_person_withdraws_even_when_staff_acted_on_the_referral_meanwhile(ctx, staff):
    request = submit("legal")
    referral = only_referral(request)
    with db.engine.begin() as other:  # staff accept in another session after the page loaded
        other.execute(
            update(Referral)
            .where(Referral.id == referral.id)
            .values(state=State.ACCEPTED, version=Referral.version + 1)
        )
    lifecycle.withdraw_request(request, now=T0)
    assert referral.state == State.WITHDRAWN and request.erased_at == T0
    assert events_of(referral)[-1].from_state == State.ACCEPTED


def test_unrelated_staff_cannot_withdraw(ctx, staff):
    referral = only_referral(submit("legal", by=staff_of("homo-faber")))
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        lifecycle.act(referral.id, staff_of("pfm"), Action.WITHDRAW, referral.version)
    assert error.value.code == ServiceError.NOT_YOURS
    assert snapshot(referral.id) == before


# Route by hand


def test_coordinator_routes_an_unmatched_referral_by_hand_with_a_reason(ctx, staff):
    referral = only_referral(submit("psychological", city="chelm"))
    coordinator = user(COORDINATOR)
    target = org("homo-faber")
    lifecycle.act(
        referral.id,
        coordinator,
        Action.ROUTE_BY_HAND,
        referral.version,
        organisation_id=target.id,
        text="They agreed by phone to see her in Lublin.",
        now=T0,
    )
    assert referral.state == State.OFFERED and referral.organisation_id == target.id
    assert referral.deadline_at == handoff.response_deadline(T0, 16)
    event = events_of(referral)[-1]
    assert (event.action, event.party, event.actor_id) == (
        "route_by_hand",
        "coordinator",
        coordinator.id,
    )
    assert (event.from_state, event.offered_to_id) == ("unmatched", target.id)
    assert event.text == "They agreed by phone to see her in Lublin."


@pytest.mark.parametrize(
    ("who", "fields", "code"),
    [
        ("coordinator", {"text": "Agreed"}, ServiceError.NOT_FOUND),  # no organisation
        ("coordinator", {"organisation_id": "homo-faber"}, ServiceError.REASON_REQUIRED),
        ("pfm", {"organisation_id": "homo-faber", "text": "Agreed"}, ServiceError.NOT_YOURS),
    ],
)
def test_route_by_hand_is_refused_without_organisation_reason_or_coordinator(
    ctx, staff, who, fields, code
):
    referral = only_referral(submit("psychological", city="chelm"))
    actor = user(COORDINATOR) if who == "coordinator" else staff_of(who)
    if "organisation_id" in fields:  # a copy: the parameters are shared by every run
        fields = {**fields, "organisation_id": org(fields["organisation_id"]).id}
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        lifecycle.act(referral.id, actor, Action.ROUTE_BY_HAND, referral.version, **fields)
    assert error.value.code == code
    assert snapshot(referral.id) == before


# Refused transitions change nothing


@pytest.mark.parametrize(
    ("setup", "actor", "action", "code"),
    [
        ([], "holder", Action.START, ServiceError.NOT_ALLOWED_NOW),
        ([], "holder", Action.CLOSE, ServiceError.NOT_ALLOWED_NOW),
        ([], "pfm", Action.ACCEPT, ServiceError.NOT_YOURS),
        ([], "coordinator", Action.ACCEPT, ServiceError.NOT_YOURS),
        ([Action.ACCEPT], "holder", Action.ACCEPT, ServiceError.NOT_ALLOWED_NOW),
        ([Action.ACCEPT], "holder", Action.DECLINE, ServiceError.NOT_ALLOWED_NOW),
        ([Action.ACCEPT], "pfm", Action.START, ServiceError.NOT_YOURS),
        ([Action.ACCEPT, Action.START], "holder", Action.START, ServiceError.NOT_ALLOWED_NOW),
        ([Action.ACCEPT], "coordinator", Action.ROUTE_BY_HAND, ServiceError.NOT_ALLOWED_NOW),
    ],
)
def test_refused_transition_raises_its_code_and_changes_nothing(
    ctx, staff, setup, actor, action, code
):
    referral = only_referral(submit("legal"))
    for step in setup:
        act_as_holder(referral, step)
    who = {"holder": holder_of(referral), "coordinator": user(COORDINATOR)}.get(actor)
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        lifecycle.act(
            referral.id,
            who or staff_of(actor),
            action,
            referral.version,
            reason_code="no_capacity",
            outcome="resolved",
            organisation_id=org("pfm").id,
            text="Because",
        )
    assert error.value.code == code
    assert snapshot(referral.id) == before


def test_closed_referral_refuses_everything(ctx, staff):
    referral = only_referral(submit("legal", by=staff_of("homo-faber")))
    act_as_holder(referral, Action.ACCEPT)
    holder = holder_of(referral)
    act_as_holder(referral, Action.CLOSE, outcome="resolved")
    for action in Action:
        for actor in (holder, staff_of("homo-faber"), user(COORDINATOR)):
            with pytest.raises(ServiceError) as error:
                lifecycle.act(referral.id, actor, action, referral.version, reason_code="other")
            assert error.value.code in (ServiceError.NOT_ALLOWED_NOW, ServiceError.NOT_YOURS)
    assert referral.state == State.CLOSED


def test_acting_from_an_out_of_date_page_is_already_taken(ctx, staff):
    referral = only_referral(submit("legal"))
    seen = referral.version
    act_as_holder(referral, Action.ACCEPT)
    before = snapshot(referral.id)
    with pytest.raises(ServiceError) as error:
        lifecycle.act(referral.id, holder_of(referral), Action.START, seen)
    assert error.value.code == ServiceError.STALE_VERSION
    assert snapshot(referral.id) == before


# Fair rotation


def test_two_equal_candidates_alternate_across_consecutive_equal_requests(ctx, staff):
    # Legal aid in Warsaw for a Ukrainian speaker: pfm and nasz-wybor both cover the city, speak
    # Ukrainian and have no limit; only the last offer tells them apart.
    first_two = ranked("legal", "warszawa")[:2]
    assert sorted(first_two) == ["nasz-wybor", "pfm"]
    offered = [
        only_referral(
            submit("legal", city="warszawa", now=T0 + timedelta(minutes=i))
        ).organisation.slug
        for i in range(6)
    ]
    assert offered == first_two * 3


# Properties over random sequences of actions


CITIES = ["wroclaw", "warszawa", "lublin", "poznan", "chelm", "krakow"]
NEEDS = ["legal", "information", "psychological", "housing", "language"]
# The steps that make sense in each state, weighted so that long walks happen; any other step
# (drawn now and then) must be refused and change nothing.
STEPS_IN = {
    State.OFFERED: ["accept", "accept", "decline", "decline", "sweep", "sweep", "by_hand"],
    State.ACCEPTED: ["start", "start", "hand_back", "close"],
    State.IN_PROGRESS: ["hand_back", "close", "close"],
    State.UNMATCHED: ["by_hand", "by_hand", "withdraw"],
    State.CLOSED: [],
    State.WITHDRAWN: [],
}
ALL_STEPS = ["accept", "decline", "start", "hand_back", "close", "withdraw", "by_hand", "sweep"]


def covers(referral: Referral, organisation_id: int) -> bool:
    """Independent of routing.py: a coverage row reaches the referral's place."""
    city = db.session.get(City, referral.request.city_id)
    rows = db.session.scalars(
        select(Coverage).where(
            Coverage.organisation_id == organisation_id, Coverage.specialism == referral.specialism
        )
    )
    return any(
        row.scope == "nationwide"
        or (row.scope == "city" and row.area == city.slug)
        or (row.scope == "voivodeship" and row.area == city.voivodeship_teryt)
        for row in rows
    )


def choose_step(referral: Referral, pick: int) -> str:
    sensible = STEPS_IN[State(referral.state)]
    if sensible and pick < 10:
        return sensible[pick % len(sensible)]
    return ALL_STEPS[pick % len(ALL_STEPS)]


def take_step(referral: Referral, step: str, target: int, clock: datetime) -> datetime:
    """One action on a referral by whoever may take it; refusals must change nothing."""
    fields = {
        "accept": (Action.ACCEPT, {}),
        "decline": (Action.DECLINE, {"reason_code": "no_capacity"}),
        "start": (Action.START, {}),
        "hand_back": (Action.HAND_BACK, {"reason_code": "cannot_contact"}),
        "close": (Action.CLOSE, {"outcome": "resolved"}),
        "withdraw": (Action.WITHDRAW, {}),
        "by_hand": (Action.ROUTE_BY_HAND, {"organisation_id": target, "text": "By phone"}),
    }
    if step == "sweep":
        if referral.deadline_at:
            clock = max(clock, referral.deadline_at + timedelta(seconds=1))
        lifecycle.expire_overdue(now=clock)
        return clock
    action, extra = fields[step]
    if action in (Action.WITHDRAW, Action.ROUTE_BY_HAND) or referral.organisation is None:
        actor = user(COORDINATOR)
    else:
        actor = holder_of(referral)
    before = snapshot(referral.id)
    try:
        lifecycle.act(referral.id, actor, action, referral.version, now=clock, **extra)
        hypothesis.event(f"{step}: done")
    except ServiceError as error:
        hypothesis.event(f"{step}: {error.code}")
        assert snapshot(referral.id) == before
    return clock


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    requests=st.lists(
        st.tuples(
            st.lists(st.sampled_from(NEEDS), min_size=1, max_size=2),
            st.sampled_from(CITIES),
            st.sampled_from([(), ("uk",), ("ru", "uk"), ("en",)]),
            st.booleans(),
        ),
        min_size=1,
        max_size=3,
    ),
    steps=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 11), st.integers(0, 8), st.integers(0, 600)),
        max_size=20,
    ),
)
def test_routing_properties_hold_over_random_sequences_of_actions(ctx, staff, requests, steps):
    clock = T0
    referrals = [
        referral
        for needs, city, languages, urgent in requests
        for referral in submit(
            *needs, city=city, languages=languages, urgent=urgent, now=clock
        ).referrals
    ]
    all_orgs = sorted(db.session.scalars(select(Organisation.id)))
    for pick, step_pick, target, minutes in steps:
        clock += timedelta(minutes=minutes)
        referral = referrals[pick % len(referrals)]
        step = choose_step(referral, step_pick)
        clock = take_step(referral, step, all_orgs[target % len(all_orgs)], clock)

    db.session.expire_all()
    for referral in db.session.scalars(select(Referral)):
        log = events_of(referral)
        # (c) the event log replays to the current state
        assert handoff.replay((e.from_state, e.to_state) for e in log) == referral.state
        offered_before: set[int] = set()
        for event in log:
            if event.offered_to_id is None:
                continue
            if event.action != Action.ROUTE_BY_HAND:
                # (a) routing only offers to organisations covering the need there
                assert covers(referral, event.offered_to_id)
                # (b) ... and never twice the same referral to one organisation
                assert event.offered_to_id not in offered_before
            offered_before.add(event.offered_to_id)
        if referral.state in (State.OFFERED, State.ACCEPTED, State.IN_PROGRESS):
            assert referral.organisation_id is not None
        else:
            assert referral.state == State.CLOSED or referral.organisation_id is None
    # (d) each organisation's open load, kept step by step, equals a count of its active referrals
    active = dict(
        db.session.execute(
            select(Referral.organisation_id, func.count())
            .where(Referral.state.in_(handoff.ACTIVE_STATES))
            .group_by(Referral.organisation_id)
        ).all()
    )
    for organisation in db.session.scalars(select(Organisation)):
        assert organisation.open_load == active.get(organisation.id, 0), organisation.slug


def test_retention_purge_erases_in_batches_and_spares_open_requests(ctx, staff):
    ended = [submit("legal", now=T0) for _ in range(5)]
    still_open = submit("legal", now=T0)
    for request in ended:
        referral = only_referral(request)
        lifecycle.act(referral.id, user(COORDINATOR), Action.WITHDRAW, referral.version, now=T0)
    later = utcnow() + timedelta(days=400)  # past the retention of every step, whenever it ran
    assert erasure.purge_ended(now=later, batch_size=2) == 5
    db.session.expire_all()
    assert all(r.erased_at == later and r.phone is None for r in ended)
    assert still_open.erased_at is None and still_open.phone is not None
    assert erasure.purge_ended(now=later, batch_size=2) == 0
