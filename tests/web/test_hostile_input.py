"""Hostile and clumsy input everywhere: bad input gets an error on the form that caused it, never a
server error, on SQLite and on PostgreSQL (which refuses NUL in text and numbers beyond 64 bits).

Each kind of visitor (anonymous, half signed in, partner staff, the coordinator) walks the pages
it can reach by their links; then every page is asked for with odd query parameters and odd
path segments, and every form found is sent with one field at a time set to what no form
offers: NUL and other control characters, invalid UTF-8, 100,000 characters, digits of other
scripts, numbers and dates beyond what the database or the calendar holds, a choice not in the
list, the field missing or repeated. Nothing may answer 500 or log an unhandled error."""

import io
import logging
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from referral import accounts, api_tokens, appointments, lifecycle, webhooks
from referral.extensions import db
from referral.handoff import Action
from referral.models import Referral, utcnow
from referral.seed import DEMO_PASSWORD

from ..helpers import user
from .test_public import sent_request

LONG = "x" * 100_000
# One field at a time is given each of these, by what the field is; the others as a person fills
# them in. (PostgreSQL refuses NUL in text, integers beyond 64 bits; Python's calendar ends at
# 9999-12-31; "²" is a digit to str.isdigit, not to int.)
TEXT = ["\x00", LONG, "²²²²²²"]
CHOICE = ["\x00", "no-such-choice", "99999999999999999999"]
NUMBER = ["99999999999999999999", "-1", "1e9", "²"]
DATE = ["0001-01-01", "9999-12-31", "2026-02-30", "2020-01-01", "2099-12-31"]
MOMENT = ["9999-12-31T23:59", "0001-01-01T00:00", "2026-02-30T10:00"]
# Every text field of a form at once: control characters, right-to-left, combining, markup.
GARBLED = "a\x01\x1b\x7fb \u202e<script>alert(1)</script>e\u0301\u0301 '\" OR 1=1 --"
BY_KIND = {
    "text": TEXT,
    "textarea": TEXT,
    "email": TEXT,
    "url": TEXT,
    "tel": TEXT,
    "search": TEXT,
    "password": ["\x00", LONG],
    "hidden": [*NUMBER, "\x00"],
    "number": NUMBER,
    "select": CHOICE,
    "radio": CHOICE,
    "checkbox": CHOICE,
    "submit": CHOICE,
    "date": DATE,
    "datetime-local": MOMENT,
}
# The query string of every page: each value in every parameter the page's links use and in these.
PARAMETERS = ("page", "offered_page", "cases_page", "sent_page", "referral_id", "next", "back")
QUERY = ["\x00", "²", "-1", "99999999999999999999", "x" * 10_000]
# Raw, as they would come in an address; each replaces a segment that names something.
SEGMENTS = ["%00", "%ff%fe", "x" * 3000, "99999999999999999999", "-1", "%C2%B2", "%E2%80%AE"]
UNDECODABLE = "%ff%fe"

# What a person types, and sees again when the form is refused.
TYPED = ("text", "textarea", "email", "url", "tel", "search")
PAGES_OF_A_ROUTE = 4
# Forms that undo what the walk needs are sent last: the session or the request may end there.
LAST = ("withdraw", "erase", "/active", "/admin/users/", "two-factor", "/remove", "/revoke")


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # (value, chosen)
    kinds: dict[str, str] = field(default_factory=dict)

    def filled(self) -> list[tuple[str, str]]:
        """What a person would send: the values shown, the first of each choice, some words."""
        pairs = []
        for name, options in self.fields.items():
            kind = self.kinds[name]
            chosen = [value for value, on in options if on]
            if kind in ("checkbox", "radio") and not chosen:
                chosen = [options[0][0]]
            if kind == "select" and chosen == [""]:
                chosen = [next((value for value, _on in options if value), "")]
            if kind in (*TYPED, "datetime-local") and not "".join(chosen).strip():
                chosen = [plausible(name, kind)]
            pairs += [(name, value) for value in chosen]
        return pairs


