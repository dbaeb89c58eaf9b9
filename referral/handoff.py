"""The referral state machine and its response deadlines.

Pure (no Flask, no session): the use cases ask here whether a move is allowed and where it leads,
then write the event. The table below is docs/design.md's, exactly; anything outside it is
refused.
"""

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

from referral.vocabulary import N_, LabelledEnum


class State(LabelledEnum):
    NEW = "new", N_("New")
    OFFERED = "offered", N_("Offered")
    ACCEPTED = "accepted", N_("Accepted")
    IN_PROGRESS = "in_progress", N_("In progress")
    CLOSED = "closed", N_("Closed")
    UNMATCHED = "unmatched", N_("Unmatched")
    WITHDRAWN = "withdrawn", N_("Withdrawn")


OPEN_STATES = frozenset(
    {State.NEW, State.OFFERED, State.ACCEPTED, State.IN_PROGRESS, State.UNMATCHED}
)
# Held by an organisation: these count towards its load (its capacity).
ACTIVE_STATES = frozenset({State.OFFERED, State.ACCEPTED, State.IN_PROGRESS})


class Action(StrEnum):
    ROUTE = "route"
    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"
    START = "start"
    HAND_BACK = "hand_back"
    CLOSE = "close"
    ROUTE_BY_HAND = "route_by_hand"
    WITHDRAW = "withdraw"


class Party(StrEnum):
    """Who acts, relative to the referral: one user can be several (a referrer who coordinates)."""

    SYSTEM = "system"
    HOLDER = "holder"  # staff of the organisation it is offered to or held by
    REFERRER = "referrer"  # staff of the organisation that sent it
    COORDINATOR = "coordinator"
    PERSON = "person"  # the migrant, through the status link


class DeclineReason(LabelledEnum):
    """Why an offer was declined or handed back: the first four are the organisation's."""

    NO_CAPACITY = "no_capacity", N_("We have no capacity now")
    OUT_OF_SCOPE = "out_of_scope", N_("Outside what we do")
    NOT_ELIGIBLE = "not_eligible", N_("The person is not eligible for our help")
    CONFLICT_OF_INTEREST = "conflict_of_interest", N_("Conflict of interest")
    CANNOT_CONTACT = "cannot_contact", N_("We could not contact the person")
    PERSON_DECLINED = "person_declined", N_("The person declined our help")
    OTHER = "other", N_("Other reason")


class Outcome(LabelledEnum):
    RESOLVED = "resolved", N_("Resolved")
    PARTLY_RESOLVED = "partly_resolved", N_("Partly resolved")
    NOT_REACHABLE = "not_reachable", N_("The person could not be reached")
    NOT_ELIGIBLE = "not_eligible", N_("The person was not eligible")
    REFERRED_OUTSIDE = "referred_outside", N_("Referred outside the consortium")
    OTHER = "other", N_("Other")


# The reason of the system's withdrawal of a request left open longer than its data may be kept.
OPEN_TOO_LONG = "open_too_long"


@dataclass(frozen=True)
class Rule:
    """One row of the table; a rerouting row lands on unmatched when no candidate is left."""

    to: State
    parties: frozenset[Party]
    reroutes: bool = False

    def lands_on(self, has_candidate: bool) -> State:
        """The state after the move; ``has_candidate``: routing found someone to offer it to."""
        return State.UNMATCHED if self.reroutes and not has_candidate else self.to


_SYSTEM = frozenset({Party.SYSTEM})
_HOLDER = frozenset({Party.HOLDER})
_COORDINATOR = frozenset({Party.COORDINATOR})
# The system withdraws a request left open longer than its data may be kept.
_WITHDRAWERS = frozenset({Party.PERSON, Party.REFERRER, Party.COORDINATOR, Party.SYSTEM})

TRANSITIONS: Mapping[tuple[State, Action], Rule] = {
    (State.NEW, Action.ROUTE): Rule(State.OFFERED, _SYSTEM, reroutes=True),
    (State.OFFERED, Action.ACCEPT): Rule(State.ACCEPTED, _HOLDER),
    (State.OFFERED, Action.DECLINE): Rule(State.OFFERED, _HOLDER, reroutes=True),
    (State.OFFERED, Action.EXPIRE): Rule(State.OFFERED, _SYSTEM, reroutes=True),
    (State.ACCEPTED, Action.START): Rule(State.IN_PROGRESS, _HOLDER),
    (State.ACCEPTED, Action.HAND_BACK): Rule(State.OFFERED, _HOLDER, reroutes=True),
    (State.IN_PROGRESS, Action.HAND_BACK): Rule(State.OFFERED, _HOLDER, reroutes=True),
    (State.ACCEPTED, Action.CLOSE): Rule(State.CLOSED, _HOLDER),
    (State.IN_PROGRESS, Action.CLOSE): Rule(State.CLOSED, _HOLDER),
    (State.UNMATCHED, Action.ROUTE_BY_HAND): Rule(State.OFFERED, _COORDINATOR),
    (State.OFFERED, Action.ROUTE_BY_HAND): Rule(State.OFFERED, _COORDINATOR),
} | {(state, Action.WITHDRAW): Rule(State.WITHDRAWN, _WITHDRAWERS) for state in OPEN_STATES}


