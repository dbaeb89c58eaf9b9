"""Issue 13.4: on the status page the person changes how to be contacted, and writes to the
organisation holding a need; the holder reads it on the referral and is told by mail."""

from sqlalchemy import select, text

from referral import lifecycle
from referral.extensions import db
from referral.handoff import Action
from referral.models import FromPerson, HelpRequest, OutboxMessage, Referral

from ..helpers import user
from .test_public import sent_request

NEW_CONTACT = {
    "phone": "0048 601 222 333",
    "email": "olena.new@example.org",
    "contact_channel": "sms",
    "safe_to_message": "",
}


def the_request() -> HelpRequest:
    return db.session.scalar(select(HelpRequest))


def test_the_person_changes_how_to_be_reached_and_the_change_is_recorded_without_values(
    app, client, directory
):
    path = sent_request(client, "en", needs=["legal"])
    page = client.get(path).get_data(as_text=True)
    assert 'value="+380671234567"' in page  # their number, to correct
    response = client.post(f"{path}/contact", data=NEW_CONTACT)
    assert response.status_code == 200
    assert "Thank you. We saved how to contact you." in response.get_data(as_text=True)
    with app.app_context():
        request = the_request()
        assert (request.phone, request.email) == ("+48601222333", "olena.new@example.org")
        assert (request.contact_channel, request.safe_to_message) == ("sms", False)
        # The matching hashes follow: found by the new number in any spelling, not by the old.
        assert db.session.scalar(
            select(HelpRequest.id).where(HelpRequest.with_contact(phone="601 222 333"))
        )
        assert not db.session.scalar(
            select(HelpRequest.id).where(HelpRequest.with_contact(phone="+380 67 123 45 67"))
        )
        [change] = db.session.scalars(select(FromPerson)).all()
        assert change.kind == "contact_changed" and change.body is None
        assert change.changed == ["phone", "email", "contact_channel", "safe_to_message"]
    again = client.post(f"{path}/contact", data=NEW_CONTACT)
    assert "Nothing was changed." in again.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(select(FromPerson)).all()) == 1


def test_contact_is_checked_like_the_intake_and_nothing_is_saved_on_an_error(
    app, client, directory
):
    path = sent_request(client, "uk", needs=["legal"])
    response = client.post(f"{path}/contact", data={**NEW_CONTACT, "phone": "12"})
    assert response.status_code == 400
    assert "Це не схоже на номер телефону" in response.get_data(as_text=True)
    response = client.post(
        f"{path}/contact", data={**NEW_CONTACT, "email": "", "contact_channel": "email"}
    )
    assert response.status_code == 400
    with app.app_context():
        assert the_request().phone == "+380671234567"
        assert db.session.scalars(select(FromPerson)).all() == []


def test_the_person_writes_to_the_holder_who_reads_it_and_is_told_by_mail(
    app, client, staff, login_as
):
    path = sent_request(client, "uk", needs=["legal"])
    page = client.get(path).get_data(as_text=True)
    assert "Написати організації" in page
    words = "I moved to a new flat on Prosta 7, please call after 17:00."
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        holder = referral.organisation.slug
        intake_address = referral.organisation.email
        reference = referral.request.reference
    response = client.post(f"{path}/message", data={"referral_id": referral.id, "body": words})
    assert "Дякуємо. Організація прочитає ваше повідомлення." in response.get_data(as_text=True)
    with app.app_context():
        [message] = db.session.scalars(select(FromPerson)).all()
        assert (message.kind, message.body, message.referral_id) == ("message", words, referral.id)
        stored = db.session.execute(text("SELECT body FROM from_person")).scalar()
        assert "Prosta" not in stored  # encrypted at rest
        [mail] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "person_wrote")
        ).all()
        assert mail.to_address == intake_address
        assert reference in mail.body and f"/staff/referrals/{referral.id}" in mail.body
        assert "Prosta" not in mail.body and "Prosta" not in mail.subject
    staff_page = login_as(holder).get(f"/staff/referrals/{referral.id}").get_data(as_text=True)
    assert words in staff_page


def test_an_organisation_that_declined_no_longer_reads_what_the_person_writes(
    app, client, staff, login_as
):
    path = sent_request(client, "en", needs=["legal"])
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        first = referral.organisation.slug
        lifecycle.act(
            referral.id, user(f"staff@{first}.example"), Action.DECLINE, reason_code="no_capacity"
        )
        second = db.session.get(Referral, referral.id).organisation.slug
    client.post(f"{path}/message", data={"referral_id": referral.id, "body": "PERSON-WORDS"})
    assert "PERSON-WORDS" in login_as(second).get(f"/staff/referrals/{referral.id}").get_data(
        as_text=True
    )
    declined = login_as(first).get(f"/staff/referrals/{referral.id}").get_data(as_text=True)
    assert "PERSON-WORDS" not in declined


