"""The unmatched queue and routing a referral by hand (/admin/unmatched)."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import access_log, lifecycle, paging
from ..access import visible_referrals
from ..decorators import coordinator_required
from ..directory import candidate_lists, candidates_for
from ..extensions import db
from ..fields import text_of
from ..handoff import Action, State
from ..i18n import current_language
from ..models import HelpRequest, Organisation, Referral, ReferralEvent
from ..service_errors import ServiceError
from . import bp
from .forms import RouteForm

QUEUE_PAGE = 20


def _organisations_by_id() -> dict[int, Organisation]:
    return {org.id: org for org in db.session.scalars(select(Organisation))}


@bp.get("/unmatched")
@coordinator_required
def unmatched():
    query = (
        visible_referrals(current_user)
        .where(Referral.state == State.UNMATCHED)
        .order_by(Referral.created_at, Referral.id)
        .options(
            selectinload(Referral.events),
            selectinload(Referral.request).selectinload(HelpRequest.city),
        )
    )
    page = paging.page_of(query, paging.requested_page(), QUEUE_PAGE)
    return render_template(
        "admin/unmatched.html",
        page=page,
        candidates=candidate_lists(page.items),
        organisations=_organisations_by_id(),
    )


@bp.route("/referrals/<int:referral_id>/route-by-hand", methods=["GET", "POST"])
@coordinator_required
def route_by_hand(referral_id: int):
    referral = db.first_or_404(
        visible_referrals(current_user)
        .where(Referral.id == referral_id)
        .options(selectinload(Referral.events).selectinload(ReferralEvent.words))
    )
    candidates = candidates_for(referral)
    organisations = _organisations_by_id()
    form = RouteForm()
    language = current_language()
    form.organisation_id.choices = [
        (c.organisation.id, organisations[c.organisation.id].name_in(language)) for c in candidates
    ]
    if request.method == "GET":
        form.version.data = referral.version
    if form.validate_on_submit():
        try:
            lifecycle.act(
                referral.id,
                current_user,
                Action.ROUTE_BY_HAND,
                form.version.data,
                organisation_id=form.organisation_id.data,
                text=text_of(form.reason),
            )
        except ServiceError as error:
            flash(_route_refusal(error.code), "error")
        else:
            org = organisations[form.organisation_id.data]
            flash(_("Offered to %(name)s.", name=org.name_in(language)), "success")
        return redirect(url_for("admin.route_by_hand", referral_id=referral.id))
    page = render_template(
        "admin/route.html",
        referral=referral,
        candidates=candidates,
        organisations=organisations,
        form=form,
        can_route=Action.ROUTE_BY_HAND in lifecycle.allowed_actions(current_user, referral),
    )
    if referral.request.erased_at is None and any(event.text for event in referral.events):
        access_log.record(current_user, access_log.Page.ROUTE, [referral])
    return page


def _route_refusal(code: str) -> str:
    if code == ServiceError.STALE_VERSION:
        return _("Someone changed this referral in the meantime. Please look at it again.")
    return _("This referral cannot be routed by hand now.")
