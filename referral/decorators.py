"""Access decorators for the staff and admin blueprints."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def coordinator_required(view):
    """Coordinators only; others get 404, so the admin area does not reveal itself."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_coordinator:
            abort(404)
        return view(*args, **kwargs)

    return wrapper
