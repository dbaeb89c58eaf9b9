from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..fields import Form
from ..passwords import PASSWORD_MIN_LENGTH


def _email_field():
    # Length caps keep a 10 kB e-mail from reaching the database or the hasher.
    return StringField(
        _l("E-mail"),
        validators=[
            DataRequired(_l("Enter your e-mail.")),
            Length(max=254, message=_l("This e-mail is too long.")),
        ],
        render_kw={"autocomplete": "username", "type": "email"},
    )


class SignInForm(Form):
    email = _email_field()
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Enter your password.")),
            Length(max=1000, message=_l("This password is too long.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )


class NewPasswordForm(Form):
    """Choosing a password through a one-time link."""

    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Enter a new password.")),
            Length(min=PASSWORD_MIN_LENGTH, message=_l("Use at least 12 characters.")),
            Length(max=1000, message=_l("This password is too long.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    repeat = PasswordField(
        _l("The same password again"),
        validators=[
            DataRequired(_l("Enter the password again.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class CodeForm(Form):
    """The second sign-in step, and the confirmation of enrolment."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(_l("Enter the code.")),
            Length(max=40, message=_l("This code is too long.")),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "spellcheck": "false"},
    )


class ForgotForm(Form):
    email = _email_field()
