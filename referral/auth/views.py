from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from .. import accounts
from ..extensions import db, login_manager
from ..models import User
from ..service_errors import ServiceError
from ..vocabulary import UI_LANGUAGES
from . import bp
from .forms import NewPasswordForm, SignInForm


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    return db.session.scalar(
        db.select(User).where(User.session_token == session_token, User.active.is_(True))
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.inbox"))
    form = SignInForm()
    if form.validate_on_submit():
        result = accounts.sign_in(
            form.email.data or "", form.password.data or "", request.remote_addr or ""
        )
        if result.user:
            login_user(result.user)
            session.permanent = False
            return redirect(_safe_next() or url_for("staff.inbox"))
        if result.locked_minutes:
            form.form_errors.append(
                ngettext(
                    "Too many failed attempts. Please try again in %(num)d minute.",
                    "Too many failed attempts. Please try again in %(num)d minutes.",
                    result.locked_minutes,
                )
            )
        else:
            # One message for both: never say whether the e-mail or the password was wrong.
            form.form_errors.append(_("The e-mail or password is not correct."))
    return render_template("auth/login.html", form=form)


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
        _safe_next() or url_for("public.home", lang=code if code in UI_LANGUAGES else "en")
    )


def _safe_next() -> str | None:
    """Only same-site paths: an open redirect would help phishing."""
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """The one-time link a coordinator handed over: the person chooses their own password."""
    if accounts.find_password_reset(token) is None:
        return render_template("auth/reset_invalid.html"), 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.password.data or "")
        except ServiceError:  # LINK_NOT_VALID: used up meanwhile
            return render_template("auth/reset_invalid.html"), 404
        logout_user()
        flash(_("Your password is set. Please sign in with it."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)
