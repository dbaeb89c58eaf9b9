"""The secret key that signs session cookies, the cookies' flags, and how long a staff session
lasts: SESSION_IDLE_MINUTES without a page, SESSION_MAX_HOURS at most after signing in."""

import os
import secrets
import time
from pathlib import Path

from flask import Flask, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import logout_user

from . import instance_keys
from .config import flag
from .extensions import login_manager
from .urls import page_of_this_form

# Refreshing the "last seen" time at most once a minute spares a new cookie on every page.
SEEN_AT_GRANULARITY = 60


def instance_secret_key(path: Path) -> str:
    """The key kept in ``path``, made once with a random value (instance_keys: mode 600, and
    two processes starting at once agree)."""
    key = instance_keys.read_or_make(path, lambda: secrets.token_hex(32)) or ""
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key: delete it to make a new one")
    return key


def mark_signed_in() -> None:
    """Called when a session starts: the clock of both limits starts now."""
    now = int(time.time())
    session["signed_in_at"] = now
    session["seen_at"] = now


def init_app(app: Flask) -> None:
    config = app.config
    if not config.get("SECRET_KEY"):
        key_file = config.get("SECRET_KEY_FILE") or os.path.join(app.instance_path, "secret_key")
        config["SECRET_KEY"] = instance_secret_key(Path(key_file))
    https = str(config.get("PUBLIC_URL", "")).startswith("https://")
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        secure = flag(config.get(name))
        config[name] = https if secure is None else secure

    @app.before_request
    def end_old_sessions():
        """Sign out a session idle or open too long; the signed cookie carries both times, so
        this costs no database query."""
        if "_user_id" not in session:
            return None
        now = time.time()
        idle = now - session.get("seen_at", 0) > config["SESSION_IDLE_MINUTES"] * 60
        too_old = now - session.get("signed_in_at", 0) > config["SESSION_MAX_HOURS"] * 3600
        if idle or too_old:
            logout_user()
            # All but the CSRF token: a public form open in the same browser (the person filling
            # in the intake at the office, on the caseworker's computer) still sends.
            csrf_token = session.get("csrf_token")
            session.clear()
            if csrf_token:
                session["csrf_token"] = csrf_token
            if request.blueprint not in ("staff", "admin"):
                return None  # a public page: perhaps not the signed-in person reading it
            if request.method == "GET":
                flash(_("Your session has ended. Please sign in again."), "info")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            return _form_not_saved()
        if now - session["seen_at"] >= SEEN_AT_GRANULARITY:
            session["seen_at"] = int(now)
        return None

    @login_manager.unauthorized_handler
    def sign_in_first():
        """A page asks to sign in and comes back after it; a form sent without a session (a
        second tab, after the first found the session ended) is said not to be saved, and
        leads back to its page: its own address may take POST only (405 after signing in)."""
        if request.method in ("GET", "HEAD"):
            flash(_("Please sign in to see this page."), "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return _form_not_saved()


def _form_not_saved():
    """A form sent when no session could take it (it cannot be taken unsigned, nor its address
    opened after signing in): back to the page it lives on, saying so."""
    flash(
        _(
            "Your session has ended. What you were sending was not saved: please sign "
            "in and send it again."
        ),
        "error",
    )
    return redirect(url_for("auth.login", next=page_of_this_form()))
