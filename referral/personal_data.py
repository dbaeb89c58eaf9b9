"""Personal data at rest: encrypted, and found again without decrypting.

- ``Encrypted`` columns hold Fernet tokens (AES-128-CBC with an HMAC-SHA256 tag: authenticated)
  made with the newest of ``DATA_KEYS``; any of the keys reads them, so keys can be rotated
  (``flask --app referral rotate-keys``, docs/operations.md).
- ``match_key(kind, value)`` is a keyed hash (HMAC-SHA256 with ``MATCH_KEY``) of a normalised
  phone number (E.164) or e-mail (lower case): equal for every spelling of the same contact, stored
  beside the encrypted value and indexed, so duplicates and staff searches need no plain text.
- ``name_keys(name)`` are keyed hashes of the words of a name (lower case, without accents,
  Cyrillic spelt in Latin letters): the staff search finds "Олена Коваленко" by "kovalenko".

The keys come from the environment; without it, from files in the instance folder, which only
``DEVELOPMENT_KEYS=1`` (``make run``) creates: a production server without keys refuses to start.
The ciphers are built once per process, when the app is made.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Callable
from pathlib import Path

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from .instance_keys import read_or_make

# Phone numbers without a country code are read as Polish, then as Ukrainian.
PHONE_REGIONS = ("PL", "UA")
MATCH_KEY_MIN_LENGTH = 32


class MissingKeys(RuntimeError):
    """The app has no keys for personal data: it must not start."""


class Keyring:
    """The ciphers of ``DATA_KEYS`` (newest first) and the key of the matching hashes."""

    def __init__(self, data_keys: list[str], match_key: str) -> None:
        if not data_keys:
            raise MissingKeys("DATA_KEYS holds no key")
        fernets = []
        for position, key in enumerate(data_keys, 1):
            try:
                fernets.append(Fernet(key))
            except ValueError:
                raise MissingKeys(
                    f"DATA_KEYS: key {position} is not a Fernet key (32 url-safe base64 bytes)"
                ) from None
        if len(match_key) < MATCH_KEY_MIN_LENGTH:
            raise MissingKeys(f"MATCH_KEY must have at least {MATCH_KEY_MIN_LENGTH} characters")
        self._newest = fernets[0]
        self._all = MultiFernet(fernets)
        self._match_key = match_key.encode()

    def encrypt(self, text: str) -> str:
        return self._newest.encrypt(text.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self._all.decrypt(token).decode()

    def is_newest(self, token: str) -> bool:
        """Made with the newest key: nothing to rotate."""
        try:
            self._newest.decrypt(token)
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same text encrypted again with the newest key."""
        return self._all.rotate(token.encode()).decode("ascii")

    def match(self, kind: str, normalised: str) -> str:
        return hmac.new(
            self._match_key, f"{kind}:{normalised}".encode(), hashlib.sha256
        ).hexdigest()


def keyring() -> Keyring:
    return current_app.extensions["personal_data"]


class Encrypted(TypeDecorator):
    """Text stored as a Fernet token and read back as the text. Equality in SQL means nothing on
    such a column (every token differs): match on a ``match_key`` column instead."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else keyring().encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else keyring().decrypt(value)


# --- matching ---------------------------------------------------------------------------------


def normalised_phone(raw: str | None) -> str | None:
    """The number in E.164 (+48..., +380...), or None if it is not a valid number."""
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(raw or "", region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalised_email(raw: str | None) -> str | None:
    """The address in lower case, without surrounding spaces; None when there is none."""
    address = (raw or "").strip().lower()
    return address if "@" in address else None


NORMALISERS: dict[str, Callable[[str | None], str | None]] = {
    "phone": normalised_phone,
    "email": normalised_email,
}


def match_key(kind: str, value: str | None, purpose: str = "") -> str | None:
    """The keyed hash of a phone number (``kind`` "phone") or an e-mail ("email") in any
    spelling: "+48 600 100 200" and "600100200" give the same. None when there is nothing to
    match (empty, or not a valid number or address). A ``purpose`` gives a hash of its own,
    which the request's columns (no purpose) cannot be joined with."""
    normalised = NORMALISERS[kind](value)
    return keyring().match(purpose + kind, normalised) if normalised else None


# Cyrillic letters in Latin ones, the Ukrainian way (the national transliteration, simplified): a
# name typed in either alphabet gives the same words. Soft signs and apostrophes drop out.
_LATIN = str.maketrans(
    {
        **dict(zip("абвгґдезиійклмнопрстуфхцыэ", "abvhgdezyiiklmnoprstufhcye", strict=True)),
        **{"є": "ie", "ж": "zh", "ї": "i", "ч": "ch", "ш": "sh", "щ": "shch", "ю": "iu"},
        **{"я": "ia", "ё": "io", "ь": "", "ъ": "", "'": "", "’": "", "ʼ": ""},
        **{"č": "ch", "š": "sh", "ž": "zh", "ł": "l"},
    }
)


def name_words(name: str | None) -> set[str]:
    """The words of a name as the search compares them: "Ołena KOVALENKO-Шевченко" gives
    {"olena", "kovalenko", "shevchenko"}."""
    latin = (name or "").casefold().translate(_LATIN)
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", latin) if not unicodedata.combining(ch)
    )
    return {word for word in re.split(r"[^a-z0-9]+", plain) if word}


def name_keys(name: str | None) -> set[str]:
    """The keyed hashes of a name's words (``name_words``): stored per request, indexed."""
    return {keyring().match("name", word) for word in name_words(name)}


# --- where the keys come from -------------------------------------------------------------------


def _split(keys: str) -> list[str]:
    """Keys separated by commas, spaces or lines, newest first."""
    return [key for key in re.split(r"[\s,]+", keys) if key]


def _key_setting(app: Flask, name: str, make: Callable[[], str]) -> str:
    """The setting ``name``, else the file ``<name>_FILE`` (instance/<name in lower case>), made
    there when DEVELOPMENT_KEYS is on."""
    value = app.config.get(name)
    if value:
        return value
    path = app.config.get(f"{name}_FILE") or os.path.join(app.instance_path, name.lower())
    value = read_or_make(Path(path), make if app.config.get("DEVELOPMENT_KEYS") else None)
    if not value:
        raise MissingKeys(
            f"{name} is not set and {path} does not exist: personal data cannot be encrypted. "
            "Set DATA_KEYS and MATCH_KEY (docs/operations.md), or run `make run` once for "
            "development keys."
        )
    return value


def new_data_key() -> str:
    return Fernet.generate_key().decode("ascii")


def init_app(app: Flask) -> None:
    data_keys = _split(_key_setting(app, "DATA_KEYS", new_data_key))
    match = _key_setting(app, "MATCH_KEY", lambda: secrets.token_urlsafe(32))
    app.extensions["personal_data"] = Keyring(data_keys, match)
