"""An appointment at the handoff: the organisation holding an accepted case proposes when and
where, the person sees it on the status page and gets it by e-mail with an .ics file, confirms it
or asks for another time, and staff see each step; the place and the person's words are erased
with the request."""

import json
import logging
import re
from datetime import datetime, timedelta

import icalendar
import pytest
from sqlalchemy import func, select

from referral import lifecycle, mailer, sms
from referral.extensions import db
from referral.handoff import WARSAW, Action
from referral.models import Appointment, AppointmentStep, OutboxMessage, Referral, utcnow

from ..helpers import intake, user
from .staff_steps import english_staff  # noqa: F401 - fixture

ADDRESS = "ul. Kanarkowa 7/3, Wrocław"
WORDS = "Po 15:00 w czwartek"


@pytest.fixture
def case(app, staff):
    """A person (Ukrainian, with an e-mail) whose legal need nomada accepted; gives the referral
    id and the status page's path."""
    with app.app_context():
        submitted = lifecycle.submit_request(
            intake("legal", email="olena@example.com", safe_to_message=True)
        )
        referral_id = submitted.request.referrals[0].id
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
        db.session.execute(db.delete(OutboxMessage))
        db.session.commit()
        return referral_id, f"/uk/status/{submitted.status_token}"


def in_three_days() -> datetime:
    moment = (utcnow() + timedelta(days=3)).astimezone(WARSAW)
    return moment.replace(hour=10, minute=30, second=0, microsecond=0)


def propose(client, referral_id: int, **changes):
    when = in_three_days().strftime("%Y-%m-%dT%H:%M")
    data = {"when": when, "kind": "in_person", "place": ADDRESS, **changes}
    return client.post(f"/staff/referrals/{referral_id}/appointment", data=data)


def answer(client, status: str, referral_id: int, how: str, **data):
    """The person's answer ("confirm", "another-time") to the time their page shows them, as their
    browser sends it: with the number of that proposal, read from the page."""
    page = client.get(status).get_data(as_text=True)
    sequence = re.search(r'name="sequence" type="hidden" value="(\d+)"', page)[1]
    return client.post(
        f"{status}/appointments/{referral_id}/{how}", data={"sequence": sequence, **data}
    )


def test_the_holder_proposes_and_the_person_gets_it_by_email_with_a_calendar_file(
    app, login_as, case, smtp_server
):
    referral_id, _status = case
    nomada = login_as("nomada")
    assert propose(nomada, referral_id).status_code == 302
    page = nomada.get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert ADDRESS in page and 'id="appointment"' in page

    with app.app_context():
        mailer.deliver_pending()
    [mail] = smtp_server.to("olena@example.com")
    assert "зустріч" in mail["Subject"].lower() or "Ваша" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert ADDRESS in body
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    [event] = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    assert event.decoded("dtstart") == in_three_days()
    assert str(event["location"]) == ADDRESS
    assert event["sequence"] == 0


def test_the_person_sees_it_confirms_it_and_the_holder_hears(
    app, client, login_as, case, smtp_server
):
    referral_id, status = case
    nomada = login_as("nomada")
    propose(nomada, referral_id)
    page = client.get(status).get_data(as_text=True)
    assert ADDRESS in page and f"appointments/{referral_id}.ics" in page
    # The day of the week, the date and the hour, as people say them: no seconds, no zone's name.
    shown = re.search(r'class="appointment-when"><strong>([^<]*)</strong>', page)[1]
    weekday = ["понеділок", "вівторок", "середа", "четвер", "пʼятниця", "субота", "неділя"]
    when = in_three_days()
    month = shown.split()[2]
    expected = f"{weekday[when.weekday()]}, {when.day} {month} {when.year} р., 10:30"
    assert " ".join(shown.replace("\u202f", " ").split()) == expected
    calendar = client.get(f"{status}/appointments/{referral_id}.ics")
    assert calendar.mimetype == "text/calendar"
    assert "Kanarkowa 7/3" in calendar.get_data(as_text=True)
    assert calendar.headers["Cache-Control"] == "no-store"

    answered = answer(client, status, referral_id, "confirm")
    assert answered.status_code == 200
    assert "Дякуємо" in answered.get_data(as_text=True)

    with app.app_context():
        mailer.deliver_pending()
    [heard] = smtp_server.to("staff@nomada.example")
    assert "confirmed" in heard["Subject"] or "potwierdz" in heard["Subject"].lower()
    steps = nomada.get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert steps.count("<li><time") >= 2


