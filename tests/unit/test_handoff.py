"""The state machine against docs/design.md's table, and response deadlines in Warsaw working
hours."""

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from referral.handoff import (
    DEFAULT_DEADLINE_HOURS,
    OPEN_STATES,
    Action,
    DeclineReason,
    Outcome,
    Party,
    State,
    TransitionRefused,
    allowed_actions,
    deadline_hours,
    is_working_time,
    replay,
    response_deadline,
    transition,
)

WARSAW = ZoneInfo("Europe/Warsaw")
PL = holidays.country_holidays("PL")

S, A, P = State, Action, Party
# docs/design.md's table row by row: (from, action, party, to with a candidate, to without).
TABLE = {
    (S.NEW, A.ROUTE, P.SYSTEM): (S.OFFERED, S.UNMATCHED),
    (S.OFFERED, A.ACCEPT, P.HOLDER): (S.ACCEPTED, S.ACCEPTED),
    (S.OFFERED, A.DECLINE, P.HOLDER): (S.OFFERED, S.UNMATCHED),
    (S.OFFERED, A.EXPIRE, P.SYSTEM): (S.OFFERED, S.UNMATCHED),
    (S.ACCEPTED, A.START, P.HOLDER): (S.IN_PROGRESS, S.IN_PROGRESS),
    (S.ACCEPTED, A.HAND_BACK, P.HOLDER): (S.OFFERED, S.UNMATCHED),
    (S.IN_PROGRESS, A.HAND_BACK, P.HOLDER): (S.OFFERED, S.UNMATCHED),
    (S.ACCEPTED, A.CLOSE, P.HOLDER): (S.CLOSED, S.CLOSED),
    (S.IN_PROGRESS, A.CLOSE, P.HOLDER): (S.CLOSED, S.CLOSED),
    (S.UNMATCHED, A.ROUTE_BY_HAND, P.COORDINATOR): (S.OFFERED, S.OFFERED),
    (S.OFFERED, A.ROUTE_BY_HAND, P.COORDINATOR): (S.OFFERED, S.OFFERED),
} | {
    (state, A.WITHDRAW, party): (S.WITHDRAWN, S.WITHDRAWN)
    for state in (S.NEW, S.OFFERED, S.ACCEPTED, S.IN_PROGRESS, S.UNMATCHED)
    for party in (P.PERSON, P.REFERRER, P.COORDINATOR, P.SYSTEM)
}


def test_vocabularies_are_as_designed():
    assert [s.value for s in State] == [
        "new", "offered", "accepted", "in_progress", "closed", "unmatched", "withdrawn",
    ]  # fmt: skip
    assert {S.NEW, S.OFFERED, S.ACCEPTED, S.IN_PROGRESS, S.UNMATCHED} == OPEN_STATES
    assert [r.value for r in DeclineReason] == [
        "no_capacity", "out_of_scope", "not_eligible", "conflict_of_interest", "cannot_contact",
        "person_declined", "other",
    ]  # fmt: skip
    assert [o.value for o in Outcome] == [
        "resolved", "partly_resolved", "not_reachable", "not_eligible", "referred_outside", "other",
    ]  # fmt: skip
    assert all(member.label for enum in (State, DeclineReason, Outcome) for member in enum)


@pytest.mark.parametrize(("state", "action", "party"), sorted(TABLE))
def test_every_row_of_the_table_is_allowed(state, action, party):
    with_candidate, without = TABLE[state, action, party]
    assert transition(state, action, {party}) == with_candidate
    assert transition(state, action, frozenset({party}), has_candidate=False) == without
    assert action in allowed_actions(state, {party})


OUTSIDE = [key for key in itertools.product(State, Action, Party) if key not in TABLE]


@pytest.mark.parametrize(("state", "action", "party"), OUTSIDE)
def test_everything_else_is_refused_with_the_right_code(state, action, party):
    possible_now = any((state, action, other) in TABLE for other in Party)
    with pytest.raises(TransitionRefused) as refused:
        transition(state, action, {party})
    assert refused.value.code == ("not_yours" if possible_now else "not_allowed_now")
    assert action not in allowed_actions(state, {party})


