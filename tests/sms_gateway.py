"""A stand-in for SMSAPI.pl's REST API: a real HTTP server on a free local port that checks each
request as the gateway would (path, bearer token, form fields, UTF-8) and keeps the messages."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

TOKEN = "test-smsapi-token"  # nosec B105 - the stand-in's own token


@dataclass
class Sms:
    to: str
    message: str
    sender: str | None


@dataclass
class Gateway:
    """What arrived, what was refused and why; ``refuse`` answers every request with it."""

    messages: list[Sms] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    refuse: tuple[int, dict] | None = None

    def to(self, number: str) -> list[str]:
        return [sms.message for sms in self.messages if sms.to == number]


def _handler(gateway: Gateway):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # the test's output stays quiet
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if gateway.refuse:
                return self._answer(*gateway.refuse)
            problems = []
            if self.path != "/sms.do":
                problems.append(f"path {self.path}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                problems.append("authorization")
            if not self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                problems.append("content type")
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), strict_parsing=True).items()}
            if form.get("encoding") != "utf-8" or form.get("format") != "json":
                problems.append("encoding or format")
            if not form.get("to", "").isdigit() or not form.get("message"):
                problems.append("to or message")
            if problems:
                gateway.refusals.extend(problems)
                return self._answer(200, {"error": 101, "message": "; ".join(problems)})
            gateway.messages.append(Sms(form["to"], form["message"], form.get("from")))
            return self._answer(
                200,
                {
                    "count": 1,
                    "list": [
                        {"id": str(len(gateway.messages)), "number": form["to"], "status": "QUEUE"}
                    ],
                },
            )

    return Handler


@contextmanager
def gateway_for(app) -> Iterator[Gateway]:
    """``app`` sends its text messages through the smsapi sender to a local stand-in."""
    gateway = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gateway))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    keys = ("SMS_BACKEND", "SMSAPI_URL", "SMSAPI_TOKEN", "SMSAPI_SENDER")
    before = {key: app.config[key] for key in keys}
    app.config.update(
        SMS_BACKEND="smsapi",
        SMSAPI_URL=f"http://127.0.0.1:{server.server_port}/",
        SMSAPI_TOKEN=TOKEN,
        SMSAPI_SENDER="Konsorcjum",
    )
    try:
        yield gateway
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        app.config.update(before)


@pytest.fixture
def sms_gateway(app):
    """The app's text messages go to a local stand-in of SMSAPI.pl; ``.messages`` arrived."""
    with gateway_for(app) as gateway:
        yield gateway
