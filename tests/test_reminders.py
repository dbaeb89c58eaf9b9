"""Staff digests and reminders (the worker's ``remind`` job) and the caseworker told of an
unmatched referral: written to the outbox once, delivered to a real local SMTP server, carrying
the reference, need, place and deadline and nothing about the person."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from referral import lifecycle, mailer, reminding
from referral.extensions import db
from referral.handoff import Action
from referral.models import ReminderSent, User

from .helpers import intake, user
from .test_concurrency import race, race_app, run_together  # noqa: F401  (fixtures)

WARSAW = ZoneInfo("Europe/Warsaw")
STORY = "Sąsiad grozi nam eksmisją"
PHONE = "+48512345678"


def warsaw(*args) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


MONDAY_10 = warsaw(2026, 3, 2, 10, 0)


def refer(at: datetime, need: str = "legal", city: str = "wroclaw", **details) -> int:
    """pfm's caseworker refers a person (legal help in Wrocław goes to nomada)."""
    data = intake(need, city_slug=city, phone=PHONE, name="Olena Canary", description=STORY)
    for key, value in details.items():
        setattr(data, key, value)
    caseworker = user("staff@pfm.example")
    return lifecycle.submit_request(data, submitted_by=caseworker, now=at).request.referrals[0].id


def delivered(smtp_server, address: str) -> list:
    mailer.deliver_pending(warsaw(2030, 1, 1, 12, 0))
    return smtp_server.to(address)


def assert_nothing_personal(message) -> None:
    text = message["Subject"] + message.get_content()
    for detail in (STORY, PHONE, "Olena", "Canary"):
        assert detail not in text


def choose(email: str, choice: str, language: str = "en") -> User:
    account = user(email)
    account.offer_mail = choice
    account.language = language
    db.session.commit()
    return account


# --- offers at once, or in digests ----------------------------------------------------------------


def test_staff_on_a_digest_get_no_mail_at_each_offer(ctx, staff, smtp_server):
    choose("staff@nomada.example", "hourly")
    refer(MONDAY_10)
    assert delivered(smtp_server, "staff@nomada.example") == []
    assert smtp_server.to("intake@nomada.example") == []


def test_an_organisation_without_staff_accounts_gets_offers_at_its_intake_address(
    ctx, directory, smtp_server
):
    lifecycle.submit_request(intake("legal"), now=MONDAY_10)
    assert len(delivered(smtp_server, "intake@nomada.example")) == 1


def test_the_hourly_digest_lists_the_offers_made_before_its_hour_once(ctx, staff, smtp_server):
    choose("staff@nomada.example", "hourly")
    first = refer(MONDAY_10 + timedelta(minutes=20))
    second = refer(MONDAY_10 + timedelta(minutes=30), urgent=True)
    assert reminding.remind(MONDAY_10 + timedelta(minutes=40)).digests == 0  # made this hour

    assert reminding.remind(MONDAY_10 + timedelta(hours=1, minutes=5)).digests == 1
    assert reminding.remind(MONDAY_10 + timedelta(hours=1, minutes=10)).digests == 0
    third = refer(MONDAY_10 + timedelta(hours=1, minutes=15))
    assert reminding.remind(MONDAY_10 + timedelta(hours=2, minutes=1)).digests == 1

    first_digest, second_digest = delivered(smtp_server, "staff@nomada.example")
    assert first_digest["Subject"] == "2 new referrals wait for your answer"
    body = first_digest.get_content()
    references = {
        referral_id: db.session.get(lifecycle.Referral, referral_id).request.reference
        for referral_id in (first, second, third)
    }
    assert references[first] in body and references[second] in body
    assert references[third] not in body
    assert "Legal help" in body and "Wrocław" in body and "/staff/" in body
    # The urgent one first: its deadline is sooner.
    assert body.index(references[second]) < body.index(references[first])
    assert_nothing_personal(first_digest)
    assert references[third] in second_digest.get_content()
    assert second_digest["Subject"] == "1 new referral waits for your answer"


