"""Staff sign-in and sessions tried as an attacker would (issue 10): the throttle, equal work for
known and unknown e-mails, redirects, secrets, idle sessions, password links and the logs."""

import contextlib
import logging
import os
import re
import stat
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import argon2
import pytest

from referral import accounts, config, create_app
from referral.config import TestConfig
from referral.extensions import db
from referral.models import SignInThrottle, User, utcnow
from referral.seed import DEMO_PASSWORD

from ..e2e.server import serving
from ..helpers import user

VICTIM = "staff@sip.example"


def sign_in(client, email, password, address="192.0.2.1", path="/login"):
    return client.post(
        path, data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def text(response) -> str:
    return response.get_data(as_text=True)


# --- 1. the throttle ----------------------------------------------------------------------------


def test_guesses_from_many_addresses_lock_the_account(app, staff):
    client = app.test_client()
    for i in range(5):
        sign_in(client, VICTIM, "guess", address=f"203.0.113.{i}")
    locked = sign_in(client, VICTIM, DEMO_PASSWORD, address="198.51.100.7")
    assert locked.status_code == 200
    assert "Too many failed attempts" in text(locked)


def test_the_lock_grows_each_time_it_comes_back(app, staff):
    client = app.test_client()
    for _ in range(5):
        sign_in(client, VICTIM, "guess")
    first = re.search(r"try again in (\d+) minutes", text(sign_in(client, VICTIM, "guess")))
    with app.app_context():
        for throttle in db.session.scalars(db.select(SignInThrottle)):
            throttle.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    for _ in range(5):
        sign_in(client, VICTIM, "guess")
    second = re.search(r"try again in (\d+) minutes", text(sign_in(client, VICTIM, "guess")))
    assert int(second.group(1)) > int(first.group(1))


def test_a_locked_out_user_is_told_in_their_language_and_offered_a_reset_link(app, staff):
    client = app.test_client()
    for _ in range(6):
        page = client.post(
            "/login",
            data={"email": VICTIM, "password": "guess"},
            headers={"Accept-Language": "pl"},
        )
    html = text(page)
    assert 'lang="pl"' in html
    assert "Zbyt wiele nieudanych prób" in html
    assert 'href="/login/forgot"' in html


def test_a_correct_sign_in_starts_the_count_again(app, staff):
    client = app.test_client()
    for _ in range(4):
        sign_in(client, VICTIM, "guess")
    assert sign_in(client, VICTIM, DEMO_PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(4):
        sign_in(client, VICTIM, "guess")
    assert sign_in(client, VICTIM, DEMO_PASSWORD).status_code == 302


def test_one_address_trying_many_accounts_is_slowed_down(limited_app, staff):
    client = limited_app.test_client()
    answers = [
        sign_in(client, f"someone{i}@example.org", "guess", address="203.0.113.50")
        for i in range(12)
    ]
    codes = [answer.status_code for answer in answers]
    assert codes[:10] == [200] * 10 and codes[10:] == [429, 429]
    # How long to wait, with the refusal only (it came with every page the limit counted).
    assert not any("Retry-After" in answer.headers for answer in answers[:10])
    assert all(answer.headers["Retry-After"].isdigit() for answer in answers[10:])
    assert client.get("/login").status_code == 200  # reading the form is never limited
    assert sign_in(client, VICTIM, DEMO_PASSWORD, address="198.51.100.8").status_code == 302


# --- 2. equal work for known and unknown e-mails ------------------------------------------------


@pytest.fixture
def argon2_work(monkeypatch):
    """Counts argon2 hash computations (hashing or verifying)."""
    counted = []
    for name in ("hash", "verify"):
        original = getattr(argon2.PasswordHasher, name)

        def counting(self, *args, _original=original, **kwargs):
            counted.append(1)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(argon2.PasswordHasher, name, counting)
    return counted


def test_known_and_unknown_e_mails_cost_one_hash_each(app, staff, argon2_work):
    client = app.test_client()
    sign_in(client, "warm-up@nowhere.example", "x")  # the stand-in hash may be made once
    for email in (VICTIM, "nobody@nowhere.example", "nobody-else@nowhere.example"):
        argon2_work.clear()
        sign_in(client, email, "wrong password")
        assert len(argon2_work) == 1, email


def test_known_and_unknown_e_mails_take_the_same_time(app, staff, monkeypatch):
    monkeypatch.setitem(app.config, "ARGON2_PROFILE", "RFC_9106_LOW_MEMORY")
    with app.app_context():
        for email in (VICTIM, "staff@pfm.example"):  # hashed as in production
            accounts.set_password(user(email), "the real password")
        db.session.commit()
    client = app.test_client()
    sign_in(client, "warm-up@nowhere.example", "x")
    times = {"known": [], "unknown": []}
    for i in range(8):  # interleaved, and under the lock's 5 failures per account
        for kind, email in (
            ("known", VICTIM if i < 4 else "staff@pfm.example"),
            ("unknown", f"nobody{i}@nowhere.example"),
        ):
            started = time.perf_counter()
            sign_in(client, email, "wrong password")
            times[kind].append(time.perf_counter() - started)
    # The fastest of each kind is the work itself: other load on a shared machine only adds.
    known, unknown = min(times["known"]), min(times["unknown"])
    medians = statistics.median(times["known"]), statistics.median(times["unknown"])
    assert abs(unknown - known) <= 0.2 * known, (known, unknown, medians)


# --- 3. open redirects --------------------------------------------------------------------------

HOSTILE_NEXT = [
    "/%09/evil.example",
    "/%0a/evil.example",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    " //evil.example",
    "http://[evil.example/",  # no address at all: urlsplit raises (it answered 500)
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_never_redirects_off_the_site(app, staff, target):
    response = app.test_client().post(
        f"/login?next={target}", data={"email": VICTIM, "password": DEMO_PASSWORD}
    )
    assert response.headers["Location"] == "/staff/"


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_the_language_switch_never_redirects_off_the_site(client, target):
    response = client.post(f"/language?next={target}", data={"lang": "uk"})
    assert response.headers["Location"] == "/uk/"


def test_a_same_site_next_is_followed(app, staff):
    response = app.test_client().post(
        "/login?next=/staff/profile", data={"email": VICTIM, "password": DEMO_PASSWORD}
    )
    assert response.headers["Location"] == "/staff/profile"


# --- 5. secrets and sessions --------------------------------------------------------------------


def test_without_a_setting_the_secret_key_is_random_kept_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    settings = {"SECRET_KEY": None, "SECRET_KEY_FILE": str(tmp_path / "instance" / "secret_key")}
    first = create_app(type("NoKey", (TestConfig,), settings)).config["SECRET_KEY"]
    again = create_app(type("NoKey", (TestConfig,), settings)).config["SECRET_KEY"]
    key_file = tmp_path / "instance" / "secret_key"
    assert first == again and len(first) >= 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    other = {**settings, "SECRET_KEY_FILE": str(tmp_path / "other" / "secret_key")}
    assert create_app(type("NoKey", (TestConfig,), other)).config["SECRET_KEY"] != first


def test_the_config_has_no_built_in_secret_key():
    assert "dev-only" not in Path(config.__file__).read_text()


def test_the_session_token_is_stored_only_as_a_hash(app, client, staff):
    sign_in(client, VICTIM, DEMO_PASSWORD)
    with client.session_transaction() as session:
        token = session["_user_id"]
    with app.app_context():
        stored = db.session.scalar(db.select(User.session_token_hash).where(User.email == VICTIM))
        assert stored != token and token not in stored
        assert db.session.scalar(db.select(User).where(User.session_token_hash == token)) is None
    assert client.get("/staff/").status_code == 200


def test_cookies_are_secure_when_the_site_is_served_over_https(app, staff):
    settings = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PUBLIC_URL": "https://referral.example",
    }
    https_app = create_app(type("Https", (TestConfig,), settings))
    response = sign_in(https_app.test_client(), VICTIM, DEMO_PASSWORD)
    assert "Secure" in response.headers["Set-Cookie"]
    plain = sign_in(app.test_client(), VICTIM, DEMO_PASSWORD)
    assert "Secure" not in plain.headers["Set-Cookie"]


@pytest.mark.parametrize("stamp", ["seen_at", "signed_in_at"])
def test_an_idle_or_too_old_session_ends(app, client, staff, stamp):
    sign_in(client, VICTIM, DEMO_PASSWORD)
    assert client.get("/staff/").status_code == 200
    long_ago = {"seen_at": 61 * 60, "signed_in_at": 13 * 3600}[stamp]
    with client.session_transaction() as session:
        session[stamp] = session[stamp] - long_ago
    response = client.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/staff/").status_code == 302


def test_activity_keeps_a_session_open(app, client, staff):
    sign_in(client, VICTIM, DEMO_PASSWORD)
    with client.session_transaction() as session:
        session["seen_at"] -= 50 * 60
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] -= 50 * 60  # 100 minutes since sign-in, 50 since the last page
    assert client.get("/staff/").status_code == 200


# --- 6. tokens in logs --------------------------------------------------------------------------


def test_the_server_log_never_shows_a_status_or_password_token(app, staff, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    with app.app_context():
        password_token = accounts.issue_password_reset(user(VICTIM).id, by=None)
    status_token = "Zq" + "x" * 41
    with serving(app) as url:
        for path in (
            f"/uk/status/{status_token}",
            f"/reset/{password_token}",
            # The server sends these on to the page (308) or answers 404: logged all the same.
            f"/uk/status//{status_token}",
            f"/reset//{password_token}",
            f"/uk/STATUS/{status_token}",
            f"/uk/status%2F{status_token}",
        ):
            # A 404 for the made-up status token is logged all the same.
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(url + path, timeout=10).close()  # noqa: S310
    lines = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/uk/status/…" in lines and "/reset/…" in lines
    assert status_token not in lines and password_token not in lines


# --- 7. password links --------------------------------------------------------------------------


def test_deactivation_kills_every_outstanding_password_link(app, client, staff):
    with app.app_context():
        victim = user(VICTIM)
        token = accounts.issue_password_reset(victim.id, by=None)
        coordinator = user("coordinator@konsorcjum.example")
        accounts.set_user_active(victim.id, False, by=coordinator)
        accounts.set_user_active(victim.id, True, by=coordinator)
    assert client.get(f"/reset/{token}").status_code == 404


# --- 8. robustness ------------------------------------------------------------------------------


def test_the_database_down_gives_a_translated_503_page_to_everyone(app, staff, tmp_path):
    signed_in = app.test_client()
    sign_in(signed_in, VICTIM, DEMO_PASSWORD)
    down = create_app(
        type(
            "Down",
            (TestConfig,),
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/x.db"},
        )
    )
    anonymous = down.test_client()
    staff_client = down.test_client()
    staff_client.set_cookie("session", signed_in.get_cookie("session").value)
    for client, method, path, language in (
        (anonymous, "GET", "/uk/organisations", "uk"),
        (anonymous, "POST", "/login", "pl"),
        (staff_client, "GET", "/staff/", "en"),
    ):
        response = client.open(
            path,
            method=method,
            headers={"Accept-Language": language},
            data={"email": VICTIM, "password": "x"},
        )
        assert response.status_code == 503, path
        html = text(response)
        assert f'lang="{language}"' in html
        assert "Retry-After" in response.headers
    assert "Сервіс тимчасово недоступний" in text(
        anonymous.get("/uk/", headers={"Accept-Language": "uk"})
    )


def test_the_gunicorn_access_log_the_project_ships_redacts_tokens(app, tmp_path):
    """A real gunicorn with ``gunicorn.conf.py``, on a free port, on the test database."""
    root = Path(__file__).resolve().parents[2]
    environment = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "gunicorn-test-key-" + "x" * 32,
        # The test database's personal data is encrypted with the tests' keys.
        "DATA_KEYS": app.config["DATA_KEYS"],
        "MATCH_KEY": app.config["MATCH_KEY"],
    }
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "-w",  # one worker: its rate limits may stay in memory
            "1",
            "-b",
            "127.0.0.1:0",
            "--error-logfile",
            str(tmp_path / "error.log"),
            "referral:create_app()",
        ],
        cwd=root,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        address = None
        for _ in range(100):
            match = re.search(
                r"Listening at: (http://[\d.:]+)",
                (tmp_path / "error.log").read_text() if (tmp_path / "error.log").exists() else "",
            )
            if match:
                address = match.group(1)
                break
            time.sleep(0.1)
        assert address, "gunicorn did not start"
        token = "Zq" + "y" * 41
        search = "/staff/?reference=Olena%20Zqx-Canary&page=2"  # the inbox's search, a GET
        for path in (
            f"/uk/status/{token}",
            f"/reset/{token}",
            f"/uk/status/{token}/withdraw",
            f"/uk/%73tatus/{token}",  # gunicorn logs the path as sent; the app reads it decoded
            search,
        ):
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(address + path, timeout=10).close()  # noqa: S310
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=10)
    assert "/uk/status/…" in log and "/reset/…" in log and "/uk/status/…/withdraw" in log
    assert token not in log
    assert "/staff/?…" in log and "Zqx-Canary" not in log


