"""Attacks that need real parallel requests, on SQLite and PostgreSQL: a burst of password guesses
for one account, and one password link used three times at once."""

import threading

import argon2
import pytest

from referral import accounts
from referral.extensions import db
from referral.models import PasswordReset
from referral.seed import DEMO_PASSWORD

from .helpers import user
from .test_concurrency import race, race_app  # noqa: F401  (fixtures)

VICTIM = "staff@sip.example"


def _burst(app, requests: list[dict]) -> list:
    """POST each form to its path at once, each from its own test client; gives the responses."""
    start = threading.Barrier(len(requests), timeout=30)
    responses = [None] * len(requests)

    def send(index: int, request: dict) -> None:
        client = app.test_client()
        start.wait()
        responses[index] = client.post(request["path"], data=request["data"])

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.fixture
def password_checks(monkeypatch):
    """Counts the argon2 verifications the app runs (the work a guess costs the server)."""
    counted = []
    verify = argon2.PasswordHasher.verify

    def counting(self, hash, password):
        counted.append(1)
        return verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    return counted


def test_forty_parallel_guesses_check_at_most_five_passwords_and_never_crash(
    race,  # noqa: F811
    password_checks,
):
    guesses = [
        {"path": "/login", "data": {"email": VICTIM, "password": f"guess-{i}"}} for i in range(40)
    ]

    responses = _burst(race, guesses)

    assert [r.status_code for r in responses] == [200] * 40
    assert len(password_checks) <= 5
    locked = [r for r in responses if "Too many failed attempts" in r.get_data(as_text=True)]
    assert len(locked) >= 35
    right = race.test_client().post("/login", data={"email": VICTIM, "password": DEMO_PASSWORD})
    assert right.status_code == 200 and "Too many failed attempts" in right.get_data(as_text=True)


def test_one_password_link_used_three_times_at_once_works_once(race):  # noqa: F811
    with race.app_context():
        token = accounts.issue_password_reset(user(VICTIM).id, by=None)
        db.session.remove()
    path = f"/reset/{token}"
    new = "a fresh long password"
    uses = [{"path": path, "data": {"password": new, "repeat": new}} for _ in range(3)]

    responses = _burst(race, uses)

    assert sorted(r.status_code for r in responses) == [302, 404, 404]
    with race.app_context():
        assert db.session.scalar(db.select(PasswordReset.used_at)) is not None
