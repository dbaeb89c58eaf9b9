"""Issue 13.6: staff and the coordinator see "possible duplicate of ABC-123" when a new request
has the name (in any spelling), phone number or e-mail of an earlier one still open."""

import re

from sqlalchemy import func, select

from referral import lifecycle
from referral.extensions import db
from referral.models import HelpRequest, Referral

from ..helpers import intake, user
from .test_public import post_intake, status_path


def requests_by_id() -> list[HelpRequest]:
    return db.session.scalars(select(HelpRequest).order_by(HelpRequest.id)).all()


def test_the_same_name_in_another_spelling_is_a_possible_duplicate_shown_to_the_holder(
    app, client, staff, login_as
):
    post_intake(client, "en", needs=["legal"], name="Łucja Kowalska", phone="+48 601 111 111")
    post_intake(client, "en", needs=["legal"], name="KOWALSKA  lucja", phone="+48 602 222 222")
    with app.app_context():
        first, second = requests_by_id()
        assert first.possible_duplicate_of is None
        assert second.possible_duplicate_of == first.reference
        referral = db.session.scalar(select(Referral).where(Referral.request_id == second.id))
        holder = referral.organisation.slug
    page = login_as(holder).get(f"/staff/referrals/{referral.id}").get_data(as_text=True)
    assert first.reference in page  # "possible duplicate of ABC-123", in their language
    coordinator_page = login_as("coordinator").get(f"/staff/referrals/{referral.id}")
    assert first.reference in coordinator_page.get_data(as_text=True)


def test_a_first_name_alone_another_person_or_an_ended_request_is_no_duplicate(app, client, staff):
    post_intake(client, "en", needs=["legal"], name="Olena", phone="+48 601 111 111")
    post_intake(client, "en", needs=["legal"], name="Olena", phone="+48 602 222 222")
    post_intake(client, "en", needs=["legal"], name="Olena Kovalenko", phone="+48 603 333 333")
    post_intake(client, "en", needs=["legal"], name="Olena Shevchenko", phone="+48 604 444 444")
    with app.app_context():
        assert [r.possible_duplicate_of for r in requests_by_id()] == [None] * 4
        lifecycle.withdraw_request(requests_by_id()[2])
    post_intake(client, "en", needs=["legal"], name="Olena Kovalenko", phone="+48 605 555 555")
    with app.app_context():
        assert requests_by_id()[-1].possible_duplicate_of is None  # the earlier one was erased


def test_a_need_asked_again_from_the_same_phone_joins_the_open_referral_and_a_fresh_link_goes(
    app, client, staff, login_as
):
    from referral.models import FromPerson, OutboxMessage

    post_intake(client, "uk", needs=["legal"], phone="+48 601 111 111")
    with app.app_context():
        [first] = requests_by_id()
        old_token_hash, reference = first.status_token_hash, first.reference
        referral = db.session.scalar(select(Referral))
        holder, offers = referral.organisation.slug, referral.id
    again = post_intake(
        client, "uk", needs=["legal"], phone="601 111 111", description="Ще раз прошу"
    )
    html = again.get_data(as_text=True)
    assert "ваш попередній запит досі відкритий" in html
    # Nothing about the earlier request: neither its reference nor a status link.
    assert reference not in html and not re.search(r"/status/[\w-]{40,}", html)
    with app.app_context():
        assert len(requests_by_id()) == 1  # no second request, no second offer
        assert db.session.scalar(select(func.count()).select_from(Referral)) == 1
        assert requests_by_id()[0].status_token_hash != old_token_hash  # a fresh link
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
        assert "person_fresh_link" in kinds and kinds.count("person_wrote") == 1
        [asked] = db.session.scalars(select(FromPerson)).all()
        assert (asked.kind, asked.body, asked.referral_id) == (
            "asked_again",
            "Ще раз прошу",
            offers,
        )
    page = login_as(holder).get(f"/staff/referrals/{offers}").get_data(as_text=True)
    assert "Ще раз прошу" in page


def test_only_the_needs_still_open_join_the_others_make_a_new_request(app, client, directory):
    by_mail = {"phone": "", "contact_channel": "email"}
    post_intake(client, "en", needs=["legal"], email="olena@example.org", **by_mail)
    html = post_intake(
        client, "en", needs=["legal", "psychological"], email="OLENA@example.org ", **by_mail
    ).get_data(as_text=True)
    assert "your earlier request is still open: Legal help" in html
    assert "Your request was sent" in html
    with app.app_context():
        first, second = requests_by_id()
        assert [r.specialism for r in second.referrals] == ["psychological"]
        assert second.possible_duplicate_of == first.reference