def test_asking_for_another_time_keeps_the_words_for_the_holder_and_erasure_takes_them(
    app, client, login_as, case
):
    referral_id, status = case
    nomada = login_as("nomada")
    propose(nomada, referral_id)
    answered = answer(client, status, referral_id, "another-time", words=WORDS)
    assert answered.status_code == 200
    assert WORDS in nomada.get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    # The time asked to be changed is no longer shown as the appointment, nor offered to save.
    page = client.get(status).get_data(as_text=True)
    assert "Ви попросили про інший час замість" in page
    assert 'class="appointment-when"' not in page and ".ics" not in page
    # A new proposal replaces it; the calendar replaces its entry (a higher SEQUENCE).
    assert (
        propose(nomada, referral_id, kind="online", place="https://meet.example/abc").status_code
        == 302
    )
    with app.app_context():
        appointment = db.session.scalar(select(Appointment))
        assert appointment.sequence == 1 and appointment.person_words is None

    asked = client.post(f"{status}/withdraw", data={"confirmed": "no"}).get_data(as_text=True)
    assert "Вашу зустріч теж буде скасовано." in asked  # the step says what it takes with it
    client.post(f"{status}/withdraw", data={"confirmed": "yes"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0
        codes = db.session.scalars(select(AppointmentStep.code).order_by(AppointmentStep.id))
        # The withdrawal cancelled it: that step stays too, the time and place are gone.
        assert list(codes) == ["proposed", "change_requested", "proposed", "cancelled"]


def next_spring_gap() -> str:
    """02:30 on the next last Sunday of March, an hour Warsaw's clocks skip."""
    now = utcnow().astimezone(WARSAW)
    for year in (now.year, now.year + 1):
        sunday = max(d for d in range(25, 32) if datetime(year, 3, d).weekday() == 6)
        gap = datetime(year, 3, sunday, 2, 30)
        if gap > now.replace(tzinfo=None) + timedelta(days=1):
            return gap.strftime("%Y-%m-%dT%H:%M")
    raise AssertionError("no spring gap within a year")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # An hour the clocks skip was taken as the next one, unsaid: staff and person read 03:30.
        ({"when": next_spring_gap()}, "This time does not exist in Poland"),
        ({"when": "2020-01-01T10:00"}, "Please choose a time that has not passed."),
        ({"when": "tomorrow"}, "Please give the date and the time."),
        # The last minute Python knows has no hour after it for the calendar file: it was a 500.
        ({"when": "9999-12-31T23:59"}, "Please choose a time within the next year."),
        ({"when": "2062-01-15T10:00"}, "Please choose a time within the next year."),
        ({"place": ""}, "Please give the address where you will meet."),
        ({"kind": "online", "place": "meet me"}, "Please give the link to join"),
    ],
)
def test_a_wrong_proposal_is_refused_on_the_form(app, login_as, case, changes, message):
    referral_id, _status = case
    with app.app_context():
        user("staff@nomada.example").language = "en"
        db.session.commit()
    response = propose(login_as("nomada"), referral_id, **changes)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_a_phone_call_needs_no_place(app, client, login_as, case):
    referral_id, status = case
    assert propose(login_as("nomada"), referral_id, kind="phone", place="").status_code == 302
    assert "зателефонують" in client.get(status).get_data(as_text=True)


def test_only_the_holder_of_an_accepted_case_proposes(app, login_as, staff):
    with app.app_context():
        referral_id = lifecycle.submit_request(intake("legal")).request.referrals[0].id
    nomada = login_as("nomada")
    page = nomada.get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert "/appointment" not in page  # offered, not accepted yet: no form
    assert propose(nomada, referral_id).status_code == 409  # refused, the page as it is
    assert propose(login_as("hfpc"), referral_id).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0


