"""Signed webhooks against a real HTTP receiver on this machine that verifies every signature with
the ``standardwebhooks`` package, as a member's system would."""

import contextlib
import json
import logging
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import event, func, select, update
from standardwebhooks.webhooks import Webhook

from referral import api_tokens, lifecycle, outbox, webhooks
from referral.extensions import db
from referral.handoff import Action
from referral.models import Referral, WebhookEndpoint, WebhookMessage, utcnow
from referral.service_errors import ServiceError

from .helpers import intake, org, user


class Receiver:
    """An HTTP server on a free port that records each post, checks its signature with the
    organisation's secret, and answers with the next status of ``answers`` (then 204)."""

    def __init__(self):
        self.posts: list[dict] = []
        self.answers: list[int] = []
        self.secrets: dict[str, str] = {}  # path -> signing secret
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                payload = Webhook(receiver.secrets[self.path]).verify(body, headers)
                receiver.posts.append(
                    {"path": self.path, "id": headers["webhook-id"], "raw": body, **payload}
                )
                self.send_response(receiver.answers.pop(0) if receiver.answers else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def events(self, path: str) -> list[tuple[str, int]]:
        return [(p["type"], p["data"]["referral_id"]) for p in self.posts if p["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RawReceiver:
    """A TCP server on a free port that reads each post, then answers it with ``answer(conn)``,
    as slowly, as much or as little as a slow or hostile receiver would; ``sent`` counts the
    bytes it got out before the sender hung up."""

    def __init__(self, answer):
        self.answer = answer
        self.sent = 0
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:  # closed
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn):
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += conn.recv(65536)
            with contextlib.suppress(OSError):  # the sender hung up
                self.answer(self, conn)

    def send(self, conn, data: bytes):
        conn.sendall(data)
        self.sent += len(data)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}{path}"

    def close(self):
        self.socket.close()
        for thread in self.threads:
            thread.join(timeout=10)


@pytest.fixture
def raw_receivers():
    opened: list[RawReceiver] = []
    yield lambda answer: opened.append(RawReceiver(answer)) or opened[-1]
    for raw in opened:
        raw.close()


def never_answer(raw: RawReceiver, conn):
    conn.recv(1)  # until the sender hangs up


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def listen(receiver: Receiver, slug: str) -> None:
    """Register the receiver's /<slug> as the organisation's endpoint."""
    registered = webhooks.register(org(slug).id, receiver.url(f"/{slug}"), by=None)
    receiver.secrets[f"/{slug}"] = registered.secret


def token(slug: str):
    return api_tokens.issue(org(slug).id, f"{slug} system", False, by=None).token


def test_each_step_reaches_the_organisations_concerned_signed_and_without_personal_data(
    ctx, directory, receiver
):
    for slug in ("nomada", "hfpc", "pfm"):
        listen(receiver, slug)
    pfm, nomada, hfpc = token("pfm"), token("nomada"), token("hfpc")
    submitted = lifecycle.submit_request(
        intake("legal", name="Olena Kovalenko", description="Lost my papers"), submitted_by=pfm
    )
    referral = submitted.request.referrals[0]
    lifecycle.act(referral.id, nomada, Action.DECLINE, referral.version, reason_code="no_capacity")
    lifecycle.act(referral.id, hfpc, Action.ACCEPT, referral.version)
    note = lifecycle.add_note(referral, hfpc, "Appointment on Monday", shared=True)
    lifecycle.add_note(referral, hfpc, "Internal only", shared=False)
    lifecycle.act(referral.id, hfpc, Action.CLOSE, referral.version, outcome="resolved")
    overdue = lifecycle.submit_request(intake("legal")).request.referrals[0]
    lifecycle.expire_overdue(now=utcnow() + timedelta(days=14))

    delivery = webhooks.deliver_pending()

    assert delivery.failed == 0 and delivery.sent == len(receiver.posts)
    rid, late = referral.id, overdue.id
    assert receiver.events("/nomada") == [
        ("referral.offered", rid),
        ("referral.declined", rid),
        ("referral.offered", late),
        ("referral.expired", late),
    ]
    assert [event for event in receiver.events("/hfpc") if event[1] == rid] == [
        ("referral.offered", rid),
        ("referral.accepted", rid),
        ("referral.note_added", rid),
        ("referral.note_added", rid),
        ("referral.closed", rid),
    ]
    assert receiver.events("/pfm") == [
        ("referral.declined", rid),
        ("referral.accepted", rid),
        ("referral.note_added", rid),
        ("referral.closed", rid),
    ]
    shared = [p for p in receiver.posts if p["path"] == "/pfm" and p["type"].endswith("note_added")]
    assert shared[0]["data"] == {"referral_id": rid, "state": "accepted", "note_id": note.id}
    for post in receiver.posts:
        assert set(post["data"]) <= {"referral_id", "state", "note_id"}
        for personal in (b"Olena", b"+48", b"papers", b"Monday", b"no_capacity"):
            assert personal not in post["raw"]
    assert len({post["id"] for post in receiver.posts}) == len(receiver.posts)


def test_an_intake_writes_its_webhook_messages_at_the_commit_in_its_one_flush(
    ctx, directory, receiver
):
    listen(receiver, "nomada")
    session = db.session()
    flushes = []

    def flushed(*args):
        flushes.append(1)

    event.listen(session, "after_flush", flushed)
    try:
        referral = lifecycle.submit_request(intake("legal")).request.referrals[0]
    finally:
        event.remove(session, "after_flush", flushed)
    assert len(flushes) == 1  # not once more in the middle of routing, for the referral's id
    message = db.session.scalar(select(WebhookMessage))
    assert message.payload["data"] == {"referral_id": referral.id, "state": "offered"}


def test_a_rollback_forgets_the_webhook_messages_of_its_steps(ctx, directory, receiver):
    listen(receiver, "nomada")
    referral = lifecycle.submit_request(intake("legal")).request.referrals[0]
    written = db.session.scalar(select(func.count()).select_from(WebhookMessage))
    webhooks.stepped(referral, referral.events[0])
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(WebhookMessage)) == written


