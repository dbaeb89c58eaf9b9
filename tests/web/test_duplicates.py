"""Issue 13.6: staff and the coordinator see "possible duplicate of ABC-123" when a new request
has the name (in any spelling), phone number or e-mail of an earlier one still open."""

from sqlalchemy import select

from referral import lifecycle
from referral.extensions import db
from referral.models import HelpRequest, Referral

from .test_public import post_intake


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