def test_the_daily_digest_comes_at_nine_in_the_recipients_language(ctx, staff, smtp_server):
    choose("staff@nomada.example", "daily", language="uk")
    friday_evening = warsaw(2026, 3, 6, 18, 30)
    refer(friday_evening)
    assert reminding.remind(warsaw(2026, 3, 7, 10, 0)).digests == 0  # Saturday
    assert reminding.remind(warsaw(2026, 3, 9, 8, 55)).digests == 0  # before working hours
    assert reminding.remind(warsaw(2026, 3, 9, 9, 2)).digests == 1
    assert reminding.remind(warsaw(2026, 3, 9, 15, 0)).digests == 0
    [digest] = delivered(smtp_server, "staff@nomada.example")
    assert "Вроцлав" in digest.get_content() and "відповід" in digest["Subject"]


def test_a_digest_of_twenty_one_offers_speaks_of_them_as_many(ctx, staff, smtp_server):
    """Ukrainian takes 21 in the plural form of 1; the digest's opening line is about one
    offer or several, so it follows the count, not the plural rule."""
    choose("staff@nomada.example", "daily", language="uk")
    for minute in range(21):
        refer(warsaw(2026, 3, 6, 17, minute))
    assert reminding.remind(warsaw(2026, 3, 9, 9, 2)).digests == 1
    [digest] = delivered(smtp_server, "staff@nomada.example")
    assert digest["Subject"] == "21 нове направлення чекає на відповідь"
    assert "Ці нові направлення чекають на відповідь вашої організації:" in digest.get_content()


def test_offers_answered_before_the_digest_are_left_out(ctx, staff, smtp_server):
    choose("staff@nomada.example", "daily")
    referral_id = refer(warsaw(2026, 3, 6, 18, 30))
    lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT)
    assert reminding.remind(warsaw(2026, 3, 9, 9, 2)).digests == 0


# --- reminders before a deadline and of idle cases --------------------------------------------


def test_the_holder_is_reminded_once_when_three_quarters_of_the_time_have_passed(
    ctx, staff, smtp_server
):
    choose("staff@nomada.example", "each")
    referral_id = refer(MONDAY_10)  # 16 working hours: due Wednesday 10:00, reminder Tue 14:00
    assert reminding.remind(warsaw(2026, 3, 3, 13, 55)).deadlines == 0
    assert reminding.remind(warsaw(2026, 3, 3, 14, 5)).deadlines == 1
    assert reminding.remind(warsaw(2026, 3, 3, 14, 10)).deadlines == 0
    reminders = [
        m for m in delivered(smtp_server, "staff@nomada.example") if "Reminder" in m["Subject"]
    ]
    [reminder] = reminders
    reference = db.session.get(lifecycle.Referral, referral_id).request.reference
    assert reference in reminder["Subject"]
    assert "Legal help" in reminder.get_content() and "Wrocław" in reminder.get_content()
    assert f"/staff/referrals/{referral_id}" in reminder.get_content()
    assert_nothing_personal(reminder)


def test_no_reminder_outside_working_hours(ctx, staff, smtp_server):
    refer(warsaw(2026, 3, 6, 14, 0), urgent=True)  # Friday 14:00, 4 hours: reminder at 17:00
    assert reminding.remind(warsaw(2026, 3, 6, 17, 30)) == reminding.Reminded()
    assert reminding.remind(warsaw(2026, 3, 7, 11, 0)) == reminding.Reminded()
    assert reminding.remind(warsaw(2026, 3, 9, 9, 1)).deadlines == 1


