"""Why a use case refused: a stable code the web layer translates into a clear message."""

from . import handoff
from .extensions import db


class ServiceError(Exception):
    """A refused use case; ``code`` is one of the class attributes below."""

    ALREADY_TAKEN = "already_taken"  # someone else acted on it first
    NOT_ALLOWED_NOW = handoff.TransitionRefused.NOT_ALLOWED_NOW
    NOT_YOURS = handoff.TransitionRefused.NOT_YOURS
    INVALID = "invalid"

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code


def get_or_invalid(model, row_id: int, what: str):
    """The row with this id, or INVALID: ids come from addresses and forms anyone can edit."""
    row = db.session.get(model, row_id)
    if row is None:
        raise ServiceError(ServiceError.INVALID, f"no such {what}")
    return row
