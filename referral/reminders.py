"""When staff get mail about offers and cases: digests and reminders, as pure rules.

Pure (no Flask, no database), like ``handoff``: moments in, a decision out. ``reminding`` asks
here what is due and writes each mail once. Every rule answers "not now" outside Warsaw working
hours (``handoff.is_working_time``): staff are never written to at night or on a holiday, and what
fell due then goes out when the next working hour starts.

Each mail has a key (``Due.key``); the database holds one row per key (unique), so a mail whose
key was already taken, by this worker or another running at the same moment, is not written
again.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .handoff import WARSAW, is_working_time, response_deadline
from .vocabulary import N_, LabelledEnum


class OfferMail(LabelledEnum):
    """How a staff member hears of the offers made to their organisation."""

    EACH = "each", N_("Every offer at once")
    HOURLY = "hourly", N_("An hourly digest")
    DAILY = "daily", N_("A daily digest (9:00 on working days)")


# The daily digest goes at this Warsaw time on working days (the start of working hours).
DAILY_DIGEST_AT = time(9)
# The holder is reminded of an unanswered offer once this share of its working time has passed.
DEADLINE_REMINDER_SHARE = 0.75
# An accepted case with no step, note or appointment for this many days: its holder is reminded
# (the IDLE_REMINDER_DAYS setting overrides it).
DEFAULT_IDLE_DAYS = 7


@dataclass(frozen=True)
class Due:
    """A mail due now: ``key`` is taken once in the database; ``through`` (digests) is the
    moment before which an offer belongs to this digest and after which to the next."""

    key: str
    through: datetime | None = None


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%S}"


def digest_due(
    choice: str, user_id: int, now: datetime, calendar: Container[date] | None = None
) -> Due | None:
    """The digest a staff member who chose ``choice`` is owed at ``now``, if any.

    Hourly: one per working hour, holding the offers made before the hour began. Daily: one per
    working day from DAILY_DIGEST_AT, holding the offers made before it. The first digest of a
    morning therefore carries the night's offers."""
    if choice == OfferMail.EACH or not is_working_time(now, calendar):
        return None
    local = now.astimezone(WARSAW)
    if choice == OfferMail.HOURLY:
        start = local.replace(minute=0, second=0, microsecond=0)
        return Due(f"hourly:{user_id}:{start:%Y-%m-%dT%H}", start.astimezone(UTC))
    start = datetime.combine(local.date(), DAILY_DIGEST_AT, tzinfo=WARSAW)
    if local < start:
        return None
    return Due(f"daily:{user_id}:{local.date().isoformat()}", start.astimezone(UTC))


def deadline_reminder_at(
    offered_at: datetime, working_hours: float, calendar: Container[date] | None = None
) -> datetime:
    """When three quarters of an offer's working time to answer have passed."""
    return response_deadline(offered_at, working_hours * DEADLINE_REMINDER_SHARE, calendar)


def deadline_reminder_due(
    referral_id: int,
    offered_at: datetime,
    deadline_at: datetime,
    working_hours: float,
    now: datetime,
    calendar: Container[date] | None = None,
) -> Due | None:
    """The holder's reminder of an offer still unanswered, between three quarters of its time
    and its deadline, in working hours; one per offer (a new offer of the same referral is
    another)."""
    if not is_working_time(now, calendar) or now >= deadline_at:
        return None
    if now < deadline_reminder_at(offered_at, working_hours, calendar):
        return None
    return Due(f"deadline:{referral_id}:{_stamp(offered_at)}")


def earliest_deadline_reminder(working_hours: float) -> timedelta:
    """No offer is reminded of sooner than this after it was made (working time is never faster
    than the clock): lets the database skip the fresh offers."""
    return timedelta(hours=working_hours * DEADLINE_REMINDER_SHARE)


def idle_reminder_due(
    referral_id: int,
    last_activity: datetime,
    idle_days: int,
    now: datetime,
    calendar: Container[date] | None = None,
) -> Due | None:
    """The holder's reminder of an accepted case with nothing done for ``idle_days``, in
    working hours; one per quiet spell (any step, note or appointment starts a new one)."""
    if not is_working_time(now, calendar) or now - last_activity < timedelta(days=idle_days):
        return None
    return Due(f"idle:{referral_id}:{_stamp(last_activity)}")
