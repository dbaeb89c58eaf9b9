"""Loads the directory the project ships (``referral/data``) and the demo staff accounts."""

import csv
import json
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select

from . import accounts
from .extensions import db
from .models import City, Coverage, Organisation, User, Voivodeship

# Printed for the demo, never used in production.
DEMO_PASSWORD = "demo-password"  # noqa: S105  # nosec B105


def _data(name: str):
    return resources.files("referral").joinpath("data", name).open(encoding="utf-8")


def load_places() -> None:
    """Voivodeships and cities, inserted or updated by their code and slug."""
    with _data("voivodeships.csv") as f:
        for row in csv.DictReader(f):
            voivodeship = db.session.get(Voivodeship, row["teryt_woj"]) or Voivodeship(
                teryt=row["teryt_woj"]
            )
            voivodeship.iso_code = row["iso_3166_2"]
            voivodeship.name_pl, voivodeship.name_uk, voivodeship.name_en = (
                row["name_pl"],
                row["name_uk"],
                row["name_en"],
            )
            db.session.add(voivodeship)
    db.session.flush()
    with _data("cities.csv") as f:
        for row in csv.DictReader(f):
            city = db.session.scalar(select(City).where(City.slug == row["slug"])) or City(
                slug=row["slug"]
            )
            city.name_pl, city.name_uk, city.name_en = (
                row["name_pl"],
                row["name_uk"],
                row["name_en"],
            )
            city.voivodeship_teryt = row["voivodeship_teryt"]
            db.session.add(city)
    db.session.flush()


def load_directory() -> None:
    """The consortium's organisations and coverage; re-running brings them back to the file."""
    with _data("organisations.json") as f:
        entries = json.load(f)["organisations"]
    cities = {city.slug: city for city in db.session.scalars(select(City))}
    for entry in entries:
        org = db.session.scalar(select(Organisation).where(Organisation.slug == entry["slug"]))
        if org is None:
            org = Organisation(slug=entry["slug"], email=f"intake@{entry['slug']}.example")
            db.session.add(org)
        for language in ("pl", "uk", "en"):
            setattr(org, f"name_{language}", entry["name"][language])
            setattr(org, f"description_{language}", entry["description"][language])
        org.website = entry["website"]
        org.home_city = cities[entry["home_city"]]
        org.languages = entry["languages"]
        org.languages_confirmed = entry["languages_confirmed"]
        org.takes_referrals = entry["takes_referrals"]
        contact = entry.get("contact", {})
        org.street_address = contact.get("street_address")
        org.postal_code = contact.get("postal_code")
        org.public_phone = contact.get("phone")
        org.opening_hours = contact.get("opening_hours")
        org.contact_confirmed = contact.get("confirmed", True)
        wanted = {
            (specialism, block["scope"], block.get("area"))
            for block in entry["coverage"]
            for specialism in block["specialisms"]
        }
        have = {(c.specialism, c.scope, c.area): c for c in org.coverage}
        for key in have.keys() - wanted:
            org.coverage.remove(have[key])
        for specialism, scope, area in wanted - have.keys():
            org.coverage.append(Coverage(specialism=specialism, scope=scope, area=area))
    db.session.flush()


@dataclass
class DemoLogin:
    email: str
    organisation: str


def load_demo_accounts() -> list[DemoLogin]:
    """One staff account per organisation and a coordinator, all with the demo password."""
    wanted: list[tuple[str, str, int | None, str, str]] = [
        (f"staff@{org.slug}.example", org.name_pl, org.id, "staff", org.slug)
        for org in db.session.scalars(select(Organisation).order_by(Organisation.slug))
    ]
    wanted.append(("coordinator@konsorcjum.example", "Koordynacja", None, "coordinator", "—"))
    logins = []
    for email, name, org_id, role, label in wanted:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            accounts.create_user(email, DEMO_PASSWORD, name, org_id, role=role)
        logins.append(DemoLogin(email=email, organisation=label))
    db.session.flush()
    return logins


def load_consortium() -> None:
    """The places, then the consortium's members and what they cover: a site's first data, with
    no account (``flask load-directory``); the caller commits."""
    load_places()
    load_directory()


def seed_demo() -> list[DemoLogin]:
    load_consortium()
    logins = load_demo_accounts()
    db.session.commit()
    return logins
