from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import (  # noqa: E402, F401
    api_access,
    audit,
    organisations,
    reports,
    two_factor_views,
    unmatched,
    users,
    views,
)
