"""The coordinator's forms: organisations, coverage, staff accounts, routing by hand, filters."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from ..contact import DAYS, clock_time
from ..fields import (
    FIRST_DAY,
    LAST_DAY,
    CheckboxListField,
    Form,
    choices_of,
    in_service_years,
    optional_int,
    show_error,
    text_of,
)
from ..i18n import LANGUAGE_CHOICES
from ..routing import Scope
from ..urls import MAX_ID
from ..vocabulary import Role, Specialism


class OrganisationForm(Form):
    # The organisation as the page showed it (``organisations.facts``, JSON): a colleague's
    # change saved since is kept, not overwritten with what this page still showed.
    seen = HiddenField()
    slug = StringField(
        _l("Short name in addresses"),
        validators=[
            DataRequired(_l("Enter a short name.")),
            Length(max=60, message=_l("Use at most 60 characters.")),
            Regexp(
                r"^[a-z0-9]+(-[a-z0-9]+)*$",
                message=_l("Use small letters a–z, digits and hyphens only."),
            ),
        ],
    )
    name_pl = StringField(
        _l("Name in Polish"),
        validators=[
            DataRequired(_l("Enter the name in Polish.")),
            Length(max=200, message=_l("Use at most 200 characters.")),
        ],
    )
    name_uk = StringField(
        _l("Name in Ukrainian"),
        validators=[Length(max=200, message=_l("Use at most 200 characters."))],
    )
    name_en = StringField(
        _l("Name in English"),
        validators=[Length(max=200, message=_l("Use at most 200 characters."))],
    )
    description_pl = TextAreaField(
        _l("Description in Polish"),
        validators=[Length(max=5000, message=_l("Use at most 5000 characters."))],
    )
    description_uk = TextAreaField(
        _l("Description in Ukrainian"),
        validators=[Length(max=5000, message=_l("Use at most 5000 characters."))],
    )
    description_en = TextAreaField(
        _l("Description in English"),
        validators=[Length(max=5000, message=_l("Use at most 5000 characters."))],
    )
    website = URLField(
        _l("Website"),
        validators=[
            Optional(),
            URL(message=_l("Enter a full web address, such as https://example.org/.")),
            Length(max=300, message=_l("Use at most 300 characters.")),
        ],
    )
    home_city_id = SelectField(_l("Home city"), coerce=optional_int, validate_choice=True)
    languages = CheckboxListField(_l("Languages the staff serve in"))
    languages_confirmed = BooleanField(_l("The organisation has confirmed these languages"))
    email = EmailField(
        _l("Intake e-mail"),
        validators=[
            Optional(),
            Email(message=_l("Enter an e-mail address such as name@example.org.")),
            Length(max=254, message=_l("Use at most 254 characters.")),
        ],
    )
    takes_referrals = BooleanField(_l("Takes referrals"))
    capacity = IntegerField(
        _l("Capacity (open referrals at most)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=100000, message=_l("Enter a whole number, 0 or more.")),
        ],
        # WTForms takes it since 3.2; its type stubs do not know it yet.
        invalid_value_message=_l("Enter a whole number, 0 or more."),  # type: ignore[call-arg]
    )
    paused_until = DateField(_l("Paused until (inclusive)"), validators=[Optional()])
    pause_reason = StringField(
        _l("Reason for the pause"),
        validators=[Length(max=500, message=_l("Use at most 500 characters."))],
    )

    street_address = StringField(
        _l("Street address"),
        validators=[Length(max=200, message=_l("Use at most 200 characters."))],
    )
    postal_code = StringField(
        _l("Postal code"),
        filters=[lambda value: (value or "").strip()],
        validators=[
            Optional(),
            Regexp(r"^\d{2}-\d{3}$", message=_l("Enter a postal code like 00-153.")),
        ],
    )
    public_phone = StringField(
        _l("Public phone"),
        filters=[lambda value: (value or "").strip()],
        validators=[
            Optional(),
            Regexp(
                r"^\+?[0-9][0-9 ()-]{5,24}$",
                message=_l("Enter a phone number such as +48 22 123 45 67."),
            ),
        ],
    )
    contact_confirmed = BooleanField(
        _l("The organisation has confirmed its home city and these contact details")
    )

    def validate_street_address(self, field):
        if text_of(field) and not self.home_city_id.data:
            raise ValidationError(_l("Choose the home city: the address is in it."))

    def opening_hours(self) -> dict[str, list[str]]:
        """The week's hours from the day fields, after ``validate``."""
        hours = {}
        for day in DAYS:
            opens = clock_time(self[f"opens_{day}"].data or "")
            closes = clock_time(self[f"closes_{day}"].data or "")
            if opens and closes:
                hours[day] = [opens, closes]
        return hours

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for day in DAYS:
            opens, closes = self[f"opens_{day}"], self[f"closes_{day}"]
            if not (opens.data or closes.data):
                continue
            start, end = clock_time(opens.data or ""), clock_time(closes.data or "")
            if start is None or end is None:
                show_error(opens, str(_l("Enter both times, like 09:00 and 17:00.")))
            elif start >= end:
                show_error(opens, str(_l("The closing time must be after the opening time.")))
            else:
                continue
            valid = False
        return valid

    def validate_email(self, field):
        if self.takes_referrals.data and not field.data:
            raise ValidationError(
                _l("An organisation that takes referrals needs an intake e-mail.")
            )

    def validate_pause_reason(self, field):
        if self.paused_until.data and not text_of(field):
            raise ValidationError(_l("Say why the organisation is paused."))


