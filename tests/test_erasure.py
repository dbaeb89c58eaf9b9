"""Erasure leaves nothing: after the person withdraws, after the retention purge of ended requests
and after the purge of requests left open too long, no trace of the person's name, phone, e-mail,
story, the notes about them or the words staff wrote is left in the database — not in plain text,
not encrypted, not as a matching hash, not in SQLite's write-ahead log — while the reports keep
their numbers."""

import hashlib
from datetime import date, timedelta

from sqlalchemy import select

from referral import erasure, lifecycle, paging, report_tables, reports
from referral.extensions import db
from referral.handoff import OPEN_TOO_LONG, Action, Party, State, warsaw_date
from referral.mailer import deliver_pending
from referral.models import (
    DataAccess,
    EventText,
    FromPerson,
    HelpRequest,
    Note,
    OutboxMessage,
    Referral,
    ReferralEvent,
    utcnow,
)

from .helpers import intake, user
from .mailbox import Mailbox, _serve


def assert_erased(app, client, canaries, path):
    assert canaries.traces(app) == []
    assert client.get(path).status_code == 404  # the status link opens nothing
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        assert request.erased_at is not None
        assert (request.name, request.phone, request.email, request.description) == (None,) * 4
        assert (request.phone_match, request.email_match) == (None, None)
        for model in (Note, EventText, OutboxMessage):
            assert db.session.scalars(select(model)).all() == [], model
        # Only the record that the contact changed stays, without values.
        assert [(row.kind, row.body) for row in db.session.scalars(select(FromPerson))] == [
            ("contact_changed", None)
        ]
        assert db.session.scalars(select(ReferralEvent)).all()  # the coded log stays
        # Why each was offered stays, without the languages the person shared with the holder.
        reasons = [r for ref in db.session.scalars(select(Referral)) for r in ref.routing_reasons]
        assert {r["code"] for r in reasons} >= {"covers", "speaks"}
        assert [r["params"] for r in reasons if r["code"] == "speaks"] == [{}] * sum(
            r["code"] == "speaks" for r in reasons
        )


def report_numbers(app) -> list:
    today = utcnow().date()
    period = reports.Period(date(today.year - 1, 1, 1), date(today.year + 1, 12, 31))
    with app.test_request_context():
        return [(t.key, t.rows) for t in report_tables.Report(period, "en").tables()]


def test_withdrawal_leaves_no_trace_of_the_person(app, client, person):
    canaries, path = person.canaries, person.path
    assert canaries.traces(app)  # the test can see: the encrypted forms are there before
    confirmed = client.post(f"{path}/withdraw", data={"confirmed": "yes"})
    assert "your personal data was erased" in confirmed.get_data(as_text=True)
    assert_erased(app, client, canaries, path)


def test_retention_purge_of_an_ended_request_leaves_no_trace_and_keeps_the_reports(
    app, client, person, monkeypatch
):
    canaries, path = person.canaries, person.path
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        holder = user(f"staff@{referral.organisation.slug}.example")
        lifecycle.act(
            referral.id, holder, Action.CLOSE, outcome="resolved", text=canaries.staff_words
        )
    before = report_numbers(app)
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 0)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "Requests erased: 1 (1 ended, 0 open too long)" in result.output
    assert_erased(app, client, canaries, path)
    assert report_numbers(app) == before


def test_a_request_left_open_too_long_is_withdrawn_by_the_system_and_leaves_no_trace(
    app, client, person, monkeypatch
):
    canaries, path = person.canaries, person.path
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 0)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "Requests erased: 1 (0 ended, 1 open too long)" in result.output
    assert_erased(app, client, canaries, path)
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        last = referral.events[-1]
        assert referral.state == State.WITHDRAWN
        assert (last.party, last.reason_code) == (Party.SYSTEM, OPEN_TOO_LONG)


def test_requests_younger_than_the_limits_are_kept(app, client, person):
    canaries, path = person.canaries, person.path
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "Requests erased: 0" in result.output
    assert client.get(path).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(HelpRequest)).name == canaries.name


def test_erasure_alone_changes_no_number_in_the_reports(app, person):
    before = report_numbers(app)
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        erasure.erase(request, utcnow())
        db.session.commit()
    assert report_numbers(app) == before


