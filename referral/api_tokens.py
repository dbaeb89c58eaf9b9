"""API tokens: the coordinator issues them to an organisation, named and scoped (read, or read and
write); the token is shown once and kept hashed; it can be revoked; its last use is kept. Every
call made with one is recorded (``record_call``) and shown in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from . import audit
from .extensions import db
from .models import ApiCall, ApiToken, Organisation, User, utcnow
from .passwords import looks_like_token, new_token, token_hash
from .service_errors import get_or_refuse, get_owned_or_refuse

# Says what the secret is when it turns up in a file or a log (secret scanners look for these).
TOKEN_PREFIX = "rfl_"  # noqa: S105  # nosec B105  # a label, not a secret
MAX_NAME_LENGTH = 100
# "Last used" is a coarse fact: a token calling every second does not rewrite its row each time.
LAST_USE_PRECISION = timedelta(minutes=1)


@dataclass
class IssuedToken:
    token: ApiToken
    secret: str  # shown once; only its hash is stored


def issue(organisation_id: int, name: str, read_only: bool, by: User | None) -> IssuedToken:
    """A new token for an organisation's system (audited; ``by`` None: the command line)."""
    org = get_or_refuse(Organisation, organisation_id)
    secret = TOKEN_PREFIX + new_token()
    token = ApiToken(
        organisation_id=org.id,
        name=name.strip()[:MAX_NAME_LENGTH] or org.slug,
        token_hash=token_hash(secret),
        read_only=read_only,
        created_by_id=by.id if by else None,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token_issued",
        by,
        organisation_id=org.id,
        after={"token": token.id, "name": token.name, "scope": token.scope},
    )
    db.session.commit()
    return IssuedToken(token, secret)


def revoke(organisation_id: int, token_id: int, by: User | None) -> None:
    """The token stops working at once; its calls stay in the audit trail."""
    token = get_owned_or_refuse(ApiToken, token_id, organisation_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "api_token_revoked",
            by,
            organisation_id=organisation_id,
            before={"token": token.id, "name": token.name},
        )
    db.session.commit()


def tokens_of(organisation_id: int) -> list[ApiToken]:
    """The organisation's tokens, live ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.organisation_id == organisation_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if it is one."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not looks_like_token(value):
        return None
    return value


def authenticate(authorization: str | None) -> ApiToken | None:
    """The live token behind the header, with its organisation; None for anything else."""
    secret = bearer_token(authorization)
    if secret is None:
        return None
    return db.session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == token_hash(secret), ApiToken.revoked_at.is_(None))
        .options(joinedload(ApiToken.organisation))
    )


def record_call(
    token: ApiToken,
    method: str,
    endpoint: str,
    referral_id: int | None,
    status: int,
    now: datetime | None = None,
) -> None:
    """Keep one call in the audit trail, in a transaction of its own: a refused call is kept too."""
    now = now or utcnow()
    db.session.add(
        ApiCall(
            at=now,
            api_token_id=token.id,
            organisation_id=token.organisation_id,
            method=method,
            endpoint=endpoint,
            referral_id=referral_id,
            status=status,
        )
    )
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION:
        token.last_used_at = now
    db.session.commit()
