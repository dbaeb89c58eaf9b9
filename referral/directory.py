"""Read-side queries over the consortium directory."""

import unicodedata

from sqlalchemy.orm import selectinload

from .extensions import db
from .models import City, Organisation

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