def test_a_withdrawal_erasing_the_request_still_tells_the_organisations_system(
    ctx, directory, receiver
):
    listen(receiver, "nomada")
    submitted = lifecycle.submit_request(intake("legal", name="Olena Kovalenko"))
    referral_id = submitted.request.referrals[0].id
    lifecycle.withdraw_request(submitted.request)  # the person's data erased in that transaction
    webhooks.deliver_pending()
    assert receiver.events("/nomada") == [
        ("referral.offered", referral_id),
        ("referral.withdrawn", referral_id),
    ]


def test_a_failed_delivery_is_retried_after_a_wait_with_the_same_id(ctx, directory, receiver):
    listen(receiver, "nomada")
    lifecycle.submit_request(intake("legal"))
    receiver.answers = [500]
    now = utcnow()

    assert webhooks.deliver_pending(now) == webhooks.Delivery(sent=0, failed=1)
    message = db.session.scalar(select(WebhookMessage))
    assert (message.attempts, message.last_error) == (1, "HTTP 500")
    assert webhooks.deliver_pending(now + timedelta(seconds=1)) == webhooks.Delivery()
    assert webhooks.deliver_pending(now + timedelta(seconds=6)) == webhooks.Delivery(sent=1)

    first, second = receiver.posts
    assert first["id"] == second["id"] == message.message_id
    assert first["raw"] == second["raw"]
    assert db.session.get(WebhookMessage, message.id).sent_at is not None


def test_an_attempt_ends_after_its_time_however_slowly_the_receiver_answers(
    ctx, directory, raw_receivers, monkeypatch
):
    """httpx's timeouts count per read: a receiver sending its answer a byte at a time, each
    within the timeout, held the sender for as long as it liked."""
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.5)

    def drip(raw, conn):
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
            raw.send(conn, bytes([byte]))
            time.sleep(0.1)

    dripping = raw_receivers(drip)
    webhooks.register(org("nomada").id, dripping.url("/nomada"), by=None)
    lifecycle.submit_request(intake("legal"))
    started = time.monotonic()

    assert webhooks.deliver_pending() == webhooks.Delivery(failed=1)
    assert time.monotonic() - started < 1.5
    assert db.session.scalar(select(WebhookMessage.last_error)) == "ReadTimeout"


