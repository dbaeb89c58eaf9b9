"""Form pieces the blueprints share: the base of every form, the checkbox list and choices drawn
from a vocabulary."""

import contextlib
import hashlib
import re
from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from wtforms import (
    DateField,
    Field,
    IntegerField,
    PasswordField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectFieldBase
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .vocabulary import LabelledEnum

# Werkzeug decodes invalid UTF-8 to U+FFFD; control characters have no place in what people type
# (and PostgreSQL refuses NUL in text); JSON can carry a lone surrogate ("\udfff" in the API's
# input), which cannot be encoded, so neither encrypted nor stored.
UNREADABLE = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# The days a period or a moment asked for may fall on: 0001-01-01 and 9999-12-31 parse, but the
# day before or after them and their time in UTC, which the counting takes, do not exist.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


UNREADABLE_VALUE = {
    DateField: _l("Enter a date like 2026-12-31."),
    IntegerField: _l("Enter a whole number."),
}


def in_service_years(value: date) -> bool:
    """A day or a moment (a datetime is a date) in the years between FIRST_DAY and LAST_DAY."""
    return FIRST_DAY.year <= value.year <= LAST_DAY.year


def readable(form, field):
    if field.data and UNREADABLE.search(field.data):
        raise StopValidation(
            _l("Some characters could not be read. Please type this again without them.")
        )


class FromList:
    """A value that was not offered on the page (a forged or stale post): a clear error, in our
    words (WTForms' own came in English on Polish pages, and echoed the value sent)."""

    def __init__(self, message, *, empty_too: bool = False):
        self.message = message
        self.empty_too = empty_too  # no value is a value to check too (as WTForms checked it)

    def __call__(self, form, field):
        if field.process_errors:  # a value the field could not read (WTForms' English words)
            field.errors[:] = [e for e in field.errors if e not in field.process_errors]
            raise ValidationError(self.message)
        offered = set()
        for value, *_rest in field.choices:
            with contextlib.suppress(ValueError, TypeError):  # "" offered to a field of ints
                offered.add(field.coerce(value))
        values = field.data if isinstance(field.data, list) else [field.data]
        if any(value not in offered for value in values if value or self.empty_too):
            raise ValidationError(self.message)


class Form(FlaskForm):
    """Every form of the app: each text field is ``readable`` before its own checks, so that a NUL
    or a byte that was not UTF-8 is an error next to the field, never a value for the database
    (PostgreSQL refused NUL in a name or a search with a 500). Passwords are only hashed: any
    character a password manager makes is theirs."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            """Only the fields a page posts: Flask-WTF also reads a JSON body or uploaded files,
            whose values (numbers, lists, files) no field of ours expects: each check of text
            answered 500 to them, and malformed JSON 400 with nothing on the form."""
            if formdata is _Auto:
                return (request.form or None) if form.is_submitted() else None
            return formdata

        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField) and not isinstance(field, PasswordField):
                field.validators = [readable, *field.validators]
            if isinstance(field, SelectFieldBase) and getattr(field, "validate_choice", False):
                field.validate_choice = False  # type: ignore[attr-defined]
                field.validators = [
                    *field.validators,
                    FromList(_l("Choose from the list."), empty_too=True),
                ]
            # WTForms' own words for a value it cannot read ("Not a valid date value.") came in
            # its translators' Polish and Ukrainian, one of them misspelt: ours say what to type.
            for kind, message in UNREADABLE_VALUE.items():
                if isinstance(field, kind) and cast(Any, field).invalid_value_message is None:
                    cast(Any, field).invalid_value_message = message
            return field

    def submission_hash(self) -> str | None:
        """The same form sent again (a reload of the page that answered it, a double tap) gives
        the same hash: its CSRF token, signed anew each time the page is shown, and everything in
        it. None without a token (CSRF off)."""
        token = getattr(self, "csrf_token", None)
        if token is None or not token.data:
            return None
        sent = sorted((field.name, str(field.data)) for field in self if field.name != "csrf_token")
        return hashlib.sha256(repr((token.data, sent)).encode()).hexdigest()


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as checkboxes (one per option), not a list box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def choices_of(vocabulary: Iterable[LabelledEnum]) -> list[tuple[str, str]]:
    """(code, translated label) for each member, in the vocabulary's order; the labels are
    translated when the form is shown, in the reader's language."""
    return [(member.value, _l(member.label)) for member in vocabulary]


def optional_int(value: object) -> int | None:
    """Coerce a select's value to an id; the empty choice ("none") gives None."""
    return int(value) if value not in (None, "", "None") else None  # type: ignore[call-overload]


def text_of(field: Field) -> str:
    """What was typed in a text field, without surrounding spaces ("" when nothing was)."""
    return (field.data or "").strip()


def show_error(field: Field, message: str) -> None:
    """Put a message next to a field after validation (a use case refused what it says)."""
    field.errors = [*field.errors, message]


def show_anew(field: Field, value: int) -> None:
    """A submitted form shown again with ``value`` in place of what it sent (the version of the
    row the page now shows, so that sending it again acts on what is on screen)."""
    field.raw_data = [str(value)]
    field.data = value
