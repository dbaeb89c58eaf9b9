"""Notifications through the outbox, delivered by ``send-mail`` to a real local SMTP server."""

from datetime import timedelta

from referral import lifecycle, mailer, notifications, outbox
from referral.extensions import db
from referral.handoff import Action
from referral.models import OutboxMessage, Referral, utcnow

from .helpers import intake, user

STORY = "My landlord threatens to throw us out"


def refer(email=None, language="uk") -> int:
    """pfm's caseworker refers a person needing legal help in Wrocław (offered to nomada); with
    an ``email``, the person gets mail too (person_messages: their link, then news)."""
    caseworker = user("staff@pfm.example")
    caseworker.language = "en"
    data = intake(
        "legal",
        language=language,
        languages=["uk", "ru"],
        phone="+48512345678",
        email=email,
        contact_channel="email" if email else "phone",
        description=STORY,
    )
    return lifecycle.submit_request(data, submitted_by=caseworker).request.referrals[0].id


def nomada_acts(referral_id: int, action: Action, **details) -> None:
    lifecycle.act(referral_id, user("staff@nomada.example"), action, **details)


def pending() -> list[OutboxMessage]:
    """The e-mails not sent yet (the person's text messages wait for the SMS sender)."""
    return db.session.scalars(
        db.select(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.channel == "email"
        )
    ).all()


def test_offer_mails_the_organisations_staff(ctx, staff, smtp_server):
    referral_id = refer()
    assert mailer.deliver_pending().sent == 1
    [offer] = smtp_server.messages
    assert offer["X-Envelope-To"] == "staff@nomada.example"
    assert f"/staff/referrals/{referral_id}" in offer.get_content()
    assert "waits for your answer" in offer["Subject"] or "czeka" in offer["Subject"]
    assert STORY not in offer.get_content()


def test_accept_mails_the_caseworker_and_the_person_in_their_language(ctx, staff, smtp_server):
    referral_id = refer(email="olena@example.com")
    nomada_acts(referral_id, Action.ACCEPT)
    mailer.deliver_pending()
    [to_caseworker] = smtp_server.to("staff@pfm.example")
    assert "was accepted" in to_caseworker["Subject"]
    assert "Nomada" in to_caseworker.get_content()
    link, news = smtp_server.to("olena@example.com")
    assert "посилання" in link["Subject"] and "Новини" in news["Subject"]
    body = news.get_content()
    # Not safe to message this person: nothing sensitive, not the need nor who helps.
    for detail in (STORY, "+48512345678", "Nomada", "Номада", "правов", "Legal"):
        assert detail not in body and detail not in news["Subject"]


def test_person_without_an_email_gets_no_mail(ctx, staff, smtp_server):
    referral_id = refer(email=None)
    nomada_acts(referral_id, Action.ACCEPT)
    mailer.deliver_pending()
    assert {m["To"] for m in smtp_server.messages} == {"staff@nomada.example", "staff@pfm.example"}


def test_close_mails_the_caseworker(ctx, staff, smtp_server):
    referral_id = refer()
    nomada_acts(referral_id, Action.ACCEPT)
    nomada_acts(referral_id, Action.CLOSE, outcome="resolved")
    mailer.deliver_pending()
    subjects = [m["Subject"] for m in smtp_server.to("staff@pfm.example")]
    assert any("was closed" in s for s in subjects)


def test_decline_offers_the_next_organisation_by_mail(ctx, staff, smtp_server):
    referral_id = refer()
    nomada_acts(referral_id, Action.DECLINE, reason_code="no_capacity")
    mailer.deliver_pending()
    assert [m["To"] for m in smtp_server.messages] == [
        "staff@nomada.example",
        "staff@hfpc.example",
    ]


def test_each_message_is_sent_once_and_marked_sent(ctx, staff, smtp_server):
    refer()
    mailer.deliver_pending()
    mailer.deliver_pending()
    assert len(smtp_server.messages) == 1
    assert pending() == []