def test_the_answer_s_body_is_not_read(ctx, directory, raw_receivers):
    """Only the status counts: a receiver answering with a huge body had it read whole into
    memory."""
    size = 64 * 1024 * 1024

    def huge(raw, conn):
        raw.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // 65536):
            raw.send(conn, b"x" * 65536)

    answering = raw_receivers(huge)
    webhooks.register(org("nomada").id, answering.url("/nomada"), by=None)
    lifecycle.submit_request(intake("legal"))

    assert webhooks.deliver_pending() == webhooks.Delivery(sent=1)
    answering.close()
    assert answering.sent < size / 2


def test_an_endpoint_that_fails_is_not_tried_again_in_the_run_nor_holds_back_the_others(
    ctx, directory, receiver, raw_receivers, monkeypatch
):
    """Messages went strictly in order, so each of a dead endpoint's messages cost its timeout
    before any other organisation's event went out."""
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.5)
    dead = raw_receivers(never_answer)
    webhooks.register(org("nomada").id, dead.url("/nomada"), by=None)
    for _ in range(3):
        lifecycle.submit_request(intake("legal"))
    listen(receiver, "nomada")  # stands for another organisation's receiver
    lifecycle.submit_request(intake("legal"))  # one more to the dead endpoint, then this one
    started = time.monotonic()

    assert webhooks.deliver_pending() == webhooks.Delivery(sent=1, failed=1, put_off=3)
    assert time.monotonic() - started < 1.5
    attempts = db.session.scalars(
        select(WebhookMessage.attempts).where(WebhookMessage.sent_at.is_(None))
    )
    assert sorted(attempts) == [0, 0, 0, 1]
    assert (
        db.session.scalar(select(func.count()).where(WebhookMessage.claimed_until.is_not(None)))
        == 0
    )
    # The next run tries the dead endpoint once more, with the next message that is due.
    assert webhooks.deliver_pending() == webhooks.Delivery(failed=1, put_off=2)


def test_a_run_posts_for_a_bounded_time_and_leaves_the_rest_to_the_next(
    ctx, directory, receiver, raw_receivers, monkeypatch
):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(webhooks, "RUN_SECONDS", 0.5)
    dead = raw_receivers(never_answer)
    webhooks.register(org("nomada").id, dead.url("/nomada"), by=None)
    listen(receiver, "nomada")
    lifecycle.submit_request(intake("legal"))

    assert webhooks.deliver_pending() == webhooks.Delivery(failed=1, put_off=1)
    assert receiver.posts == []
    assert webhooks.deliver_pending() == webhooks.Delivery(sent=1)  # the failed one not due yet


def test_an_endpoint_that_never_answers_is_given_up_after_the_last_retry(ctx, directory, receiver):
    listen(receiver, "nomada")
    lifecycle.submit_request(intake("legal"))
    receiver.close()  # nothing listens on that port any more
    moment = utcnow()
    for _attempt in range(len(webhooks.RETRY_AFTER) + 1):
        assert webhooks.deliver_pending(moment).failed == 1
        moment += timedelta(days=1)
    message = db.session.scalar(select(WebhookMessage))
    assert message.next_attempt_at is None and message.sent_at is None
    assert message.attempts == len(webhooks.RETRY_AFTER) + 1
    assert message.last_error == "ConnectError"
    assert webhooks.deliver_pending(moment + timedelta(days=30)) == webhooks.Delivery()


