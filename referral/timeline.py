"""A referral's event log as sentences in the viewer's language."""

from flask_babel import gettext as _

from .handoff import OPEN_TOO_LONG, Action, DeclineReason, Outcome, Party, State
from .i18n import current_language
from .models import Organisation, ReferralEvent


def _name(org: Organisation | None) -> str:
    return org.name_in(current_language()) if org else _("An organisation")


def _label(enum, code: str | None) -> str:
    try:
        return _(enum(code).label)
    except ValueError:
        return ""


def reason_label(code: str | None) -> str:
    if code == "deadline_passed":
        return _("The time to answer ran out")
    if code == OPEN_TOO_LONG:
        return _("It stayed open longer than personal data may be kept")
    return _label(DeclineReason, code)


def outcome_label(code: str | None) -> str:
    return _label(Outcome, code)


def state_label(code: str) -> str:
    return _label(State, code)


def step_reason(action: str, code: str | None) -> str:
    """A step's reason code in words: a close carries an outcome, other steps a reason."""
    return outcome_label(code) if action == Action.CLOSE else reason_label(code)


def describe(event: ReferralEvent) -> str:
    """What happened in one step, as one sentence."""
    org = _name(event.organisation)
    action = event.action
    if action == Action.ACCEPT:
        return _("%(organisation)s accepted the referral.", organisation=org)
    if action == Action.DECLINE:
        return _(
            "%(organisation)s declined the referral: %(reason)s.",
            organisation=org,
            reason=reason_label(event.reason_code),
        )
    if action == Action.EXPIRE:
        return _("%(organisation)s did not answer in time.", organisation=org)
    if action == Action.START:
        return _("%(organisation)s started working on it.", organisation=org)
    if action == Action.HAND_BACK:
        return _(
            "%(organisation)s handed the referral back: %(reason)s.",
            organisation=org,
            reason=reason_label(event.reason_code),
        )
    if action == Action.CLOSE:
        return _(
            "%(organisation)s closed the referral. Outcome: %(outcome)s.",
            organisation=org,
            outcome=outcome_label(event.reason_code),
        )
    if action == Action.WITHDRAW:
        if event.party == Party.PERSON:
            return _("The person withdrew the request.")
        if event.party == Party.COORDINATOR:
            return _("The coordinator withdrew the referral.")
        if event.party == Party.SYSTEM:
            return _(
                "The referral was withdrawn and the personal data erased: it stayed open longer "
                "than personal data may be kept."
            )
        return _("The referring organisation withdrew the referral.")
    if action == Action.ROUTE_BY_HAND:
        return _("The coordinator chose the organisation by hand.")
    return _("The request was received.")


def next_step(event: ReferralEvent) -> str | None:
    """Where the referral went after the step, when it moved."""
    if event.to_state == State.OFFERED and event.offered_to:
        return _("Offered to %(organisation)s.", organisation=_name(event.offered_to))
    if event.to_state == State.UNMATCHED:
        return _("No organisation could take it: the coordinator will look for one.")
    return None
