"""The intake form, the withdrawal confirmation and "I lost my link".

Field names are an interface (docs/design.md): ``needs``, ``city``, ``voivodeship``, ``languages``,
``name``, ``phone``, ``email``, ``contact_channel``, ``safe_to_message``, ``interpreter_needed``,
``description``, ``urgency``, ``residence_status``, ``consent``.
"""

from typing import cast

from babel import Locale
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    Optional,
    ValidationError,
)

from ..directory import city_choices, collation_key, voivodeship_choices
from ..fields import CheckboxListField, Form, FromList, choices_of
from ..lifecycle import Contact, IntakeData
from ..personal_data import normalised_email, normalised_phone
from ..vocabulary import SPOKEN_LANGUAGES, ContactChannel, ResidenceStatus, Specialism, Urgency

OTHER_CITY = "other"
DESCRIPTION_MAX = 2000
# Shown first: the languages most people who ask speak.
COMMON_LANGUAGES = ("uk", "ru", "pl", "en", "be")
# Regions tried in turn for numbers typed without a country code.
PHONE_CHANNELS = set(ContactChannel) - {ContactChannel.EMAIL}
FALSE_VALUES = (False, "false", "", "0", "no", "off", "n")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def unix_newlines(value):
    """Browsers send CRLF but count a line break as one character towards ``maxlength``."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def language_choices(language: str) -> list[tuple[str, str]]:
    """Spoken languages named in the page's language: the common ones first, then by name."""
    names = Locale.parse(language).languages

    def name(code: str) -> str:
        text = names.get(code, code)
        return text[:1].upper() + text[1:]

    rest = sorted(
        (code for code in SPOKEN_LANGUAGES if code not in COMMON_LANGUAGES),
        key=lambda code: collation_key(name(code), language),
    )
    return [(code, name(code)) for code in (*COMMON_LANGUAGES, *rest)]


class ContactChecks:
    """The checks of how to reach the person, shared by the intake and the status page's contact
    form (their fields are the same objects: ``ContactForm`` takes them from ``IntakeForm``)."""

    phone: StringField
    email: EmailField
    contact_channel: RadioField
    safe_to_message: BooleanField

    def validate_phone(self, field):
        if not field.data:
            if not self.email.data:
                raise ValidationError(
                    _l("Give a phone number or an e-mail, so that the organisation can reach you.")
                )
            return
        if normalised_phone(field.data) is None:
            raise ValidationError(
                _l("This does not look like a phone number. Example: +48 512 345 678.")
            )

    def validate_contact_channel(self, field):
        if field.data == ContactChannel.EMAIL and not self.email.data:
            raise ValidationError(_l("You chose e-mail: please give your e-mail address."))
        if field.data in PHONE_CHANNELS and not self.phone.data:
            raise ValidationError(_l("You chose a phone or a messenger: please give your number."))

    def to_contact(self) -> Contact:
        phone = normalised_phone(self.phone.data) if self.phone.data else None
        # No channel chosen: a call if a number was given, else an e-mail.
        channel = self.contact_channel.data or (
            ContactChannel.PHONE if phone else ContactChannel.EMAIL
        )
        return Contact(
            phone=phone,
            email=self.email.data or None,
            contact_channel=str(channel),
            safe_to_message=bool(self.safe_to_message.data),
        )


