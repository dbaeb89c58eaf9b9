"""Staff propose an appointment on the referral's page (``_referral_appointment.html``)."""

from datetime import UTC, datetime

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import SelectField, StringField
from wtforms.validators import Length, ValidationError
from wtforms.widgets import DateTimeLocalInput

from .. import appointments
from ..appointments import PLACE_MAX, Kind
from ..fields import Form, choices_of, text_of
from ..handoff import WARSAW
from ..models import utcnow
from ..service_errors import ServiceError
from . import bp
from .views import _FULL_PAGE, _render_referral, _visible_or_404, not_done

_WHEN_FORMAT = "%Y-%m-%dT%H:%M"


def _future_time(form, field) -> None:
    try:
        moment = datetime.strptime(text_of(field), _WHEN_FORMAT).replace(tzinfo=WARSAW)
    except ValueError:
        raise ValidationError(_l("Please give the date and the time.")) from None
    if moment <= utcnow():
        raise ValidationError(_l("Please choose a time that has not passed."))
    if moment > utcnow() + appointments.AHEAD_AT_MOST:
        # A mistyped year; and 9999-12-31 23:59 has no hour after it for the calendar file.
        raise ValidationError(_l("Please choose a time within the next year."))
    # The hour the clocks skip in spring: stored, it read an hour later everywhere. (Checked
    # within the year: 0001-01-01 has no UTC before it.)
    wall_clock = moment.replace(tzinfo=None)
    if moment.astimezone(UTC).astimezone(WARSAW).replace(tzinfo=None) != wall_clock:
        raise ValidationError(
            _l("This time does not exist in Poland: the clocks go forward that night.")
        )
    form.starts_at = moment


def _place_for_kind(form, field) -> None:
    place = text_of(field)
    if form.kind.data == Kind.IN_PERSON and not place:
        raise ValidationError(_l("Please give the address where you will meet."))
    if form.kind.data == Kind.ONLINE and not appointments.is_link(place):
        raise ValidationError(_l("Please give the link to join, starting with https://."))


class AppointmentForm(Form):
    starts_at: datetime

    when = StringField(
        _l("Date and time (Warsaw)"), validators=[_future_time], widget=DateTimeLocalInput()
    )
    kind = SelectField(_l("How you will meet"), choices=choices_of(Kind))
    place = StringField(_l("Address or link"), validators=[_place_for_kind, Length(max=PLACE_MAX)])


@bp.context_processor
def appointment_helpers():
    return {
        "appointment_form": lambda: AppointmentForm(formdata=None),
        "may_propose_appointment": lambda referral: appointments.may_propose(
            current_user, referral
        ),
        "AppointmentKind": Kind,
        "AppointmentStep": appointments.Step,
    }


@bp.post("/referrals/<int:referral_id>/appointment")
@login_required
def propose_appointment(referral_id: int):
    referral = _visible_or_404(referral_id)
    form = AppointmentForm()
    if not form.validate_on_submit():
        return _render_referral(
            _visible_or_404(referral_id, *_FULL_PAGE), {"appointment": form}, status=400
        )
    try:
        appointments.propose(
            referral, current_user, form.starts_at, form.kind.data, text_of(form.place)
        )
    except ServiceError:
        refusal = _("Only the organisation holding an accepted case can propose a time.")
        return not_done(referral_id, refusal, "appointment", form, text_of(form.place))
    flash(
        _(
            "The appointment was proposed. The person sees it on their status page and gets a "
            "message about it by e-mail or SMS."
        ),
        "success",
    )
    return redirect(url_for(".referral", referral_id=referral_id))