def test_an_accepted_case_left_idle_reminds_its_colleague_once_per_quiet_spell(
    app, ctx, staff, smtp_server
):
    monday = warsaw(2027, 3, 1, 10, 0)  # ahead of the clock: the step's own time counts
    referral_id = refer(monday)
    nomada = choose("staff@nomada.example", "each")
    lifecycle.act(referral_id, nomada, Action.ACCEPT, assignee_id=nomada.id, now=monday)
    days = app.config["IDLE_REMINDER_DAYS"]
    assert reminding.remind(monday + timedelta(days=days, minutes=-5)).idle == 0
    assert reminding.remind(monday + timedelta(days=days, minutes=5)).idle == 1
    assert reminding.remind(monday + timedelta(days=days, hours=2)).idle == 0

    referral = db.session.get(lifecycle.Referral, referral_id)
    note = lifecycle.add_note(referral, nomada, "Called, no answer.", shared=False)
    note.created_at = monday + timedelta(days=days + 1)
    db.session.commit()
    assert reminding.remind(monday + timedelta(days=2 * days, hours=2)).idle == 0
    assert reminding.remind(monday + timedelta(days=2 * days + 1, hours=2)).idle == 1

    idle = [
        m
        for m in delivered(smtp_server, "staff@nomada.example")
        if "nothing recorded" in m["Subject"]
    ]
    assert len(idle) == 2
    assert_nothing_personal(idle[0])


# --- the referring caseworker -----------------------------------------------------------------


def test_the_caseworker_hears_when_nothing_covers_the_need(ctx, staff, smtp_server):
    user("staff@pfm.example").language = "en"
    refer(MONDAY_10, need="psychological", city="chelm")
    [mail] = delivered(smtp_server, "staff@pfm.example")
    assert "No organisation has taken" in mail["Subject"]
    assert "No member organisation covers" in mail.get_content()
    assert "Chełm" in mail.get_content()
    assert_nothing_personal(mail)


def test_the_caseworker_hears_when_every_organisation_declined(ctx, staff, smtp_server):
    user("staff@pfm.example").language = "en"
    referral_id = refer(MONDAY_10)
    for _attempt in range(10):
        referral = db.session.get(lifecycle.Referral, referral_id)
        if referral.state == "unmatched":
            break
        holder = db.session.scalar(
            select(User).where(User.organisation_id == referral.organisation_id)
        )
        lifecycle.act(referral_id, holder, Action.DECLINE, reason_code="no_capacity")
    assert db.session.get(lifecycle.Referral, referral_id).state == "unmatched"
    [mail] = [
        m for m in delivered(smtp_server, "staff@pfm.example") if "No organisation" in m["Subject"]
    ]
    assert "declined it or did not answer in time" in mail.get_content()


# --- once, even with two workers --------------------------------------------------------------


def test_two_workers_reminding_at_once_send_each_mail_once(race):  # noqa: F811
    with race.app_context():
        choose("staff@nomada.example", "hourly")
        for minutes in range(0, 50, 5):
            refer(MONDAY_10 + timedelta(minutes=minutes))
        db.session.remove()
    tuesday = warsaw(2026, 3, 3, 15, 0)  # each offer three quarters through, and a new hour

    results = run_together(race, lambda: reminding.remind(tuesday))

    assert all(isinstance(r, reminding.Reminded) for r in results), results
    assert sum(r.digests for r in results) == 1
    assert sum(r.deadlines for r in results) == 10
    with race.app_context():
        kinds = dict(
            db.session.execute(
                select(ReminderSent.kind, func.count()).group_by(ReminderSent.kind)
            ).all()
        )
        assert kinds == {"digest": 1, "deadline": 10}


def test_remind_command_runs_the_job_alone(app, staff):
    result = app.test_cli_runner().invoke(args=["remind"])
    assert result.exit_code == 0, result.output
    assert "Digests: 0" in result.output


# --- the choice on the profile ----------------------------------------------------------------


def test_staff_choose_their_offer_mail_and_the_coordinator_sees_it(app, login_as, coordinator):
    nomada = login_as("nomada")
    assert 'name="offer_mail"' in nomada.get("/staff/profile").get_data(as_text=True)
    response = nomada.post("/staff/profile/offer-mail", data={"offer_mail": "daily"})
    assert response.status_code == 302
    with app.app_context():
        assert user("staff@nomada.example").offer_mail == "daily"
    refused = nomada.post("/staff/profile/offer-mail", data={"offer_mail": "weekly"})
    assert refused.status_code == 400
    users = coordinator.get("/admin/users").get_data(as_text=True)
    assert "A daily digest (9:00 on working days)" in users