class IntakeForm(ContactChecks, Form):
    needs = CheckboxListField(
        _l("What do you need help with?"),
        choices=choices_of(Specialism),
        validate_choice=False,
        validators=[
            DataRequired(_l("Choose at least one kind of help.")),
            FromList(_l("Choose the kinds of help from the list.")),
        ],
    )
    city = SelectField(
        _l("City where you are now"),
        validate_choice=False,
        validators=[
            DataRequired(_l("Choose your city, or “Other / not in the list”.")),
            FromList(_l("Choose your city from the list.")),
        ],
    )
    voivodeship = SelectField(
        _l("Voivodeship (region), if your city is not in the list"),
        validate_choice=False,
        validators=[FromList(_l("Choose the voivodeship from the list."))],
    )
    languages = CheckboxListField(
        _l("Languages you speak"),
        validate_choice=False,
        validators=[FromList(_l("Choose the languages from the list."))],
    )
    urgency = RadioField(
        _l("How urgent is it?"),
        choices=choices_of(Urgency),
        default=Urgency.NORMAL.value,
        validate_choice=False,
        validators=[FromList(_l("Choose how urgent it is."))],
    )
    name = StringField(
        _l("A name or nickname"),
        filters=[strip],
        validators=[Length(max=200, message=_l("This name is too long."))],
        render_kw={"autocomplete": "name"},
    )
    phone = StringField(
        _l("Phone number"),
        filters=[strip],
        validators=[Length(max=40, message=_l("This phone number is too long."))],
        render_kw={"type": "tel", "autocomplete": "tel", "inputmode": "tel"},
    )
    email = EmailField(
        _l("E-mail"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=254, message=_l("This e-mail is too long.")),
            Email(_l("This does not look like an e-mail address. Please check it.")),
        ],
        render_kw={"autocomplete": "email"},
    )
    contact_channel = RadioField(
        _l("How should the organisation contact you?"),
        choices=choices_of(ContactChannel),
        validate_choice=False,
        validators=[FromList(_l("Choose how you want to be contacted."))],
    )
    safe_to_message = BooleanField(
        _l("It is safe to leave me a message and to say who is calling."),
        false_values=FALSE_VALUES,
    )
    interpreter_needed = BooleanField(_l("I need an interpreter."), false_values=FALSE_VALUES)
    description = TextAreaField(
        _l("Tell us briefly about your situation"),
        filters=[strip, unix_newlines],
        validators=[
            Length(
                max=DESCRIPTION_MAX,
                message=_l("Please shorten your text to %(max)d characters.", max=DESCRIPTION_MAX),
            ),
        ],
        render_kw={"rows": 6, "maxlength": DESCRIPTION_MAX},
    )
    residence_status = SelectField(
        _l("Your residence status in Poland"),
        choices=[("", _l("Choose if you want")), *choices_of(ResidenceStatus)],
        validate_choice=False,
        validators=[FromList(_l("Choose your residence status from the list."))],
    )
    consent = BooleanField(
        _l(
            "I agree that my request and contact details are passed to the consortium’s member "
            "organisations that can help me, so that they can contact me."
        ),
        false_values=FALSE_VALUES,
        validators=[
            DataRequired(
                _l(
                    "We can only pass on your request with your agreement. "
                    "Tick the box if you agree."
                )
            )
        ],
    )
    # The honeypot: hidden from people, filled in by form-filling robots.
    homepage = StringField(
        _l("Leave this field empty"),
        render_kw={"tabindex": "-1", "autocomplete": "off"},
    )

    def __init__(self, *args, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.city.choices = [
            ("", _l("Choose your city")),
            *city_choices(language),
            (OTHER_CITY, _l("Other / not in the list")),
        ]
        self.voivodeship.choices = [
            ("", _l("Choose the voivodeship")),
            *voivodeship_choices(language),
        ]
        self.languages.choices = language_choices(language)

    @property
    def is_spam(self) -> bool:
        return bool(self.homepage.data)

    def validate_voivodeship(self, field):
        if self.city.data == OTHER_CITY and not field.data:
            raise ValidationError(_l("Your city is not in the list: choose its voivodeship."))

    def to_intake(self, language: str, consent_version: str) -> IntakeData:
        contact = self.to_contact()
        other = self.city.data == OTHER_CITY
        return IntakeData(
            needs=list(self.needs.data or []),
            language=language,
            consent_version=consent_version,
            city_slug=None if other else self.city.data,
            voivodeship=self.voivodeship.data if other else None,
            languages=list(self.languages.data or []),
            name=self.name.data or None,
            phone=contact.phone,
            email=contact.email,
            contact_channel=contact.contact_channel,
            safe_to_message=contact.safe_to_message,
            interpreter_needed=self.interpreter_needed.data,
            description=self.description.data or None,
            urgent=self.urgency.data == Urgency.URGENT,
            residence_status=self.residence_status.data or None,
            submission_hash=self.submission_hash(),
        )


class WithdrawForm(Form):
    """Two steps: the first post asks "are you sure?", the second (``confirmed=yes``) withdraws."""

    confirmed = HiddenField()


class ContactForm(ContactChecks, Form):
    """How to reach the person, changed through the status link: the intake's fields and checks."""

    # The class attributes are WTForms' unbound fields; typed as the fields a form instance has.
    phone = cast(StringField, IntakeForm.phone)
    email = cast(EmailField, IntakeForm.email)
    contact_channel = cast(RadioField, IntakeForm.contact_channel)
    safe_to_message = cast(BooleanField, IntakeForm.safe_to_message)


class MessageForm(Form):
    """The person's message for the organisation holding one of their needs (``holding``: the
    needs an organisation holds now, as (referral id, label))."""

    referral_id = SelectField(
        _l("Which need is it about?"),
        validate_choice=False,
        validators=[
            # FromList checks only a value given: without one the view's int() failed.
            DataRequired(_l("Choose the need from the list.")),
            FromList(_l("Choose the need from the list.")),
        ],
    )
    body = TextAreaField(
        _l("Your message"),
        filters=[strip, unix_newlines],
        validators=[
            DataRequired(_l("Write your message first.")),
            Length(
                max=DESCRIPTION_MAX,
                message=_l("Please shorten your text to %(max)d characters.", max=DESCRIPTION_MAX),
            ),
        ],
        render_kw={"rows": 4, "maxlength": DESCRIPTION_MAX},
    )

    def __init__(self, *args, holding: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.referral_id.choices = holding


class LostLinkForm(Form):
    """``/<lang>/status/lost``: the phone number or e-mail given in the request."""

    contact = StringField(
        _l("Your phone number or e-mail"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter the phone number or e-mail you gave.")),
            Length(max=254, message=_l("This is too long for a phone number or an e-mail.")),
        ],
    )  # no autocomplete: no token means "a phone number or an e-mail"

    def validate_contact(self, field):
        if not (normalised_phone(field.data) or normalised_email(field.data)):
            raise ValidationError(_l("This is not a phone number or an e-mail we can use."))