def test_refusal_names_the_state_the_action_and_the_code():
    with pytest.raises(TransitionRefused) as refused:
        transition(S.CLOSED, A.ACCEPT, {P.HOLDER})
    assert (refused.value.state, refused.value.action) == (S.CLOSED, A.ACCEPT)
    assert str(refused.value) == "accept from closed: not_allowed_now"
    with pytest.raises(TransitionRefused) as refused:
        transition(S.OFFERED, A.ACCEPT, {P.REFERRER})
    assert (refused.value.state, refused.value.action) == (S.OFFERED, A.ACCEPT)
    assert refused.value.code == "not_yours"


def test_any_of_several_parties_may_act():
    assert transition(S.OFFERED, A.ACCEPT, {P.REFERRER, P.HOLDER}) == S.ACCEPTED
    assert allowed_actions(S.ACCEPTED, {P.HOLDER, P.COORDINATOR}) == {
        A.START, A.HAND_BACK, A.CLOSE, A.WITHDRAW,
    }  # fmt: skip


def test_closed_and_withdrawn_allow_nothing():
    assert allowed_actions(S.CLOSED, set(Party)) == set()
    assert allowed_actions(S.WITHDRAWN, set(Party)) == set()


# Replay


def test_replay_folds_the_log():
    log = [(None, S.NEW), (S.NEW, S.OFFERED), (S.OFFERED, S.OFFERED), (S.OFFERED, S.ACCEPTED)]
    assert replay(log) == S.ACCEPTED


@pytest.mark.parametrize(
    "log",
    [
        [],
        [(S.NEW, S.OFFERED)],
        [(None, S.NEW), (S.OFFERED, S.ACCEPTED)],
        [(None, S.NEW), (None, S.NEW)],
    ],
)
def test_replay_refuses_a_broken_log(log):
    with pytest.raises(ValueError):
        replay(log)


def test_replay_says_where_the_log_breaks():
    with pytest.raises(ValueError, match=r"^event from offered does not follow new$"):
        replay([(None, S.NEW), (S.OFFERED, S.ACCEPTED)])
    with pytest.raises(ValueError, match=r"^an empty event log has no state$"):
        replay([])


@given(st.lists(st.tuples(st.integers(0, 100), st.booleans(), st.integers(0, 100)), max_size=30))
def test_replay_of_a_random_walk_gives_its_final_state(steps):
    state, log = S.NEW, [(None, S.NEW)]
    for action_pick, has_candidate, party_pick in steps:
        actions = sorted(allowed_actions(state, set(Party)))
        if not actions:
            break
        action = actions[action_pick % len(actions)]
        parties = sorted(p for p in Party if action in allowed_actions(state, {p}))
        party = parties[party_pick % len(parties)]
        new_state = transition(state, action, {party}, has_candidate)
        log.append((state, new_state))
        state = new_state
    assert replay(log) == state


# Deadlines


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


def test_deadline_hours():
    assert deadline_hours(urgent=True) == DEFAULT_DEADLINE_HOURS["urgent"] == 4
    assert deadline_hours(urgent=False) == DEFAULT_DEADLINE_HOURS["normal"] == 16
    assert deadline_hours(urgent=True, config={"urgent": 2}) == 2
    assert deadline_hours(urgent=False, config={"urgent": 2}) == 16


@pytest.mark.parametrize(
    ("offered_at", "hours", "deadline"),
    [
        # Within one day; ending exactly at 17:00 stays on that day.
        (warsaw(2025, 3, 4, 10), 4, warsaw(2025, 3, 4, 14)),
        (warsaw(2025, 3, 4, 13), 4, warsaw(2025, 3, 4, 17)),
        # Two working days from a Tuesday morning.
        (warsaw(2025, 3, 4, 9), 16, warsaw(2025, 3, 5, 17)),
        (warsaw(2025, 3, 4, 15, 30), 4, warsaw(2025, 3, 5, 11, 30)),
        # Before opening, after closing, at the weekend: counting starts at the next working start.
        (warsaw(2025, 3, 4, 6), 4, warsaw(2025, 3, 4, 13)),
        (warsaw(2025, 3, 4, 20), 4, warsaw(2025, 3, 5, 13)),
        (warsaw(2025, 3, 7, 16), 4, warsaw(2025, 3, 10, 12)),
        (warsaw(2025, 3, 8, 12), 16, warsaw(2025, 3, 11, 17)),
        # Polish holidays: Easter Monday, then 1 and 3 May 2025 (Thursday, Saturday).
        (warsaw(2025, 4, 18, 15), 4, warsaw(2025, 4, 22, 11)),
        (warsaw(2025, 4, 30, 15), 16, warsaw(2025, 5, 5, 15)),
        # Christmas Eve became a public holiday in 2025.
        (warsaw(2025, 12, 23, 16), 4, warsaw(2025, 12, 29, 12)),
        # Across the spring DST change (30 March 2025): wall-clock hours count.
        (warsaw(2025, 3, 28, 16), 4, warsaw(2025, 3, 31, 12)),
        # Fractional hours.
        (warsaw(2025, 3, 4, 16, 45), 0.5, warsaw(2025, 3, 5, 9, 15)),
    ],
)
def test_response_deadline(offered_at, hours, deadline):
    result = response_deadline(offered_at.astimezone(UTC), hours)
    assert result == deadline
    assert result.tzinfo is UTC


