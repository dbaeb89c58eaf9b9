"""Why a use case refused: a specific, stable code that the web layer maps to a clear message.

A view never guesses the reason nor checks again what the use case checked: it catches
``ServiceError`` and shows the message for ``error.code``.
"""

from typing import Any, TypeVar

from . import handoff
from .extensions import Base, db, locked

Row = TypeVar("Row", bound=Base)


class ServiceError(Exception):
    """A refused use case; ``code`` is one of the class attributes below."""

    # The state machine said no.
    NOT_ALLOWED_NOW = handoff.TransitionRefused.NOT_ALLOWED_NOW
    NOT_YOURS = handoff.TransitionRefused.NOT_YOURS
    # The page the user acted from is out of date: someone else changed the row first.
    STALE_VERSION = "stale_version"
    # An id from an address or a form names no such row.
    NOT_FOUND = "not_found"
    # What an action needs to explain itself.
    REASON_REQUIRED = "reason_required"
    EXPLANATION_REQUIRED = "explanation_required"
    OUTCOME_REQUIRED = "outcome_required"
    NOT_A_COLLEAGUE = "not_a_colleague"
    # A request must say where and what.
    UNKNOWN_PLACE = "unknown_place"
    NO_NEEDS = "no_needs"
    # The same intake form, sent again (its argument: the request's reference).
    ALREADY_SENT = "already_sent"
    # Nothing is held about the person any more.
    ALREADY_ERASED = "already_erased"
    # The directory and the accounts.
    SLUG_TAKEN = "slug_taken"
    ALREADY_COVERED = "already_covered"
    EMAIL_TAKEN = "email_taken"
    STAFF_NEED_ORGANISATION = "staff_need_organisation"
    CANNOT_DEACTIVATE_SELF = "cannot_deactivate_self"
    CANNOT_CHANGE_OWN_ROLE = "cannot_change_own_role"
    LAST_COORDINATOR = "last_coordinator"
    LINK_NOT_VALID = "link_not_valid"
    # Webhooks.
    INVALID_WEBHOOK_URL = "invalid_webhook_url"
    # Appointments: a time to come, and where (an address, or a web link to meet online).
    TIME_GONE_BY = "time_gone_by"
    PLACE_REQUIRED = "place_required"

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code
        self.detail = detail


def get_or_refuse(model: type[Row], row_id: Any, *, lock: bool = False) -> Row:
    """The row with this id, or NOT_FOUND: ids come from addresses and forms anyone can edit.
    ``lock``: read afresh and locked until the commit (``extensions.locked``)."""
    row = next(iter(locked(model, row_id)), None) if lock else db.session.get(model, row_id)
    if row is None:
        raise ServiceError(ServiceError.NOT_FOUND, model.__name__)
    return row


def get_owned_or_refuse(model: type[Row], row_id: Any, organisation_id: int) -> Row:
    """The row with this id if it belongs to that organisation, or NOT_FOUND: an id in another
    organisation's address names nothing here."""
    row = get_or_refuse(model, row_id)
    if getattr(row, "organisation_id", None) != organisation_id:
        raise ServiceError(ServiceError.NOT_FOUND, model.__name__)
    return row
