"""Messages to the person: the status link right after submission and news at each step, by
e-mail to a local SMTP server and by SMS to a local stand-in of SMSAPI.pl, in their language."""

import logging
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import text

from referral import lifecycle, mailer, person_messages, sms
from referral.extensions import db
from referral.handoff import Action, Outcome, State
from referral.models import HelpRequest, Organisation, OutboxMessage, utcnow
from referral.person_messages import Kind

from .helpers import intake, user

PHONE = "+48 600 100 200"
NUMBER = "48600100200"
EMAIL = "olena@example.com"
LINK = re.compile(r"https?://\S+/(\w\w)/status/([\w-]{43})")


def submit(language="uk", **details) -> lifecycle.SubmittedRequest:
    details = {"phone": PHONE, "email": EMAIL, "safe_to_message": True, **details}
    return lifecycle.submit_request(intake("legal", language=language, **details))


def messages_of(request: HelpRequest) -> list[OutboxMessage]:
    """Every message written to the person about ``request``, oldest first."""
    return list(
        db.session.scalars(
            db.select(OutboxMessage)
            .where(OutboxMessage.request_id == request.id, person_messages.to_a_person())
            .order_by(OutboxMessage.id)
        )
    )


def deliver() -> None:
    mailer.deliver_pending()
    sms.deliver_pending()


def person_mail(smtp_server, address=EMAIL):
    return smtp_server.to(address)


def test_a_sent_link_is_not_kept_in_the_database(app, ctx, directory, smtp_server, sms_gateway):
    """Only the link's hash is stored (decision 0005), so a copy of the database and its keys
    opens no status page: once the message went, its text with the link is not kept."""
    submitted = submit("uk")
    deliver()
    person_messages.send_fresh_link(submitted.request)
    db.session.commit()
    fresh_token = LINK.search(messages_of(submitted.request)[-1].body)[2]
    deliver()
    sent = messages_of(submitted.request)
    assert [m.channel for m in sent if m.sent_at] == ["email", "sms", "email", "sms"]
    for message in sent:
        assert submitted.status_token not in message.body and fresh_token not in message.body
        assert "/status/" not in message.body


def test_a_link_message_given_up_is_not_kept_either(app, ctx, directory, smtp_server):
    """Refused for good (an address that does not exist), the text will never be sent: its
    working link is not kept."""
    smtp_server.unknown.add(EMAIL)
    submitted = submit("uk", phone=None)
    mailer.deliver_pending()
    [mail] = messages_of(submitted.request)
    assert (mail.sent_at, mail.next_attempt_at) == (None, None)  # given up
    assert submitted.status_token not in mail.body and "/status/" not in mail.body


def test_the_status_link_reaches_the_person_by_email_and_sms_in_their_language(
    app, ctx, directory, smtp_server, sms_gateway
):
    submitted = submit("uk")
    deliver()
    [mail] = person_mail(smtp_server)
    body = mail.get_content()
    assert "посилання" in mail["Subject"] and submitted.reference in mail["Subject"]
    assert LINK.search(body).groups() == ("uk", submitted.status_token)
    [text_message] = sms_gateway.to(NUMBER)
    assert LINK.search(text_message).groups() == ("uk", submitted.status_token)
    assert "посилання" in text_message and sms.segments(text_message) <= 2
    assert sms_gateway.messages[0].sender == "Konsorcjum"
    assert sms_gateway.refusals == []


def test_the_link_in_the_message_opens_the_status_page(app, client, directory, smtp_server):
    with app.app_context():
        submit("pl")
        mailer.deliver_pending()
    language, token = LINK.search(person_mail(smtp_server)[0].get_content()).groups()
    assert client.get(f"/{language}/status/{token}").status_code == 200


def test_a_caseworkers_client_gets_the_link_too(ctx, staff, smtp_server, sms_gateway):
    caseworker = user("staff@pfm.example")
    data = intake("legal", email=EMAIL, phone=PHONE)
    submitted = lifecycle.submit_request(data, submitted_by=caseworker)
    deliver()
    assert submitted.status_token in person_mail(smtp_server)[0].get_content()
    assert submitted.status_token in sms_gateway.to(NUMBER)[0]


def test_only_what_was_given_is_used_and_a_landline_gets_no_sms(ctx, directory):
    landline = submit(email=None, phone="+48 22 628 10 00").request  # a Warsaw landline
    assert messages_of(landline) == []
    mobile = submit(email=None).request
    assert [m.channel for m in messages_of(mobile)] == ["sms"]