def test_a_removed_endpoint_gets_nothing_more(ctx, directory, receiver):
    listen(receiver, "nomada")
    lifecycle.submit_request(intake("legal"))
    endpoint = webhooks.endpoints_of(org("nomada").id)[0]
    webhooks.remove(org("nomada").id, endpoint.id, by=None)
    lifecycle.submit_request(intake("legal"))

    assert webhooks.deliver_pending() == webhooks.Delivery()
    assert receiver.posts == []
    assert db.session.scalar(select(WebhookMessage)).last_error == "endpoint removed"
    assert db.session.scalar(select(Referral.id).where(Referral.id > 0)) is not None


def test_a_claim_runs_for_claim_for_from_when_it_is_taken_not_from_the_run_s_start(
    ctx, directory, receiver
):
    """A run reads what is due as of its start, but claimed each batch until that start plus
    CLAIM_FOR: a long run's later batches got claims already run out, and a second sender posted
    the same messages."""
    listen(receiver, "nomada")
    lifecycle.submit_request(intake("legal"))
    run_began = utcnow() - outbox.CLAIM_FOR - timedelta(minutes=1)
    db.session.execute(update(WebhookMessage).values(next_attempt_at=run_began))
    db.session.commit()

    assert len(outbox.claim(WebhookMessage, run_began)) == 1  # a later batch of a long run
    assert outbox.claim(WebhookMessage, utcnow()) == []  # another sender, starting now


@pytest.mark.parametrize(
    ("url", "acceptable"),
    [
        ("https://cases.example.org/hooks", True),
        ("http://127.0.0.1:8080/hooks", True),
        ("http://localhost/hooks", True),
        ("http://cases.example.org/hooks", False),
        ("https://user:pass@cases.example.org/hooks", False),
        ("ftp://cases.example.org", False),
        ("https://", False),
        ("https://cases.example.org:port/", False),
        ("https://cases.example.org/" + "x" * 500, False),
        ("javascript:alert(1)", False),
        ("https://zażółć.example/hooks", True),
        # Pasted with an invisible character, which no IDNA name may hold: httpx cannot post.
        ("https://cases.nomada\u200b.example/hook", False),
        ("https://cases.nom\u00adada.example/hook", False),
        ("https://cases.example.org\x00/hook", False),
    ],
)
def test_only_https_or_this_machine_receives_webhooks(url, acceptable):
    assert webhooks.is_acceptable_url(url, private_addresses=True) is acceptable


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "https://10.0.0.5/hooks",
        "https://192.168.1.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://0.0.0.0/hooks",
        "https://[::ffff:10.0.0.5]/hooks",  # an IPv4 address written as IPv6
        "https://[64:ff9b::a00:5]/hooks",  # 10.0.0.5 through a NAT64 gateway
        "https://[2002:a9fe:a9fe::1]/hooks",  # 169.254.169.254 through 6to4
        "https://[::7f00:1]/hooks",  # 127.0.0.1, IPv4-compatible (deprecated, still parsed)
        "https://[::ffff:0:a00:5]/hooks",  # 10.0.0.5 through a SIIT translator
    ],
)
def test_in_production_no_address_of_this_machine_or_its_network_receives_webhooks(url):
    """The server would post, from inside, wherever the coordinator's form said: to a service
    of its own network that trusts whoever is inside."""
    assert webhooks.is_acceptable_url(url, private_addresses=False) is False
    assert webhooks.is_acceptable_url("https://cases.example.org/hooks", private_addresses=False)


def test_in_production_a_name_that_leads_inside_is_not_posted_to(app, ctx, directory, receiver):
    """A public-looking name can resolve to an address inside (or be made to, after it was
    registered): the address is checked where the connection is made."""
    listen(receiver, "nomada")
    db.session.execute(
        update(WebhookEndpoint).values(
            url=receiver.url("/nomada").replace("127.0.0.1", "localhost")
        )
    )
    db.session.commit()
    app.config["WEBHOOK_PRIVATE_ADDRESSES"] = False
    try:
        lifecycle.submit_request(intake("legal", city_slug="wroclaw"))
        delivery = webhooks.deliver_pending()
    finally:
        app.config["WEBHOOK_PRIVATE_ADDRESSES"] = True
    assert receiver.posts == [] and delivery.failed >= 1
    assert {m.last_error for m in db.session.scalars(select(WebhookMessage))} == {"PrivateAddress"}


