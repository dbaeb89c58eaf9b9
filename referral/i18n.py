"""Language choice, locale-aware formatting and the language switcher."""

import re

from flask import Flask, g, request, session, url_for
from flask_babel import format_date, format_datetime, get_locale, gettext, lazy_gettext
from flask_login import current_user
from markupsafe import Markup
from werkzeug.routing import AnyConverter

from .urls import query_args
from .vocabulary import UI_LANGUAGES

LANGUAGE_NAMES = {"pl": "Polski", "uk": "Українська", "en": "English"}
# Russian speakers from Ukraine and elsewhere read Ukrainian pages more easily than Polish ones.
BROWSER_LANGUAGE_TO_UI = {"uk": "uk", "ru": "uk", "pl": "pl", "en": "en"}


class LanguageConverter(AnyConverter):
    """``<lang:lang>`` matches only the interface languages; anything else is a 404."""

    def __init__(self, url_map):
        super().__init__(url_map, *UI_LANGUAGES)


def browser_language() -> str:
    """The interface language for a visitor with no choice made yet, from Accept-Language."""
    for value, _quality in request.accept_languages:
        ui = BROWSER_LANGUAGE_TO_UI.get(value.split("-")[0].lower())
        if ui:
            return ui
    return "en"


def path_language() -> str | None:
    """The language a public URL starts with (``/uk/...``), even one that matched no page."""
    first = request.path.lstrip("/").split("/", 1)[0]
    return first if first in UI_LANGUAGES else None


def select_locale() -> str:
    if getattr(g, "lang", None):
        return g.lang
    if current_user and current_user.is_authenticated:
        return current_user.language
    if session.get("lang") in UI_LANGUAGES:
        return session["lang"]
    return browser_language()


def current_language() -> str:
    return str(get_locale())


def switch_language_url(code: str) -> str | None:
    """The same page in another language, for pages whose URL carries it (``/<lang>/...``)."""
    if not getattr(g, "lang", None) or request.endpoint is None:
        return None
    args = {**(request.view_args or {}), **query_args(), "lang": code}
    return url_for(request.endpoint, **args)


# "+380 67 123 45 67": a phone number written in groups, as the hints give their examples.
PHONE_NUMBER = re.compile(r"\+\d+(?: \d+)+")


def phone_numbers_whole(text: str) -> str:
    """The phone numbers in a translated text joined by no-break spaces: one never breaks across
    lines on a phone (the examples are inside the sentence, so markup cannot wrap them)."""
    whole = PHONE_NUMBER.sub(lambda number: number.group().replace(" ", "\u00a0"), str(text))
    # Markup stays markup: only spaces between digits changed.
    return Markup(whole) if isinstance(text, Markup) else whole  # noqa: S704  # nosec


def label(member) -> str:
    """A vocabulary member's label, translated into the current locale."""
    return gettext(member.label)


def init_app(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    from .explain import specialism_label

    app.jinja_env.filters.update(
        label=label,
        specialism_label=specialism_label,
        phone_numbers_whole=phone_numbers_whole,
        datetime=lambda value, fmt="medium": format_datetime(value, fmt) if value else "",
        date=lambda value, fmt="medium": format_date(value, fmt) if value else "",
    )
    app.jinja_env.globals.update(
        LANGUAGE_NAMES=LANGUAGE_NAMES,
        UI_LANGUAGES=UI_LANGUAGES,
        switch_language_url=switch_language_url,
        current_language=current_language,
    )

    from .extensions import login_manager

    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in to see this page.")
    login_manager.login_message_category = "info"
