"""The production shape, with real processes: two `flask worker`s against one PostgreSQL and a
local SMTP server; two gunicorn instances sharing PostgreSQL and Redis; a web process whose Redis
goes away; a multi-worker configuration without a shared limit store."""
# ruff: noqa: S603 - the commands run are this project's own, from this virtualenv

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import func, select

from referral import create_app, seed
from referral.config import TestConfig
from referral.extensions import db
from referral.models import HelpRequest, OutboxMessage

from .helpers import csrf_token_of, drop_postgres_database, new_postgres_database
from .mailbox import Mailbox, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL database, migrated, with the demo directory; or a skip."""
    url, name = new_postgres_database("referral_prod")
    app = create_app(type("Settings", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    with app.app_context():
        upgrade()
        seed.load_consortium()
        db.session.commit()
        db.engine.dispose()
    yield url
    drop_postgres_database(name)


@pytest.fixture
def redis_server():
    """A Redis of this test's own on a free port; yields (its URL, a function that stops it)."""
    if REDIS is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/3", server.terminate
    server.terminate()
    server.wait(10)


def environment(**settings) -> dict[str, str]:
    """What every process of one deployment shares: its keys, and the code under test."""
    shared = {
        "SECRET_KEY": "shared-secret",
        "DATA_KEYS": TestConfig.DATA_KEYS,
        "MATCH_KEY": TestConfig.MATCH_KEY,
        "PYTHONPATH": str(ROOT),
    }
    return {**os.environ, **shared, **settings}


# --- background work ---------------------------------------------------------------------------


def test_two_workers_at_once_deliver_each_mail_exactly_once(postgres_url):
    from aiosmtpd.controller import Controller

    app = create_app(type("Settings", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": postgres_url}))
    with app.app_context():
        db.session.add_all(
            OutboxMessage(kind="offer", to_address=f"intake{i}@org.example", subject="s", body="b")
            for i in range(120)
        )
        db.session.commit()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = environment(
        DATABASE_URL=postgres_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(controller.port)
    )
    # The mail job itself, twice at once (``worker --once`` would leave it to the first worker
    # that claims its turn): the rows one holds, the other skips.
    command = [str(BIN / "flask"), "--app", "referral", "send-mail"]
    try:
        workers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE) for _ in range(2)]
        logs = [w.communicate(timeout=120)[0].decode() for w in workers]
    finally:
        controller.stop()
    assert [w.returncode for w in workers] == [0, 0], logs
    recipients = sorted(m["To"] for m in mailbox.messages)
    assert recipients == sorted(f"intake{i}@org.example" for i in range(120))
    # Both took part: each said what it sent.
    assert all(re.search(r"Sent: \d+", log) for log in logs), logs
    with app.app_context():
        assert not db.session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None)))
        db.engine.dispose()


def test_worker_stops_gracefully_on_sigterm(postgres_url):
    env = environment(DATABASE_URL=postgres_url, MAIL_SERVER="127.0.0.1", MAIL_PORT="9")
    worker = subprocess.Popen(
        [str(BIN / "flask"), "--app", "referral", "worker"], env=env, stderr=subprocess.PIPE
    )
    log = b""
    while b"worker: started" not in log:
        log += worker.stderr.readline()
        assert worker.poll() is None, log
    time.sleep(1)  # its first round of jobs under way (an idle run logs nothing at INFO)
    worker.send_signal(signal.SIGTERM)
    log += worker.communicate(timeout=30)[1]
    assert worker.returncode == 0
    assert b"worker: stopped" in log


# --- several web servers -----------------------------------------------------------------------