def test_an_address_httpx_cannot_post_to_is_a_failed_attempt_not_the_end_of_the_run(
    ctx, directory, receiver
):
    """An endpoint written before its address was checked as httpx reads it: InvalidURL (not an
    HTTPError) stopped the whole run, every run, and its attempts were never counted."""
    webhooks.register(org("nomada").id, "https://cases.nomada.example/hook", by=None)
    db.session.execute(update(WebhookEndpoint).values(url="https://cases.nomada\u200b.example/h"))
    db.session.commit()
    listen(receiver, "nomada")
    lifecycle.submit_request(intake("legal"))

    assert webhooks.deliver_pending() == webhooks.Delivery(sent=1, failed=1)
    unsendable = db.session.scalar(select(WebhookMessage).where(WebhookMessage.sent_at.is_(None)))
    assert (unsendable.attempts, unsendable.last_error) == (1, "InvalidURL")
    assert [p["type"] for p in receiver.posts] == ["referral.offered"]


def test_an_unacceptable_address_is_refused(ctx, directory):
    with pytest.raises(ServiceError) as refused:
        webhooks.register(org("nomada").id, "http://cases.example.org/hooks", by=None)
    assert refused.value.code == ServiceError.INVALID_WEBHOOK_URL


def test_add_webhook_and_send_webhooks_commands(app, directory, receiver):
    runner = app.test_cli_runner()
    added = runner.invoke(args=["add-webhook", "--org", "nomada", receiver.url("/nomada")])
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    receiver.secrets["/nomada"] = secret
    with app.app_context():
        assert webhooks.endpoints_of(org("nomada").id)[0].url == receiver.url("/nomada")
        lifecycle.submit_request(intake("legal"))
        db.session.remove()
    sent = runner.invoke(args=["send-webhooks"])
    assert "Sent: 1, failed (kept, tried again unless given up): 0" in sent.output
    assert [p["type"] for p in receiver.posts] == ["referral.offered"]
    refused = runner.invoke(args=["add-webhook", "--org", "nomada", "http://example.org/"])
    assert refused.exit_code != 0 and "https://" in refused.output
    assert json.loads(receiver.posts[0]["raw"])["data"]["state"] == "offered"


def test_no_log_line_gives_a_receivers_address(ctx, directory, receiver, caplog):
    """A receiver's address may carry its own secret (``?key=…``); httpx wrote each whole one
    into the worker's log at INFO."""
    caplog.set_level(logging.DEBUG)
    path = "/nomada?key=s3cr3t-receiver-key"
    registered = webhooks.register(org("nomada").id, receiver.url(path), by=None)
    receiver.secrets[path] = registered.secret
    lifecycle.submit_request(intake("legal"))
    webhooks.deliver_pending()
    assert receiver.posts
    assert "s3cr3t-receiver-key" not in caplog.text


def test_an_offer_routed_by_hand_elsewhere_tells_the_organisation_that_had_it(ctx, staff, receiver):
    """The coordinator moves an offer from Nomada to HFPC: Nomada's system hears it no longer has
    it (it kept showing an offer it could not answer), HFPC's hears of its offer."""
    for slug in ("nomada", "hfpc"):
        listen(receiver, slug)
    referral = lifecycle.submit_request(intake("legal")).request.referrals[0]
    coordinator = user("coordinator@konsorcjum.example")
    lifecycle.act(
        referral.id,
        coordinator,
        Action.ROUTE_BY_HAND,
        referral.version,
        organisation_id=org("hfpc").id,
        text="They see her this week",
    )
    webhooks.deliver_pending()
    rid = referral.id
    assert receiver.events("/nomada") == [
        ("referral.offered", rid),
        ("referral.routed_by_hand", rid),
    ]
    assert receiver.events("/hfpc") == [("referral.offered", rid)]
    [moved] = [p for p in receiver.posts if p["type"] == "referral.routed_by_hand"]
    assert moved["data"]["state"] == "offered"
