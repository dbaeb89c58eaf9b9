"""Password hashing with argon2id (argon2-cffi) and the random tokens the app hands out."""

import hashlib
import secrets

import argon2
from argon2 import PasswordHasher, profiles


def hasher(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(getattr(profiles, profile))


def hash_password(password: str, profile: str) -> str:
    return hasher(profile).hash(password)


def verify_password(password_hash: str, password: str, profile: str) -> bool:
    try:
        return hasher(profile).verify(password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def new_token() -> str:
    """A long URL-safe random token (256 bits)."""
    return secrets.token_urlsafe(32)


# Long enough for "a few words in a row", the advice the forms give.
PASSWORD_MIN_LENGTH = 12


def looks_like_token(token: str | None) -> bool:
    """Cheap guard before hashing what arrived in a URL: new_token() gives 43 characters."""
    return token is not None and 0 < len(token) <= 100


def token_hash(token: str) -> str:
    """Tokens are stored hashed: a database leak does not open status pages or reset links."""
    return hashlib.sha256(token.encode()).hexdigest()