class ErasingMailbox(Mailbox):
    """An SMTP server during whose delivery the person withdraws: the request is erased while
    the sender holds its mail."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app

    async def handle_DATA(self, server, session, envelope):
        with self.app.app_context():
            lifecycle.withdraw_request(db.session.scalar(select(HelpRequest)))
            db.session.remove()
        return await super().handle_DATA(server, session, envelope)


def test_a_mail_erased_while_it_is_being_sent_does_not_stop_the_sender(app, person):
    canaries = person.canaries
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        db.session.add(
            OutboxMessage(
                kind="accepted_person",
                request_id=request.id,
                to_address=canaries.email,
                subject="Your request",
                body="News.",
            )
        )
        db.session.commit()
    for box in _serve(app, ErasingMailbox(app)):
        with app.app_context():
            delivery = deliver_pending()
            assert (delivery.sent, delivery.failed) == (1, 0)
            assert db.session.scalars(select(OutboxMessage)).all() == []
        assert box.to(canaries.email)


def test_open_requests_near_the_limit_are_listed_for_the_coordinator(
    app, person, coordinator, monkeypatch
):
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 20)
    monkeypatch.setitem(app.config, "OPEN_RETENTION_WARNING_DAYS", 30)
    with app.app_context():
        reference = db.session.scalar(select(HelpRequest.reference))
    assert "1 open request will be withdrawn and erased soon" in coordinator.get(
        "/admin/"
    ).get_data(as_text=True)
    html = coordinator.get("/admin/retention").get_data(as_text=True)
    assert reference in html
    monkeypatch.setitem(app.config, "OPEN_RETENTION_WARNING_DAYS", 10)
    assert reference not in coordinator.get("/admin/retention").get_data(as_text=True)


def test_the_count_of_requests_soon_erased_stops_at_the_cap(app, person, coordinator, monkeypatch):
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 20)
    monkeypatch.setitem(app.config, "OPEN_RETENTION_WARNING_DAYS", 30)
    monkeypatch.setattr(paging, "COUNT_CAP", 1)
    with app.app_context():
        lifecycle.submit_request(intake("housing", name="Taras Melnyk", phone="+48 600 700 800"))
    home = coordinator.get("/admin/").get_data(as_text=True)
    assert "More than 1 open request will be withdrawn and erased soon" in home


def test_requests_soon_erased_are_listed_oldest_first(app, coordinator, monkeypatch):
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 20)
    monkeypatch.setitem(app.config, "OPEN_RETENTION_WARNING_DAYS", 30)
    with app.app_context():
        sent = [
            lifecycle.submit_request(
                intake("legal", "housing", phone=f"+48 600 700 80{days}"),
                now=utcnow() - timedelta(days=days),
            ).reference
            for days in (3, 9, 5)
        ]
    html = coordinator.get("/admin/retention").get_data(as_text=True)
    assert sorted(sent, key=html.index) == [sent[1], sent[2], sent[0]]  # 9, 5, 3 days ago


def test_a_requests_referrals_are_made_at_its_own_time(app, person):
    """``erasure.open_too_long`` finds old open requests through their open referrals' age."""
    with app.app_context():
        request = db.session.scalar(select(HelpRequest))
        assert request.referrals
        assert {referral.created_at for referral in request.referrals} == {request.created_at}


def test_the_status_page_says_when_the_data_will_be_erased(app, client, person, monkeypatch):
    path = person.path
    monkeypatch.setitem(app.config, "OPEN_RETENTION_DAYS", 100)
    with app.app_context():
        sent = db.session.scalar(select(HelpRequest.created_at))
    html = client.get(path).get_data(as_text=True)
    due_day = warsaw_date(sent + timedelta(days=100))  # the page says the day in Warsaw
    due = f"{due_day:%B} {due_day.day},"
    assert "If your request is still open on" in html and due in html


def test_the_purge_forgets_openings_older_than_their_retention(app, person, monkeypatch):
    runner = app.test_cli_runner()
    assert "openings of personal data forgotten: 0" in runner.invoke(args=["purge"]).output
    monkeypatch.setitem(app.config, "ACCESS_LOG_RETENTION_DAYS", 0)
    assert "openings of personal data forgotten: 1" in runner.invoke(args=["purge"]).output
    with app.app_context():
        assert db.session.scalars(select(DataAccess)).all() == []


def test_the_purge_forgets_sign_ins_and_spent_throttles_older_than_their_retention(
    app, client, staff, monkeypatch
):
    """The sign-in audit is kept as long as the access log; an account's count of wrong
    passwords, with no lock running and nobody trying for a month, is no longer needed."""
    from referral.models import SignInEvent, SignInThrottle

    client.post("/login", data={"email": "staff@nomada.example", "password": "wrong"})
    with app.app_context():
        [throttle] = db.session.scalars(select(SignInThrottle)).all()
        assert throttle.key != hashlib.sha256(b"password|staff@nomada.example").hexdigest()
        throttle.updated_at = utcnow() - timedelta(days=31)
        db.session.commit()
    monkeypatch.setitem(app.config, "ACCESS_LOG_RETENTION_DAYS", 0)
    output = app.test_cli_runner().invoke(args=["purge"]).output
    assert "sign-ins forgotten: 1" in output
    with app.app_context():
        assert db.session.scalars(select(SignInEvent)).all() == []
        assert db.session.scalars(select(SignInThrottle)).all() == []