def test_answers_from_the_status_page_are_rate_limited(app, limited_app, case):
    referral_id, status = case
    with app.app_context():
        lifecycle_referral = db.session.get(lifecycle.Referral, referral_id)
        from referral import appointments

        appointments.propose(
            lifecycle_referral, user("staff@nomada.example"), in_three_days(), "phone", None
        )
    client = limited_app.test_client()
    answers = [
        client.post(
            f"{status}/appointments/{referral_id}/confirm", data={"sequence": 0}
        ).status_code
        for _ in range(11)
    ]
    assert answers[:10] == [200] * 10 and answers[10] == 429
    # Refused, the confirmation says so at the top, with the focus, not under the other form.
    refused_confirmation = client.post(
        f"{status}/appointments/{referral_id}/confirm", data={"sequence": 0}
    ).get_data(as_text=True)
    summary = re.search(
        r'<div class="error-summary"[^>]*autofocus>(.*?)</div>', refused_confirmation, re.S
    )
    assert summary is not None and "<p>" in summary[1], refused_confirmation
    assert f'id="words-{referral_id}-error"' not in refused_confirmation
    assert "<title>Error:" in refused_confirmation or "<title>Помилка:" in refused_confirmation
    words = "Any Thursday after 16:00, please"
    refused = client.post(
        f"{status}/appointments/{referral_id}/another-time", data={"sequence": 0, "words": words}
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429  # the words come back in their box, saying when to send
    assert f"{words}</textarea>" in page and f'id="words-{referral_id}-error"' in page


def accepted_case_without_email(app) -> int:
    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal", email=None, safe_to_message=True))
        referral_id = submitted.request.referrals[0].id
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
        db.session.execute(db.delete(OutboxMessage))
        db.session.commit()
        return referral_id


def test_a_person_without_an_email_gets_the_appointment_by_text(app, login_as, staff, sms_gateway):
    referral_id = accepted_case_without_email(app)
    assert propose(login_as("nomada"), referral_id).status_code == 302
    with app.app_context():
        sms.deliver_pending()
    [text] = sms_gateway.to("48600100200")
    assert "10:30" in text and ADDRESS in text and sms.segments(text) <= 2
    assert "зустріч" in text


def test_where_it_is_not_safe_the_appointment_says_only_that_there_is_news(
    app, login_as, case, smtp_server, sms_gateway
):
    referral_id, _status = case
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        referral.request.safe_to_message = False
        db.session.commit()
    assert propose(login_as("nomada"), referral_id).status_code == 302
    with app.app_context():
        mailer.deliver_pending()
        sms.deliver_pending()
    sent = [m.get_body(("plain",)).get_content() for m in smtp_server.to("olena@example.com")]
    sent += sms_gateway.to("48600100200")
    assert sent and all(ADDRESS not in text and "10:30" not in text for text in sent)


# --- in the person's copy of their data -------------------------------------------------------

HEADINGS = {"pl": "Twoje spotkanie", "uk": "Ваша зустріч", "en": "Your appointment"}


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_the_persons_copy_gives_the_appointment_and_its_steps_never_the_staff_member(
    app, client, login_as, case, language
):
    referral_id, status = case
    with app.app_context():
        user("staff@nomada.example").name = "Anna Staff-Member"
        db.session.commit()
    propose(login_as("nomada"), referral_id)
    answer(client, status, referral_id, "another-time", words=WORDS)
    status = status.replace("/uk/", f"/{language}/")

    page = client.get(f"{status}/copy").get_data(as_text=True)
    assert HEADINGS[language] in page and ADDRESS in page and WORDS in page
    copy = json.loads(client.get(f"{status}/copy.json").get_data(as_text=True))
    [need] = copy["needs"]
    appointment = need["appointment"]
    assert datetime.fromisoformat(appointment["starts_at"]) == in_three_days()
    assert appointment["kind"]["code"] == "in_person" and appointment["place"] == ADDRESS
    assert appointment["organisation"] == need["organisation"]
    assert appointment["state"]["code"] == "change_requested"
    assert appointment["your_words"] == WORDS
    steps = appointment["steps"]
    assert [step["step"]["code"] for step in steps] == ["proposed", "change_requested"]
    assert all(step["at"] and step["starts_at"] for step in steps)
    assert set(steps[0]) == {"step", "at", "starts_at"}  # who proposed it is not the person's
    for staff_member in ("Anna Staff-Member", "staff@nomada.example"):
        assert staff_member not in page and staff_member not in json.dumps(copy)


def test_a_copy_without_an_appointment_shows_none_and_an_erased_copy_is_gone(
    app, client, login_as, case
):
    referral_id, status = case
    assert HEADINGS["uk"] not in client.get(f"{status}/copy").get_data(as_text=True)
    [need] = json.loads(client.get(f"{status}/copy.json").get_data(as_text=True))["needs"]
    assert need["appointment"] is None

    propose(login_as("nomada"), referral_id)
    client.post(f"{status}/withdraw", data={"confirmed": "yes"})
    assert client.get(f"{status}/copy").status_code == 404
    assert client.get(f"{status}/copy.json").status_code == 404


# The steps in the person's copy are told to them, in the status page's words; the staff's
# third-person labels are not theirs.
YOUR_STEPS = {
    "pl": ("Organizacja zaproponowała ten termin.", "Ten termin jest potwierdzony."),
    "uk": ("Організація запропонувала цей час.", "Ви підтвердили цей час."),
    "en": ("The organisation proposed this time.", "You confirmed this time."),
}
STAFF_LABELS = {
    "pl": ("Zaproponowano spotkanie", "Osoba potwierdziła spotkanie"),
    "uk": ("Запропоновано зустріч", "Людина підтвердила зустріч"),
    "en": ("Appointment proposed", "The person confirmed the appointment"),
}


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_the_copy_tells_the_person_each_step_in_their_own_words_not_the_staffs(
    app, client, login_as, case, language
):
    referral_id, status = case
    propose(login_as("nomada"), referral_id)
    answer(client, status, referral_id, "confirm")
    status = status.replace("/uk/", f"/{language}/")
    proposed, confirmed = YOUR_STEPS[language]

    page = client.get(f"{status}/copy").get_data(as_text=True)
    assert proposed in page and confirmed in page
    assert not any(label in page for label in STAFF_LABELS[language])
    assert confirmed in client.get(status).get_data(as_text=True)  # the status page says the same
    [need] = json.loads(client.get(f"{status}/copy.json").get_data(as_text=True))["needs"]
    appointment = need["appointment"]
    assert appointment["state"] == {"code": "confirmed", "label": confirmed}
    assert [step["step"] for step in appointment["steps"]] == [
        {"code": "proposed", "label": proposed},
        {"code": "confirmed", "label": confirmed},
    ]


def test_the_log_sender_writes_no_word_of_the_text_only_its_size(app, login_as, staff, caplog):
    """SMS_BACKEND=log (the default until a gateway is set): the appointment's place is
    encrypted at rest and must not end up in the log in clear, nor any word of the message."""
    referral_id = accepted_case_without_email(app)
    assert propose(login_as("nomada"), referral_id).status_code == 302
    assert app.config["SMS_BACKEND"] == "log"
    caplog.set_level(logging.INFO, logger="referral.sms")
    with app.app_context():
        assert sms.deliver_pending().sent == 1
    [line] = [record.getMessage() for record in caplog.records if record.name == "referral.sms"]
    assert "Kanarkowa" not in line and "10:30" not in line
    assert line.startswith("sms to +48…200 (2 part(s), ") and line.endswith(" characters)")


def test_staff_who_download_the_persons_calendar_file_through_their_link_are_recorded(
    app, client, login_as, case
):
    """The file says where the person will be; like the status page, opened by someone signed in
    to a staff account it is a look at their data (the person's own download is not)."""
    from referral.access_log import Page
    from referral.models import DataAccess

    referral_id, status = case
    assert propose(login_as("nomada"), referral_id).status_code == 302
    assert client.get(f"{status}/appointments/{referral_id}.ics").status_code == 200
    pfm = login_as("pfm")
    assert pfm.get(f"{status}/appointments/{referral_id}.ics").status_code == 200
    with app.app_context():
        pages = [(a.page, a.organisation.slug) for a in db.session.scalars(select(DataAccess))]
    assert pages == [(Page.STATUS_LINK, "pfm")]


@pytest.mark.usefixtures("english_staff")
def test_a_hand_back_cancels_the_appointment_and_the_person_is_told(app, client, login_as, case):
    """The appointment is the holder's: once the case leaves it, neither the next organisation
    nor the person reads its address as theirs, and the person knows the time no longer holds."""
    referral_id, status = case
    assert propose(login_as("nomada"), referral_id).status_code == 302
    with app.app_context():
        lifecycle.act(
            referral_id, user("staff@nomada.example"), Action.HAND_BACK, reason_code="no_capacity"
        )
        referral = db.session.get(Referral, referral_id)
        successor, proposer = referral.organisation.slug, user("staff@nomada.example").name
        assert referral.appointment is None
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0
        codes = [step.code for step in referral.appointment_steps]
        assert codes == ["proposed", "cancelled"]  # the trail stays
        [news] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "person_passed_on")
        ).all()
        assert "Зустріч" in news.body and "скасовано" in news.body
        lifecycle.act(referral_id, user(f"staff@{successor}.example"), Action.ACCEPT)
    page = login_as(successor).get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert ADDRESS not in page
    assert "Appointment cancelled" in page
    assert f"({proposer})" not in page  # another organisation's staff, not named to this one
    page = client.get(status).get_data(as_text=True)
    assert ADDRESS not in page
    # Someone told only "there is news" reads it behind the link, and in the copy of their data.
    assert "Організація, яка її запропонувала, більше не займається" in page
    copy = client.get(f"{status}/copy").get_data(as_text=True)
    assert "Цю зустріч скасовано" in copy and ADDRESS not in copy