for _day in DAYS:
    setattr(OrganisationForm, f"opens_{_day}", StringField(_l("Opens at")))
    setattr(OrganisationForm, f"closes_{_day}", StringField(_l("Closes at")))


class CoverageForm(Form):
    specialism = SelectField(
        _l("Specialism"),
        choices=choices_of(Specialism),
        validators=[InputRequired(_l("Choose a specialism."))],
    )
    scope = RadioField(
        _l("Where"),
        choices=[
            (Scope.CITY.value, _l("In one city")),
            (Scope.VOIVODESHIP.value, _l("In one voivodeship")),
            (Scope.NATIONWIDE.value, _l("All of Poland, remotely")),
        ],
        default=Scope.CITY.value,
        validators=[InputRequired(_l("Choose where."))],
    )
    city = SelectField(_l("City"), validate_choice=False)
    voivodeship = SelectField(_l("Voivodeship"), validate_choice=False)

    def validate_city(self, field):
        if self.scope.data == Scope.CITY and (
            not field.data or field.data not in dict(field.choices)
        ):
            raise ValidationError(_l("Choose a city."))

    def validate_voivodeship(self, field):
        if self.scope.data == Scope.VOIVODESHIP and (
            not field.data or field.data not in dict(field.choices)
        ):
            raise ValidationError(_l("Choose a voivodeship."))

    def area(self) -> str | None:
        return {Scope.CITY: self.city.data, Scope.VOIVODESHIP: self.voivodeship.data}.get(
            Scope(self.scope.data)
        )


class ConfirmForm(Form):
    """A button that confirms what the page describes: only the CSRF token is sent."""


class RoleForm(Form):
    role = RadioField(
        _l("Role"),
        choices=choices_of(Role),
        default=Role.STAFF.value,
        validators=[InputRequired(_l("Choose a role."))],
    )
    organisation_id = SelectField(_l("Organisation"), coerce=optional_int)


class UserForm(RoleForm):
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(_l("Enter the e-mail.")),
            Email(message=_l("Enter an e-mail address such as name@example.org.")),
            Length(max=254, message=_l("Use at most 254 characters.")),
        ],
    )
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Enter the name.")),
            Length(max=200, message=_l("Use at most 200 characters.")),
        ],
    )
    language = SelectField(
        _l("Language of the interface"),
        choices=LANGUAGE_CHOICES,
    )