def test_refusing_server_loses_nothing_and_the_message_goes_later(
    app, ctx, staff, failing_smtp_server
):
    refer()
    now = utcnow()
    assert mailer.deliver_pending(now) == mailer.Delivery(sent=0, failed=1)
    [message] = pending()
    assert message.attempts == 1
    assert message.last_error == "SMTPDataError 451"
    assert message.next_attempt_at >= now + timedelta(minutes=1)
    assert mailer.deliver_pending(now).failed == 0  # not due yet: no hammering

    failing_smtp_server.reply = "250 OK"
    assert mailer.deliver_pending(now + timedelta(minutes=2)).sent == 1
    assert [m["To"] for m in failing_smtp_server.messages] == ["staff@nomada.example"]


def test_a_mailbox_that_does_not_exist_is_not_tried_again(ctx, staff, smtp_server):
    """A 5xx to the recipient is the server's "do not repeat" (RFC 5321): one attempt, kept
    with its reason, no next try; the next mail, to an address that works, still goes."""
    smtp_server.unknown.add("staff@nomada.example")
    referral_id = refer()
    now = utcnow()
    assert mailer.deliver_pending(now) == mailer.Delivery(sent=0, failed=1)
    [message] = pending()
    assert (message.attempts, message.last_error) == (1, "SMTPRecipientsRefused")
    assert message.next_attempt_at is None
    assert mailer.deliver_pending(now + timedelta(days=1)) == mailer.Delivery()
    assert smtp_server.refused == ["staff@nomada.example"]

    nomada_acts(referral_id, Action.DECLINE, reason_code="no_capacity")
    mailer.deliver_pending()
    assert len(smtp_server.to("staff@hfpc.example")) == 1


def test_a_refused_sender_is_the_sites_setting_and_is_tried_again(ctx, staff, smtp_server):
    refused = mailer.smtplib.SMTPSenderRefused(550, b"not allowed", "referral@example.org")
    assert not mailer._refused_for_good(refused)
    assert mailer._refused_for_good(mailer.smtplib.SMTPDataError(554, b"spam"))
    assert not mailer._refused_for_good(mailer.smtplib.SMTPDataError(451, b"later"))


def test_a_mail_not_delivered_for_five_days_is_given_up(ctx, staff, failing_smtp_server):
    refer()
    [message] = pending()
    written = message.created_at
    mailer.deliver_pending(written + timedelta(days=4, hours=23))
    assert pending()[0].next_attempt_at is not None
    mailer.deliver_pending(written + timedelta(days=5, hours=1))
    [message] = pending()
    assert (message.attempts, message.next_attempt_at) == (2, None)
    assert mailer.deliver_pending(written + timedelta(days=30)) == mailer.Delivery()


def test_unreachable_server_loses_nothing_and_backs_off(app, ctx, staff):
    from .mailbox import free_port

    refer()
    before = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listens
    try:
        now = utcnow()
        mailer.deliver_pending(now)
        mailer.deliver_pending(now + timedelta(minutes=1))
    finally:
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = before
    [message] = pending()
    assert message.attempts == 2
    assert message.last_error == "ConnectionRefusedError"
    assert message.next_attempt_at >= now + timedelta(minutes=3)


def test_error_kept_on_a_message_never_quotes_the_address(ctx, staff):
    refused = mailer.smtplib.SMTPRecipientsRefused({"olena@example.com": (550, b"no such user")})
    assert "olena" not in mailer._error_of(refused)


