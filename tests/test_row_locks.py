"""Steps that check a row and then write beside it, racing another step on the same request, on
SQLite and PostgreSQL: an erasure must not leave behind what a step wrote a moment later, the
same form tapped twice is taken once, and the sweep and staff never wait on each other crosswise.
Each thread has its own app context, so its own session and connection."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referral import accounts, appointments, erasure, lifecycle, person_messages
from referral.extensions import db, locked
from referral.handoff import ACTIVE_STATES, Action
from referral.models import (
    Appointment,
    AppointmentStep,
    FromPerson,
    FromPersonKind,
    HelpRequest,
    Note,
    Organisation,
    OutboxMessage,
    Referral,
    ReferralEvent,
    User,
)
from referral.service_errors import ServiceError
from referral.vocabulary import Role

from .helpers import intake, user
from .test_concurrency import T0, meeting_point, race, race_app  # noqa: F401  (fixtures)

LATER = T0 + timedelta(days=30)


def run_both(app, first, second) -> list:
    """Run two pieces of work at once, each in its own app context; gives each one's result or
    the exception it raised."""
    results: list = [None, None]

    def one(index, work):
        with app.app_context():
            try:
                results[index] = work()
            except Exception as error:  # the test looks at which error each thread got
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=pair) for pair in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def accepted_case(app, **details) -> int:
    with app.app_context():
        data = intake("legal", email="olena@example.org", name="Olena Kowal", **details)
        request = lifecycle.submit_request(data, now=T0).request
        referral_id = request.referrals[0].id
        lifecycle.act(referral_id, user("staff@nomada.example"), Action.ACCEPT, now=T0)
        db.session.remove()
    return referral_id


def request_of(referral_id: int) -> HelpRequest:
    return db.session.get_one(Referral, referral_id).request


def erased_meanwhile(app, referral_id: int, read, write) -> object:
    """A step reads its page (``read()``, its checks passing), the coordinator erases the
    request and commits, then the step writes (``write(page)``): gives what it returned or
    raised."""
    page_read, erased = threading.Event(), threading.Event()

    def step():
        page = read()
        page_read.set()
        erased.wait(10)
        return write(page)

    def erase():
        page_read.wait(10)
        coordinator = user("coordinator@konsorcjum.example")
        lifecycle.withdraw_request(request_of(referral_id), by=coordinator)
        erased.set()

    return run_both(app, step, erase)[0]


# --- an erasure and a step written beside it ----------------------------------------------------


def _note(referral_id: int) -> object:
    referral = db.session.get_one(Referral, referral_id)
    return lifecycle.add_note(referral, user("staff@nomada.example"), "ul. Lipowa 5", False)


def _contact(referral_id: int) -> object:
    contact = lifecycle.Contact("+48 600 999 888", "olena@example.org", "phone", True)
    return lifecycle.change_contact(request_of(referral_id), contact)


def _message(referral_id: int) -> object:
    return lifecycle.write_to_holder(request_of(referral_id), referral_id, "Call after six")


@pytest.mark.parametrize("write", [_note, _contact, _message], ids=["note", "contact", "message"])
def test_a_step_checked_before_an_erasure_and_written_after_it_is_refused(race, write):  # noqa: F811
    """The step read the request before the coordinator's erasure committed and writes after
    it: it wrote a note, the person's new phone or their message onto the erased request,
    where no purge would ever reach them (each looks only at requests not erased)."""
    referral_id = accepted_case(race)

    def read():  # the page is read, the checks passed
        request = request_of(referral_id)
        assert request.erased_at is None and request.phone and request.referrals[0].state

    written = erased_meanwhile(race, referral_id, read, lambda _page: write(referral_id))

    assert isinstance(written, ServiceError), written
    with race.app_context():
        request = request_of(referral_id)
        assert request.erased_at is not None
        assert (request.phone, request.phone_match, request.email) == (None, None, None)
        referral_ids = select(Referral.id).where(Referral.request_id == request.id)
        assert not db.session.scalar(select(func.count()).where(Note.referral_id.in_(referral_ids)))
        assert not db.session.scalar(
            select(func.count()).where(
                FromPerson.request_id == request.id,
                FromPerson.kind != FromPersonKind.CONTACT_CHANGED,
            )
        )
        assert not db.session.scalar(
            select(func.count()).where(OutboxMessage.request_id == request.id)
        )


# --- the same form tapped twice ------------------------------------------------------------------


def test_the_persons_message_tapped_twice_at_once_is_written_once(race, monkeypatch):  # noqa: F811
    referral_id = accepted_case(race)
    monkeypatch.setattr(
        lifecycle.notifications, "person_wrote", _meets(lifecycle.notifications.person_wrote)
    )

    def send():
        return lifecycle.write_to_holder(
            request_of(referral_id), referral_id, "Call after six", submission_hash="tap"
        ).id

    first, second = run_both(race, send, send)

    assert first == second, (first, second)
    with race.app_context():
        kinds = db.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.referral_id == referral_id)
        ).all()
        assert kinds.count("person_wrote") == 1


def _meets(function):
    """``function``, called after a meeting point of two threads."""
    meet = meeting_point()

    def wrapped(*args, **kwargs):
        meet()
        return function(*args, **kwargs)

    return wrapped


def test_the_form_asking_again_tapped_twice_at_once_joins_once(race, monkeypatch):  # noqa: F811
    """A need asked again while open joins the open referral; tapped twice, both joined it
    (two "asked again" and two mails to the organisation) or the two deadlocked on the fresh
    link, one of them a 503 page."""
    referral_id = accepted_case(race)
    monkeypatch.setattr(lifecycle, "_ask_again", _meets(lifecycle._ask_again))
    again = intake(
        "legal", email="olena@example.org", description="Still waiting", submission_hash="tap"
    )

    def send():
        try:
            return lifecycle.submit_from_person(again, now=T0 + timedelta(hours=2)).joined[0].id
        except ServiceError as refused:
            return refused.code

    results = run_both(race, send, send)

    assert sorted(map(str, results)) == sorted([str(referral_id), ServiceError.ALREADY_SENT])
    with race.app_context():
        asked = db.session.scalar(
            select(func.count()).where(FromPerson.kind == FromPersonKind.ASKED_AGAIN)
        )
        assert asked == 1


# --- appointments --------------------------------------------------------------------------------


def with_appointment(app) -> int:
    referral_id = accepted_case(app)
    with app.app_context():
        referral = db.session.get_one(Referral, referral_id)
        appointments.propose(referral, user("staff@nomada.example"), LATER, "phone", None, now=T0)
        db.session.remove()
    return referral_id


def pausing_at(monkeypatch, code: str, seconds: float) -> tuple[threading.Event, threading.Event]:
    """An appointment step ``code`` pauses once written up to it: it sets the first event and
    waits for the second (``seconds`` at most)."""
    reached, go_on = threading.Event(), threading.Event()
    step = appointments._step

    def paused(referral, step_code, *args, **kwargs):
        if step_code == code:
            reached.set()
            go_on.wait(seconds)
        return step(referral, step_code, *args, **kwargs)

    monkeypatch.setattr(appointments, "_step", paused)
    return reached, go_on


def test_an_appointment_confirmed_twice_at_once_is_confirmed_once(race, monkeypatch):  # noqa: F811
    referral_id = with_appointment(race)
    monkeypatch.setattr(appointments, "_step", _meets(appointments._step))

    def confirm():
        return appointments.confirm(request_of(referral_id), referral_id, 0, now=T0).state

    assert run_both(race, confirm, confirm) == ["confirmed", "confirmed"]
    with race.app_context():
        steps = db.session.scalars(
            select(AppointmentStep.code).where(AppointmentStep.referral_id == referral_id)
        ).all()
        assert steps == ["proposed", "confirmed"]


def test_a_time_proposed_while_the_person_confirms_is_not_confirmed_for_them(race, monkeypatch):  # noqa: F811
    """The person confirms the time their page showed while the organisation proposes another:
    the new time ended up confirmed, a time the person never saw."""
    referral_id = with_appointment(race)
    # With the lock, the proposal waits for the confirmation instead (3 s at most).
    checked, proposed = pausing_at(monkeypatch, appointments.Step.CONFIRMED, seconds=3)

    def confirm():
        return appointments.confirm(request_of(referral_id), referral_id, 0, now=T0).state

    def propose_another():
        checked.wait(10)
        referral = db.session.get_one(Referral, referral_id)
        staff = user("staff@nomada.example")
        moved = LATER + timedelta(days=3)
        appointment = appointments.propose(
            referral, staff, moved, "in_person", "ul. Nowa 1", now=T0
        )
        proposed.set()
        return appointment.sequence

    run_both(race, confirm, propose_another)

    with race.app_context():
        appointment = db.session.scalar(
            select(Appointment).where(Appointment.referral_id == referral_id)
        )
        assert (appointment.sequence, appointment.state) == (1, "proposed")


def test_an_answer_to_an_appointment_erased_meanwhile_is_refused_not_a_500(race):  # noqa: F811
    referral_id = with_appointment(race)

    def read():  # the status page shows the appointment
        request = request_of(referral_id)
        assert request.referrals[0].appointment is not None
        return request

    def confirm(request):
        return appointments.confirm(request, referral_id, 0, now=T0)

    answered = erased_meanwhile(race, referral_id, read, confirm)

    assert isinstance(answered, ServiceError), answered


# --- the sweep and staff on one offer ----------------------------------------------------------


def test_staff_declining_an_offer_the_sweep_is_expiring_wait_for_it_not_deadlock(race, monkeypatch):  # noqa: F811
    """The sweep locks the overdue offers, then the organisations' rows; a decline wrote the
    organisations' rows, then the offer: on PostgreSQL each waited for the other, and one was
    killed (the sweep's whole run failed, or the staff member's typed reason was lost to a
    503 page)."""
    with race.app_context():
        request = lifecycle.submit_request(intake("legal"), now=T0).request
        referral_id, version = request.referrals[0].id, request.referrals[0].version
        db.session.remove()
    holding, declining = threading.Event(), threading.Event()
    reroute = lifecycle._reroute

    def sweep_waits_for_the_decline(referral, step, *args, **kwargs):
        if step.action == Action.EXPIRE and not holding.is_set():
            holding.set()
            declining.wait(3)
            threading.Event().wait(1)  # the decline is now writing, or waiting for the lock
        return reroute(referral, step, *args, **kwargs)

    monkeypatch.setattr(lifecycle, "_reroute", sweep_waits_for_the_decline)

    def sweep():
        return lifecycle.expire_overdue(now=LATER)

    def decline():
        holding.wait(10)
        declining.set()
        staff = user("staff@nomada.example")
        lifecycle.act(
            referral_id, staff, Action.DECLINE, version, reason_code="no_capacity", now=LATER
        )
        return "declined"

    swept, declined = run_both(race, sweep, decline)

    # One of them moved the offer on, the other saw it gone; neither failed.
    if swept == 1:
        assert isinstance(declined, ServiceError), declined
        assert declined.code == ServiceError.STALE_VERSION
    else:
        assert (swept, declined) == (0, "declined")
    with race.app_context():
        moves = db.session.scalars(
            select(ReferralEvent.action)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.id)
        ).all()
        assert moves[:1] == ["route"] and len(moves) == 2 and moves[1] in ("expire", "decline")
        for organisation in db.session.scalars(select(Organisation)):
            active = db.session.scalar(
                select(func.count()).where(
                    Referral.organisation_id == organisation.id,
                    Referral.state.in_(ACTIVE_STATES),
                )
            )
            assert organisation.open_load == active, organisation.slug


# --- locks taken in one order ------------------------------------------------------------------


@pytest.mark.parametrize("action", [Action.CLOSE, Action.HAND_BACK])
def test_a_new_proposal_and_a_close_or_hand_back_at_once_do_not_deadlock(
    race,  # noqa: F811
    monkeypatch,
    action,
):
    """A proposal locked the appointment, then wrote the referral; a close or a hand-back
    locks the referral, then deletes the appointment: each waited for the other."""
    referral_id = with_appointment(race)
    appointment_locked, go_on = pausing_at(monkeypatch, appointments.Step.PROPOSED, seconds=5)

    def propose():
        referral = db.session.get_one(Referral, referral_id)
        moved = LATER + timedelta(days=3)
        staff = user("staff@nomada.example")
        return appointments.propose(referral, staff, moved, "in_person", "ul. Nowa 1", now=T0).id

    def act():
        appointment_locked.wait(10)
        threading.Timer(1.0, go_on.set).start()
        why = {"outcome": "resolved"} if action == Action.CLOSE else {"reason_code": "no_capacity"}
        lifecycle.act(referral_id, user("staff@nomada.example"), action, now=T0, **why)
        return "done"

    results = run_both(race, propose, act)

    for result in results:  # one of them may be refused as out of date, never killed
        assert not isinstance(result, Exception) or isinstance(result, ServiceError), result


def test_the_lost_link_page_and_the_form_asking_again_at_once_do_not_deadlock(
    race,  # noqa: F811
    monkeypatch,
):
    """The lost-link page locked the person's requests newest first, one by one; the form
    asking again locks them oldest first: each waited for the other."""
    with race.app_context():
        for need in ("legal", "housing"):
            data = intake(need, email="olena@example.org", phone=None, contact_channel="email")
            lifecycle.submit_from_person(data, now=T0)
        db.session.remove()
    first_locked, go_on = threading.Event(), threading.Event()
    reachable = person_messages._reachable

    def lost_link_waits(request, channel):
        if not first_locked.is_set():
            first_locked.set()
            go_on.wait(5)
        return reachable(request, channel)

    monkeypatch.setattr(person_messages, "_reachable", lost_link_waits)
    later = T0 + timedelta(hours=1)

    def lost_link():
        return person_messages.send_fresh_links_to("olena@example.org", now=later)

    def ask_again():
        first_locked.wait(10)
        threading.Timer(1.0, go_on.set).start()
        data = intake(
            "legal", "housing", email="olena@example.org", phone=None, contact_channel="email"
        )
        return len(lifecycle.submit_from_person(data, now=later).joined)

    results = run_both(race, lost_link, ask_again)

    assert not any(isinstance(result, Exception) for result in results), results


def test_a_lock_changes_nothing_in_its_rows(race):  # noqa: F811
    """On SQLite the lock is a write of the rows to themselves: it stamped ``updated_at`` anew
    (a closed case erased later jumped to the top of the closed cases and of the API's
    ``updated_since``)."""
    referral_id = accepted_case(race)
    with race.app_context():
        before = db.session.execute(
            select(Referral.updated_at, Referral.version).where(Referral.id == referral_id)
        ).one()
        locked(Referral, referral_id)
        db.session.commit()
        after = db.session.execute(
            select(Referral.updated_at, Referral.version).where(Referral.id == referral_id)
        ).one()
    assert after == before


def test_the_purge_and_a_withdrawal_along_a_chain_of_possible_duplicates_do_not_deadlock(
    race,  # noqa: F811
    monkeypatch,
):
    """B may duplicate A, C may duplicate B; A and C ended long ago, B is withdrawn as the
    purge runs. Erasing a request clears the mark on the requests naming it: the purge held
    A and C together and waited for B, the withdrawal held B and waited for C."""
    old = T0 - timedelta(days=400)
    with race.app_context():
        made = {}
        for name, phone, when in (("A", "201", old), ("B", "202", T0), ("C", "203", old)):
            data = intake("legal", phone=f"+48 600 100 {phone}")
            made[name] = lifecycle.submit_request(data, now=when).request
        for name in "AC":
            referral = made[name].referrals[0]
            staff = user(f"staff@{referral.organisation.slug}.example")
            lifecycle.act(referral.id, staff, Action.ACCEPT, now=old)
            lifecycle.act(referral.id, staff, Action.CLOSE, outcome="resolved", now=old)
        made["B"].possible_duplicate_of = made["A"].reference
        made["C"].possible_duplicate_of = made["B"].reference
        ids = {name: request.id for name, request in made.items()}
        db.session.commit()
        db.session.remove()
    withdrawing = threading.Event()
    erase = lifecycle.erase

    def withdrawal_waits(request, now):
        if request.id == ids["B"]:
            withdrawing.set()
            threading.Event().wait(2)  # the purge takes its locks meanwhile
        return erase(request, now)

    monkeypatch.setattr(lifecycle, "erase", withdrawal_waits)

    def withdraw():
        lifecycle.withdraw_request(db.session.get_one(HelpRequest, ids["B"]), now=T0)
        return "withdrawn"

    def purge():
        withdrawing.wait(10)
        return erasure.purge_ended(now=T0)

    assert run_both(race, withdraw, purge) == ["withdrawn", 2]


# --- the consortium keeps a coordinator --------------------------------------------------------


@pytest.mark.parametrize("step", ["demote", "deactivate"])
def test_two_coordinators_removing_each_other_at_once_leave_one(race, monkeypatch, step):  # noqa: F811
    """Each checked that another coordinator stayed active, and each removed that other one:
    the consortium was left with none, and only someone with a shell could mend it."""
    with race.app_context():
        accounts.create_user(
            "second@konsorcjum.example", "long-password-2", "Second", None, Role.COORDINATOR
        )
        db.session.commit()
        db.session.remove()
    monkeypatch.setattr(accounts, "audit", _meets(accounts.audit))

    def remove(who: str, whom: str):
        def work():
            actor, target = user(who), user(whom)
            if step == "demote":
                nomada = db.session.scalar(
                    select(Organisation.id).where(Organisation.slug == "nomada")
                )
                accounts.change_role(target.id, Role.STAFF, nomada, by=actor)
            else:
                accounts.set_user_active(target.id, False, by=actor)
            return "removed"

        return work

    first = remove("coordinator@konsorcjum.example", "second@konsorcjum.example")
    second = remove("second@konsorcjum.example", "coordinator@konsorcjum.example")
    results = run_both(race, first, second)

    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(refused) == 1 and refused[0].code == ServiceError.LAST_COORDINATOR, results
    with race.app_context():
        active = select(func.count()).where(User.role == Role.COORDINATOR, User.active.is_(True))
        assert db.session.scalar(active) == 1