def test_forgot_password_takes_as_long_for_an_address_without_an_account(app, client, staff):
    """A known address also makes a link and its mail: without a floor on the answer's time,
    the difference (about 1.5 ms) told which addresses have accounts."""
    app.config["FORGOT_PASSWORD_SECONDS"] = 0.3
    try:
        times = []
        for email in (VICTIM, "nobody@example.org"):
            started = time.monotonic()
            response = client.post("/login/forgot", data={"email": email})
            times.append(time.monotonic() - started)
            assert response.status_code == 200
    finally:
        app.config["FORGOT_PASSWORD_SECONDS"] = 0.0
    assert min(times) >= 0.3


# --- password links and enrolment against an attacker who knows the password (review, Dec 2026)


def age_password_links(app, minutes: int) -> None:
    from referral.models import PasswordReset

    with app.app_context():
        for link in db.session.scalars(db.select(PasswordReset)):
            link.created_at -= timedelta(minutes=minutes)
        db.session.commit()


def test_a_password_change_ends_every_unused_password_link(app, staff):
    """Someone who suspects their account was read changes the password: a link mailed or handed
    over before must not set another one afterwards."""
    with app.app_context():
        token = accounts.issue_password_reset(user(VICTIM).id, by=None)
        accounts.change_password(user(VICTIM), DEMO_PASSWORD, "a-new-password-123")
    other = app.test_client()
    assert other.get(f"/reset/{token}").status_code == 404
    data = {"password": "attackers-password-1", "repeat": "attackers-password-1"}
    assert other.post(f"/reset/{token}", data=data).status_code == 404