class TransitionRefused(Exception):
    """A move the table forbids; ``code`` is stable so the web layer can translate it."""

    NOT_ALLOWED_NOW = "not_allowed_now"  # the action is impossible from this state
    NOT_YOURS = "not_yours"  # the action is possible, but not for this party

    def __init__(self, code: str, state: State, action: Action) -> None:
        super().__init__(f"{action} from {state}: {code}")
        self.code = code
        self.state = state
        self.action = action


def rule_for(state: State, action: Action, parties: Iterable[Party]) -> Rule:
    """The table's row for ``action`` from ``state``, if one of ``parties`` may take it.

    The one check a move gets: raises TransitionRefused otherwise."""
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        raise TransitionRefused(TransitionRefused.NOT_ALLOWED_NOW, state, action)
    if not rule.parties & frozenset(parties):
        raise TransitionRefused(TransitionRefused.NOT_YOURS, state, action)
    return rule


def transition(
    state: State,
    action: Action,
    parties: frozenset[Party] | set[Party],
    has_candidate: bool = True,
) -> State:
    """The state after ``action``; ``has_candidate`` says whether routing found someone to offer."""
    return rule_for(state, action, parties).lands_on(has_candidate)


def allowed_actions(state: State, parties: frozenset[Party] | set[Party]) -> set[Action]:
    """The actions these parties may take now, so a page shows only buttons that can work."""
    return {
        action
        for (from_state, action), rule in TRANSITIONS.items()
        if from_state == state and rule.parties & parties
    }


def replay(events: Iterable[tuple[State | None, State]]) -> State:
    """Fold an event log of (from, to) into the current state, checking it has no gaps.

    Only continuity is checked (the first event starts from None, each next one from the previous
    one's target), so events that keep the state, such as notes, replay too.
    """
    current: State | None = None
    for from_state, to_state in events:
        if from_state != current:
            raise ValueError(f"event from {from_state} does not follow {current}")
        current = to_state
    if current is None:
        raise ValueError("an empty event log has no state")
    return current


# Deadlines: counted in working hours so an offer made on Friday evening is not overdue on Monday.

WARSAW = ZoneInfo("Europe/Warsaw")
WORKDAY_START = time(9)
WORKDAY_END = time(17)
DEFAULT_DEADLINE_HOURS = {"urgent": 4, "normal": 16}

_POLISH_HOLIDAYS = holidays.country_holidays("PL")


def deadline_hours(urgent: bool, config: Mapping[str, float] | None = None) -> float:
    """Working hours to answer an offer; ``config`` overrides the defaults per urgency."""
    key = "urgent" if urgent else "normal"
    return (config or {}).get(key, DEFAULT_DEADLINE_HOURS[key])


def _is_working_day(day: date, calendar: Container[date] | None) -> bool:
    return day.weekday() < 5 and day not in (_POLISH_HOLIDAYS if calendar is None else calendar)


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous: give it a time zone")
    return moment.astimezone(WARSAW)


def warsaw_date(moment: datetime) -> date:
    """The calendar day in Warsaw at an aware moment: pauses, reports and deadlines count days
    there, whatever the server's time zone."""
    return _local(moment).date()


def is_working_time(moment: datetime, calendar: Container[date] | None = None) -> bool:
    """Whether an aware moment falls in Warsaw working hours (start inclusive, end exclusive)."""
    local = _local(moment)
    return _is_working_day(local.date(), calendar) and WORKDAY_START <= local.time() < WORKDAY_END


def response_deadline(
    offered_at: datetime, working_hours: float, calendar: Container[date] | None = None
) -> datetime:
    """When an offer made at ``offered_at`` must be answered, in UTC.

    Counting starts at the next working start when the offer is made outside working hours and
    walks whole days, so long deadlines stay cheap. A deadline ending a day is that day's 17:00.
    ``calendar`` is the set of public holidays (default: Poland's).
    """
    if working_hours < 0:
        raise ValueError("working_hours must not be negative")
    remaining = timedelta(hours=working_hours)
    cursor = _local(offered_at)
    day = cursor.date()
    while True:
        if _is_working_day(day, calendar):
            start = datetime.combine(day, WORKDAY_START, tzinfo=WARSAW)
            end = datetime.combine(day, WORKDAY_END, tzinfo=WARSAW)
            begin = max(cursor, start)
            if begin < end:
                if remaining <= end - begin:
                    return (begin + remaining).astimezone(UTC)
                remaining -= end - begin
        day += timedelta(days=1)
        cursor = datetime.combine(day, time.min, tzinfo=WARSAW)
