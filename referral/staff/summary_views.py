"""The case summary to print or save as PDF: ``/staff/referrals/<id>/summary``, for the
organisation holding the case only (``access.may_print_summary``; anyone else gets 404)."""

from flask import abort, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from .. import access, access_log
from ..models import HelpRequest, Referral, utcnow
from . import bp
from .views import _FULL_PAGE, _visible_or_404


@bp.context_processor
def summary_helpers():
    return {"may_print_summary": lambda referral: access.may_print_summary(current_user, referral)}


@bp.get("/referrals/<int:referral_id>/summary")
@login_required
def summary(referral_id: int):
    referral = _visible_or_404(
        referral_id,
        *_FULL_PAGE,
        selectinload(Referral.request).selectinload(HelpRequest.referrals),
        selectinload(Referral.appointment),
        selectinload(Referral.appointment_steps),
    )
    if not access.may_print_summary(current_user, referral):
        abort(404)
    notes = [note for note in referral.notes if access.may_see_note(current_user, note)]
    # The request's other needs only where this organisation holds them too: each organisation
    # sees what was routed to it (the summary is the holder's; as their sender it has its pages).
    needs = [n for n in referral.request.referrals if n.organisation_id == referral.organisation_id]
    page = render_template(
        "staff/summary.html",
        referral=referral,
        needs=needs,
        notes=notes,
        printed_at=utcnow(),
        personal=True,
    )
    if referral.request.erased_at is None:
        access_log.record(current_user, access_log.Page.SUMMARY, [referral])
    return page