def test_sending_a_request_again_and_again_sends_one_fresh_link(app, client, directory):
    """Anyone who knows a person's number could send the form again and again: each time a
    fresh link, killing the one before, went to the person's phone. At most one fresh link
    per FRESH_LINK_EVERY_MINUTES, as on the lost-link page."""
    from referral.models import OutboxMessage

    first = post_intake(client, "en", needs=["legal"], phone="+48 601 111 111")
    link = re.search(r"/en/status/[\w-]{40,}", first.get_data(as_text=True)).group()
    stranger = app.test_client()
    for attempt in range(5):
        post_intake(stranger, "en", needs=["legal"], phone="601111111", description=f"{attempt}")
    with app.app_context():
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
    assert kinds.count("person_fresh_link") == 1  # one SMS (the only contact given)
    assert client.get(link).status_code == 404  # replaced once, by the link in that message


def test_a_possible_duplicate_is_named_only_to_those_who_see_the_earlier_request(
    app, client, staff, login_as
):
    """A caseworker of another organisation typing a name must not learn that a person of that
    name has an open request elsewhere, nor its reference; the earlier request's holder and the
    coordinator do see it."""
    post_intake(client, "en", needs=["legal"], name="Iryna Bondarenko", phone="+48 601 111 111")
    with app.app_context():
        from referral.models import User

        [earlier] = requests_by_id()
        earlier_holder = earlier.referrals[0].organisation.slug
        caseworker = next(
            u
            for u in db.session.scalars(select(User).where(User.organisation_id.is_not(None)))
            if u.organisation.slug != earlier_holder
        )
        later = lifecycle.submit_request(
            intake("legal", name="bondarenko IRYNA", phone="+48 699 999 999"),
            submitted_by=caseworker,
        )
        referral_id, slug = later.request.referrals[0].id, caseworker.organisation.slug
        assert later.request.possible_duplicate_of == earlier.reference

    def page_of(who: str) -> str:
        return login_as(who).get(f"/staff/referrals/{referral_id}").get_data(as_text=True)

    assert "Iryna" in page_of(slug) or "bondarenko" in page_of(slug)  # it sees its own person
    assert earlier.reference not in page_of(slug)
    assert earlier.reference in page_of("coordinator")


def test_the_same_form_sent_twice_is_one_request_and_keeps_its_link(app, client, directory):
    """Reloading the confirmation (or tapping Send twice) posts the same form again: it joined
    the request just made as "asked again" and a fresh link replaced the one on the screen. The
    form's CSRF token, new with every page shown, now says it was sent already."""
    from referral.models import FromPerson, OutboxMessage

    from ..helpers import csrf_token_of
    from .test_public import VALID

    app.config["WTF_CSRF_ENABLED"] = True
    try:
        token = csrf_token_of(client.get("/uk/request").get_data(as_text=True))
        form = {**VALID, "csrf_token": token}
        first = client.post("/uk/request", data=form).get_data(as_text=True)
        again = client.post("/uk/request", data=form)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        [request] = requests_by_id()
        reference = request.reference
        assert db.session.scalar(select(func.count()).select_from(FromPerson)) == 0
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
    assert again.status_code == 200 and "person_fresh_link" not in kinds
    html = again.get_data(as_text=True)
    assert "Ви вже надіслали цей запит" in html and reference in html
    assert client.get(status_path(first)).status_code == 200  # the link shown first still works


def test_the_same_form_sent_twice_at_once_is_one_request(app, ctx, directory, monkeypatch):
    """Two posts of one form at the same moment: both find nothing sent yet, the second is
    refused by the unique hash at its commit, and nothing of it is kept."""
    import pytest

    from referral.models import OutboxMessage
    from referral.service_errors import ServiceError

    data = intake("legal", submission_hash="f" * 64)
    first = lifecycle.submit_from_person(data).submitted
    real_check, checks = lifecycle.refuse_if_sent, []

    def not_yet_committed(submission_hash):
        checks.append(submission_hash)
        if len(checks) > 1:
            real_check(submission_hash)

    monkeypatch.setattr(lifecycle, "refuse_if_sent", not_yet_committed)
    monkeypatch.setattr(lifecycle, "_open_needs", lambda data: [])
    messages = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    with pytest.raises(ServiceError) as refused:
        lifecycle.submit_from_person(data)
    assert (refused.value.code, refused.value.detail) == ("already_sent", first.reference)
    assert len(requests_by_id()) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == messages


