"""Steps that check a row and then write beside it, racing another step on the same request, on
SQLite and PostgreSQL: an erasure must not leave behind what a step wrote a moment later, the
same form tapped twice is taken once, and the sweep and staff never wait on each other crosswise.
Each thread has its own app context, so its own session and connection."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referral import appointments, lifecycle
from referral.extensions import db
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
)
from referral.service_errors import ServiceError

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
    checked, proposed = threading.Event(), threading.Event()
    step = appointments._step

    def confirmed_after_the_new_proposal(referral, code, *args, **kwargs):
        if code == appointments.Step.CONFIRMED:
            checked.set()
            proposed.wait(3)  # with the lock, the proposal waits for the confirmation instead
        return step(referral, code, *args, **kwargs)

    monkeypatch.setattr(appointments, "_step", confirmed_after_the_new_proposal)

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
