"""Tokens and queries out of access logs: a status or password link's token becomes ``…`` in
every request line the server logs (werkzeug here, gunicorn through ``gunicorn.conf.py``), and so
does every query string: the staff inbox searches by name, phone or e-mail with a GET form, and a
``next=`` carries that search on to the sign-in page."""

import logging
import re

# /uk/status/<token>, /uk/status/<token>/withdraw, /reset/<token>; also spelt /status//<token>
# (answered with a redirect to the page), /STATUS/ or /status%2F (404s): the token is still good.
TOKEN_IN_PATH = re.compile(r"(/(?:status|reset)(?:/|%2f)+)[^/?#\s\"]+", re.IGNORECASE)
# /staff/?reference=Olena…: a query, whatever it holds
QUERY = re.compile(r"\?[^\s\"#]+")


def redact(text: str) -> str:
    return QUERY.sub("?…", TOKEN_IN_PATH.sub(r"\1…", text))


class RedactTokens(logging.Filter):
    """Rewrites a log record's message and arguments with ``redact``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def init_app() -> None:
    """Filter werkzeug's request log (the development and test server); once per process. The
    HTTP client's own lines go: they give each request's whole address, and a webhook receiver's
    may hold its secret (the senders log what they need, without it)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
    for client in ("httpx", "httpcore"):
        logging.getLogger(client).setLevel(logging.WARNING)
