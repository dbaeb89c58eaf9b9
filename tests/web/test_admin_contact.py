"""An organisation's public contact (issue 14.6): the coordinator edits the address, phone and
opening hours; the public directory and the HSDS export show them (valid HSDS 3.0 location, phone
and schedule objects); what the sources leave unverified is never the organisation's own claim."""

import re

import pytest

from referral.extensions import db
from referral.models import AdminEvent

from ..helpers import org
from .test_admin import organisation_form, text
from .test_api import all_pages, assert_valid

WEEKDAYS = {f"opens_{d}": "9:00" for d in ("MO", "TU", "WE", "TH", "FR")} | {
    f"closes_{d}": "17.00" for d in ("MO", "TU", "WE", "TH", "FR")
}


def edit(app, coordinator, slug: str, **changes):
    with app.app_context():
        organisation_id = org(slug).id
    return coordinator.post(
        f"/admin/organisations/{organisation_id}",
        data=organisation_form(app, slug, **changes),
        follow_redirects=True,
    )


def section(page: str, name: str) -> str:
    return re.search(rf"{re.escape(name)}.*?</h2>(.*?)</section>", page, re.S).group(1)


def hsds_organization(client, name: str, lang: str = "en") -> dict:
    found = client.get(f"/api/v1/hsds/organizations?per_page=50&lang={lang}").get_json()
    return next(o for o in found["contents"] if o["name"] == name)


def test_the_coordinator_sets_the_contact_and_everyone_sees_it(app, client, coordinator):
    response = edit(
        app,
        coordinator,
        "nomada",
        street_address="ul. Dubois 3",
        postal_code="50-208",
        public_phone="+48 71 123 45 67",
        contact_confirmed="y",
        opens_SA="10:00",
        closes_SA="14:00",
        **WEEKDAYS,
    )
    assert "The changes are saved." in text(response)
    with app.app_context():
        nomada = org("nomada")
        assert (nomada.street_address, nomada.postal_code, nomada.public_phone) == (
            "ul. Dubois 3",
            "50-208",
            "+48 71 123 45 67",
        )
        assert nomada.opening_hours["MO"] == ["09:00", "17:00"]
        assert nomada.opening_hours["SA"] == ["10:00", "14:00"]
        assert "SU" not in nomada.opening_hours
        change = db.session.scalars(
            db.select(AdminEvent).where(AdminEvent.action == "organisation_changed")
        ).one()
        assert change.after["street_address"] == "ul. Dubois 3"

    public = section(text(client.get("/en/organisations")), "Nomada Association")
    assert "ul. Dubois 3, 50-208 Wrocław" in public
    assert 'href="tel:+48711234567"' in public
    assert "Monday–Friday: 09:00–17:00" in public and "Saturday: 10:00–14:00" in public
    polish = text(client.get("/pl/organisations"))
    assert "poniedziałek–piątek: 09:00–17:00" in polish

    organization = hsds_organization(client, "Nomada Association")
    assert_valid("organization", organization)
    (location,) = organization["locations"]
    assert location["addresses"][0] | {"id": None, "location_id": None} == {
        "id": None,
        "location_id": None,
        "address_1": "ul. Dubois 3",
        "city": "Wrocław",
        "state_province": "dolnośląskie",
        "postal_code": "50-208",
        "country": "PL",
        "address_type": "physical",
    }
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in location["schedules"]] == [
        ("MO,TU,WE,TH,FR", "09:00", "17:00"),
        ("SA", "10:00", "14:00"),
    ]
    assert organization["phones"][0]["number"] == "+48 71 123 45 67"
    assert location["phones"][0]["location_id"] == location["id"]
    for schedule in location["schedules"]:
        assert_valid("schedule", schedule)
    assert_valid("phone", organization["phones"][0])


def test_unconfirmed_contact_is_shown_as_not_the_organisations_own(app, client, coordinator):
    edit(
        app,
        coordinator,
        "nomada",
        public_phone="+48 71 123 45 67",
        opens_MO="9:00",
        closes_MO="15:00",
    )
    with app.app_context():
        assert org("nomada").contact_confirmed is False  # the box was left unticked
    public = section(text(client.get("/en/organisations")), "Nomada Association")
    assert "the organisation has not confirmed this yet" in public
    organization = hsds_organization(client, "Nomada Association")
    assert organization["phones"][0]["description"] == "Not confirmed by the organisation"
    assert organization["locations"][0]["schedules"][0]["notes"] == (
        "Not confirmed by the organisation"
    )
    assert_valid("organization", organization)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"postal_code": "50208"}, "Enter a postal code like 00-153."),
        ({"public_phone": "call us"}, "Enter a phone number such as +48 22 123 45 67."),
        ({"opens_TU": "17:00", "closes_TU": "09:00"}, "The closing time must be after"),
        ({"opens_WE": "09:00"}, "Enter both times, like 09:00 and 17:00."),
        ({"opens_TH": "25:00", "closes_TH": "26:00"}, "Enter both times"),
        ({"street_address": "ul. Nowa 1", "home_city_id": ""}, "Choose the home city"),
    ],
)
def test_a_wrong_contact_is_refused_next_to_the_field(app, coordinator, changes, message):
    page = text(edit(app, coordinator, "nomada", **changes))
    assert message in page
    assert "The changes are saved." not in page
    with app.app_context():
        nomada = org("nomada")
        assert (nomada.street_address, nomada.public_phone, nomada.opening_hours) == (
            None,
            None,
            None,
        )


def test_the_edit_form_shows_the_hours_kept(app, coordinator):
    edit(app, coordinator, "nomada", contact_confirmed="y", **WEEKDAYS)
    with app.app_context():
        organisation_id = org("nomada").id
    page = text(coordinator.get(f"/admin/organisations/{organisation_id}"))
    assert re.search(r'name="opens_FR"[^>]*value="09:00"', page)
    assert re.search(r'name="closes_FR"[^>]*value="17:00"', page)
    assert re.search(r'name="opens_SU"[^>]*value=""', page)


def test_the_demo_shows_verified_addresses_and_marks_the_unverified(client, directory):
    public = text(client.get("/en/organisations"))
    homo_faber = section(public, "Homo Faber Association")
    assert "ul. Krakowskie Przedmieście 39B, Lublin" in homo_faber
    assert "Monday–Friday: 09:00–17:00" in homo_faber
    assert "not confirmed" not in homo_faber
    assert "ul. Zamenhofa 1, 00-153 Warszawa" in section(public, "Our Choice Foundation")
    chlebem = section(public, "Polish Hospitality Foundation")
    assert "the organisation has not confirmed this yet" in chlebem

    organizations = all_pages(client, "/api/v1/hsds/organizations", per_page=4)
    for organization in organizations:
        assert_valid("organization", organization)
    by_site = {o["website"]: o for o in organizations}
    nasz_wybor = by_site["https://naszwybir.pl/"]["locations"][0]["addresses"][0]
    assert (nasz_wybor["address_1"], nasz_wybor["postal_code"]) == ("ul. Zamenhofa 1", "00-153")
    # No postal code in the source: the address is described, not made into an HSDS address.
    baobab = by_site["https://baobab.lublin.pl/"]["locations"][0]
    assert "addresses" not in baobab
    assert baobab["description"] == "ul. Krakowskie Przedmieście 39B, Lublin"