def test_closing_a_case_before_its_appointment_cancels_it_and_the_person_is_told(
    app, client, login_as, case
):
    """A case closed with an appointment still to come left it standing: "proposed" on the
    staff page, its calendar file still served, nothing said to a person who may turn up."""
    referral_id, status = case
    assert propose(login_as("nomada"), referral_id).status_code == 302
    with app.app_context():
        db.session.execute(db.delete(OutboxMessage))
        db.session.commit()
        lifecycle.act(
            referral_id, user("staff@nomada.example"), Action.CLOSE, outcome="referred_outside"
        )
        referral = db.session.get(Referral, referral_id)
        assert referral.appointment is None
        assert [step.code for step in referral.appointment_steps] == ["proposed", "cancelled"]
        [news] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "person_closed")
        ).all()
        assert "Зустріч" in news.body and "скасовано" in news.body
    page = client.get(status).get_data(as_text=True)
    assert ADDRESS not in page and "Зустріч" in page and "скасовано" in page
    assert client.get(f"{status}/appointments/{referral_id}.ics").status_code == 404


def test_a_case_closed_after_a_hand_back_does_not_take_the_blame_for_its_cancelled_time(
    app, client, login_as, case
):
    """The first organisation's appointment went with the hand-back; the next one closed the
    case later: the status page said the time was cancelled because the need was closed."""
    referral_id, status = case
    assert propose(login_as("nomada"), referral_id).status_code == 302
    with app.app_context():
        lifecycle.act(
            referral_id, user("staff@nomada.example"), Action.HAND_BACK, reason_code="no_capacity"
        )
        successor = user(f"staff@{db.session.get(Referral, referral_id).organisation.slug}.example")
        lifecycle.act(referral_id, successor, Action.ACCEPT)
        lifecycle.act(referral_id, successor, Action.CLOSE, outcome="resolved")
    page = client.get(status).get_data(as_text=True)
    assert "Організація, яка її запропонувала, більше не займається" in page
    assert "Цю справу закрили раніше" not in page


