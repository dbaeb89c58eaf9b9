"""Issue 13.5: the confirmation and the status page say need by need what happened, and an urgent
need nobody took reaches the coordinator at once."""

import re

import pytest
from sqlalchemy import select

from referral import lifecycle
from referral.extensions import db
from referral.handoff import Action
from referral.models import OutboxMessage, Referral

from ..helpers import user
from .test_public import post_intake, status_path

LUBLIN = {"city": "lublin", "needs": ["legal", "housing"]}
HOMO_FABER_UK = (
    'Передано: Асоціація «Homo Faber» (<span lang="pl">Stowarzyszenie Homo Faber</span>)'
)


def test_confirmation_says_need_by_need_whom_it_went_to_and_that_housing_went_to_nobody(
    client, directory
):
    html = post_intake(client, lang="en", **LUBLIN).get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", "", html).split())
    assert "has gone to" not in text and "in your area" not in text
    assert "Passed to: Homo Faber Association (Stowarzyszenie Homo Faber), Lublin." in text
    assert "They answer by" in text
    assert (
        "No organisation has taken this yet. We are looking for one: the consortium’s "
        "coordinator answers within 2 working days." in text
    )
    # The public contact points that exist: members helping anywhere in Poland, none of them with
    # housing: "for other questions", not as if they could help with it.
    assert "For other questions, these members of the consortium help people anywhere" in text
    assert "Meanwhile" not in text
    assert "https://interwencjaprawna.pl/" in html and "https://hfhr.pl/" in html


def test_ukrainian_pages_name_the_organisation_in_the_nominative_beside_its_polish_name(
    client, directory
):
    html = post_intake(client, lang="uk", **LUBLIN).get_data(as_text=True)
    assert HOMO_FABER_UK in html
    assert "Передано організації" not in html
    assert "Координатор консорціуму відповість протягом 2 робочих днів" in html
    status = client.get(status_path(html)).get_data(as_text=True)
    assert HOMO_FABER_UK in status
    assert "Координатор консорціуму відповість протягом 2 робочих днів" in status


def test_the_coordinators_answer_time_is_a_setting(app, client, directory):
    app.config["COORDINATOR_ANSWER_DAYS"] = 5
    try:
        html = post_intake(client, lang="pl", **LUBLIN).get_data(as_text=True)
    finally:
        app.config["COORDINATOR_ANSWER_DAYS"] = 2
    assert "Koordynator konsorcjum odpowie w ciągu 5 dni roboczych" in html


def test_urgent_unmatched_need_points_to_112_and_alerts_every_coordinator_at_once(
    app, client, staff
):
    html = post_intake(
        client, lang="en", urgency="urgent", name="Olena Kovalenko", **LUBLIN
    ).get_data(as_text=True)
    assert "If you are in danger now, call 112" in html
    assert "You marked it urgent, so the coordinator was told at once." in html
    with app.app_context():
        housing = db.session.scalar(select(Referral).where(Referral.specialism == "housing"))
        reference = housing.request.reference
        alerts = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "urgent_unmatched")
        ).all()
        assert [alert.to_address for alert in alerts] == ["coordinator@konsorcjum.example"]
        [alert] = alerts
        assert reference in alert.subject and reference in alert.body
        assert f"/admin/referrals/{housing.id}/route-by-hand" in alert.body
        # Nothing about the person: no name, phone, place or story.
        for personal in ("Olena", "Kovalenko", "+380", "Lublin", "residence card"):
            assert personal not in alert.body and personal not in alert.subject


def test_a_need_that_is_not_urgent_alerts_nobody(app, client, staff):
    post_intake(client, lang="en", **LUBLIN)
    with app.app_context():
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
        assert "urgent_unmatched" not in kinds


def test_an_urgent_need_left_with_no_one_after_a_decline_alerts_the_coordinator(app, client, staff):
    post_intake(client, lang="en", urgency="urgent", city="lublin", needs=["psychological"])
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        assert referral.state == "offered"
        lifecycle.act(
            referral.id,
            user("staff@homo-faber.example"),
            Action.DECLINE,
            reason_code="no_capacity",
        )
        assert db.session.get(Referral, referral.id).state == "unmatched"
        assert db.session.scalar(
            select(OutboxMessage.subject).where(OutboxMessage.kind == "urgent_unmatched")
        )


def test_ukrainian_form_words_urgency_and_residence_as_people_say_them(client, directory):
    html = client.get("/uk/request").get_data(as_text=True)
    urgency = re.search(r'<fieldset(?:(?!</fieldset>).)*name="urgency".*?</fieldset>', html, re.S)
    assert "Нетерміново" in urgency.group(0) and "Терміново" in urgency.group(0)
    assert "Звичайно" not in html
    residence = re.search(r'<select[^>]*name="residence_status".*?</select>', html, re.S).group(0)
    for words in ("посвідка на проживання", "karta pobytu", "PESEL UKR", "статус UKR", "CUKR"):
        assert words in residence
    polish = client.get("/pl/request").get_data(as_text=True)
    assert "karta pobytu" in polish and "PESEL UKR" in polish and "CUKR" in polish


def test_a_need_passed_to_a_remote_member_says_it_helps_remotely_not_its_home_city(
    client, directory
):
    """Legal help in Olsztyn goes to a member in Warsaw that helps all of Poland remotely: the
    person is not sent to Warsaw by the page."""
    html = post_intake(client, lang="en", city="olsztyn", needs=["legal"]).get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", "", html).split())
    helsinki = "Helsinki Foundation for Human Rights (Helsińska Fundacja Praw Człowieka)"
    assert f"Passed to: {helsinki}. They help remotely: by phone, e-mail or online." in text
    assert "Warsaw" not in text
    polish = post_intake(
        client, lang="pl", city="olsztyn", needs=["legal"], phone="+48 600 111 222"
    )
    assert "Warszawa" not in " ".join(re.sub(r"<[^>]+>", "", polish.get_data(as_text=True)).split())


def test_an_organisation_named_only_in_polish_is_marked_polish_on_a_ukrainian_page(
    app, client, directory
):
    """A screen reader reads a Polish name with Polish sounds, also where no translation exists."""
    from referral.models import Organisation

    with app.app_context():
        homo_faber = db.session.scalar(
            select(Organisation).where(Organisation.slug == "homo-faber")
        )
        homo_faber.name_uk = ""
        db.session.commit()
    html = post_intake(client, lang="uk", **LUBLIN).get_data(as_text=True)
    assert 'Передано: <span lang="pl">Stowarzyszenie Homo Faber</span>' in html


@pytest.mark.parametrize("path", ["/uk/", "/uk/organisations"])
def test_the_members_lists_give_each_polish_name_beside_its_translation(client, directory, path):
    """The newcomer finds the organisation on its door and its website by the Polish name."""
    html = client.get(path).get_data(as_text=True)
    assert (
        'Гельсінський фонд прав людини (<span lang="pl">Helsińska Fundacja Praw Człowieka</span>)'
        in html
    )
