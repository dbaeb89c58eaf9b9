"""The person answers an appointment from the status page (``_status_appointment.html``):
confirms it, asks for another time, or saves it to a calendar. Answered on the POST's own
response, like the rest of the status pages: the status link never travels in a redirect."""

from flask import Response, abort, current_app, flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import Length

from .. import appointments
from ..extensions import limiter
from ..fields import Form
from ..security_headers import holds_secret
from ..service_errors import ServiceError
from . import bp
from .views import _record_if_staff, _request_or_404, status


class AnswerForm(Form):
    words = TextAreaField(
        _l("When would suit you? (optional)"),
        validators=[Length(max=appointments.WORDS_MAX)],
    )


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
    if not form.validate_on_submit():
        flash(_("Please write at most 500 characters."), "error")
        return status(token)
    try:
        if answer == "confirm":
            appointments.confirm(found, referral_id)
            flash(_("Thank you. The organisation now knows that this time suits you."), "success")
        else:
            appointments.ask_another_time(found, referral_id, form.words.data)
            flash(
                _("Thank you. The organisation will propose another time."),
                "success",
            )
    except ServiceError:
        flash(_("This appointment can no longer be changed here."), "error")
    return status(token)


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
