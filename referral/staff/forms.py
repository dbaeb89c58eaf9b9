"""Staff forms: inbox filters, the actions on a referral, notes and the profile."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from ..auth.forms import NewPasswordForm
from ..fields import Form, choices_of, text_of
from ..handoff import DeclineReason, Outcome, State
from ..i18n import LANGUAGE_CHOICES
from ..public.forms import OTHER_CITY, PHONE_CHANNELS, IntakeForm
from ..reminders import OfferMail
from ..vocabulary import ContactChannel, Specialism

TEXT_MAX = 2000
NOTE_MAX = 5000


class InboxFilterForm(Form):
    """Read from the query string: a GET form has nothing to protect with a CSRF token."""

    class Meta:
        csrf = False

    reference = StringField(
        _l("Reference, name, phone or e-mail"), validators=[Optional(), Length(max=254)]
    )
    specialism = SelectField(
        _l("Need"), choices=[("", _l("All needs")), *choices_of(Specialism)], default=""
    )
    city = SelectField(_l("City"), choices=[], default="")
    # Not "new": a request is routed in the transaction that writes it, so no referral is found
    # new. Each other state is found in a part (unmatched and withdrawn among those sent by us).
    state = SelectField(
        _l("State"),
        choices=[("", _l("All states")), *[c for c in choices_of(State) if c[0] != State.NEW]],
        default="",
    )
    mine = BooleanField(_l("Only cases assigned to me"))
    sort = SelectField(
        _l("Order of the offers"),
        choices=[
            ("deadline", _l("Least time left first")),
            ("waiting", _l("Waiting longest first")),
            ("urgent", _l("Urgent first")),
        ],
        default="deadline",
    )


class ActionForm(Form):
    """Every action posts the version the user saw: acting on an old page loses, not overwrites."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class AcceptForm(ActionForm):
    assignee = SelectField(_l("Assign to a colleague"), choices=[], coerce=str, default="")


def _text_required_for_other(form, field):
    if form.reason.data == DeclineReason.OTHER and not text_of(field):
        raise ValidationError(_l("Please say why in a few words."))


class DeclineForm(ActionForm):
    reason = SelectField(
        _l("Reason"),
        choices=[("", _l("Choose a reason")), *choices_of(DeclineReason)],
        validators=[DataRequired(_l("Please choose a reason."))],
    )
    text = TextAreaField(
        _l("Explanation"),
        validators=[_text_required_for_other, Length(max=TEXT_MAX)],
        render_kw={"rows": 3},
    )


class HandBackForm(DeclineForm):
    pass


class CloseForm(ActionForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=[("", _l("Choose an outcome")), *choices_of(Outcome)],
        validators=[DataRequired(_l("Please choose an outcome."))],
    )
    text = TextAreaField(
        _l("Comment (optional)"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 3}
    )


class WithdrawForm(ActionForm):
    """A withdrawal ends the need for good: ticked first, not one tap away."""

    confirmed = BooleanField(
        _l("The person no longer needs this help"),
        validators=[
            DataRequired(_l("Tick the box to confirm that the person no longer needs this help."))
        ],
    )


class NoteForm(Form):
    body = TextAreaField(
        _l("Note"),
        validators=[DataRequired(_l("Please write the note.")), Length(max=NOTE_MAX)],
        render_kw={"rows": 4},
    )
    shared = BooleanField(_l("Share this note with the other organisation"))


class LanguageForm(Form):
    language = SelectField(_l("Interface language"), choices=LANGUAGE_CHOICES)


class OfferMailForm(Form):
    offer_mail = SelectField(
        _l("E-mails about offers to your organisation"), choices=choices_of(OfferMail)
    )


class PasswordForm(NewPasswordForm):
    """Changing one's own password: the current one first, then the new one twice."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )


# The public form's words, addressed to the caseworker and speaking about the person.
CASEWORKER_LABELS = {
    "needs": _l("What does the person need help with?"),
    "urgency": _l("How urgent is it for the person?"),
    "city": _l("City where the person is now"),
    "voivodeship": _l("Voivodeship, if the person's city is not in the list"),
    "name": _l("The person's name or nickname"),
    "phone": _l("The person's phone number"),
    "email": _l("The person's e-mail"),
    "languages": _l("Languages the person speaks"),
    "contact_channel": _l("How should the organisation contact the person?"),
    "safe_to_message": _l("It is safe to leave the person a message and to say who is calling."),
    "interpreter_needed": _l("The person needs an interpreter."),
    "description": _l("The person's situation, briefly"),
    "residence_status": _l("The person's residence status in Poland"),
}


class ReferralForm(IntakeForm):
    """The public intake form, filled in by a caseworker on the person's behalf."""

    homepage = None  # type: ignore[assignment]  # WTForms drops a field set to None: no robots here
    person_language = SelectField(
        _l("Language for the person's status page and e-mails"),
        choices=[("", _l("Choose a language")), *LANGUAGE_CHOICES],
        validators=[DataRequired(_l("Choose the language the person reads best."))],
    )
    consent = BooleanField(
        _l(
            "The person agreed that their request and contact details are passed to the "
            "consortium's member organisations that can help them."
        ),
        validators=[
            DataRequired(_l("We can only pass on the request with the person's agreement."))
        ],
    )

    def __init__(self, *args, language: str, **kwargs):
        super().__init__(*args, language=language, **kwargs)
        for name, text in CASEWORKER_LABELS.items():
            self[name].label.text = text
        # About someone else: the browser is not to fill in the caseworker's own details.
        for name in ("name", "phone", "email"):
            self[name].render_kw = {**(self[name].render_kw or {}), "autocomplete": "off"}
        self.city.choices = [("", _l("Choose the person's city")), *self.city.choices[1:]]  # type: ignore[index]
        self.city.validators = [
            DataRequired(_l("Choose the person's city, or “Other / not in the list”.")),
            *self.city.validators[1:],
        ]

    def validate_voivodeship(self, field):
        if self.city.data == OTHER_CITY and not field.data:
            raise ValidationError(
                _l("The person's city is not in the list: choose its voivodeship.")
            )

    def validate_phone(self, field):
        if not field.data and not self.email.data:
            raise ValidationError(
                _l(
                    "Give the person's phone number or e-mail, so that the organisation can "
                    "reach them."
                )
            )
        super().validate_phone(field)

    def validate_contact_channel(self, field):
        if field.data == ContactChannel.EMAIL and not self.email.data:
            raise ValidationError(_l("You chose e-mail: please give the person's e-mail address."))
        if field.data in PHONE_CHANNELS and not self.phone.data:
            raise ValidationError(
                _l("You chose a phone or a messenger: please give the person's number.")
            )
