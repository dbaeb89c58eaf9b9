"""The person answers an appointment from the status page (``_status_appointment.html``):
confirms it, asks for another time, or saves it to a calendar. Answered on the POST's own
response, like the rest of the status pages: the status link never travels in a redirect."""

from flask import Response, abort, current_app, flash, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length
from wtforms.widgets import HiddenInput

from .. import appointments
from ..extensions import limiter
from ..fields import Form
from ..security_headers import holds_secret
from ..service_errors import ServiceError
from . import bp
from .forms import unix_newlines
from .views import (
    _record_if_staff,
    _request_or_404,
    _status_page,
    refused_on_status_link,
    shown_again_when_refused,
    status,
)


class AnswerForm(Form):
    words = TextAreaField(
        _l("When would suit you? (optional)"),
        filters=[unix_newlines],
        validators=[
            Length(max=appointments.WORDS_MAX, message=_l("Please write at most 500 characters."))
        ],
    )
    # Which proposal the page showed (``Appointment.sequence``): one made since is not answered.
    sequence = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


def _rate() -> str:
    return current_app.config["APPOINTMENT_RATE_LIMIT"]


@bp.post("/<lang:lang>/status/<token>/appointments/<int:referral_id>/<answer>")
@limiter.limit(_rate)
@holds_secret
def answer_appointment(token: str, referral_id: int, answer: str):
    found = _request_or_404(token)
    form = AnswerForm()
    if answer not in ("confirm", "another-time"):
        abort(404)
    answered = (referral_id, form)  # shown again with what they wrote, whatever happens
    if not form.validate_on_submit() and form.words.errors:
        return _status_page(found, token, answered=answered, status=400)
    try:
        sequence = form.sequence.data
        if sequence is None:  # a page from before proposals were numbered
            raise ServiceError(ServiceError.STALE_VERSION)
        if answer == "confirm":
            appointments.confirm(found, referral_id, sequence)
            flash(_("Thank you. The organisation now knows that this time suits you."), "success")
        else:
            appointments.ask_another_time(found, referral_id, form.words.data, sequence)
            flash(
                _("Thank you. The organisation will propose another time."),
                "success",
            )
    except ServiceError as refused:
        if refused.code != ServiceError.STALE_VERSION:
            flash(_("This appointment can no longer be changed here."), "error")
            return status(token)
        flash(
            _(
                "The organisation has just proposed another time. Please look at it and answer "
                "again."
            ),
            "error",
        )
        return _status_page(found, token, answered=answered, status=409)
    return status(token)


@shown_again_when_refused("public.answer_appointment")
def _answer_kept(why: str, status: int):
    found, token = refused_on_status_link()
    form = AnswerForm()
    if (request.view_args or {})["answer"] == "confirm":  # said at the top, not under the words
        form.form_errors.append(why)
    else:
        form.words.errors = [why]
    referral_id = (request.view_args or {})["referral_id"]
    return _status_page(found, token, answered=(referral_id, form), status=status)


@bp.get("/<lang:lang>/status/<token>/appointments/<int:referral_id>.ics")
@holds_secret
def appointment_calendar(token: str, referral_id: int):
    found = _request_or_404(token)
    referral = next((r for r in found.referrals if r.id == referral_id), None)
    if referral is None or referral.appointment is None:
        abort(404)
    download = Response(
        appointments.calendar(referral.appointment),
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="appointment.ics"'},
    )
    _record_if_staff(found)
    return download