def plausible(name: str, kind: str) -> str:
    name = name.rsplit("-", 1)[-1]
    if kind == "email" or "email" in name:
        return "probe@example.org"
    if kind == "url" or name == "website":
        return "https://example.org/"
    if "phone" in name or name == "contact":
        return "+48 512 345 678"
    if name == "postal_code":
        return "00-153"
    if name == "slug":
        return "probe"
    if name == "when":
        return (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT10:00")
    if name.startswith(("opens_", "closes_")) or name in ("reference", "code", "homepage"):
        return ""
    return f"Words for {name}"


class Page(HTMLParser):
    """The links and forms of a page (the standard library's parser)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._options: list[tuple[str, bool]] | None = None
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {key: value or "" for key, value in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "option" and self._options is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif self._form is None or not a.get("name") or a["name"] == "csrf_token":
            return
        elif tag in ("input", "button"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            options = self._form.fields.setdefault(a["name"], [])
            self._form.kinds.setdefault(a["name"], kind)
            chosen = "checked" in a if kind in ("checkbox", "radio") else not options
            default = "y" if kind in ("checkbox", "radio") else ""
            options.append((a.get("value", default), chosen))
        elif tag in ("select", "textarea"):
            self._options = self._form.fields.setdefault(a["name"], [])
            self._form.kinds[a["name"]] = tag
            self._textarea = a["name"] if tag == "textarea" else None
            if tag == "textarea":
                self._options.append(("", True))

    def handle_data(self, data):
        if self._textarea and self._options:
            self._options[-1] = (self._options[-1][0] + data, True)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag in ("select", "textarea"):
            if tag == "select" and self._options and not any(on for _v, on in self._options):
                self._options[0] = (self._options[0][0], True)
            self._options, self._textarea = None, None


def shape(path: str) -> str:
    """The route a path stands for: /uk/status/<token>/copy and /en/status/<other>/copy alike."""
    path = re.sub(r"^/(en|pl|uk)/", "/L/", path)
    path = re.sub(r"/[\w-]{30,}", "/T", path)
    return re.sub(r"\d+", "N", path)


def naming(segment: str) -> bool:
    """A path segment that names something (an id, a token, a language, a file), not a route's."""
    stem = segment.split(".")[0]
    return stem.isdigit() or len(stem) >= 30 or stem in ("en", "pl", "uk") or "." in segment


class Unhandled(logging.Handler):
    """The app's log of unhandled errors: each one's type and where in the app it was raised."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("unhandled"):
            frames = re.findall(r'File "[^"]*/(referral/[^"]+)", line (\d+)', message)
            where = ":".join(frames[-1]) if frames else "?"
            self.lines.append(f"{message.splitlines()[0]} at {where}")


@dataclass
class Visitor:
    """A client walking the site within ``scope`` (path prefixes), noting every server error in
    ``failures``; ``seen_forms`` is shared by visitors who see the same forms."""

    who: str
    client: FlaskClient
    scope: tuple[str, ...]
    unhandled: Unhandled
    failures: list[str] = field(default_factory=list)
    seen_forms: set = field(default_factory=set)
    pages: dict[str, str] = field(default_factory=dict)  # shape -> one url
    forms: list[Form] = field(default_factory=list)

    def send(self, method: str, url: str, **kwargs):
        before = len(self.unhandled.lines)
        response = self.client.open(url, method=method, **kwargs)
        logged = self.unhandled.lines[before:]
        if response.status_code >= 500 or logged:
            sent = repr(kwargs.get("data", ""))[:160]
            self.failures.append(
                f"{self.who} {method} {url[:160]} {sent}: {response.status_code} {logged}"
            )
        return response

    def inside(self, href: str) -> str | None:
        parts = urlsplit(href)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith(self.scope):
            return None
        if parts.path.startswith(("/logout", "/static/")):
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def walk(self, *seeds: str) -> None:
        """Follow the links from ``seeds``: a few pages of each route (a referral's forms depend
        on its state), the first of them kept in ``pages`` for odd queries and paths."""
        queue, visited, of_route = deque(seeds), set(), Counter[str]()
        while queue:
            url = queue.popleft()
            route = shape(url.split("?")[0]) + ("?" if "?" in url else "")
            if url in visited or of_route[route] >= PAGES_OF_A_ROUTE:
                continue
            visited.add(url)
            response = self.send("GET", url)
            if response.status_code != 200:
                continue
            of_route[route] += 1
            self.pages.setdefault(route, url)
            if "html" not in response.content_type:
                continue
            page = Page(response.get_data(as_text=True))
            queue.extend(target for href in page.links if (target := self.inside(href)))
            for form in page.forms:
                action = self.inside(form.action) if form.action else url
                if action is None:
                    continue
                form.action = action
                seen = (form.method, shape(action.split("?")[0]), tuple(sorted(form.fields)))
                if seen not in self.seen_forms:
                    self.seen_forms.add(seen)
                    self.forms.append(form)

    def odd_queries(self) -> None:
        for url in self.pages.values():
            path, _, query = url.partition("?")
            names = {*PARAMETERS, *(pair.split("=")[0] for pair in query.split("&") if pair)}
            for value in QUERY:
                self.send("GET", f"{path}?{urlencode(dict.fromkeys(names, value))}")
            self.send("GET", f"{path}?{UNDECODABLE}={UNDECODABLE}&page={UNDECODABLE}")

    def odd_paths(self, url: str, method: str = "GET", data=None) -> None:
        segments = url.split("?")[0].split("/")
        for i, segment in enumerate(segments):
            if not naming(segment):
                continue
            suffix = "." + segment.split(".", 1)[1] if "." in segment else ""
            for odd in SEGMENTS:
                path = "/".join([*segments[:i], odd + suffix, *segments[i + 1 :]])
                self.send(method, path, data=data)

    def odd_bodies(self, form: Form, filled: list[tuple[str, str]]) -> None:
        """What no page of ours sends but any client can: the form as JSON, each field a number,
        a list or an object (Flask-WTF reads JSON when the form is empty), and as multipart with
        each field a file."""
        for odd in (5, [1, 2], {"a": 1}, True):
            self.send("POST", form.action, json={name: odd for name, _value in filled})
        files = {name: (io.BytesIO(b"x"), "x.txt") for name, _value in filled}
        self.send("POST", form.action, data=files, content_type="multipart/form-data")

    def odd_forms(self) -> None:
        for form in sorted(self.forms, key=lambda f: any(word in f.action for word in LAST)):
            filled = form.filled()
            if form.method == "post":
                self.odd_paths(form.action, "POST", MultiDict(filled))
            self.submit(form, filled)
            self.submit(form, [])  # every field missing
            self.submit(form, [(name, value) for name, value in filled for _twice in (1, 2)])
            self.submit(form, [(name, GARBLED) for name in form.fields])
            tried = set()
            for name in form.fields:
                # name_pl, name_uk, name_en; opens_MO, opens_TU...: one of each is enough.
                stem = re.sub(r"_[A-Za-z]{2}$", "", name.rsplit("-", 1)[-1])
                if (stem, form.kinds[name]) in tried:
                    continue
                tried.add((stem, form.kinds[name]))
                others = [(key, value) for key, value in filled if key != name]
                self.submit(form, others)  # this field missing
                for value in BY_KIND.get(form.kinds[name], TEXT):
                    self.submit(form, [*others, (name, value)], odd=name)
                    if form.method == "get":  # a filter alone, as a bookmark gives it
                        self.submit(form, [(name, value)])
            if form.method == "post":
                self.odd_bodies(form, filled)
            undecodable = "&".join(f"{quote(name)}={UNDECODABLE}" for name in form.fields)
            if form.method == "get":
                self.send("GET", f"{form.action.split('?')[0]}?{undecodable}")
            else:
                kind = "application/x-www-form-urlencoded"
                self.send("POST", form.action, data=undecodable or "x=%ff", content_type=kind)

    def submit(self, form: Form, pairs: list[tuple[str, str]], odd: str | None = None) -> None:
        """Send ``pairs``; when ``odd`` was the odd field and the form comes back, everything else
        typed must come back with it (a refused form loses nothing)."""
        if form.method == "get":
            self.send("GET", f"{form.action.split('?')[0]}?{urlencode(pairs)}")
            return
        response = self.send("POST", form.action, data=MultiDict(pairs))
        page = response.get_data(as_text=True)
        if odd is None or f'action="{form.action}"' not in page:
            return
        for name, value in pairs:
            kept = form.kinds[name] not in TYPED or name == odd or escape(value.strip()) in page
            if not kept:
                self.failures.append(
                    f"{self.who} POST {form.action}: {name} lost when {odd} was odd"
                )


@pytest.fixture
def unhandled(app, monkeypatch):
    """The app's log of unhandled errors during the test; wrong codes and passwords keep being
    checked all along (no lock after five)."""
    monkeypatch.setitem(app.config, "SIGN_IN_MAX_FAILURES", 10**6)
    handler = Unhandled()
    logger = logging.getLogger("referral.errors")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@dataclass
class World:
    status_path: str  # of a person whose need was declined once, then accepted
    holder: str  # the slug of the organisation holding it
    declined_by: str
    referrals: list[str]  # every referral's staff page
    holder_page: str  # the holder's page for the coordinator: coverage, a token, a webhook
    password_link: str  # a one-time link not yet used


@pytest.fixture
def world(app, client, staff) -> World:
    """A person's legal need declined once, then accepted, with a note and a time proposed; a
    second request waiting for answers, a third that nobody covers; the holder's API token and
    webhook; a password link."""
    status_path = sent_request(client, "en", needs=["legal"], email="olena@example.org")
    sent_request(client, "en", needs=["legal", "housing"], phone="+48 601 222 333")
    sent_request(
        client, "en", needs=["housing"], city="other", voivodeship="28", phone="+48 602 333 444"
    )
    with app.app_context():
        referral = db.session.scalar(select(Referral).order_by(Referral.id))
        declined_by = referral.organisation.slug
        lifecycle.act(
            referral.id,
            user(f"staff@{declined_by}.example"),
            Action.DECLINE,
            reason_code="other",
            text="Not ours",
        )
        referral = db.session.get(Referral, referral.id)
        holder = referral.organisation.slug
        staff_member = user(f"staff@{holder}.example")
        lifecycle.act(referral.id, staff_member, Action.ACCEPT)
        lifecycle.add_note(referral, staff_member, "Called her.", shared=True)
        soon = utcnow() + timedelta(days=4)
        appointments.propose(referral, staff_member, soon, "in_person", "ul. Prosta 5")
        api_tokens.issue(referral.organisation_id, "CRM", read_only=False, by=None)
        webhooks.register(referral.organisation_id, "https://crm.example/hooks", by=None)
        holder_page = f"/admin/organisations/{referral.organisation_id}"
        password_link = accounts.issue_password_reset(user("staff@pfm.example").id, None)
        db.session.commit()
        referrals = [f"/staff/referrals/{i}" for i in db.session.scalars(select(Referral.id))]
    return World(status_path, holder, declined_by, referrals, holder_page, password_link)


def attack(visitor: Visitor, *seeds: str) -> list[str]:
    """Walk from ``seeds``, then send every page and form found with odd values: the failures."""
    visitor.walk(*seeds)
    assert visitor.pages, visitor.who
    visitor.odd_queries()
    for url in visitor.pages.values():
        visitor.odd_paths(url)
    visitor.odd_forms()
    return visitor.failures


def sent(visitors: list[Visitor]) -> set[str]:
    """The routes whose forms were sent."""
    return {shape(form.action.split("?")[0]) for visitor in visitors for form in visitor.forms}


def test_the_public_pages_and_forms(client, world, unhandled):
    scope = ("/en/", "/pl/", "/uk/", "/login", "/reset/", "/language")
    visitor = Visitor("anonymous", client, scope, unhandled)
    seeds = ("/", "/en/", "/uk/", "/pl/", "/login", f"/reset/{world.password_link}")
    failures = attack(visitor, *seeds, world.status_path)
    assert not failures, "\n".join(failures)
    on_the_status_page = ("message", "contact", "withdraw", "appointments/N/confirm")
    forms = {"/L/request", "/L/status/lost", "/login/forgot", "/reset/T", "/language"}
    assert {*forms, *(f"/L/status/T/{form}" for form in on_the_status_page)} <= sent([visitor])


def test_the_code_step_of_a_half_signed_in_visitor(app, world, coordinator_codes, unhandled):
    client = app.test_client()
    password_step = {"email": "coordinator@konsorcjum.example", "password": DEMO_PASSWORD}
    assert client.post("/login", data=password_step).headers["Location"] == "/login/code"
    visitor = Visitor("half signed in", client, ("/login/code",), unhandled)
    failures = attack(visitor, "/login/code")
    assert not failures, "\n".join(failures)
    assert sent([visitor]) == {"/login/code"}


def test_the_staff_pages_and_forms(login_as, world, unhandled):
    failures: list[str] = []
    seen: set = set()
    visitors = [
        Visitor(slug, login_as(slug), ("/staff", "/language"), unhandled, failures, seen)
        for slug in (world.holder, world.declined_by)
    ]
    for visitor in visitors:
        attack(visitor, "/staff/", *world.referrals)
    assert not failures, "\n".join(failures)
    steps = {f"/staff/referrals/N/{step}" for step in ("accept", "decline", "close", "notes")}
    assert {*steps, "/staff/referrals/N/appointment", "/staff/referrals/new"} <= sent(visitors)


def test_the_coordinator_s_pages_and_forms(coordinator, world, unhandled):
    visitor = Visitor("coordinator", coordinator, ("/admin", "/staff"), unhandled)
    failures = attack(visitor, "/admin/", world.holder_page, "/staff/", *world.referrals)
    assert not failures, "\n".join(failures)
    rooms = {"/admin/organisations/N", "/admin/organisations/new", "/admin/users/new"}
    filters = {"/admin/reports", "/admin/audit", "/admin/unmatched", "/admin/copy", "/staff/"}
    assert {*rooms, *filters, "/admin/referrals/N/route-by-hand", "/admin/erase"} <= sent([visitor])
