"""Real races on a real database, SQLite and PostgreSQL: two staff accept one offer at once, two
sweeps run at once. Each thread has its own app context, so its own session and connection."""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from referral import accounts, api_tokens, directory, lifecycle, seed
from referral.extensions import db
from referral.handoff import Action, State
from referral.models import Organisation, Referral, ReferralEvent, User
from referral.service_errors import ServiceError

from .databases import KINDS, app_on, empty_tables
from .helpers import intake

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Warsaw


@pytest.fixture(scope="module", params=KINDS)
def race_app(request):
    """An app of its own per database kind, migrated."""
    yield from app_on(request.param)


@pytest.fixture
def race(race_app):
    """Empty tables with the directory and demo accounts loaded; gives the app."""
    with race_app.app_context():
        empty_tables()
        seed.seed_demo()
        db.session.remove()
    yield race_app
    with race_app.app_context():
        empty_tables()


def submit(app, specialism: str, city: str) -> int:
    with app.app_context():
        request = lifecycle.submit_request(intake(specialism, city_slug=city), now=T0).request
        referral_id = request.referrals[0].id
        db.session.remove()
        return referral_id


def run_together(app, work, count: int = 2) -> list:
    """Run ``work()`` in ``count`` threads, each in its own app context; gives each one's result
    or the exception it raised."""

    def one():
        with app.app_context():
            try:
                return work()
            except Exception as error:  # the test looks at which error each thread got
                return error
            finally:
                db.session.remove()

    with ThreadPoolExecutor(count) as pool:
        return [f.result() for f in [pool.submit(one) for _ in range(count)]]


def meeting_point():
    """Where two threads wait for each other, a second at most: without row locks both pass
    their checks before either writes; with them (decision 0037) the second waits at the lock
    instead, and the first goes on alone."""
    barrier = threading.Barrier(2)

    def meet(*_args, **_kwargs) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)

    return meet


def both_pass_every_check_before_either_writes(monkeypatch) -> None:
    """Two threads acting on one referral: each meets the other after its last check; the
    version catches the race whether both got there or the second waited at the lock."""
    meet = meeting_point()
    check_reason = lifecycle._check_reason

    def wait_for_the_other(*args):
        meet()
        return check_reason(*args)

    monkeypatch.setattr(lifecycle, "_check_reason", wait_for_the_other)


def test_two_staff_accept_the_same_offer_at_once_and_exactly_one_wins(race, monkeypatch):
    referral_id = submit(race, "legal", "wroclaw")
    with race.app_context():
        nomada = db.session.scalar(select(Organisation.id).where(Organisation.slug == "nomada"))
        accounts.create_user("second@nomada.example", "long-password-1", "Second", nomada)
        db.session.commit()
        version = db.session.get(Referral, referral_id).version
    emails = iter(["staff@nomada.example", "second@nomada.example"])
    lock = threading.Lock()
    both_pass_every_check_before_either_writes(monkeypatch)

    def accept():
        with lock:
            email = next(emails)
        staff = db.session.scalar(select(User).where(User.email == email))
        return lifecycle.act(referral_id, staff, Action.ACCEPT, version).id

    results = run_together(race, accept)

    assert sorted(map(type, results), key=str) == sorted([int, ServiceError], key=str), results
    (lost,) = [r for r in results if isinstance(r, ServiceError)]
    assert lost.code == ServiceError.STALE_VERSION
    with race.app_context():
        referral = db.session.get(Referral, referral_id)
        assert referral.state == State.ACCEPTED and referral.version == version + 1
        actions = db.session.scalars(
            select(ReferralEvent.action).where(ReferralEvent.referral_id == referral_id)
        ).all()
        assert actions == ["route", "accept"]


def test_two_systems_accept_the_same_offer_through_the_api_at_once_and_one_wins(race, monkeypatch):
    referral_id = submit(race, "legal", "wroclaw")
    with race.app_context():
        nomada = db.session.scalar(select(Organisation.id).where(Organisation.slug == "nomada"))
        tokens = iter([api_tokens.issue(nomada, name, False, by=None).secret for name in "ab"])
        version = db.session.get(Referral, referral_id).version
    lock = threading.Lock()
    both_pass_every_check_before_either_writes(monkeypatch)

    def accept():
        with lock:
            token = next(tokens)
        return race.test_client().post(
            f"/api/v1/referrals/{referral_id}/accept",
            json={"version": version},
            headers={"Authorization": f"Bearer {token}"},
        )

    with ThreadPoolExecutor(2) as pool:
        answers = [f.result() for f in [pool.submit(accept) for _ in range(2)]]

    assert sorted(a.status_code for a in answers) == [200, 409], [a.get_json() for a in answers]
    (lost,) = [a for a in answers if a.status_code == 409]
    assert lost.get_json()["code"] == "stale_version"
    with race.app_context():
        actions = db.session.scalars(
            select(ReferralEvent.action).where(ReferralEvent.referral_id == referral_id)
        ).all()
        assert actions == ["route", "accept"]


def test_two_sweeps_at_once_expire_each_overdue_offer_exactly_once(race, monkeypatch):
    places = [("legal", "warszawa"), ("legal", "wroclaw"), ("information", "lublin")]
    referral_ids = [submit(race, *places[i % len(places)]) for i in range(24)]
    both_started = threading.Barrier(2, timeout=10)
    first_loads = iter(range(2))
    load = directory.Directory.load

    def load_together(now):
        # Both sweeps start together; a sweep that lost a batch reloads without waiting.
        if next(first_loads, None) is not None:
            both_started.wait()
        return load(now)

    monkeypatch.setattr(directory.Directory, "load", load_together)
    later = T0 + timedelta(days=7)

    results = run_together(race, lambda: lifecycle.expire_overdue(now=later, batch_size=4))

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(referral_ids)
    with race.app_context():
        expired = db.session.execute(
            select(ReferralEvent.referral_id, func.count())
            .where(ReferralEvent.action == Action.EXPIRE)
            .group_by(ReferralEvent.referral_id)
        ).all()
        assert dict(expired) == dict.fromkeys(referral_ids, 1)
        # Every expired offer went on to someone else (or unmatched), with a fresh deadline.
        assert not db.session.scalar(
            select(func.count()).where(
                Referral.state == State.OFFERED, Referral.deadline_at < later
            )
        )
