from flask import Blueprint

bp = Blueprint("public", __name__)

from . import appointment_views, views  # noqa: E402, F401