def test_the_message_is_encrypted_at_rest_and_erased_with_the_request(ctx, directory):
    submitted = submit()
    raw = db.session.execute(
        text("SELECT to_address, body FROM outbox_message WHERE kind LIKE 'person%'")
    ).all()
    assert len(raw) == 2
    for to_address, body in raw:
        assert submitted.status_token not in body and EMAIL not in to_address
        assert "600" not in to_address
    lifecycle.withdraw_request(submitted.request)
    assert messages_of(submitted.request) == []


def test_the_log_sender_masks_the_number_and_writes_no_word_of_the_message(
    app, ctx, directory, caplog
):
    submitted = submit(email=None)
    with caplog.at_level(logging.INFO, logger="referral"):
        assert sms.deliver_pending().sent == 1
    logged = caplog.text
    assert "+48…200" in logged and "/status/" not in logged
    assert submitted.status_token not in logged and "600100200" not in logged


def test_a_refusing_gateway_loses_nothing_and_backs_off(ctx, directory, sms_gateway):
    submit(email=None)
    sms_gateway.refuse = (401, {"error": 101, "message": "Authorization failed for +48600100200"})
    now = utcnow()
    assert sms.deliver_pending(now) == sms.Delivery(sent=0, failed=1)
    [message] = messages_of(db.session.scalar(db.select(HelpRequest)))
    assert message.last_error == "HTTP 401" and message.attempts == 1
    assert sms.deliver_pending(now).failed == 0  # not due yet

    sms_gateway.refuse = (200, {"error": 103, "message": "Not enough points"})
    assert sms.deliver_pending(now + timedelta(minutes=2)).failed == 1
    db.session.refresh(message)
    assert message.last_error == "SMSAPI error 103" and message.attempts == 2

    sms_gateway.refuse = None
    assert sms.deliver_pending(now + timedelta(hours=1)).sent == 1
    assert len(sms_gateway.to(NUMBER)) == 1


def test_a_number_the_gateway_refuses_is_not_tried_again(ctx, directory, sms_gateway):
    submit(email=None)
    sms_gateway.refuse = (200, {"error": 13, "message": "No correct phone numbers"})
    now = utcnow()
    assert sms.deliver_pending(now).failed == 1
    [message] = messages_of(db.session.scalar(db.select(HelpRequest)))
    assert (message.last_error, message.next_attempt_at) == ("SMSAPI error 13", None)
    sms_gateway.refuse = None
    assert sms.deliver_pending(now + timedelta(days=1)) == sms.Delivery()
    assert sms_gateway.to(NUMBER) == []


def test_an_unreachable_gateway_loses_nothing(app, ctx, directory):
    from .mailbox import free_port

    submit(email=None)
    app.config.update(SMS_BACKEND="smsapi", SMSAPI_URL=f"http://127.0.0.1:{free_port()}")
    try:
        assert sms.deliver_pending().failed == 1
    finally:
        app.config.update(SMS_BACKEND="log", SMSAPI_URL="https://api.smsapi.pl")
    [message] = messages_of(db.session.scalar(db.select(HelpRequest)))
    assert message.sent_at is None and message.last_error == "ConnectError"


def test_mail_and_sms_senders_leave_each_others_messages_alone(ctx, directory, smtp_server):
    request = submit().request
    assert mailer.deliver_pending().sent == 2  # the offer to nomada, the link to the person
    assert [m.sent_at is None for m in messages_of(request)] == [False, True]
    assert sms.deliver_pending().sent == 1
    assert {m["To"] for m in smtp_server.messages} == {EMAIL, "intake@nomada.example"}


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("[" * 80, 1),  # the extension set takes two septets
        ("[" * 81, 2),
        ("я" * 70, 1),
        ("я" * 71, 2),
        ("я" * 134, 2),
        ("я" * 135, 3),
        ("ą" + "a" * 69, 1),  # one Polish letter: the whole text is UCS-2
        ("😀" * 35, 1),  # outside the BMP: two UCS-2 units each
    ],
)
def test_segments_count_what_the_network_sends(text, parts):
    assert sms.segments(text) == parts


# --- news at each step ------------------------------------------------------------------------


def nomada_acts(referral_id: int, action: Action, **details) -> None:
    lifecycle.act(referral_id, user("staff@nomada.example"), action, **details)


def news(kind) -> list[OutboxMessage]:
    return db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == kind)).all()