class QueueFilterForm(Form):
    """The unmatched queue's filters, read from the query string (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    specialism = SelectField(
        _l("Need"), choices=[("", _l("All needs")), *choices_of(Specialism)], default=""
    )
    voivodeship = SelectField(_l("Voivodeship"), choices=[], default="")
    urgency = SelectField(
        _l("Urgency"),
        choices=[
            ("", _l("Urgent or not")),
            ("urgent", _l("Urgent only")),
            ("other", _l("Not urgent")),
        ],
        default="",
    )
    age = SelectField(
        _l("Waiting"),
        choices=[
            ("", _l("Any time")),
            ("1", _l("More than a day")),
            ("3", _l("More than 3 days")),
            ("7", _l("More than a week")),
        ],
        default="",
    )


class RouteForm(Form):
    organisation_id = RadioField(
        _l("Offer it to"), coerce=int, validators=[InputRequired(_l("Choose an organisation."))]
    )
    reason = TextAreaField(
        _l("Why this organisation"),
        validators=[
            DataRequired(_l("Say why you route it by hand: it is kept in the referral's history.")),
            Length(max=1000, message=_l("Use at most 1000 characters.")),
        ],
    )
    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


def _reference_field() -> StringField:
    """The reference of a person's request, as they read it out (any spelling)."""
    return StringField(
        _l("Reference"),
        filters=[lambda value: (value or "").strip()],
        validators=[
            DataRequired(_l("Enter the reference the person gave you.")),
            Length(max=20, message=_l("Enter a reference like KX7-94M.")),
        ],
    )


class CopyForm(Form):
    """The reference of the person asking for a copy of their data (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    reference = _reference_field()


class EraseForm(Form):
    """Erasing a person's data when they ask in person or by letter."""

    reference = _reference_field()
    confirmed = BooleanField(
        _l("The person asked for this, and I made sure it is them."),
        validators=[DataRequired(_l("Confirm that the person asked for it."))],
    )


def _within_the_years(form, field):
    if field.data and not in_service_years(field.data):
        raise ValidationError(
            _l(
                "Enter a date between the years %(first)d and %(last)d.",
                first=FIRST_DAY.year,
                last=LAST_DAY.year,
            )
        )


def _period_day(label) -> DateField:
    return DateField(
        label,
        validators=[Optional(), _within_the_years],
        render_kw={"min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat()},
    )


class PeriodForm(Form):
    """The date range of the reports and of the audit trail (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    start = _period_day(_l("From"))
    end = _period_day(_l("To"))

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end date must not be before the start date."))


class ReportForm(PeriodForm):
    """The reports' period and the voivodeship of the month-by-month trend."""

    voivodeship = SelectField(_l("Trend in"), choices=[], default="", validate_choice=False)


class AuditFilterForm(PeriodForm):
    kind = SelectField(
        _l("What"),
        choices=[
            ("", _l("Everything")),
            ("referral", _l("Referral events")),
            ("sign_in", _l("Sign-ins")),
            ("admin", _l("Administrative actions")),
            ("api", _l("Calls through the API")),
            ("access", _l("Openings of personal data")),
        ],
        default="",
    )
    reference = StringField(
        _l("Reference"),
        filters=[lambda value: (value or "").strip()],
        validators=[Optional(), Length(max=20, message=_l("Enter a reference like KX7-94M."))],
    )
    organisation_id = SelectField(_l("Organisation"), coerce=optional_int)
    user_id = SelectField(_l("User"), coerce=optional_int)
    # Set by the links from one referral's pages; people search by the reference above.
    referral_id = IntegerField(
        widget=HiddenInput(), validators=[Optional(), NumberRange(1, MAX_ID)]
    )


class ApiTokenForm(Form):
    name = StringField(
        _l("Name of the system"),
        validators=[
            DataRequired(_l("Name the system that will use the token.")),
            Length(max=100, message=_l("Use at most 100 characters.")),
        ],
    )
    read_only = BooleanField(_l("It may only read, not change referrals"))


class WebhookForm(Form):
    url = URLField(
        _l("Address of the receiver"),
        validators=[
            DataRequired(_l("Enter the address that receives the events.")),
            Length(max=500, message=_l("Use at most 500 characters.")),
        ],
    )