def test_the_purge_forgets_staff_mail_and_webhook_deliveries_done_long_ago(
    app, client, staff, monkeypatch
):
    """A password link, a digest, an organisation's webhook deliveries: needed until sent (or
    given up) and for the coordinator's 30 days of "not delivered", not for ever."""
    from referral import webhooks
    from referral.models import Organisation, WebhookMessage

    client.post("/login/forgot", data={"email": "staff@nomada.example"})
    with app.app_context():
        for organisation in db.session.scalars(select(Organisation)):
            webhooks.register(organisation.id, "http://127.0.0.1:9/hook", by=None)
        db.session.commit()
        lifecycle.submit_request(intake("legal"))
        long_ago = utcnow() - timedelta(days=91)
        staff_mail = select(OutboxMessage).where(OutboxMessage.request_id.is_(None))
        done = [*db.session.scalars(staff_mail), *db.session.scalars(select(WebhookMessage))]
        assert {type(row) for row in done} == {OutboxMessage, WebhookMessage}
        for row in done:
            row.created_at, row.sent_at = long_ago, long_ago
        db.session.commit()
    client.post("/login/forgot", data={"email": "staff@pfm.example"})  # today's stays
    output = app.test_cli_runner().invoke(args=["purge"]).output
    assert f"deliveries forgotten: {len(done)}" in output
    with app.app_context():
        assert db.session.scalars(select(WebhookMessage)).all() == []
        [kept] = db.session.scalars(staff_mail).all()
        assert kept.created_at > long_ago


def test_no_note_is_written_about_a_person_once_they_are_erased(app, person, login_as, coordinator):
    """A note written after the erasure would hold words about the person that no purge reaches
    (it skips requests already erased), shown with no opening recorded: the holder of the closed
    case, the coordinator and the holder's system may no longer add one."""
    from .web.api_steps import bearer, token_for

    with app.app_context():
        referral = db.session.scalar(select(Referral))
        referral_id, holder = referral.id, referral.organisation.slug
        lifecycle.act(
            referral_id, user(f"staff@{holder}.example"), Action.CLOSE, outcome="resolved"
        )
    app.config["RETENTION_DAYS"], kept = 0, app.config["RETENTION_DAYS"]
    try:
        app.test_cli_runner().invoke(args=["purge"])
    finally:
        app.config["RETENTION_DAYS"] = kept
    note = {"body": "She moved to Prosta 7", "shared": "y"}
    page = login_as(holder).get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert f"/staff/referrals/{referral_id}/notes" not in page  # no form offered
    for client in (login_as(holder), coordinator):  # refused: the page says why
        client.post(f"/staff/referrals/{referral_id}/notes", data=note)
    answer = app.test_client().post(
        f"/api/v1/referrals/{referral_id}/notes",
        json={"body": "Phone 600111222", "shared": True},
        headers=bearer(token_for(app, holder)),
    )
    assert answer.get_json()["code"] == "note_not_allowed"
    with app.app_context():
        assert db.session.scalars(select(Note)).all() == []


def test_another_persons_erasure_during_a_batch_does_not_stop_the_sender(app, directory):
    """Person B withdraws while the sender hands over person A's mail: B's mail of the same batch
    is gone, and the sender goes on to C's instead of failing (C's waited for the claim to run
    out)."""
    with app.app_context():
        people = [
            lifecycle.submit_request(
                intake("legal", email=f"{who}@example.org", phone=None, contact_channel="email")
            ).request.id
            for who in ("a", "b", "c")
        ]

    class ErasingB(Mailbox):
        async def handle_DATA(self, server, session, envelope):
            if "a@example.org" in envelope.rcpt_tos:
                with app.app_context():
                    lifecycle.withdraw_request(db.session.get(HelpRequest, people[1]))
                    db.session.remove()
            return await super().handle_DATA(server, session, envelope)

    for box in _serve(app, ErasingB()):
        with app.app_context():
            delivered = deliver_pending()
        to_people = [m["To"] for m in box.messages if m["To"].endswith("@example.org")]
        assert to_people == ["a@example.org", "c@example.org"]
        assert delivered.failed == 0 and delivered.sent == len(box.messages)


def test_each_withdrawal_of_the_purge_is_stamped_when_it_is_written(app, directory, monkeypatch):
    """A long purge stamped every withdrawal with the moment it began: one written more than ten
    minutes later fell behind what the report tallies had already counted, and was never
    counted."""
    with app.app_context():
        sent = utcnow() - timedelta(days=400)
        for n in range(2):
            lifecycle.submit_request(intake("legal", phone=f"+48 600 100 20{n}"), now=sent)
        began = utcnow()
        clock = iter([began + timedelta(minutes=minutes) for minutes in (0, 0, 11, 11, 12, 12)])
        monkeypatch.setattr(lifecycle, "utcnow", lambda: next(clock, began + timedelta(hours=1)))
        assert lifecycle.withdraw_requests_open_too_long() == 2
        stamped = db.session.scalars(
            select(ReferralEvent.at).where(ReferralEvent.action == Action.WITHDRAW)
        ).all()
    assert len(stamped) == 2 and max(stamped) - min(stamped) >= timedelta(minutes=10)