def test_acceptance_names_the_organisation_its_contact_and_when(ctx, staff, smtp_server):
    submitted = submit("en", contact_channel="email")
    nomada_acts(submitted.request.referrals[0].id, Action.ACCEPT)
    mailer.deliver_pending()
    [mail] = [m for m in smtp_server.to(EMAIL) if "will contact you" in m["Subject"]]
    body = mail.get_content()
    assert "Nomada Association" in mail["Subject"]
    assert "Stowarzyszenie Nomada" in body and "https://nomada.info.pl/" in body
    assert "(E-mail), usually within 3 working days" in body
    assert submitted.status_token not in body and "/en/status/lost" in body
    assert [m.channel for m in news(person_messages.Kind.ACCEPTED)] == ["email"]  # as chosen


def test_where_it_is_not_safe_a_message_says_only_that_there_is_news(ctx, staff, sms_gateway):
    submitted = submit("uk", safe_to_message=False, email=None, contact_channel="telegram")
    nomada_acts(submitted.request.referrals[0].id, Action.ACCEPT)
    sms.deliver_pending()
    link, accepted = sms_gateway.to(NUMBER)
    assert submitted.status_token in link
    assert "новини" in accepted and "/uk/status/lost" in accepted
    for detail in ("Номада", "Nomada", "прав", "прийн"):
        assert detail not in accepted


def test_each_step_that_matters_gets_a_message(ctx, staff):
    submitted = submit("pl", email=None, contact_channel="sms")
    referral_id = submitted.request.referrals[0].id
    nomada_acts(referral_id, Action.DECLINE, reason_code="no_capacity")  # offered to hfpc next
    lifecycle.act(referral_id, user("staff@hfpc.example"), Action.ACCEPT)
    lifecycle.act(referral_id, user("staff@hfpc.example"), Action.CLOSE, outcome="resolved")
    kinds = [m.kind for m in messages_of(submitted.request)]
    assert kinds == [
        "person_status_link",
        "person_passed_on",
        "person_accepted",
        "person_closed",
    ]
    passed_on, accepted, closed = [m.body for m in messages_of(submitted.request)[1:]]
    assert "Helsińska Fundacja Praw Człowieka" in passed_on
    assert "Helsińska Fundacja Praw Człowieka" in accepted
    assert "zamkn" in closed.lower()


def test_unmatched_says_the_coordinator_looks_and_when(ctx, staff):
    referral = submit("en", email=None).request.referrals[0]
    # Every organisation in turn declines: the last decline leaves it unmatched.
    while referral.state == "offered":
        holder = user(f"staff@{referral.organisation.slug}.example")
        lifecycle.act(referral.id, holder, Action.DECLINE, reason_code="no_capacity")
    [message] = news(person_messages.Kind.UNMATCHED)
    assert "coordinator will write within 5 working days" in message.body


# --- lengths ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_every_text_message_fits_two_parts_in_every_language(app, ctx, staff, language):
    """With a 38-character PUBLIC_URL and the longest organisation name of the directory."""
    app.config["PUBLIC_URL"] = "https://pomoc.konsorcjum-migracyjne.pl"
    try:
        request = submit(language, email=None).request
        referral = request.referrals[0]
        referral.organisation = max(
            db.session.scalars(db.select(Organisation)), key=lambda o: len(o.name_in(language))
        )
        appointment = SimpleNamespace(
            starts_at=datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
            kind="in_person",
            place="ul. Marszałkowska 140/12, 00-061 Warszawa",
        )
        context = {
            "contact_days": 3,
            "unmatched_days": 5,
            "channel": None,
            "appointment": appointment,
            # Said beside passing on or still looking, when the case left the one who proposed it.
            "cancelled_appointment": appointment.starts_at,
        }
        for kind in person_messages.Kind:
            if kind in person_messages.NEUTRAL:
                person_messages.send_fresh_link(request)
                continue
            # A case closed before its appointment may take three parts: measured below.
            cancelled = None if kind == person_messages.Kind.CLOSED else appointment.starts_at
            for outcome in Outcome:
                said = person_messages.outcome_said(outcome)
                person_messages.notify(
                    request,
                    kind,
                    referral,
                    **said,
                    **context | {"cancelled_appointment": cancelled},
                )
        request.safe_to_message = False
        person_messages.notify(request, person_messages.Kind.ACCEPTED, referral, **context)
        db.session.commit()  # messages are written to the outbox at the commit
        bodies = [m.body for m in messages_of(request)]
        assert len(bodies) > len(person_messages.Kind)
        for body in bodies:
            assert sms.segments(body) <= 2, body
    finally:
        app.config["PUBLIC_URL"] = "http://127.0.0.1:5000"


