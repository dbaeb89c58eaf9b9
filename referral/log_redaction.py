"""Tokens and queries out of access logs: a status or password link's token becomes ``…`` in
every request line the server logs (werkzeug here, gunicorn through ``gunicorn.conf.py``), and so
does every query string: the staff inbox searches by name, phone or e-mail with a GET form, and a
``next=`` carries that search on to the sign-in page."""

import logging
import re
from urllib.parse import unquote

# A path in a log line (the request's, a Referer's), taken segment by segment: the one after
# "status" or "reset" is the token (/uk/status/<token>/withdraw, /reset/<token>), however it is
# spelt: /status//<token> (sent on to the page), /STATUS/, /status%2F, /%73tatus/ (404s, or the
# page itself: the server reads the path decoded, and the token is good all the same).
PATH = re.compile(r"/[^\s\"?#]*")
SEPARATOR = re.compile(r"(/|%2f)", re.IGNORECASE)
SECRET_FOLLOWS = {"status", "reset"}
# /staff/?reference=Olena…: a query, whatever it holds
QUERY = re.compile(r"\?[^\s\"#]+")


def _without_token(path: re.Match) -> str:
    parts = SEPARATOR.split(path.group())
    secret_next = False
    for index, part in enumerate(parts):
        if not part or SEPARATOR.fullmatch(part):
            continue
        if secret_next:
            parts[index] = "…"
        secret_next = unquote(part).lower() in SECRET_FOLLOWS
    return "".join(parts)


def redact(text: str) -> str:
    return QUERY.sub("?…", PATH.sub(_without_token, text))


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