def test_asking_for_a_link_again_does_not_kill_the_one_on_its_way(app, staff):
    """A stranger who types the address at /login/forgot every few minutes must not kill each
    link before its owner reads it (nor the coordinator's first-sign-in link): every link lives
    its hours, and the first one used ends the others."""
    with app.app_context():
        _account, invitation = accounts.create_staff_account(
            "new@sip.example", "New", user(VICTIM).organisation_id, "staff", "en", by=None
        )
    age_password_links(app, 6)
    stranger = app.test_client()
    stranger.post("/login/forgot", data={"email": "new@sip.example"})
    assert app.test_client().get(f"/reset/{invitation}").status_code == 200
    with app.app_context():
        _victim, mailed = accounts.forgotten_password(VICTIM)
        db.session.commit()
    age_password_links(app, 6)
    stranger.post("/login/forgot", data={"email": VICTIM})
    owner = app.test_client()
    data = {"password": "owners-new-password", "repeat": "owners-new-password"}
    assert owner.post(f"/reset/{mailed}", data=data).status_code == 302
    with app.app_context():
        from referral.models import PasswordReset

        unused = db.session.scalars(
            db.select(PasswordReset).where(
                PasswordReset.user_id == user(VICTIM).id, PasswordReset.used_at.is_(None)
            )
        ).all()
        assert unused == []  # the stranger's link died with the first use