# What a closed SMS must still say, in every language: what happened and, where the person is
# left without help, what to do.
OUTCOME_SAID = {
    "resolved": {"pl": ["zakończyła pomoc"], "uk": ["завершила допомогу"], "en": ["finished"]},
    "partly_resolved": {"pl": ["w części"], "uk": ["з частиною"], "en": ["part of"]},
    "not_reachable": {
        "pl": ["skontaktować", "nowe zgłoszenie"],
        "uk": ["зв’язатися", "новий запит"],
        "en": ["could not reach you", "new request"],
    },
    "not_eligible": {
        "pl": ["nie może w tym pomóc", "nowe zgłoszenie"],
        "uk": ["не може", "новий запит"],
        "en": ["cannot help", "new request"],
    },
    "referred_outside": {
        "pl": ["poza konsorcjum"],
        "uk": ["поза консорціумом"],
        "en": ["outside the consortium"],
    },
    "other": {"pl": ["zamknęła sprawę"], "uk": ["закрила справу"], "en": ["closed it"]},
}


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_closed_sms_says_what_happened_and_fits(ctx, directory, language, outcome):
    """Polish and Ukrainian letters leave 67 characters a part: the text kept to two parts must
    still say the outcome (for "could not reach you", the only useful sentence)."""
    referral = submit(language, email=None).request.referrals[0]
    person_messages.stepped(referral, State.ACCEPTED, State.CLOSED, outcome)
    db.session.commit()
    body = messages_of(referral.request)[-1].body
    assert referral.request.reference in body
    for words in OUTCOME_SAID[outcome][language]:
        assert words in body
    assert sms.segments(body) <= person_messages.SMS_MAX_PARTS, body


def test_every_outcome_is_checked_above():
    assert set(OUTCOME_SAID) == set(Outcome)


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_every_short_text_message_fits_and_keeps_what_it_is_for(app, ctx, staff, language):
    """The short form is sent when the full one takes more than two parts: measured here for
    every kind, with a long PUBLIC_URL, the longest organisation name and a long address."""
    app.config["PUBLIC_URL"] = "https://pomoc.konsorcjum-migracyjne.pl"
    try:
        request = submit(language, email=None).request
        organisation = max(
            db.session.scalars(db.select(Organisation)), key=lambda o: len(o.name_in(language))
        )
        starts_at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)  # 10:30 in Warsaw
        context = {
            "reference": request.reference,
            "language": language,
            "lost_url": person_messages.lost_url(language),
            "status_url": person_messages.status_url(language, "A" * 43),
            "config": app.config,
            "organisation": organisation,
            "contact_days": 3,
            "unmatched_days": 5,
            "channel": None,
            "appointment": SimpleNamespace(
                starts_at=starts_at, kind="in_person", place="ul. Marszałkowska 140/12, Warszawa"
            ),
            "cancelled_appointment": starts_at,
            **person_messages.outcome_said(Outcome.NOT_REACHABLE),
        }
        kept = {
            Kind.STATUS_LINK: [context["status_url"]],
            Kind.FRESH_LINK: [context["status_url"]],
            Kind.ACCEPTED: ["3"],
            Kind.PASSED_ON: ["10:30"],
            Kind.UNMATCHED: ["5", "10:30"],
            Kind.CLOSED: OUTCOME_SAID[Outcome.NOT_REACHABLE][language],
            Kind.APPOINTMENT: ["10:30"],
            person_messages.NEWS: [context["lost_url"]],
        }

        def short_form(template: str, **changes) -> str:
            return " ".join(render_template(template, short=True, **context | changes).split())

        with force_locale(language):
            for template, essentials in kept.items():
                # A case closed before its appointment says both, in three parts if need be
                # (below): the person must not come for nothing, nor miss what happened.
                cancelled = context["cancelled_appointment"] if template != Kind.CLOSED else None
                short = short_form(f"sms/{template}.txt", cancelled_appointment=cancelled)
                assert sms.segments(short) <= person_messages.SMS_MAX_PARTS, short
                for essential in [request.reference, *essentials]:
                    assert essential in short, short
            closed_early = short_form(f"sms/{Kind.CLOSED}.txt")
            assert sms.segments(closed_early) <= person_messages.SMS_MAX_PARTS + 1, closed_early
            for essential in [request.reference, "10:30", *kept[Kind.CLOSED]]:
                assert essential in closed_early, closed_early
    finally:
        app.config["PUBLIC_URL"] = "http://127.0.0.1:5000"


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_the_appointment_sms_ends_the_address_with_a_full_stop(ctx, directory, language):
    """The address does not run into the next sentence ("…00-061 Warszawa Odpowiedz…")."""
    request = submit(language, email=None).request
    place = "ul. Marszałkowska 140/12, 00-061 Warszawa"
    appointment = SimpleNamespace(
        starts_at=datetime(2026, 12, 3, 9, 30, tzinfo=UTC), kind="in_person", place=place
    )
    person_messages.notify(request, Kind.APPOINTMENT, request.referrals[0], appointment=appointment)
    db.session.commit()
    body = messages_of(request)[-1].body
    assert f"{place}. " in body, body