def test_closing_a_case_after_its_appointment_keeps_it(app, login_as, case):
    """The appointment took place: closing the case afterwards cancels nothing."""
    referral_id, _status = case
    assert propose(login_as("nomada"), referral_id).status_code == 302
    with app.app_context():
        after_it = in_three_days() + timedelta(hours=2)
        lifecycle.act(
            referral_id,
            user("staff@nomada.example"),
            Action.CLOSE,
            outcome="resolved",
            now=after_it,
        )
        referral = db.session.get(Referral, referral_id)
        assert referral.appointment is not None
        assert [step.code for step in referral.appointment_steps] == ["proposed"]


@pytest.mark.usefixtures("english_staff")
def test_an_organisation_that_let_the_case_go_sees_nothing_of_the_next_holders_appointment(
    app, login_as, case
):
    """The appointment's time, kind, state and the staff member who proposed it are the
    holder's dealings with the person: an organisation that only saw the offer reads none."""
    referral_id, _status = case
    with app.app_context():
        lifecycle.act(
            referral_id, user("staff@nomada.example"), Action.HAND_BACK, reason_code="no_capacity"
        )
        successor = db.session.get(Referral, referral_id).organisation.slug
        lifecycle.act(referral_id, user(f"staff@{successor}.example"), Action.ACCEPT)
    assert propose(login_as(successor), referral_id).status_code == 302
    page = login_as("nomada").get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert 'id="appointment"' not in page
    assert "Appointment proposed" not in page


