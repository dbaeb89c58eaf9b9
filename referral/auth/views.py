"""Signing in (password, then a code for those enrolled in two-step sign-in), signing out,
forgotten passwords, one-time password links and the language switch."""

import hmac
import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from .. import accounts
from ..extensions import db, limiter, login_manager
from ..fields import show_error
from ..models import User
from ..security_headers import holds_secret
from ..service_errors import ServiceError
from ..session_security import mark_signed_in
from ..throttle import taking_at_least
from ..urls import same_site_path
from ..vocabulary import UI_LANGUAGES
from . import bp
from .forms import CodeForm, ForgotForm, NewPasswordForm, SignInForm

# How long the code step waits after the right password.
PENDING_SECONDS = 10 * 60
# Open to someone who must enrol in two-step sign-in before anything else.
ENROLMENT_PAGES = {"staff.two_factor", "staff.two_factor_confirm", "staff.profile"}


def _sign_in_limit() -> str:
    """Per address, on top of the per-account throttle: one address cannot try many accounts."""
    return current_app.config["SIGN_IN_RATE_LIMIT"]


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    return accounts.user_for_session(session_token)


@bp.before_app_request
def enrol_first():
    """Coordinators, and staff of an organisation that asks for it, enrol in two-step sign-in
    before any staff or coordinator page opens."""
    if request.blueprint not in ("staff", "admin") or request.endpoint in ENROLMENT_PAGES:
        return None
    if not current_user.is_authenticated:
        return None
    if current_user.two_factor_required and not current_user.two_factor_enabled:
        flash(
            _("Please set up two-step sign-in first. It protects the people in your care."), "info"
        )
        return redirect(url_for("staff.two_factor"))
    return None


def lock_message(minutes: int) -> str:
    """Said wherever codes or passwords are throttled (also when making new recovery codes)."""
    return ngettext(
        "Too many failed attempts. Please try again in %(num)d minute.",
        "Too many failed attempts. Please try again in %(num)d minutes.",
        minutes,
    )


def _next_path() -> str | None:
    return same_site_path(request.form.get("next") or request.args.get("next"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.inbox"))
    form = SignInForm()
    locked = False
    if form.validate_on_submit():
        result = accounts.sign_in(form.email.data or "", form.password.data or "")
        if result.user:
            return _password_accepted(result.user, _next_path())
        if result.locked_minutes:
            locked = True
            form.form_errors.append(lock_message(result.locked_minutes))
        else:
            # One message for both: never say whether the e-mail or the password was wrong.
            form.form_errors.append(_("The e-mail or password is not correct."))
    return render_template("auth/login.html", form=form, locked=locked)


def _password_accepted(user: User, next_path: str | None):
    """Sign in now, or ask for the code first (the pending step lives in the signed cookie)."""
    if not user.two_factor_enabled:
        return _signed_in(user, next_path)
    session.clear()
    session["pending_sign_in"] = {
        "user": user.id,
        "at": int(time.time()),
        "next": next_path,
        "seal": accounts.pending_seal(user),
    }
    return redirect(url_for("auth.code"))


def _signed_in(user: User, next_path: str | None):
    session.clear()
    accounts.start_session(user)
    login_user(user)
    session.permanent = False
    session["lang"] = user.language  # the error page for a database outage reads it from here
    mark_signed_in()
    return redirect(next_path or url_for("staff.inbox"))


def _pending() -> tuple[User, str | None] | None:
    pending = session.get("pending_sign_in") or {}
    if time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("user"))
    if user is None or not user.active or not user.two_factor_enabled:
        return None
    if not hmac.compare_digest(str(pending.get("seal", "")), accounts.pending_seal(user)):
        return None  # the account's sessions were renewed since the password step
    return user, same_site_path(pending.get("next"))


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
def code():
    """The second step: a code from the app, or one of the recovery codes."""
    pending = _pending()
    if pending is None:
        session.pop("pending_sign_in", None)
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"))
    user, next_path = pending
    form = CodeForm()
    if form.validate_on_submit():
        result = accounts.check_code(user, form.code.data or "")
        if result.user:
            return _signed_in(user, next_path)
        if result.locked_minutes:
            form.form_errors.append(lock_message(result.locked_minutes))
        else:
            show_error(form.code, _("This code is not correct. Please try the newest code."))
    return render_template("auth/code.html", form=form)


@bp.route("/login/forgot", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
def forgot():
    """The same answer, taking at least FORGOT_PASSWORD_SECONDS, whether or not the address has
    an account."""
    form = ForgotForm()
    if form.validate_on_submit():
        with taking_at_least(current_app.config["FORGOT_PASSWORD_SECONDS"]):
            accounts.send_password_link(form.email.data)
        return render_template(
            "auth/forgot_sent.html", hours=current_app.config["FORGOT_PASSWORD_HOURS"]
        )
    return render_template("auth/forgot.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    accounts.end_sessions(current_user)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def set_language():
    """The language switcher on pages whose URL does not carry the language."""
    code = request.form.get("lang", "")
    if code in UI_LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.language = code
            db.session.commit()
    return redirect(
        _next_path() or url_for("public.home", lang=code if code in UI_LANGUAGES else "en")
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
@holds_secret
def reset_password(token: str):
    """A one-time link (from a coordinator or by e-mail): the person chooses their own password
    and is signed in, which is also the way in for someone locked out by another's guesses."""
    if accounts.find_password_reset(token) is None:
        if request.method == "POST":
            accounts.refuse_link(token)
        return render_template("auth/reset_invalid.html"), 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.reset_password(token, form.password.data or "")
        except ServiceError:  # LINK_NOT_VALID: used up meanwhile
            return render_template("auth/reset_invalid.html"), 404
        response = _password_accepted(user, None)
        flash(_("Your password is set."), "success")
        return response
    return render_template("auth/reset.html", form=form)