def test_no_message_form_for_a_need_nobody_holds_and_a_forged_one_is_refused(
    app, client, directory
):
    path = sent_request(client, "en", needs=["housing"], city="lublin")
    page = client.get(path).get_data(as_text=True)
    assert "Write to the organisation" not in page
    with app.app_context():
        referral_id = db.session.scalar(select(Referral.id))
    response = client.post(f"{path}/message", data={"referral_id": referral_id, "body": "Hello"})
    assert response.status_code == 400
    response = client.post(f"{path}/message", data={"referral_id": "abc", "body": "Hello"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(FromPerson)).all() == []


def test_a_message_without_its_need_is_refused_on_the_form(client, directory):
    """A post without ``referral_id`` (the page edited, a client that drops the field) passed the
    check of the list, which only looked at a value given, and answered 500."""
    path = sent_request(client, "pl", needs=["legal"])
    response = client.post(f"{path}/message", data={"body": "Dzień dobry"})
    assert response.status_code == 400
    assert "Wybierz potrzebę z listy." in response.get_data(as_text=True)
    assert "Dzień dobry" in response.get_data(as_text=True)  # what was typed stays


def test_an_empty_message_is_refused_with_a_translated_error(client, directory):
    path = sent_request(client, "pl", needs=["legal"])
    response = client.post(f"{path}/message", data={"referral_id": "1", "body": "  "})
    assert response.status_code == 400
    assert "Najpierw napisz wiadomość." in response.get_data(as_text=True)


def test_the_status_page_asks_the_person_to_check_an_address_our_mail_cannot_reach(
    app, client, directory, smtp_server
):
    """The mail server says the address does not exist: the person, back on their status page,
    reads that our e-mails do not arrive, beside the form to correct it; once corrected, not."""
    from referral import mailer

    smtp_server.unknown.add("olena@example.org")
    path = sent_request(client, "en", needs=["legal"], email="olena@example.org")
    with app.app_context():
        mailer.deliver_pending()
    warning = "Our e-mails to you do not arrive. Please check your e-mail address below."
    page = client.get(path).get_data(as_text=True)
    assert warning in page
    assert page.index(warning) > page.index('id="contact"')  # beside the form
    assert "Our text messages to you do not arrive" not in page
    corrected = client.post(f"{path}/contact", data={**NEW_CONTACT, "safe_to_message": "y"})
    assert warning not in corrected.get_data(as_text=True)


def test_messages_to_the_organisation_are_limited_per_address_and_per_request(
    app, limited_app, directory
):
    """Each message mails the organisation: ten an hour from one address, and ten an hour for one
    request whatever the address (a shared link, many machines)."""
    client = limited_app.test_client()
    path = sent_request(client, "en", needs=["legal"])
    with app.app_context():
        referral_id = db.session.scalar(select(Referral.id))

    def write(n: int, address: str = "127.0.0.1") -> int:
        data = {"referral_id": referral_id, "body": f"Message {n}"}
        return client.post(
            f"{path}/message", data=data, environ_base={"REMOTE_ADDR": address}
        ).status_code

    assert [write(n) for n in range(11)] == [200] * 10 + [429]
    assert write(11, address="198.51.100.7") == 429
    with app.app_context():
        assert len(db.session.scalars(select(FromPerson)).all()) == 10


def test_a_message_sent_twice_by_a_reload_is_written_and_mailed_once(app, client, directory):
    """The answer to a message is the POST's own page: reloading it, or going back to it, posts
    the same form again. The form's CSRF token, new each time the page is shown, says it was
    sent already; a new message from the page shown again goes as usual."""
    from ..helpers import csrf_token_of

    path = sent_request(client, "en", needs=["legal"])
    with app.app_context():
        referral_id = db.session.scalar(select(Referral.id))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        form = {
            "referral_id": referral_id,
            "body": "I can come on Monday.",
            "csrf_token": csrf_token_of(client.get(path).get_data(as_text=True)),
        }
        first = client.post(f"{path}/message", data=form)
        again = client.post(f"{path}/message", data=form)
        shown_again = csrf_token_of(again.get_data(as_text=True))
        other = client.post(
            f"{path}/message", data={**form, "body": "Or Tuesday.", "csrf_token": shown_again}
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert first.status_code == again.status_code == other.status_code == 200
    assert "The organisation will read your message." in again.get_data(as_text=True)
    with app.app_context():
        words = db.session.scalars(select(FromPerson.body).order_by(FromPerson.id)).all()
        mails = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "person_wrote")
        ).all()
    assert words == ["I can come on Monday.", "Or Tuesday."]
    assert len(mails) == 2