def test_back_off_doubles_up_to_six_hours():
    delays = [outbox.retry_delay(n) for n in (1, 2, 3, 4, 20)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[4] == timedelta(hours=6)


def test_two_senders_never_claim_the_same_message(ctx, staff):
    refer()
    refer()
    now = utcnow()
    mail = OutboxMessage.channel == "email"
    first = outbox.claim(OutboxMessage, now, mail)
    second = outbox.claim(OutboxMessage, now, mail)
    assert len(first) == 2 and second == []
    # A sender that died holding a claim: its messages go out once the claim runs out.
    later = now + outbox.CLAIM_FOR + timedelta(seconds=1)
    assert len(outbox.claim(OutboxMessage, later, mail)) == 2


def test_send_mail_command_reports_what_it_did(app, staff, smtp_server):
    with app.app_context():
        refer()
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0
    assert "Sent: 1" in result.output
    assert len(smtp_server.messages) == 1


def test_a_mail_is_written_at_the_commit_and_a_rollback_forgets_it(ctx, staff):
    referral = db.session.get(Referral, refer())
    written = len(pending())
    notifications.person_wrote(referral)
    assert len(pending()) == written  # queued, not in the outbox before the commit
    db.session.rollback()
    db.session.commit()
    assert len(pending()) == written
    notifications.person_wrote(referral)
    db.session.commit()
    assert [m.kind for m in pending()].count("person_wrote") == 1


def test_the_mails_of_a_request_being_erased_are_not_written(ctx, staff):
    referral = db.session.get(Referral, refer())
    notifications.person_wrote(referral)
    outbox.forget(referral.request)
    db.session.commit()
    assert "person_wrote" not in [m.kind for m in pending()]


def test_a_savepoint_rolled_back_forgets_only_the_mails_queued_inside_it(ctx, staff):
    referral = db.session.get(Referral, refer())
    notifications.person_wrote(referral)  # queued before the savepoint: kept
    savepoint = db.session.begin_nested()
    notifications.unmatched(referral, tried=True)
    savepoint.rollback()
    db.session.commit()
    kinds = [m.kind for m in pending()]
    assert kinds.count("person_wrote") == 1
    assert "unmatched_caseworker" not in kinds


# --- who hears about a case -----------------------------------------------------------------------


def test_a_caseworker_no_longer_active_hears_nothing_more_of_the_case(ctx, staff, smtp_server):
    referral_id = refer()
    user("staff@pfm.example").active = False  # left the organisation
    db.session.commit()
    nomada_acts(referral_id, Action.ACCEPT)
    assert "staff@pfm.example" not in [m.to_address for m in pending()]


def test_a_colleague_moved_to_another_organisation_leaves_its_cases_behind(ctx, staff, smtp_server):
    from referral import accounts
    from referral.models import AdminEvent, Organisation

    nomada = user("staff@nomada.example").organisation
    colleague = accounts.create_user("olga@nomada.example", "x" * 16, "Olga", nomada.id)
    db.session.commit()
    referral_id = refer()
    nomada_acts(referral_id, Action.ACCEPT, assignee_id=colleague.id)
    other = db.session.scalar(db.select(Organisation).where(Organisation.slug == "pfm"))
    accounts.change_role(colleague.id, "staff", other.id, by=None)
    referral = db.session.get(Referral, referral_id)
    assert referral.assigned_user_id is None  # no longer theirs to work on
    changed = db.session.scalars(
        db.select(AdminEvent).where(AdminEvent.action == "role_changed")
    ).one()  # the audit says which cases they left, as it says the organisation they left
    assert changed.before["cases"] == [referral.request.reference] and changed.after["cases"] == []
    notifications.person_wrote(referral)
    db.session.commit()
    addresses = [m.to_address for m in pending() if m.kind == "person_wrote"]
    assert addresses == [nomada.email]


def test_a_mail_says_when_it_was_written_and_that_nobody_should_answer_it(
    app, ctx, staff, smtp_server
):
    """Date: when it was written (a retry hours later still says then). Auto-Submitted and
    Exchange's suppression: staff mailboxes' out-of-office replies do not come back. Message-ID:
    of this site, and new after a database restored from a backup gives the outbox's ids again
    (mail clients drop a second message of a Message-ID they have seen)."""
    refer()
    [written] = pending()
    assert mailer.deliver_pending().sent == 1
    [offer] = smtp_server.messages
    assert abs(offer["Date"].datetime - written.created_at) < timedelta(seconds=1)
    assert offer["Auto-Submitted"] == "auto-generated"
    assert offer["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    site = app.config["PUBLIC_URL"].split("://")[1].split(":")[0].split("/")[0]
    assert offer["Message-ID"].startswith(f"<outbox-{written.id}.")
    assert offer["Message-ID"].endswith(f"@{site}>")

    written.created_at += timedelta(hours=1)  # the same id, written again after a restore
    written.sent_at = None
    db.session.commit()
    mailer.deliver_pending()
    assert smtp_server.messages[1]["Message-ID"] != offer["Message-ID"]
