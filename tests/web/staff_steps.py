"""Steps a staff member takes through the web pages, shared by the staff and isolation tests."""

import pytest

from referral.extensions import db
from referral.models import HelpRequest, Referral, User

PERSON = {
    "needs": ["legal"],
    "city": "wroclaw",
    "languages": ["uk", "ru"],
    "name": "Olena",
    "phone": "+48 512 345 678",
    "email": "olena@example.com",
    "contact_channel": "phone",
    "urgency": "normal",
    "description": "I need help with my residence card.",
    "person_language": "uk",
    "consent": "y",
}


@pytest.fixture
def english_staff(app, staff):
    """Demo accounts default to Polish; the tests read the English msgids."""
    with app.app_context():
        db.session.execute(db.update(User).values(language="en"))
        db.session.commit()


def refer(client, **changes):
    """A caseworker refers a person through /staff/referrals/new; returns the response."""
    return client.post("/staff/referrals/new", data={**PERSON, **changes})


def latest_referral(app) -> tuple[int, int]:
    with app.app_context():
        referral = db.session.scalar(db.select(Referral).order_by(Referral.id.desc()))
        return referral.id, referral.version


def placement(app, referral_id: int) -> tuple[str, str | None]:
    """(state, slug of the organisation it is offered to or held by) as stored now."""
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        return referral.state, referral.organisation.slug if referral.organisation else None


def version_of(app, referral_id: int) -> int:
    with app.app_context():
        return db.session.get(Referral, referral_id).version


def act(app, client, referral_id: int, action: str, version: int | None = None, **fields):
    """Post one action form as the page would: its fields carry the action's code as a prefix,
    its URL the same words with hyphens (``hand-back``)."""
    version = version_of(app, referral_id) if version is None else version
    prefix = action.replace("-", "_")
    data = {f"{prefix}-version": version, **{f"{prefix}-{k}": v for k, v in fields.items()}}
    return client.post(f"/staff/referrals/{referral_id}/{action}", data=data)


def reference_of(app, referral_id: int) -> str:
    with app.app_context():
        return db.session.scalar(
            db.select(HelpRequest.reference).join(Referral).where(Referral.id == referral_id)
        )
