"""Digests and reminders as pure rules: when each is due, never outside working hours, and (with
the database's one row per key) sent at most once, however often the job runs."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from referral.handoff import is_working_time, response_deadline
from referral.reminders import (
    OfferMail,
    deadline_reminder_at,
    deadline_reminder_due,
    digest_due,
    earliest_deadline_reminder,
    idle_reminder_due,
)

WARSAW = ZoneInfo("Europe/Warsaw")


def warsaw(*args) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


MONDAY_9 = warsaw(2026, 3, 2, 9, 0)
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
# A job's runs: every few minutes to a few hours apart, over up to three weeks.
gaps = st.lists(st.integers(min_value=1, max_value=240), min_size=1, max_size=200)


def runs(start: datetime, minutes: list[int]) -> list[datetime]:
    times, at = [], start
    for gap in minutes:
        at += timedelta(minutes=gap)
        times.append(at)
    return times


def test_an_offer_of_16_working_hours_is_reminded_after_12():
    offered = warsaw(2026, 3, 2, 10, 0)  # Monday 10:00: 7 hours that day, 5 on Tuesday
    assert deadline_reminder_at(offered, 16) == warsaw(2026, 3, 3, 14, 0)
    deadline = response_deadline(offered, 16)
    assert deadline_reminder_due(1, offered, deadline, 16, warsaw(2026, 3, 3, 13, 59)) is None
    due = deadline_reminder_due(1, offered, deadline, 16, warsaw(2026, 3, 3, 14, 0))
    assert due is not None and due.key.startswith("deadline:1:")
    assert deadline_reminder_due(1, offered, deadline, 16, deadline) is None


def test_a_reminder_due_at_the_end_of_a_day_waits_for_the_next_morning():
    offered = warsaw(2026, 3, 6, 14, 0)  # Friday 14:00, urgent: 3 of 4 hours end at 17:00
    deadline = response_deadline(offered, 4)
    assert deadline_reminder_at(offered, 4) == warsaw(2026, 3, 6, 17, 0)
    assert deadline_reminder_due(1, offered, deadline, 4, warsaw(2026, 3, 6, 17, 30)) is None
    assert deadline_reminder_due(1, offered, deadline, 4, warsaw(2026, 3, 7, 11, 0)) is None
    assert deadline_reminder_due(1, offered, deadline, 4, warsaw(2026, 3, 9, 9, 0)) is not None


def test_a_new_offer_of_the_same_referral_is_reminded_again():
    first, second = MONDAY_9, MONDAY_9 + timedelta(hours=1)
    deadline = response_deadline(second, 4)
    now = deadline - timedelta(minutes=5)
    assert (
        deadline_reminder_due(1, first, deadline, 4, now).key
        != deadline_reminder_due(1, second, deadline, 4, now).key
    )


def test_the_daily_digest_comes_at_nine_on_working_days_only():
    assert digest_due(OfferMail.DAILY, 7, warsaw(2026, 3, 2, 8, 59)) is None
    due = digest_due(OfferMail.DAILY, 7, warsaw(2026, 3, 2, 9, 0))
    assert due == digest_due(OfferMail.DAILY, 7, warsaw(2026, 3, 2, 16, 59))
    assert due.through == warsaw(2026, 3, 2, 9, 0)
    assert digest_due(OfferMail.DAILY, 7, warsaw(2026, 3, 7, 10, 0)) is None  # Saturday
    assert digest_due(OfferMail.DAILY, 7, warsaw(2026, 5, 1, 10, 0)) is None  # Labour Day


def test_the_hourly_digest_holds_the_offers_made_before_its_hour():
    due = digest_due(OfferMail.HOURLY, 7, warsaw(2026, 3, 2, 10, 40))
    assert due.through == warsaw(2026, 3, 2, 10, 0)
    assert due != digest_due(OfferMail.HOURLY, 7, warsaw(2026, 3, 2, 11, 0))
    assert digest_due(OfferMail.HOURLY, 8, warsaw(2026, 3, 2, 10, 40)) != due  # per person
    assert digest_due(OfferMail.EACH, 7, warsaw(2026, 3, 2, 10, 40)) is None


def test_an_idle_case_is_reminded_once_per_quiet_spell():
    last = warsaw(2026, 3, 2, 11, 0)
    assert idle_reminder_due(1, last, 7, warsaw(2026, 3, 9, 10, 59)) is None
    due = idle_reminder_due(1, last, 7, warsaw(2026, 3, 9, 11, 0))
    assert due is not None and due == idle_reminder_due(1, last, 7, warsaw(2026, 3, 10, 11, 0))
    assert idle_reminder_due(1, last + timedelta(days=1), 7, warsaw(2026, 3, 10, 11, 0)) != due


@given(offered=moments, urgent=st.booleans(), minutes=gaps)
def test_a_deadline_reminder_is_sent_at_most_once_and_only_in_working_hours(
    offered, urgent, minutes
):
    hours = 4 if urgent else 16
    deadline = response_deadline(offered, hours)
    taken: set[str] = set()
    sent = []
    for now in runs(offered, minutes):
        due = deadline_reminder_due(1, offered, deadline, hours, now)
        if due and due.key not in taken:  # the database's unique key
            taken.add(due.key)
            sent.append(now)
    assert len(sent) <= 1
    for now in sent:
        assert is_working_time(now)
        assert deadline_reminder_at(offered, hours) <= now < deadline
        assert now - offered >= earliest_deadline_reminder(hours)


@given(offered=moments, urgent=st.booleans(), minutes=gaps)
def test_a_job_running_through_the_reminder_window_sends_the_reminder(offered, urgent, minutes):
    """A job running every few minutes through the offer's last quarter reminds the holder."""
    hours = 4 if urgent else 16
    deadline = response_deadline(offered, hours)
    every_five = runs(offered, [5] * int((deadline - offered) / timedelta(minutes=5)))
    assert any(deadline_reminder_due(1, offered, deadline, hours, now) for now in every_five)


@given(choice=st.sampled_from([OfferMail.HOURLY, OfferMail.DAILY]), start=moments, minutes=gaps)
def test_digests_come_only_in_working_hours_and_at_most_once_per_period(choice, start, minutes):
    taken: dict[str, object] = {}
    for now in runs(start, minutes):
        due = digest_due(choice, 7, now)
        if due is None:
            continue
        assert is_working_time(now) and due.through is not None and due.through <= now
        local = now.astimezone(WARSAW)
        period = local.date() if choice == OfferMail.DAILY else (local.date(), local.hour)
        # One key per working day (daily) or clock hour (hourly), and one period per key: the
        # database's unique key lets each period's digest out once.
        assert taken.setdefault(due.key, period) == period
    assert len(set(taken.values())) == len(taken)


@given(last=moments, days=st.integers(min_value=1, max_value=30), minutes=gaps)
def test_an_idle_reminder_is_sent_at_most_once_and_only_in_working_hours(last, days, minutes):
    taken, sent = set(), []
    for now in runs(last, [gap * days for gap in minutes]):
        due = idle_reminder_due(1, last, days, now)
        if due and due.key not in taken:
            taken.add(due.key)
            sent.append(now)
    assert len(sent) <= 1
    assert all(is_working_time(now) and now - last >= timedelta(days=days) for now in sent)
