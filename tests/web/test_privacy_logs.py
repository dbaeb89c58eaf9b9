"""Personal data stays out of logs, error pages and e-mail subjects; what people type is escaped."""

import logging
import re
import urllib.parse
import urllib.request

import pytest

from referral import api_tokens, lifecycle
from referral.extensions import db
from referral.handoff import Action
from referral.models import ApiToken, OutboxMessage, Referral

from ..e2e.server import serving
from ..helpers import org, user
from .test_public import post_intake, status_path

CANARY = {
    "name": "Zqx-Canary-Name",
    "phone": "+48 512 999 111",
    "email": "zqx-canary@example.org",
    "description": "Zqx-Canary-Story about my landlord",
}
# The forms a canary may take once stored or shown.
TRACES = ("Zqx-Canary", "zqx-canary", "512999111", "512 999 111")


@pytest.fixture
def every_log_line(caplog):
    """Capture every logger at DEBUG, werkzeug's included, and the database's at INFO: the SQL
    statements, whose parameters ``hide_parameters`` hides. (SQLAlchemy's DEBUG level prints
    result rows by design; it is a debugging switch, not something a deployment turns on.)"""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in [*logging.root.manager.loggerDict, "werkzeug"]]
    disabled = [logger for logger in loggers if logger.disabled]
    for logger in loggers:
        caplog.set_level(logging.DEBUG, logger=logger.name)
        logger.disabled = False  # Alembic's fileConfig disables the loggers existing at upgrade
    for name in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.engine.Engine"):
        caplog.set_level(logging.INFO, logger=name)
    yield caplog
    for logger in disabled:
        logger.disabled = True


def leaks(text: str) -> list[str]:
    return [trace for trace in TRACES if trace in text]


def log_text(caplog) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


def test_personal_data_reaches_no_log_line_and_no_e_mail_subject(
    app, client, staff, every_log_line
):
    refused = post_intake(client, "en", consent=None, contact_channel="email", **CANARY)
    assert refused.status_code == 200  # shown back to the person who typed it, and only there
    response = post_intake(client, "en", contact_channel="email", **CANARY)
    path = status_path(response.get_data(as_text=True))
    client.get(path)
    with app.app_context():
        for referral in db.session.scalars(db.select(Referral)):
            if referral.state == "offered":
                holder = user(f"staff@{referral.organisation.slug}.example")
                lifecycle.act(referral.id, holder, Action.ACCEPT)
        messages = db.session.scalars(db.select(OutboxMessage)).all()
        assert any(m.to_address == CANARY["email"] for m in messages)  # the person is told
        for message in messages:
            assert leaks(message.subject) == []
            assert leaks(message.body) == []
    client.post(f"{path}/withdraw", data={"confirmed": "yes"})

    assert every_log_line.records  # the capture works
    assert leaks(log_text(every_log_line)) == []


def test_an_unexpected_failure_shows_and_logs_nothing_that_was_typed(
    client, directory, every_log_line, monkeypatch
):
    def broken(data, *args, **kwargs):
        raise RuntimeError(f"database exploded while saving {data.name} {data.description}")

    monkeypatch.setattr(lifecycle, "submit_request", broken)
    response = post_intake(client, "en", **CANARY)
    assert response.status_code == 500
    assert leaks(response.get_data(as_text=True)) == []
    assert "RuntimeError" in log_text(every_log_line)
    assert leaks(log_text(every_log_line)) == []


def test_a_database_error_while_writing_still_gets_the_error_page(app, coordinator, monkeypatch):
    """A write the database refused left the session waiting for a rollback: the error page, which
    reads the signed-in user, raised again (PendingRollbackError), and the visitor got the bare
    "Internal Server Error" of the server instead of the page in their language. PostgreSQL
    refused a NUL in an API token's name so."""

    def refused(organisation_id, name, read_only, by):
        db.session.add(ApiToken(organisation_id=organisation_id, name=name))  # no hash: NOT NULL
        db.session.flush()

    monkeypatch.setattr(api_tokens, "issue", refused)
    with app.app_context():
        nomada_id = org("nomada").id
    response = coordinator.post(
        f"/admin/organisations/{nomada_id}/api-tokens/new", data={"name": "CRM"}
    )
    assert response.status_code == 500
    assert "Sorry, this did not work." in response.get_data(as_text=True)
    assert coordinator.get("/admin/").status_code == 200  # and the next request works


def test_the_server_request_log_carries_no_personal_data(app, directory, every_log_line):
    form = {
        **CANARY,
        "needs": "legal",
        "city": "wroclaw",
        "consent": "y",
        "contact_channel": "phone",
    }
    with serving(app) as url:
        body = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(f"{url}/uk/request", data=body, timeout=10) as response:  # noqa: S310
            page = response.read().decode()
        with urllib.request.urlopen(url + status_path(page), timeout=10) as response:  # noqa: S310
            assert response.status == 200
    request_lines = [r.getMessage() for r in every_log_line.records if r.name == "werkzeug"]
    assert any('"POST /uk/request' in line for line in request_lines)
    assert leaks(log_text(every_log_line)) == []


SCRIPT = "<script>alert('x')</script>"


def test_what_a_person_typed_is_shown_escaped_on_the_status_page(client, directory):
    path = status_path(post_intake(client, "en", description=SCRIPT).get_data(as_text=True))
    html = client.get(path).get_data(as_text=True)
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_what_a_person_typed_is_shown_escaped_to_staff(app, client, login_as):
    post_intake(client, "en", needs=["legal"], name=SCRIPT, description=SCRIPT)
    with app.app_context():
        referral_id = db.session.scalar(db.select(Referral.id))
    html = login_as("nomada").get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert SCRIPT not in html
    assert re.search(r"&lt;script&gt;alert\(&#(39|x27);x&#(39|x27);\)&lt;/script&gt;", html)