def test_erasure_forgets_that_two_requests_looked_alike(app, client, directory):
    """ "Possible duplicate of ABC-123" says two people shared a name, phone or e-mail: a fact
    drawn from personal data, erased with either request."""
    post_intake(client, "en", needs=["legal"], name="Iryna Bondarenko", phone="+48 601 111 111")
    post_intake(client, "en", needs=["legal"], name="Bondarenko Iryna", phone="+48 602 222 222")
    with app.app_context():
        first, second = requests_by_id()
        assert second.possible_duplicate_of == first.reference
        lifecycle.withdraw_request(first)
        assert requests_by_id()[1].possible_duplicate_of is None
        post_intake(client, "en", needs=["legal"], name="Olga Nowak", phone="+48 603 333 333")
        post_intake(client, "en", needs=["legal"], name="Nowak Olga", phone="+48 604 444 444")
        fourth = requests_by_id()[3]
        lifecycle.withdraw_request(fourth)
        assert requests_by_id()[3].possible_duplicate_of is None


def test_a_form_that_only_joined_open_needs_sent_again_adds_nothing(app, client, directory):
    """A form whose every need joined the person's open request made no request to keep its
    hash: reloading the page added its words to the case again and mailed the holder again."""
    from referral.models import FromPerson, OutboxMessage

    from ..helpers import csrf_token_of
    from .test_public import VALID

    post_intake(client, "uk", needs=["legal"], phone="+48 601 111 111")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        token = csrf_token_of(client.get("/uk/request").get_data(as_text=True))
        form = {**VALID, "needs": ["legal"], "phone": "601 111 111", "csrf_token": token}
        joined = client.post("/uk/request", data=form).get_data(as_text=True)
        again = client.post("/uk/request", data=form).get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert "ваш попередній запит досі відкритий" in joined
    assert "Ви вже надіслали цей запит" in again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FromPerson)) == 1
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
    assert kinds.count("person_wrote") == 1


def test_the_page_says_a_new_link_went_only_when_one_did(app, client, directory):
    """A landline takes no text and no e-mail was given: no new link went, and the page said one
    had; it says now that the link from then still works (it does)."""
    landline = {"phone": "+48 22 123 45 67", "email": "", "contact_channel": "phone"}
    first = post_intake(client, "en", needs=["legal"], **landline).get_data(as_text=True)
    again = post_intake(app.test_client(), "en", needs=["legal"], **landline)
    html = again.get_data(as_text=True)
    assert "your earlier request is still open" in html
    assert "We sent a new link" not in html
    assert "The link to your status page that you got then still works." in html
    assert client.get(status_path(first)).status_code == 200
    mobile = post_intake(app.test_client(), "en", needs=["legal"], phone="+48 601 111 111")
    assert "We sent a new link" not in mobile.get_data(as_text=True)  # a first request
    again = post_intake(app.test_client(), "en", needs=["legal"], phone="+48 601 111 111")
    assert "We sent a new link" in again.get_data(as_text=True)


def test_a_need_asked_again_from_another_city_or_now_urgent_tells_the_holder(
    app, client, staff, login_as
):
    """The person moved to Kraków, or things got worse: the form said so, and joined to the open
    need the new city and urgency were dropped. The holder reads them beside the new words."""
    from referral.models import FromPerson

    post_intake(client, "en", needs=["legal"], phone="+48 601 111 111")  # Wrocław
    post_intake(client, "en", needs=["legal"], phone="601 111 111", city="krakow", urgency="urgent")
    with app.app_context():
        [asked] = db.session.scalars(select(FromPerson)).all()
        assert (asked.city.slug, asked.voivodeship_teryt, asked.urgent) == ("krakow", "12", True)
        referral = db.session.scalar(select(Referral))
        holder, referral_id = referral.organisation.slug, referral.id
        user(f"staff@{holder}.example").language = "en"
        db.session.commit()
    page = " ".join(
        login_as(holder).get(f"/staff/referrals/{referral_id}").get_data(as_text=True).split()
    )
    assert "Now in: Kraków" in page and "Now urgent" in page


def test_a_need_asked_again_from_the_same_place_adds_no_place(app, client, staff):
    from referral.models import FromPerson

    post_intake(client, "en", needs=["legal"], phone="+48 601 111 111")
    post_intake(client, "en", needs=["legal"], phone="601 111 111")
    with app.app_context():
        [asked] = db.session.scalars(select(FromPerson)).all()
        assert (asked.city_id, asked.voivodeship_teryt, asked.urgent) == (None, None, None)


def test_a_need_asked_again_without_words_goes_with_the_erased_request(app, client, staff):
    """No words, but the place they moved to and that it got urgent: the person's too."""
    from referral.models import FromPerson

    post_intake(client, "en", needs=["legal"], phone="+48 601 111 111")
    post_intake(client, "en", needs=["legal"], phone="601 111 111", city="krakow", description="")
    with app.app_context():
        [asked] = db.session.scalars(select(FromPerson)).all()
        assert asked.body is None and asked.city is not None
        lifecycle.withdraw_request(db.session.scalar(select(HelpRequest)))
        assert db.session.scalars(select(FromPerson)).all() == []