@pytest.mark.usefixtures("english_staff")
def test_the_appointment_mail_is_one_of_the_persons_messages(app, client, login_as, case):
    """The mail with the address and calendar file is a message to the person like the others:
    listed for the holder, dropped unsent when the person says their mailbox is no longer safe,
    and, given up, counted for the coordinator without their address."""
    referral_id, status = case
    nomada = login_as("nomada")
    propose(nomada, referral_id)
    page = nomada.get(f"/staff/referrals/{referral_id}").get_data(as_text=True)
    assert "Appointment by e-mail, with a calendar file" in page
    with app.app_context():
        for message in db.session.scalars(select(OutboxMessage)):
            message.next_attempt_at = None  # given up
        db.session.commit()
    undelivered = login_as("coordinator").get("/admin/undelivered").get_data(as_text=True)
    assert "olena@example.com" not in undelivered and ADDRESS not in undelivered

    propose(nomada, referral_id, place="ul. Inna 1, Wrocław")
    changed = {"phone": "+48 601 222 333", "email": "olena@example.com", "contact_channel": "sms"}
    assert client.post(f"{status}/contact", data=changed).status_code == 200  # not safe now
    with app.app_context():
        unsent = select(OutboxMessage.kind).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at.is_not(None)
        )
        assert db.session.scalars(unsent).all() == []


def test_the_person_cannot_confirm_a_time_they_asked_to_change(app, client, login_as, case):
    """The page offers no "confirm" once they asked for another time; a post sent anyway (an
    old tab) must not mark the rejected time as agreed nor wipe what they wrote."""
    referral_id, status = case
    propose(login_as("nomada"), referral_id)
    answer(client, status, referral_id, "another-time", words=WORDS)
    answered = client.post(f"{status}/appointments/{referral_id}/confirm", data={"sequence": 0})
    assert answered.status_code == 200
    assert "Цю зустріч тут уже не можна змінити" in answered.get_data(as_text=True)
    with app.app_context():
        appointment = db.session.scalar(select(Appointment))
        assert (appointment.state, appointment.person_words) == ("change_requested", WORDS)


def test_a_proposal_racing_a_hand_back_is_refused(app, staff):
    """A colleague hands the case back while another proposes a time from the page they loaded
    before: the next organisation must not inherit the old holder's appointment."""
    from referral import appointments
    from referral.service_errors import ServiceError

    with app.app_context():
        submitted = lifecycle.submit_request(intake("legal", email="o@example.com"))
        referral_id = submitted.request.referrals[0].id
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        proposer = user("staff@nomada.example")
        assert appointments.may_propose(proposer, referral)
        with app.app_context():  # the colleague, in a request of their own
            lifecycle.act(
                referral_id,
                user("staff@nomada.example"),
                Action.HAND_BACK,
                reason_code="no_capacity",
            )
        with pytest.raises(ServiceError):
            appointments.propose(referral, proposer, in_three_days(), "in_person", ADDRESS)
        db.session.rollback()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0