def test_an_enrolment_secret_seen_before_a_new_sign_in_is_not_the_one_enrolled(app, staff):
    """Whoever signed in with a stolen password and opened the two-step page saw a secret: the
    owner, signing in afresh or setting a new password, must be shown another one."""
    attacker = app.test_client()
    sign_in(attacker, VICTIM, DEMO_PASSWORD)
    attacker.get("/staff/profile/2fa")
    with app.app_context():
        seen = user(VICTIM).totp_secret
        assert seen is not None
    owner = app.test_client()
    sign_in(owner, VICTIM, DEMO_PASSWORD)
    owner.get("/staff/profile/2fa")
    with app.app_context():
        assert user(VICTIM).totp_secret not in (None, seen)
        accounts.set_password(user(VICTIM), "another-password-1")
        db.session.commit()
        assert user(VICTIM).totp_secret is None


def test_signing_in_through_a_password_link_is_in_the_audit(app, staff, coordinator):
    """A link stolen from a mailbox is a way in: its use is a sign-in the coordinator can read,
    and so is a try with a link already spent."""
    from referral.models import SignInEvent

    with app.app_context():
        token = accounts.issue_password_reset(user(VICTIM).id, by=None)
    data = {"password": "a-new-password-123", "repeat": "a-new-password-123"}
    assert app.test_client().post(f"/reset/{token}", data=data).status_code == 302
    assert app.test_client().post(f"/reset/{token}", data=data).status_code == 404
    app.test_client().post("/login/forgot", data={"email": VICTIM})
    with app.app_context():
        steps = db.session.scalars(
            db.select(SignInEvent).where(SignInEvent.email == VICTIM).order_by(SignInEvent.id)
        ).all()
        assert [(s.kind, s.success, s.email) for s in steps] == [
            ("password_link", True, VICTIM),
            ("password_link", False, VICTIM),
            ("password_link_asked", True, VICTIM),
        ]
    audit = coordinator.get("/admin/audit").get_data(as_text=True)
    assert "Signed in through a password link" in audit
    assert "A used or expired password link tried" in audit
    assert "Password link mailed" in audit


def test_a_half_done_sign_in_ends_with_a_new_password(app, staff):
    """Password accepted, code not yet given: the owner changing the password meanwhile ends that
    half of a sign-in, as it ends every session."""
    import pyotp

    from ..helpers import enrol

    with app.app_context():
        enrol(VICTIM)
        secret = user(VICTIM).totp_secret
    attacker = app.test_client()
    assert sign_in(attacker, VICTIM, DEMO_PASSWORD).headers["Location"] == "/login/code"
    with app.app_context():
        accounts.change_password(user(VICTIM), DEMO_PASSWORD, "brand-new-password")
    answer = attacker.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert answer.headers["Location"] == "/login"
    assert attacker.get("/staff/").status_code == 302
