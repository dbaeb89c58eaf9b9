"""Read-side queries over the consortium directory."""

import unicodedata

from sqlalchemy.orm import selectinload

from .extensions import db
from .models import City, Organisation, Voivodeship
from .routing import SCOPE_ORDER
from .vocabulary import Specialism

# Alphabets of the interface languages, to sort names as a native reader expects ("ł" after "l").
_ALPHABETS = {
    "pl": "aąbcćdeęfghijklłmnńoóprsśtuwyzźż",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
}


def collation_key(text: str, language: str) -> tuple:
    lowered = text.lower()
    alphabet = _ALPHABETS.get(language)
    if alphabet is None:
        return tuple(unicodedata.normalize("NFKD", lowered))
    return tuple(alphabet.find(ch) if ch in alphabet else 1000 + ord(ch) for ch in lowered)


def active_members() -> list[Organisation]:
    """Members that take referrals, with their coverage, in a stable order."""
    return list(
        db.session.scalars(
            db.select(Organisation)
            .where(Organisation.takes_referrals.is_(True))
            .options(selectinload(Organisation.coverage), selectinload(Organisation.home_city))
            .order_by(Organisation.name_pl)
        )
    )


def cities_sorted(language: str) -> list[City]:
    """Cities ordered by their name in ``language``."""
    cities = db.session.scalars(db.select(City)).all()
    return sorted(cities, key=lambda city: collation_key(city.name_in(language), language))


def place_names(language: str) -> dict[tuple[str, str], str]:
    """("city", slug) and ("voivodeship", TERYT) -> the place's name in ``language``."""
    names = {("city", c.slug): c.name_in(language) for c in db.session.scalars(db.select(City))}
    names.update(
        (("voivodeship", v.teryt), v.name_in(language))
        for v in db.session.scalars(db.select(Voivodeship))
    )
    return names


def coverage_summary(
    organisation: Organisation, names: dict[tuple[str, str], str], nationwide: str
) -> list[tuple[str, list[str]]]:
    """(specialism, where) for each specialism the organisation covers, in the vocabulary's order;
    places most local first, ``nationwide`` standing for all of Poland."""
    summary = []
    for specialism in Specialism:
        rows = [c for c in organisation.coverage if c.specialism == specialism]
        rows.sort(key=lambda c: (SCOPE_ORDER.get(c.scope, 9), names.get((c.scope, c.area), "")))
        places = [
            nationwide if c.scope == "nationwide" else names.get((c.scope, c.area), c.area or "")
            for c in rows
        ]
        if places:
            summary.append((specialism.value, places))
    return summary