def test_response_deadline_takes_a_calendar():
    plain_tuesday = date(2025, 3, 4)
    result = response_deadline(warsaw(2025, 3, 3, 16), 4, calendar={plain_tuesday})
    assert result == warsaw(2025, 3, 5, 12)


def test_response_deadline_refuses_naive_and_negative():
    with pytest.raises(ValueError, match=r"^a naive datetime is ambiguous: give it a time zone$"):
        response_deadline(datetime(2025, 3, 4, 10), 4)
    with pytest.raises(ValueError, match=r"^working_hours must not be negative$"):
        response_deadline(warsaw(2025, 3, 4, 10), -1)


def test_zero_working_hours_end_at_the_next_working_moment():
    assert response_deadline(warsaw(2025, 3, 4, 10), 0) == warsaw(2025, 3, 4, 10)
    assert response_deadline(warsaw(2025, 3, 4, 17), 0) == warsaw(2025, 3, 5, 9)
    assert response_deadline(warsaw(2025, 3, 8, 12), 0) == warsaw(2025, 3, 10, 9)


def test_is_working_time():
    assert is_working_time(warsaw(2025, 3, 4, 9))
    assert is_working_time(warsaw(2025, 3, 4, 16, 59))
    assert not is_working_time(warsaw(2025, 3, 4, 17))
    assert not is_working_time(warsaw(2025, 3, 4, 8, 59))
    assert not is_working_time(warsaw(2025, 3, 8, 12))  # Saturday
    assert not is_working_time(warsaw(2025, 11, 11, 12))  # Independence Day
    assert is_working_time(datetime(2025, 3, 4, 8, 30, tzinfo=UTC))  # 9:30 in Warsaw


def test_is_working_time_takes_a_calendar():
    plain_tuesday = date(2025, 3, 4)
    assert not is_working_time(warsaw(2025, 3, 4, 10), calendar={plain_tuesday})
    assert is_working_time(warsaw(2025, 11, 11, 10), calendar=set())  # a holiday not listed


def test_deadline_ending_exactly_at_five_stays_on_that_day():
    assert response_deadline(warsaw(2025, 3, 4, 9), 8) == warsaw(2025, 3, 4, 17)
    assert response_deadline(warsaw(2025, 3, 4, 16, 59, 59), 1 / 3600) == warsaw(2025, 3, 4, 17)


def test_offer_made_at_five_counts_from_the_next_working_morning():
    assert response_deadline(warsaw(2025, 3, 4, 17), 1) == warsaw(2025, 3, 5, 10)


def test_deadline_on_the_eve_of_a_holiday_skips_the_holiday():
    # 11 November 2025, Independence Day, is a Tuesday.
    assert response_deadline(warsaw(2025, 11, 10, 15), 4) == warsaw(2025, 11, 12, 11)
    assert response_deadline(warsaw(2025, 11, 10, 13), 4) == warsaw(2025, 11, 10, 17)


def test_long_deadlines_are_cheap():
    # A year of working hours walks days, not minutes.
    deadline = response_deadline(warsaw(2025, 1, 2, 9), 8 * 250)
    assert deadline.year in (2025, 2026)


@given(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    st.floats(min_value=0.01, max_value=80, allow_nan=False),
)
def test_deadline_lands_in_working_hours_after_the_offer(offered_at, hours):
    deadline = response_deadline(offered_at, hours)
    assert deadline > offered_at
    local = deadline.astimezone(WARSAW)
    assert local.weekday() < 5
    assert local.date() not in PL
    # The working window is 9:00 to 17:00; a deadline may end the day at exactly 17:00.
    assert local.replace(hour=9, minute=0, second=0, microsecond=0) < local
    assert local <= local.replace(hour=17, minute=0, second=0, microsecond=0)
    assert is_working_time(deadline - timedelta(microseconds=1))