def pending_to_person(request: HelpRequest) -> list[OutboxMessage]:
    return db.session.scalars(
        db.select(OutboxMessage).where(
            OutboxMessage.request_id == request.id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.kind.in_(list(person_messages.Kind)),
        )
    ).all()


def test_a_message_not_sent_yet_goes_nowhere_the_person_no_longer_gives(
    ctx, directory, smtp_server, sms_gateway
):
    """The person changes their phone (the old one lost, or read by someone else) while the
    gateway was down: the link still waiting for the old number is not sent to it."""
    request = submit().request
    mailer.deliver_pending()  # the e-mail went; the text waits
    [waiting] = pending_to_person(request)
    assert waiting.channel == "sms"
    contact = lifecycle.Contact("+48 600 100 300", EMAIL, request.contact_channel, True)
    assert lifecycle.change_contact(request, contact) == ["phone"]
    deliver()
    assert sms_gateway.to(NUMBER) == [] and pending_to_person(request) == []
    assert len(person_mail(smtp_server)) == 1  # what went stays in the history


def test_a_message_not_sent_yet_is_not_sent_once_it_is_no_longer_safe(ctx, staff, sms_gateway):
    """Its words were written while it was safe to message the person (who helps, when)."""
    request = submit(email=None).request
    sms.deliver_pending()
    lifecycle.act(request.referrals[0].id, user("staff@nomada.example"), Action.ACCEPT)
    assert [m.kind for m in pending_to_person(request)] == ["person_accepted"]
    contact = lifecycle.Contact(request.phone, None, request.contact_channel, False)
    assert lifecycle.change_contact(request, contact) == ["safe_to_message"]
    sms.deliver_pending()
    assert pending_to_person(request) == []
    assert len(sms_gateway.to(NUMBER)) == 1  # the link, sent before


def test_one_phone_gets_at_most_three_links_an_hour_whoever_asks(limited_app, directory):
    """Typing someone's number into the form, again and again, withdrawing each request (which
    erases it and its messages), must not flood their phone: the links to one contact are
    counted by its keyed hash, whichever request they are about, in the limits' store."""
    from .sms_gateway import gateway_for

    with gateway_for(limited_app) as gateway, limited_app.app_context():
        sent_by = []
        for need in ("legal", "housing", "language", "employment", "information"):
            submitted = lifecycle.submit_request(intake(need, phone=PHONE, email=None))
            sent_by.append(submitted.link_sent_by)
            sms.deliver_pending()
            lifecycle.withdraw_request(submitted.request)
        assert len(gateway.to(NUMBER)) == 3
        assert sent_by == [("sms",)] * 3 + [()] * 2  # the confirmation says so
        kept = lifecycle.submit_request(intake("legal", phone=PHONE, email=EMAIL))
        assert kept.link_sent_by == ("email",)  # another contact has its own count
        # The lost-link page: within the budget, nothing is replaced: the link still opens.
        assert person_messages.send_fresh_link(kept.request, "sms") == 0
        assert lifecycle.find_request_by_token(kept.status_token) is not None


@pytest.mark.parametrize(
    "language, days, said",
    [
        ("pl", 1, "w ciągu 1 dnia roboczego"),
        ("pl", 3, "w ciągu 3 dni roboczych"),
        ("uk", 1, "протягом 1 робочого дня"),
        ("uk", 21, "протягом 21 робочого дня"),
        ("uk", 5, "протягом 5 робочих днів"),
        ("en", 1, "within 1 working day."),
    ],
)
def test_the_days_promised_read_right_for_any_number(
    app, ctx, staff, monkeypatch, language, days, said
):
    """The promise read "within 1 dni roboczych" with one working day configured: one form for
    every number, tuned to the default three."""
    monkeypatch.setitem(app.config, "CONTACT_WORKING_DAYS", days)
    submitted = submit(language, email=None, contact_channel="sms")
    nomada_acts(submitted.request.referrals[0].id, Action.ACCEPT)
    [message] = news(person_messages.Kind.ACCEPTED)
    assert said in message.body
