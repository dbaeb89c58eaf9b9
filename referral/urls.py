"""What arrives in an address and is used as is: ids and ``next`` targets (page numbers:
``paging.requested_page``).

Ids beyond a 32-bit integer would reach the database and fail there (PostgreSQL integer columns,
SQLite's 64-bit binding): they answer 404 instead. A ``next`` target is followed only when it is
a path on this site, so a link cannot send a person who just signed in to a look-alike site.
"""

from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, RequestRedirect

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number the database columns can hold, else 404."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def same_site_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site (``/staff/?x=1``), else None.

    Browsers drop tabs and new lines inside URLs and read a backslash as a slash, so ``/\t/evil``
    and ``/\\evil`` mean ``//evil``, another host: any such character refuses the target.
    """
    if not target or any(ch.isspace() or ord(ch) < 32 or ch in "\\\x7f" for ch in target):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # "http://[x/": not an address at all
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def referring_page() -> str | None:
    """The path of the page of this site a form was sent from (its ``Referer``), else None."""
    try:
        referrer = urlsplit(request.referrer or "")
    except ValueError:
        return None
    if referrer.netloc != request.host:
        return None
    return same_site_path(referrer.path + (f"?{referrer.query}" if referrer.query else ""))


def page_of_this_form() -> str:
    """The page a form sent here lives on: the one it was sent from (its ``Referer``), else the
    nearest page up this one's address (``page_to_show``; a page marked ``no-referrer`` sends no
    Referer)."""
    return referring_page() or page_to_show(request.path)


def page_to_show(target: str) -> str:
    """``target`` (a path on this site, maybe with a query) if it is a page to open, else the
    nearest page above it: the answer to a form (``/uk/status/<token>/message``,
    ``/staff/referrals/7/decline``) is at an address that only takes a POST, and the language
    switch on it led to 405 Method Not Allowed; it now leads to the status page, the referral."""
    path = target.split("?", 1)[0]
    adapter = current_app.url_map.bind("localhost")
    while True:
        try:
            adapter.match(path, method="GET")
        except RequestRedirect:
            pass
        except HTTPException:
            if path.count("/") <= 1:
                return "/"
            path = path.rsplit("/", 1)[0] or "/"
            continue
        return target if path == target.split("?", 1)[0] else path


def query_args() -> dict[str, str]:
    """The query string's arguments, to build this page's address again with ``url_for``: without
    the keys it reads as its own (``_method``, ``_external``, ``_scheme``, ``_anchor``), which
    typed into an address broke the page or pointed its links at another scheme."""
    return {key: value for key, value in request.args.items() if not key.startswith("_")}