def test_the_person_answers_only_the_time_their_page_showed(app, client, login_as, case):
    """The holder proposed a new time while the person's page showed the old one: "this time
    suits me" must not agree to a time they never saw."""
    referral_id, status = case
    nomada = login_as("nomada")
    propose(nomada, referral_id)
    seen = client.get(status).get_data(as_text=True)
    propose(nomada, referral_id, kind="phone", place="")
    words = "Tylko po 15:00"
    sent = client.post(
        f"{status}/appointments/{referral_id}/another-time", data={"sequence": 0, "words": words}
    )
    page = sent.get_data(as_text=True)
    assert sent.status_code == 409 and 'name="sequence" type="hidden" value="1"' in page
    assert "Організація щойно запропонувала інший час" in page and words in page  # kept
    assert (
        client.post(
            f"{status}/appointments/{referral_id}/confirm", data={"sequence": 0}
        ).status_code
        == 409
    )
    with app.app_context():
        appointment = db.session.scalar(select(Appointment))
        assert (appointment.state, appointment.sequence) == ("proposed", 1)
    assert 'value="0"' in seen


def test_the_persons_words_are_counted_as_their_browser_counts_them(app, client, login_as, case):
    """500 characters with line breaks: the browser's maxlength counts each as one, and sends
    each as two (CRLF): refused, the words were lost."""
    referral_id, status = case
    propose(login_as("nomada"), referral_id)
    line = "Після 15:00 у четвер або в пʼятницю зранку, бо вдень я на роботі."
    words = "\r\n".join([line] * 6)
    words += "." * (500 - len(words.replace("\r\n", "\n")))
    assert answer(client, status, referral_id, "another-time", words=words).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Appointment.state)) == "change_requested"


def test_refused_words_are_kept_beside_their_field(app, client, login_as, case):
    referral_id, status = case
    propose(login_as("nomada"), referral_id)
    words = "Після 15:00 у четвер" + "!" * 500
    refused = answer(client, status, referral_id, "another-time", words=words)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    textarea = re.search(rf'<textarea id="words-{referral_id}"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea[1].strip() == words
    assert 'aria-invalid="true"' in textarea[0] and "500" in page
    # Said at the top too, with the focus, and in the title: the field is far down a phone's page.
    summary = re.search(r'<div class="error-summary"[^>]*autofocus>(.*?)</div>', page, re.S)
    assert summary and f'href="#words-{referral_id}"' in summary[1]
    assert "<title>Error:" in page or "<title>Помилка:" in page


def test_a_confirmation_sent_twice_is_thanked_twice_and_recorded_once(app, client, login_as, case):
    """A double tap, or a reload of the thanks (a POST's answer): it was done already."""
    referral_id, status = case
    propose(login_as("nomada"), referral_id)
    first = answer(client, status, referral_id, "confirm")
    again = client.post(f"{status}/appointments/{referral_id}/confirm", data={"sequence": 0})
    for sent in (first, again):
        assert "Дякуємо" in sent.get_data(as_text=True)
    with app.app_context():
        steps = db.session.scalars(select(AppointmentStep.code)).all()
        assert steps == ["proposed", "confirmed"]


def test_another_time_asked_again_with_new_words_keeps_them(app, client, login_as, case):
    """From a tab opened before (the form is gone once asked), the second words were thanked for
    and dropped: now they replace the first, and the organisation is told again."""
    referral_id, status = case
    propose(login_as("nomada"), referral_id)

    def told() -> int:
        with app.app_context():
            kind = OutboxMessage.kind == "appointment_answered"
            return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(kind))

    answer(client, status, referral_id, "another-time", words="Mornings, please")
    once = told()
    again = client.post(
        f"{status}/appointments/{referral_id}/another-time",
        data={"sequence": 0, "words": "Only Friday mornings"},
    )
    assert "Дякуємо" in again.get_data(as_text=True)
    assert told() == 2 * once > 0
    with app.app_context():
        assert db.session.scalar(select(Appointment.person_words)) == "Only Friday mornings"
        steps = db.session.scalars(select(AppointmentStep.code)).all()
        assert steps == ["proposed", "change_requested"]  # one request for another time
        # Once the case is closed, words sent from an older page are refused, nobody told.
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.CLOSE, outcome="resolved")
    client.post(
        f"{status}/appointments/{referral_id}/another-time",
        data={"sequence": 0, "words": "Any time now"},
    )
    assert told() == 2 * once
    with app.app_context():  # closed before its time, the appointment went, words and all
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0
