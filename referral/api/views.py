"""The JSON API (``/api/v1``)."""

from flask import url_for

from . import bp


@bp.get("/")
def index():
    return {"links": {"self": url_for("api.index", _external=True)}}
