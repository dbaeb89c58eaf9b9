"""Language choice, locale-aware formatting and the language switcher."""

from datetime import UTC, datetime

from babel.dates import format_skeleton, get_day_names
from flask import Flask, g, request, session, url_for
from flask_babel import (
    format_date,
    format_datetime,
    get_locale,
    get_timezone,
    gettext,
)
from flask_login import current_user
from werkzeug.routing import AnyConverter

from .urls import page_to_show, query_args
from .vocabulary import UI_LANGUAGES

LANGUAGE_NAMES = {"pl": "Polski", "uk": "Українська", "en": "English"}
# A select's options naming the interface languages, each in itself and marked so (WCAG 3.1.2):
# a screen reader reads "Українська" with a Ukrainian voice on a Polish page.
LANGUAGE_CHOICES = [(code, LANGUAGE_NAMES[code], {"lang": code}) for code in UI_LANGUAGES]
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
    if getattr(g, "lang", None) and request.endpoint is not None:
        args = {**(request.view_args or {}), **query_args(), "lang": code}
        return _to_come_back_to(url_for(request.endpoint, **args))
    if language := path_language():
        # A 404 or 405 under /<lang>/: posting the choice to /language came back to this path,
        # whose language won again. The same path under the other language instead.
        return _to_come_back_to(f"/{code}{request.full_path.rstrip('?')[len(language) + 1 :]}")
    return None


def this_page() -> str:
    """Where the staff's language switch brings them back: this page, or the nearest one above
    it that opens."""
    return _to_come_back_to(request.full_path.rstrip("?"))


def _to_come_back_to(target: str) -> str:
    # A page got by GET opens in any language as it is (and looking costs a public page a
    # quarter of its time); only the answer to a form needs the page above it.
    return target if request.method in ("GET", "HEAD") else page_to_show(target)


def moment(value: datetime, year: bool = False, weekday: bool = False) -> str:
    """A moment people read without doubt: the day and the month in words, the 24-hour time, and
    the year when it is not this one or ``year`` asks ("2 grudnia, 17:00", "December 2, 17:00");
    ``weekday`` adds the day of the week, for an appointment ("piątek, 4 grudnia 2026, 10:30").
    Babel's short formats wrote 12/2/26, 5:00 PM in English, which people in Poland read as
    12 February, and 02.12.26 in Ukrainian; its long ones add seconds and "+0100". The
    ``datetime`` filter's ``short`` is this; the ``moment`` filter too, with ``year``."""
    locale, zone = get_locale(), get_timezone()
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    day = "MMMMd" if local.year == datetime.now(zone).year and not year else "yMMMMd"
    date_part = format_skeleton(day, local, locale=locale)
    if weekday:  # in full: the skeletons' nearest pattern shortens it ("pt.", "Fri")
        date_part = f"{get_day_names('wide', locale=locale)[local.weekday()]}, {date_part}"
    return str(locale.datetime_formats["medium"]).format(
        format_skeleton("Hm", local, locale=locale), date_part
    )


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
        moment=lambda value, year=False, weekday=False: (
            moment(value, year, weekday) if value else ""
        ),
        datetime=lambda value, fmt="medium": (
            "" if not value else moment(value) if fmt == "short" else format_datetime(value, fmt)
        ),
        date=lambda value, fmt="medium": format_date(value, fmt) if value else "",
    )
    app.jinja_env.globals.update(
        LANGUAGE_NAMES=LANGUAGE_NAMES,
        UI_LANGUAGES=UI_LANGUAGES,
        switch_language_url=switch_language_url,
        this_page=this_page,
        current_language=current_language,
    )

    @app.after_request
    def say_the_language(response):
        """A page under /<lang>/ (an error page too) is in that language: say so to browsers,
        translators and search engines, as its ``<html lang>`` does."""
        if language := getattr(g, "lang", None) or path_language():
            response.headers["Content-Language"] = language
        return response
