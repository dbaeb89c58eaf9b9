"""The case summary to print or save as PDF: the holding organisation's only (404 for anyone
else), with the request, needs, history and notes it may read, never another organisation's
internal notes; not kept by browsers, and recorded as an opening of the person's data."""

from sqlalchemy import select

from referral import lifecycle
from referral.access_log import Page
from referral.extensions import db
from referral.handoff import Action
from referral.models import DataAccess, Referral

from ..helpers import intake, org, user

STORY = "Landlord keeps the deposit"


def case(app) -> int:
    """pfm's caseworker refers a person (legal help in Wrocław); nomada accepts; both write
    notes, shared and internal."""
    with app.app_context():
        caseworker = user("staff@pfm.example")
        data = intake("legal", "housing", name="Olena K.", description=STORY)
        referral_id = (
            lifecycle.submit_request(data, submitted_by=caseworker).request.referrals[0].id
        )
        nomada = user("staff@nomada.example")
        lifecycle.act(referral_id, nomada, Action.ACCEPT)
        referral = db.session.get(Referral, referral_id)
        lifecycle.add_note(referral, caseworker, "Shared by the sender", shared=True)
        lifecycle.add_note(referral, caseworker, "Internal to the sender", shared=False)
        lifecycle.add_note(referral, nomada, "Internal to the holder", shared=False)
        return referral_id


def test_the_holder_prints_the_whole_case_without_the_senders_internal_notes(app, login_as):
    referral_id = case(app)
    nomada = login_as("nomada")
    assert f"/staff/referrals/{referral_id}/summary" in nomada.get(
        f"/staff/referrals/{referral_id}"
    ).get_data(as_text=True)
    response = nomada.get(f"/staff/referrals/{referral_id}/summary")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for shown in ("Olena K.", STORY, "Shared by the sender", "Internal to the holder"):
        assert shown in page
    assert "Internal to the sender" not in page
    assert "print.css" in page
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        [opening] = db.session.scalars(
            select(DataAccess).where(DataAccess.page == Page.SUMMARY)
        ).all()
        assert opening.referral_id == referral_id and opening.user.email == "staff@nomada.example"


def test_nobody_but_the_holder_finds_the_summary(app, login_as, coordinator):
    referral_id = case(app)
    for client in (login_as("pfm"), login_as("hfpc"), coordinator):
        assert client.get(f"/staff/referrals/{referral_id}/summary").status_code == 404
    with app.app_context():
        offered = lifecycle.submit_request(intake("legal")).request.referrals[0].id
    assert login_as("nomada").get(f"/staff/referrals/{offered}/summary").status_code == 404
    with app.app_context():
        assert db.session.scalars(select(DataAccess)).all() == []


def test_the_print_stylesheet_hides_the_menus_on_paper(client):
    css = client.get("/static/print.css").get_data(as_text=True)
    assert "@media print" in css and ".site-header" in css


def test_a_coordinator_whose_account_names_an_organisation_finds_no_summary(app, login_as):
    """The coordinator acts for the consortium (access.acting_organisation_id), not as the
    organisation their account also names: the holder's summary is not theirs to print."""
    referral_id = case(app)
    with app.app_context():
        user("coordinator@konsorcjum.example").organisation_id = org("nomada").id
        db.session.commit()
    assert login_as("coordinator").get(f"/staff/referrals/{referral_id}/summary").status_code == 404


def test_words_people_wrote_take_their_own_direction(app, login_as):
    """Arabic, Farsi or Pashto written by the person or staff read right to left, inside pages
    that read left to right: each text people wrote is marked dir="auto"."""
    words = "أحتاج إلى مساعدة في بطاقة الإقامة"
    with app.app_context():
        data = intake("legal", name="Olena K.", description=words)
        referral_id = lifecycle.submit_request(data).request.referrals[0].id
        nomada = user("staff@nomada.example")
        lifecycle.act(referral_id, nomada, Action.ACCEPT)
        lifecycle.add_note(db.session.get(Referral, referral_id), nomada, words, shared=False)
    client = login_as("nomada")
    for path in (f"/staff/referrals/{referral_id}", f"/staff/referrals/{referral_id}/summary"):
        page = client.get(path).get_data(as_text=True)
        assert page.count(f'dir="auto">{words}<') == 2, path  # the request's story and the note


def test_the_summary_names_only_the_needs_routed_to_its_reader(app, login_as):
    """The holder of the legal need read the person's other needs (here housing, not theirs) on
    the summary, which no other page of theirs shows."""
    referral_id = case(app)
    with app.app_context():
        housing = db.session.scalar(select(Referral).where(Referral.specialism == "housing"))
        assert housing.organisation_id != org("nomada").id
    page = login_as("nomada").get(f"/staff/referrals/{referral_id}/summary").get_data(as_text=True)
    assert "Pomoc prawna" in page and "Mieszkanie" not in page
