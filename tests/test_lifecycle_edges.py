"""The lifecycle at its edges: an offer at the second of its deadline, the sweep's batches, the
person's withdrawal through a coordinator, losing every race, the actions a page may offer, and
refusals that must say exactly why (found blind by mutation testing, docs/mutation.md)."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select, update

from referral import api_tokens, lifecycle
from referral import person_messages as messages
from referral.extensions import db
from referral.handoff import OPEN_TOO_LONG, Action, State
from referral.models import HelpRequest, OutboxMessage, Referral
from referral.service_errors import ServiceError

from .helpers import intake, org, user
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


class staff_keep_changing:
    """Before each of our flushes that writes ``referral`` (the first ``times`` ones, or every
    one), staff change it in another transaction, so our write loses the race on its version;
    ``count`` says how many times they did. Only the sweep on SQLite can lose such a race: every
    other step locks its rows before it reads them (decision 0037), as the sweep on PostgreSQL."""

    def __init__(self, referral: Referral, times: int | None = None) -> None:
        self.referral_id, self.times, self.count = referral.id, times, 0

    def __enter__(self) -> "staff_keep_changing":
        if db.engine.dialect.name == "postgresql":
            # There the use cases hold the row (FOR UPDATE) before they write it, so staff would
            # wait for our transaction and this one for our flush: the race cannot happen in the
            # middle of a flush. tests/test_concurrency.py races real threads on PostgreSQL.
            pytest.skip("PostgreSQL's row locks make staff wait; no race within one flush")
        self.session = db.session()
        event.listen(self.session, "before_flush", self._change)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.session, "before_flush", self._change)

    def _change(self, session, _flush_context, _instances) -> None:
        if self.times is not None and self.count >= self.times:
            return
        if not any(isinstance(o, Referral) and o.id == self.referral_id for o in session.dirty):
            return  # a flush of something else
        self.count += 1
        with db.engine.begin() as other:
            other.execute(
                update(Referral)
                .where(Referral.id == self.referral_id)
                .values(version=Referral.version + 1)
            )


# Intake: what is kept of the person's words, and how the request is found again


def test_intake_keeps_everything_the_person_gave(ctx, staff):
    data = intake(
        "legal",
        "housing",
        "legal",
        city_slug="warszawa",
        languages=["uk", "ru", "uk"],
        name="Olena",
        email="olena@example.org",
        contact_channel="email",
        safe_to_message=True,
        interpreter_needed=True,
        description="Eviction notice",
        urgent=True,
        residence_status="temporary_protection",
    )
    submitted = lifecycle.submit_request(data, now=T0)
    db.session.expire_all()
    request = db.session.get(HelpRequest, submitted.request.id)
    assert (request.city.slug, request.voivodeship_teryt, request.language) == (
        "warszawa",
        "14",
        "uk",
    )
    assert (request.name, request.phone, request.email) == (
        "Olena",
        "+48 600 100 200",
        "olena@example.org",
    )
    assert (request.contact_channel, request.safe_to_message, request.interpreter_needed) == (
        "email",
        True,
        True,
    )
    assert request.languages == ["ru", "uk"]
    assert (request.description, request.residence_status) == (
        "Eviction notice",
        "temporary_protection",
    )
    assert (request.consent_version, request.consent_at, request.consent_language) == (
        data.consent_version,
        T0,
        "uk",
    )
    assert (request.created_at, request.urgent, request.reference) == (
        T0,
        True,
        submitted.reference,
    )
    assert [(r.specialism, r.urgent, r.created_at) for r in request.referrals] == [
        ("legal", True, T0),
        ("housing", True, T0),
    ]
    assert lifecycle.find_request_by_token(submitted.status_token) == request


def test_empty_answers_are_kept_as_nothing(ctx, staff):
    data = intake("legal", phone="", email="", name="", description="", residence_status="")
    request = lifecycle.submit_request(data, now=T0).request
    db.session.expire_all()
    assert (request.name, request.phone, request.email) == (None, None, None)
    assert (request.description, request.residence_status) == (None, None)


def test_a_request_in_a_voivodeship_without_a_city_is_routed_there(ctx, staff):
    data = intake("information", city_slug=None, voivodeship="06")
    (referral,) = lifecycle.submit_request(data, now=T0).request.referrals
    assert referral.request.city is None and referral.request.voivodeship_teryt == "06"
    assert referral.organisation.slug == "homo-faber"


def test_a_caseworker_is_told_by_name_of_the_voivodeship_nobody_covers(ctx, staff):
    """A caseworker's referral with a voivodeship and no city that no organisation covers: the
    mail to the caseworker names the place, read before the request was written (it failed)."""
    data = intake("housing", city_slug=None, voivodeship="26")
    caseworker = user("staff@nomada.example")
    caseworker.language = "en"
    (referral,) = lifecycle.submit_request(data, submitted_by=caseworker, now=T0).request.referrals
    assert referral.state == State.UNMATCHED
    [mail] = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "unmatched_caseworker")
    ).all()
    assert "(Housing, Holy Cross (Świętokrzyskie))" in mail.body


@pytest.mark.parametrize(
    "place",
    [
        {"city_slug": None, "voivodeship": "99"},
        {"city_slug": None, "voivodeship": None},
    ],
)
def test_an_unknown_or_missing_voivodeship_is_refused(ctx, staff, place):
    with pytest.raises(ServiceError) as error:
        lifecycle.submit_request(intake("legal", **place), now=T0)
    assert error.value.code == ServiceError.UNKNOWN_PLACE


def test_an_unknown_city_is_named_in_the_refusal(ctx, staff):
    with pytest.raises(ServiceError) as error:
        lifecycle.submit_request(intake("legal", city_slug="atlantis"), now=T0)
    assert str(error.value) == "unknown_place: atlantis"


def test_a_request_without_needs_is_refused(ctx, staff):
    with pytest.raises(ServiceError) as error:
        lifecycle.submit_request(intake(), now=T0)
    assert error.value.code == ServiceError.NO_NEEDS


def test_reference_is_three_and_three_characters_nobody_misreads(ctx, staff):
    for _ in range(20):
        reference = lifecycle.submit_request(intake("legal"), now=T0).reference
        assert len(reference) == 7 and reference[3] == "-"
        assert set(reference.replace("-", "")) <= set(lifecycle.REFERENCE_ALPHABET)
    assert not set("0O1IL2Z5S8B") & set(lifecycle.REFERENCE_ALPHABET)


def test_a_reference_already_taken_is_never_given_again(ctx, staff, monkeypatch):
    drawn = iter("ACDEFGACDEFGHJKMNP")  # the second request draws the first one's again
    monkeypatch.setattr(lifecycle, "secrets", SimpleNamespace(choice=lambda _alphabet: next(drawn)))
    first = lifecycle.submit_request(intake("legal"), now=T0).reference
    second = lifecycle.submit_request(intake("legal"), now=T0).reference
    assert (first, second) == ("ACD-EFG", "HJK-MNP")


def test_a_reference_read_over_the_phone_is_found_however_it_is_typed(ctx, staff):
    submitted = lifecycle.submit_request(intake("legal"), now=T0)
    reference = submitted.reference
    spoken = reference.replace("-", "").lower()
    for typed in (reference, spoken, f" {spoken[:3]} {spoken[3:]} ", reference.lower()):
        assert lifecycle.find_request_by_reference(typed) == submitted.request, typed
    assert lifecycle.find_request_by_reference(spoken[:5]) is None
    assert lifecycle.normalise_reference(" ab-cd ") == "AB-CD"


def test_a_status_token_finds_its_own_request_only(ctx, staff):
    mine = lifecycle.submit_request(intake("legal"), now=T0)
    lifecycle.submit_request(intake("legal"), now=T0)
    assert lifecycle.find_request_by_token(mine.status_token) == mine.request
    assert lifecycle.find_request_by_token(mine.status_token[:-1] + "x") is None
    assert lifecycle.find_request_by_token("") is None


def test_a_request_sent_by_an_organisations_system_records_the_token(ctx, staff):
    issued = api_tokens.issue(org("homo-faber").id, "CRM", read_only=False, by=None)
    request = lifecycle.submit_request(intake("legal"), submitted_by=issued.token, now=T0).request
    assert (request.submitted_by_token_id, request.submitted_by_id) == (issued.token.id, None)
    assert request.referring_organisation_id == org("homo-faber").id
    (referral,) = request.referrals
    assert referral.referring_organisation_id == org("homo-faber").id
    assert (events_of(referral)[0].actor_id, events_of(referral)[0].api_token_id) == (None, None)


def test_a_note_records_who_wrote_it_for_which_organisation(ctx, staff):
    referral = only_referral(submit("legal"))
    holder = holder_of(referral)
    note = lifecycle.add_note(referral, holder, "Called her", shared=True)
    assert (note.author_id, note.api_token_id, note.organisation_id) == (
        holder.id,
        None,
        org("nomada").id,
    )
    assert (note.shared, note.body, note.referral) == (True, "Called her", referral)
    issued = api_tokens.issue(org("nomada").id, "CRM", read_only=False, by=None)
    by_system = lifecycle.add_note(referral, issued.token, "Synced", shared=False)
    assert (by_system.author_id, by_system.api_token_id) == (None, issued.token.id)
    assert (by_system.organisation_id, by_system.shared) == (org("nomada").id, False)


# What the person hears of each step (person_messages, through the lifecycle)


def person_messages(request: HelpRequest) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.request_id == request.id, OutboxMessage.kind.like("person_%"))
            .order_by(OutboxMessage.id)
        )
    )


def test_the_person_hears_of_acceptance_but_not_again_of_the_routing_at_intake(ctx, staff):
    submitted = lifecycle.submit_request(intake("legal"), now=T0)
    (referral,) = submitted.request.referrals
    (link,) = person_messages(referral.request)
    assert link.kind == "person_status_link"
    assert messages.status_url("uk", submitted.status_token) in link.body
    act_as_holder(referral, Action.ACCEPT)
    kinds = [m.kind for m in person_messages(referral.request)]
    assert kinds[-1] == "person_accepted" and kinds.count("person_accepted") == 1


def test_the_closing_message_says_how_it_ended(ctx, staff):
    bodies = set()
    for outcome in ("resolved", "not_reachable"):
        data = intake("legal", safe_to_message=True, language="en")
        request = lifecycle.submit_request(data, now=T0).request
        referral = only_referral(request)
        act_as_holder(referral, Action.ACCEPT)
        act_as_holder(referral, Action.CLOSE, outcome=outcome)
        closed = [m for m in person_messages(request) if m.kind == "person_closed"]
        assert closed
        bodies.add(closed[0].body.replace(request.reference, "REFERENCE"))
    assert len(bodies) == 2


# The system withdraws what stayed open too long


def test_requests_open_too_long_are_withdrawn_by_the_system_and_erased(ctx, staff, app):
    old = [submit("legal", now=T0) for _ in range(2)]
    recent = submit("legal", now=T0 + timedelta(days=300))
    later = T0 + timedelta(days=app.config["OPEN_RETENTION_DAYS"] + 1)
    assert lifecycle.withdraw_requests_open_too_long(now=later) == 2
    for request in old:
        (referral,) = request.referrals
        assert referral.state == State.WITHDRAWN and request.erased_at == later
        event = events_of(referral)[-1]
        assert (event.party, event.reason_code, event.actor_id) == ("system", OPEN_TOO_LONG, None)
    assert recent.erased_at is None and only_referral(recent).state == State.OFFERED


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


def test_the_offer_overdue_longest_is_expired_first(ctx, staff):
    normal = only_referral(submit("legal", now=T0))
    urgent = only_referral(submit("legal", urgent=True, now=T0 + timedelta(hours=1)))
    assert urgent.deadline_at < normal.deadline_at
    later = normal.deadline_at + timedelta(minutes=1)
    assert lifecycle.expire_overdue(now=later, batch_size=1) == 2
    expiries = sorted(
        (e.id, e.referral_id) for e in events_of(urgent) + events_of(normal) if e.action == "expire"
    )
    assert [referral_id for _id, referral_id in expiries] == [urgent.id, normal.id]


def test_a_sweep_that_loses_a_race_starts_again_with_fresh_data(ctx, staff):
    referral = only_referral(submit("legal"))
    later = referral.deadline_at + timedelta(minutes=1)
    with staff_keep_changing(referral, times=1) as staff_acted:
        assert lifecycle.expire_overdue(now=later) == 1
    assert staff_acted.count == 1
    db.session.expire_all()
    assert referral.state == State.OFFERED and referral.organisation.slug != "nomada"
    assert [e.action for e in events_of(referral)] == ["route", "expire"]


def test_offers_get_the_deadline_hours_the_settings_give(ctx, staff, app, monkeypatch):
    monkeypatch.setitem(app.config, "DEADLINE_HOURS", {"urgent": 1, "normal": 2})
    assert only_referral(submit("legal")).deadline_at == T0 + timedelta(hours=2)
    assert only_referral(submit("legal", urgent=True)).deadline_at == T0 + timedelta(hours=1)


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


def test_a_step_on_an_unmatched_referral_is_recorded_for_the_actors_organisation(ctx, staff):
    caseworker = staff_of("homo-faber")
    referral = only_referral(submit("psychological", city="chelm", by=caseworker))
    assert referral.state == State.UNMATCHED
    lifecycle.act(referral.id, caseworker, Action.WITHDRAW, referral.version, now=T0)
    event = events_of(referral)[-1]
    assert (event.action, event.organisation_id) == ("withdraw", org("homo-faber").id)


def test_each_step_is_recorded_at_its_moment_and_by_whom(ctx, staff):
    referral = only_referral(submit("legal", now=T0))
    issued = api_tokens.issue(org("nomada").id, "CRM", read_only=False, by=None)
    accepted_at = T0 + timedelta(hours=2)
    lifecycle.act(referral.id, issued.token, Action.ACCEPT, referral.version, now=accepted_at)
    route, accept = events_of(referral)
    assert (route.at, accept.at) == (T0, accepted_at)
    assert (accept.party, accept.actor_id, accept.api_token_id) == ("holder", None, issued.token.id)


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
