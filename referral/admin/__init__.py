from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import audit, organisations, reports, two_factor_views, unmatched, users, views  # noqa: E402, F401
