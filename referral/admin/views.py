"""The coordinator's start page and what every admin page shares (labels, number format)."""

from datetime import timedelta

from flask import current_app, render_template
from flask_babel import format_decimal, format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from .. import erasure, explain, notifications, outbox, timeline
from ..access import visible_referrals
from ..decorators import coordinator_required
from ..extensions import db
from ..handoff import Action, State
from ..models import Referral, utcnow
from . import bp

ACTION_LABELS = {
    Action.ROUTE: _l("Routed"),
    Action.ACCEPT: _l("Accepted"),
    Action.DECLINE: _l("Declined"),
    Action.EXPIRE: _l("Offer expired"),
    Action.START: _l("Work started"),
    Action.HAND_BACK: _l("Handed back"),
    Action.CLOSE: _l("Closed"),
    Action.ROUTE_BY_HAND: _l("Routed by hand"),
    Action.WITHDRAW: _l("Withdrawn"),
    "sign_in": _l("Sign-in"),
    # Administrative actions (audit.record)
    "user_created": _l("Account created"),
    "role_changed": _l("Role changed"),
    "user_deactivated": _l("Account deactivated"),
    "user_activated": _l("Account reactivated"),
    "password_link_issued": _l("Password link made"),
    "two_factor_reset": _l("Two-step sign-in reset"),
    "two_factor_required": _l("Two-step sign-in required"),
    "two_factor_not_required": _l("Two-step sign-in no longer required"),
    "recovery_codes_renewed": _l("New recovery codes made"),
    "organisation_created": _l("Organisation created"),
    "organisation_changed": _l("Organisation changed"),
    "coverage_added": _l("Coverage added"),
    "coverage_removed": _l("Coverage removed"),
    "api_token_issued": _l("API token issued"),
    "api_token_revoked": _l("API token revoked"),
    "webhook_added": _l("Webhook added"),
    "webhook_removed": _l("Webhook removed"),
}


@bp.context_processor
def _labels():
    return {
        "ACTION_LABELS": ACTION_LABELS,
        "STATE_LABELS": {state.value: _(state.label) for state in State},
        "explain_reasons": explain.reasons,
        "language_names": explain.language_names,
        "step_reason": timeline.step_reason,
    }


@bp.app_template_filter("number")
def _number(value) -> str:
    return format_decimal(value)


@bp.get("/")
@coordinator_required
def index():
    unmatched = db.session.scalar(
        select(func.count()).select_from(
            visible_referrals(current_user).where(Referral.state == State.UNMATCHED).subquery()
        )
    )
    soon_erased, capped = erasure.count_open_too_long(
        utcnow(), current_app.config["OPEN_RETENTION_WARNING_DAYS"]
    )
    return render_template(
        "admin/index.html",
        unmatched=unmatched,
        soon_erased=soon_erased,
        soon_erased_capped=capped,
        undelivered=notifications.undelivered_count(_undelivered_since()),
        undelivered_days=UNDELIVERED_DAYS,
        unsent=_unsent(),
    )


# Messages waiting longer than this are not on their way: the worker or the mail server is down.
UNSENT_NOTICE = timedelta(minutes=10)


def _unsent() -> tuple[int, str] | None:
    """(how many messages wait, for how long) when the oldest has waited past UNSENT_NOTICE."""
    waiting = outbox.backlog()
    waited = waiting.waited(utcnow())
    if waited is None or waited < UNSENT_NOTICE:
        return None
    return waiting.pending, format_timedelta(waited, threshold=1.1)


# How far back the coordinator's list of mail given up reaches.
UNDELIVERED_DAYS = 30

# Why a mail was given up, from the kind of failure kept (``mailer._error_of``).
WHY_UNDELIVERED = {
    "SMTPRecipientsRefused": _l("The mail server says this address does not exist."),
    "SMTPDataError": _l("The mail server refused the message."),
}


def _undelivered_since():
    return utcnow() - timedelta(days=UNDELIVERED_DAYS)


@bp.get("/undelivered")
@coordinator_required
def undelivered():
    """Mail to staff and organisations given up: an address to correct in the directory."""
    return render_template(
        "admin/undelivered.html",
        undelivered=notifications.undelivered(_undelivered_since()),
        days=UNDELIVERED_DAYS,
        why=WHY_UNDELIVERED,
    )