@dataclass
class Gunicorn:
    url: str
    error_log: str = ""  # what it wrote to its standard error, once stopped


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2):
    port = free_port()
    server = subprocess.Popen(
        [
            *(str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", str(workers)),
            *("-b", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "referral:create_app()"),
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    running = Gunicorn(url)
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=5)  # noqa: S310
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.2)
        yield running
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
        running.error_log = errors.decode()


def submit_form(url: str, person: int = 0) -> int:
    """One person's intake as a browser sends it: the form, then the post with its token (each
    ``person`` their own phone number: the same one twice would join the open request)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"{url}/en/request", timeout=10) as page:
        token = csrf_token_of(page.read().decode())
    phone = f"+48512345{person:03d}"
    form = {"csrf_token": token, "needs": "legal", "city": "wroclaw", "phone": phone}
    form["consent"] = "y"
    try:
        with opener.open(f"{url}/en/request", urllib.parse.urlencode(form).encode(), timeout=10):
            return 200
    except urllib.error.HTTPError as error:
        return error.code


def test_two_web_servers_share_the_intake_limit_through_redis(postgres_url):
    redis_url = "redis://127.0.0.1:6379/11"
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except Exception:
        pytest.skip("no Redis on 127.0.0.1:6379")
    # Counts of their own: another run of the tests (CI runs SQLite and PostgreSQL at once) may
    # share this Redis.
    env = environment(
        DATABASE_URL=postgres_url,
        REDIS_URL=redis_url,
        INTAKE_RATE_LIMIT="10 per hour",
        RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
    )
    with gunicorn(env) as first, gunicorn(env) as second:
        answers = [submit_form((first if i % 2 else second).url, i) for i in range(30)]
    assert answers.count(200) == 10 and answers.count(429) == 20, answers
    app = create_app(type("Settings", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": postgres_url}))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HelpRequest)) == 10
        db.engine.dispose()


def test_several_workers_refuse_to_keep_limits_in_memory(postgres_url):
    env = environment(DATABASE_URL=postgres_url, RATELIMIT_STORAGE_URI="memory://")
    env.pop("REDIS_URL", None)
    port = free_port()
    server = subprocess.run(
        [
            *(str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", "2"),
            *("-b", f"127.0.0.1:{port}", "referral:create_app()"),
        ],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert server.returncode != 0
    assert b"SharedLimitsRequired" in server.stderr


def test_intake_keeps_working_when_redis_goes_away(redis_server, tmp_path, capfd):
    redis_url, stop_redis = redis_server
    app = create_app(
        type(
            "Settings",
            (TestConfig,),
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'redis-gone.db'}",
                "RATELIMIT_ENABLED": True,
                "RATELIMIT_STORAGE_URI": redis_url,
                "INTAKE_RATE_LIMIT": "5 per hour",
            },
        )
    )
    with app.app_context():
        upgrade()
        seed.load_consortium()
        db.session.commit()
    client = app.test_client()
    form = {"needs": "legal", "city": "wroclaw", "phone": "+48512345678", "consent": "y"}
    assert client.post("/en/request", data=form).status_code == 200
    assert client.get("/healthz").json["limit_store"] == "ok"
    # The status link's count for that phone is in Redis too, by the number's keyed hash only.
    budget = [k for k in redis.Redis.from_url(redis_url).keys("*") if b"link-to" in k]
    assert len(budget) == 2 and not any(b"512345678" in k for k in budget)  # an hour, a day
    # Nor under the request's own matching hash: the count outlives an erasure by up to a day,
    # and must not be joined with that hash in a backup taken before the erasure.
    with app.app_context():
        phone_match = db.session.scalar(select(HelpRequest.phone_match))
    assert not any(phone_match.encode() in k for k in budget)
    stop_redis()
    time.sleep(0.5)
    assert client.post("/en/request", data={**form, "phone": "+48512345679"}).status_code == 200
    assert "falling back to in-memory storage" in capfd.readouterr().err
    assert client.get("/healthz").json["limit_store"] == "unreachable"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HelpRequest)) == 2


def test_gunicorns_error_log_says_when_the_limits_fall_back(postgres_url, redis_server):
    """The operator learns from the error log that limits are counted per process for now: the
    app's warnings (and flask-limiter's) reach gunicorn's error log, nothing configuring Python's
    logging for them."""
    redis_url, stop_redis = redis_server
    env = environment(DATABASE_URL=postgres_url, REDIS_URL=redis_url)
    with gunicorn(env, workers=1) as server:
        assert submit_form(server.url, 900) == 200
        stop_redis()
        time.sleep(0.5)
        assert submit_form(server.url, 901) == 200
    assert "falling back to in-memory storage" in server.error_log
    assert "512345901" not in server.error_log


def test_gunicorn_opens_no_control_socket(postgres_url):
    """systemd's signals manage the server: gunicorn's control socket (25.1 and later) would be
    one more way in, and the unit keeps the home directory where it goes read-only (an error at
    every start)."""
    with gunicorn(environment(DATABASE_URL=postgres_url), workers=1) as server:
        pass
    assert "Booting worker" in server.error_log
    assert "Control" not in server.error_log


@pytest.mark.parametrize(
    "written, read",
    [
        ("1", "True"),
        ("true", "True"),
        ("yes", "True"),
        ("on", "True"),
        ("TRUE", "True"),
        ("0", "False"),
        ("false", "False"),
        ("no", "False"),
        ("off", "False"),
        ("", "False"),
        ("enabled", "refused"),
    ],
)
def test_a_flag_in_the_environment_reads_the_same_whatever_its_spelling(written, read):
    """MAIL_USE_TLS=true left mail in plain text (only "1" turned it on), while the cookies'
    flag took true, yes and on: every flag now reads them alike."""
    program = "from referral.config import Config as C; print(C.MAIL_USE_TLS, C.DEVELOPMENT_KEYS)"
    env = {**os.environ, "MAIL_USE_TLS": written, "DEVELOPMENT_KEYS": written}
    command = [str(BIN / "python"), "-c", program]
    shown = subprocess.run(command, env=env, capture_output=True, text=True)
    if read == "refused":  # a word that is neither stops the start, saying why
        assert shown.returncode != 0 and "is not a yes or a no" in shown.stderr
    else:
        assert shown.stdout.split() == [read, read]
