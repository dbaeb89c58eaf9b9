from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import appointment_views, summary_views, two_factor_views, views  # noqa: E402, F401
