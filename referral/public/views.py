"""Public pages: anonymous, phone first, the language in the URL (``/uk/...``)."""

from flask import current_app, g, redirect, render_template, url_for

from ..directory import active_members
from ..i18n import browser_language
from . import bp


@bp.url_value_preprocessor
def pull_language(endpoint, values):
    g.lang = (values or {}).pop("lang", None)


@bp.url_defaults
def add_language(endpoint, values):
    if "lang" not in values and current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values["lang"] = g.lang


@bp.get("/")
def root():
    return redirect(url_for("public.home", lang=browser_language()))


@bp.get("/<lang:lang>/")
def home():
    return render_template("public/home.html", members=active_members())
