"""A real SMTP server on a free local port (aiosmtpd) that keeps what arrives."""

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# RFC 5322, 3.6: a message has exactly one of each; strict servers refuse one without.
REQUIRED_ONCE = ("Date", "From", "Message-ID")


class Mailbox:
    """An aiosmtpd handler: accepts every well-formed message, or refuses all with ``reply``
    (e.g. a 451). Like a strict mail server, it refuses a message without its Date, its From or
    its Message-ID (554), and a recipient in ``unknown`` (550, no such mailbox)."""

    def __init__(self, reply: str = "250 Message accepted for delivery") -> None:
        self.reply = reply
        self.messages: list[EmailMessage] = []
        self.unknown: set[str] = set()
        self.refused: list[str] = []  # the recipients refused, each time

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown:
            self.refused.append(address)
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reply.startswith("250"):
            message = message_from_bytes(envelope.content, policy=policy.default)
            if any(len(message.get_all(name, [])) != 1 for name in REQUIRED_ONCE):
                return "554 5.6.0 Message lacks a required header"
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            self.messages.append(message)
        return self.reply

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def _serve(app, handler):
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    before = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    try:
        yield handler
    finally:
        controller.stop()
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = before


@pytest.fixture
def smtp_server(app):
    """The app's mail goes to a local SMTP server; ``smtp_server.messages`` is what arrived."""
    yield from _serve(app, Mailbox())


@pytest.fixture
def failing_smtp_server(app):
    """An SMTP server that answers every message with 451 (try again later)."""
    yield from _serve(app, Mailbox("451 4.3.0 Try again later"))
