"""The unmatched queue and routing a referral by hand (/admin/unmatched): a compact table,
filtered and urgent first; each referral's candidates on its own page, and a "route by hand"
section on the referral's page for a coordinator."""

from dataclasses import dataclass
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import access_log, lifecycle, paging
from ..access import visible_referrals
from ..decorators import coordinator_required
from ..directory import candidates_for, voivodeship_choices
from ..extensions import db
from ..fields import show_anew, text_of
from ..handoff import Action, State
from ..i18n import current_language
from ..models import HelpRequest, Organisation, Referral, ReferralEvent, User, utcnow
from ..routing import Candidate
from ..service_errors import ServiceError
from . import bp
from .forms import QueueFilterForm, RouteForm

QUEUE_PAGE = 20


def _organisations_by_id() -> dict[int, Organisation]:
    return {org.id: org for org in db.session.scalars(select(Organisation))}


@dataclass(frozen=True)
class QueueFilters:
    specialism: str = ""
    voivodeship: str = ""
    urgency: str = ""  # "", "urgent" or "other"
    older_than_days: int = 0


def queue_filters(form: QueueFilterForm) -> QueueFilters:
    """What the form asks for; a value not among the choices (an old bookmark) is ignored."""
    form.voivodeship.choices = [
        ("", _("All voivodeships")),
        *voivodeship_choices(current_language()),
    ]
    form.validate()
    value = {name: "" if f.errors else (f.data or "") for name, f in form._fields.items()}
    return QueueFilters(
        specialism=value["specialism"],
        voivodeship=value["voivodeship"],
        urgency=value["urgency"],
        older_than_days=int(value["age"] or 0),
    )


def queue(user: User, filters: QueueFilters):
    """The unmatched referrals ``user`` may see that pass ``filters``: urgent first, then the
    longest waiting."""
    query = (
        visible_referrals(user)
        .join(Referral.request)
        .where(Referral.state == State.UNMATCHED)
        .order_by(Referral.urgent.desc(), Referral.created_at, Referral.id)
        .options(
            selectinload(Referral.request).selectinload(HelpRequest.city),
            selectinload(Referral.request).selectinload(HelpRequest.voivodeship),
        )
    )
    if filters.specialism:
        query = query.where(Referral.specialism == filters.specialism)
    if filters.voivodeship:
        query = query.where(HelpRequest.voivodeship_teryt == filters.voivodeship)
    if filters.urgency:
        query = query.where(Referral.urgent.is_(filters.urgency == "urgent"))
    if filters.older_than_days:
        query = query.where(
            Referral.created_at <= utcnow() - timedelta(days=filters.older_than_days)
        )
    return query


@bp.get("/unmatched")
@coordinator_required
def unmatched():
    form = QueueFilterForm(formdata=request.args)
    filters = queue_filters(form)
    page = paging.page_of(queue(current_user, filters), paging.requested_page(), QUEUE_PAGE)
    return render_template(
        "admin/unmatched.html", page=page, form=form, filtered=filters != QueueFilters()
    )


def route_choices(referral: Referral, candidates: list[Candidate]) -> RouteForm:
    """The form to offer ``referral`` by hand, the candidates in rank order (eligible first)."""
    organisations = _organisations_by_id()
    form = RouteForm()
    language = current_language()
    form.organisation_id.choices = [
        (c.organisation.id, organisations[c.organisation.id].name_in(language)) for c in candidates
    ]
    if request.method == "GET":
        form.version.data = referral.version
    return form


@bp.app_template_global()
def route_by_hand_section(referral: Referral) -> RouteForm | None:
    """For the referral's page: the route-by-hand form when a coordinator may route it now."""
    if not getattr(current_user, "is_coordinator", False) or Action.ROUTE_BY_HAND not in (
        lifecycle.allowed_actions(current_user, referral)
    ):
        return None
    return route_choices(referral, candidates_for(referral))


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
    form = route_choices(referral, candidates)
    status = 400 if form.is_submitted() else 200
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
            # The page as the referral is now, the reason typed kept (nothing lost, 409).
            flash(_route_refusal(error.code), "error")
            candidates = candidates_for(referral)
            show_anew(form.version, referral.version)
            status = 409
        else:
            org = organisations[form.organisation_id.data]
            flash(_("Offered to %(name)s.", name=org.name_in(current_language())), "success")
            if request.args.get("back") == "referral":
                # At the top, where the message says what happened and takes the focus.
                return redirect(url_for("staff.referral", referral_id=referral.id))
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
    return page, status


def _route_refusal(code: str) -> str:
    if code == ServiceError.STALE_VERSION:
        return _("Someone changed this referral in the meantime. Please look at it again.")
    return _("This referral cannot be routed by hand now.")
