"""A coordinator asks a whole organisation's staff to use two-step sign-in (audited)."""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import accounts
from ..decorators import coordinator_required
from ..service_errors import ServiceError
from . import bp


@bp.post("/organisations/<int:organisation_id>/two-factor")
@coordinator_required
def organisation_two_factor(organisation_id: int):
    required = request.form.get("required") == "1"
    try:
        accounts.require_two_factor(organisation_id, required, by=current_user)
    except ServiceError:
        abort(404)
    if required:
        flash(
            _("Its staff now need two-step sign-in: those without it set it up next."),
            "success",
        )
    else:
        flash(_("Two-step sign-in is now each staff member's own choice here."), "success")
    return redirect(url_for("admin.organisation_edit", organisation_id=organisation_id))
