"""Error pages in the visitor's language: never a stack trace, never a bare server error."""

import logging
import traceback
from contextlib import nullcontext

from flask import Flask, g, render_template, session
from flask_babel import force_locale
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from .api import problems
from .extensions import db, login_manager
from .i18n import browser_language, path_language
from .vocabulary import UI_LANGUAGES

log = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeoutError)
RETRY_AFTER_SECONDS = 60


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(HTTPException)
    def http_error(error):
        if problems.is_api_request():
            return problems.from_http_error(error)
        # A URL under /<lang>/ that matched no page (/uk/requst) still says its language.
        language = getattr(g, "lang", None) or path_language()
        with force_locale(language) if language else nullcontext():
            page = render_template("errors/error.html", error=error)
        return page, error.code

    def database_unavailable(error):
        """A page that needs no database: not the signed-in user, not their language from it."""
        log.error("database unavailable: %s", type(error).__name__)
        try:
            db.session.rollback()
        except DATABASE_DOWN:
            log.debug("rollback failed too")
        if problems.is_api_request():
            return problems.response(
                problems.ApiProblem(
                    "unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
                )
            )
        # Flask-Login puts current_user into every template: answer "anonymous" for this page
        # instead of loading the user (the cookie is left as it is).
        g._login_user = login_manager.anonymous_user()
        language = getattr(g, "lang", None) or session.get("lang")
        if language not in UI_LANGUAGES:
            language = browser_language()
        with force_locale(language):
            page = render_template("errors/unavailable.html")
        return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}

    for error_class in DATABASE_DOWN:
        app.register_error_handler(error_class, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected_error(error):
        # Log the type and the stack only: exception messages can quote what a person typed.
        stack = "".join(traceback.format_tb(error.__traceback__))
        log.error("unhandled %s\n%s", type(error).__name__, stack)
        # A write the database refused leaves the session unusable until it is rolled back: the
        # page below reads the signed-in user, and raised again (the server's bare 500).
        try:
            db.session.rollback()
        except DATABASE_DOWN:
            log.debug("rollback failed too")
        if problems.is_api_request():
            return problems.response(problems.ApiProblem("server_error"))
        return render_template("errors/error.html", error=None), 500
