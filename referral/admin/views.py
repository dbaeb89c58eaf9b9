"""Coordinator pages: the directory, users, the unmatched queue, reports and the audit trail."""

from babel import Locale
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import accounts, explain, reports, services, timeline
from ..access import visible_referrals
from ..decorators import coordinator_required
from ..directory import cities_sorted
from ..explain import place_name, specialism_label
from ..extensions import db
from ..handoff import WARSAW, Action, State
from ..i18n import current_language
from ..models import Organisation, Referral, Request, User, Voivodeship, utcnow
from ..services import ServiceError
from ..vocabulary import SPOKEN_LANGUAGES, UI_LANGUAGES
from . import audit, bp, csvfile
from .forms import (
    AuditFilterForm,
    CoverageForm,
    OrganisationForm,
    PeriodForm,
    RoleForm,
    RouteForm,
    UserForm,
    specialism_choices,
)

ACTION_LABELS = {
    Action.ROUTE: _l("Routed"),
    Action.ACCEPT: _l("Accepted"),
    Action.DECLINE: _l("Declined"),
    Action.EXPIRE: _l("Offer expired"),
    Action.START: _l("Work started"),
    Action.HAND_BACK: _l("Handed back"),
    Action.CLOSE: _l("Closed"),
    Action.ROUTE_BY_HAND: _l("Routed by hand"),
    Action.WITHDRAW: _l("Withdrawn"),
    "sign_in": _l("Sign-in"),
}
QUEUE_PAGE = 20
TEXT_FIELDS = tuple(
    f"{what}_{language}" for what in ("name", "description") for language in UI_LANGUAGES
)


@bp.context_processor
def _labels():
    return {
        "ACTION_LABELS": ACTION_LABELS,
        "STATE_LABELS": {state.value: _(state.label) for state in State},
        "explain_reasons": explain.reasons,
        "language_names": explain.language_names,
        "step_reason": timeline.step_reason,
    }


@bp.app_template_filter("number")
def _number(value) -> str:
    return format_decimal(value)


@bp.get("/")
@coordinator_required
def index():
    unmatched = db.session.scalar(
        select(func.count()).select_from(
            visible_referrals(current_user).where(Referral.state == State.UNMATCHED).subquery()
        )
    )
    return render_template("admin/index.html", unmatched=unmatched)


# --- organisations ------------------------------------------------------------------------------


def _organisation_form(obj=None) -> OrganisationForm:
    form = OrganisationForm(obj=obj)
    language = current_language()
    form.home_city_id.choices = [("", _("No home city"))] + [
        (city.id, city.name_in(language)) for city in cities_sorted(language)
    ]
    names = Locale.parse(language).languages
    form.languages.choices = [(code, names.get(code, code)) for code in SPOKEN_LANGUAGES]
    return form


def _organisation_edit_form(org: Organisation) -> OrganisationForm:
    """The slug is in addresses and exports: it is chosen once, never edited."""
    form = _organisation_form(obj=org)
    del form.slug
    return form


def _organisation_data(form: OrganisationForm) -> services.OrganisationData:
    text = {name: (getattr(form, name).data or "").strip() for name in TEXT_FIELDS}
    return services.OrganisationData(
        **text,
        website=form.website.data or None,
        home_city_id=form.home_city_id.data,
        languages=form.languages.data or [],
        languages_confirmed=form.languages_confirmed.data,
        email=form.email.data or None,
        takes_referrals=form.takes_referrals.data,
        capacity=form.capacity.data,
        paused_until=form.paused_until.data,
        pause_reason=(form.pause_reason.data or "").strip() or None,
    )


@bp.get("/organisations")
@coordinator_required
def organisations():
    rows = db.session.scalars(
        select(Organisation)
        .options(selectinload(Organisation.coverage))
        .order_by(Organisation.name_pl)
    ).all()
    return render_template(
        "admin/organisations.html", organisations=rows, today=utcnow().astimezone(WARSAW).date()
    )


@bp.route("/organisations/new", methods=["GET", "POST"])
@coordinator_required
def organisation_new():
    form = _organisation_form()
    if request.method == "GET":
        form.takes_referrals.data = True
    if form.validate_on_submit():
        if db.session.scalar(select(Organisation.id).where(Organisation.slug == form.slug.data)):
            form.slug.errors.append(_("Another organisation already uses this short name."))
        else:
            org = services.save_organisation(_organisation_data(form), slug=form.slug.data)
            flash(_("The organisation is saved. Now add what it covers."), "success")
            return redirect(url_for("admin.organisation_edit", organisation_id=org.id))
    return render_template("admin/organisation_form.html", form=form, organisation=None)


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@coordinator_required
def organisation_edit(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    form = _organisation_edit_form(org)
    if form.validate_on_submit():
        services.save_organisation(_organisation_data(form), organisation_id=org.id)
        flash(_("The changes are saved. They apply from the next routing on."), "success")
        return redirect(url_for("admin.organisation_edit", organisation_id=org.id))
    return _render_organisation(org, form, _coverage_form())


def _render_organisation(org: Organisation, form: OrganisationForm, coverage_form: CoverageForm):
    """An organisation's page: its details form, what it covers, and the form to add coverage."""
    return render_template(
        "admin/organisation_form.html",
        form=form,
        organisation=org,
        coverage_form=coverage_form,
        coverage=_coverage_rows(org),
    )


def _coverage_form() -> CoverageForm:
    form = CoverageForm()
    language = current_language()
    form.specialism.choices = specialism_choices(_)
    form.city.choices = [("", _("Choose a city"))] + [
        (city.slug, city.name_in(language)) for city in cities_sorted(language)
    ]
    form.voivodeship.choices = [("", _("Choose a voivodeship"))] + [
        (v.teryt, v.name_in(language))
        for v in db.session.scalars(select(Voivodeship).order_by(Voivodeship.name_pl))
    ]
    return form


def _coverage_rows(org: Organisation) -> list:
    rows = [
        (
            coverage.id,
            specialism_label(coverage.specialism),
            place_name(coverage.scope, coverage.area)
            if coverage.area
            else _("All of Poland, remotely"),
        )
        for coverage in org.coverage
    ]
    return sorted(rows, key=lambda row: (row[1], row[2]))


@bp.post("/organisations/<int:organisation_id>/coverage")
@coordinator_required
def coverage_add(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    form = _coverage_form()
    if form.validate_on_submit():
        try:
            services.add_coverage(org.id, form.specialism.data, form.scope.data, form.area())
        except ServiceError:
            form.specialism.errors.append(_("The organisation already covers this here."))
        else:
            flash(_("The coverage is added."), "success")
            return redirect(
                url_for("admin.organisation_edit", organisation_id=org.id) + "#coverage"
            )
    return _render_organisation(org, _organisation_edit_form(org), form)


@bp.post("/organisations/<int:organisation_id>/coverage/<int:coverage_id>/remove")
@coordinator_required
def coverage_remove(organisation_id: int, coverage_id: int):
    try:
        services.remove_coverage(organisation_id, coverage_id)
    except ServiceError:
        abort(404)
    flash(_("The coverage is removed."), "success")
    return redirect(
        url_for("admin.organisation_edit", organisation_id=organisation_id) + "#coverage"
    )


# --- users ------------------------------------------------------------------------------------


def _with_organisations(form):
    form.organisation_id.choices = [("", _("None (the consortium)"))] + [
        (org.id, org.name_in(current_language()))
        for org in db.session.scalars(select(Organisation).order_by(Organisation.name_pl))
    ]
    return form


@bp.get("/users")
@coordinator_required
def users():
    rows = db.session.scalars(
        select(User)
        .options(selectinload(User.organisation))
        .order_by(User.active.desc(), User.email)
    ).all()
    return render_template("admin/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@coordinator_required
def user_new():
    form = _with_organisations(UserForm())
    if request.method == "GET":
        form.language.data = current_language()
    if form.validate_on_submit():
        try:
            user, token = accounts.create_staff_account(
                form.email.data,
                form.name.data.strip(),
                form.organisation_id.data,
                form.role.data,
                form.language.data,
            )
        except ServiceError:
            form.email.errors.append(_("An account with this e-mail already exists."))
        else:
            return _password_link(user, token, created=True)
    return render_template("admin/user_form.html", form=form)


def _password_link(user: User, token: str, created: bool = False):
    """Shown once, to hand over in person or by phone: the link is never sent by e-mail."""
    link = url_for("auth.reset_password", token=token, _external=True)
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    return render_template(
        "admin/password_link.html", user=user, link=link, created=created, hours=hours
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@coordinator_required
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = _with_organisations(RoleForm(obj=user))
    if form.validate_on_submit():
        accounts.change_role(user.id, form.role.data, form.organisation_id.data)
        flash(_("The role is saved."), "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", form=form, user=user)


@bp.post("/users/<int:user_id>/active")
@coordinator_required
def user_active(user_id: int):
    user = db.get_or_404(User, user_id)
    active = request.form.get("active") == "1"
    try:
        accounts.set_user_active(user.id, active, current_user)
    except ServiceError:
        flash(_("You cannot deactivate your own account."), "error")
    else:
        if active:
            flash(_("%(name)s can sign in again.", name=user.name), "success")
        else:
            flash(
                _("%(name)s is deactivated and signed out everywhere.", name=user.name), "success"
            )
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password-link")
@coordinator_required
def user_password_link(user_id: int):
    user = db.get_or_404(User, user_id)
    return _password_link(user, accounts.issue_password_reset(user.id))


# --- the unmatched queue and routing by hand ----------------------------------------------------


def _organisations_by_slug() -> dict[str, Organisation]:
    return {org.slug: org for org in db.session.scalars(select(Organisation))}


@bp.get("/unmatched")
@coordinator_required
def unmatched():
    number = request.args.get("page", 1, type=int)
    query = (
        visible_referrals(current_user)
        .where(Referral.state == State.UNMATCHED)
        .order_by(Referral.created_at, Referral.id)
        .options(
            selectinload(Referral.events), selectinload(Referral.request).selectinload(Request.city)
        )
    )
    pagination = db.paginate(query, page=number, per_page=QUEUE_PAGE, error_out=False)
    return render_template(
        "admin/unmatched.html",
        pagination=pagination,
        candidates=services.candidate_lists(pagination.items),
        organisations=_organisations_by_slug(),
    )


@bp.route("/referrals/<int:referral_id>/route", methods=["GET", "POST"])
@coordinator_required
def route(referral_id: int):
    referral = db.first_or_404(visible_referrals(current_user).where(Referral.id == referral_id))
    candidates = services.candidates_for(referral)
    organisations = _organisations_by_slug()
    form = RouteForm()
    language = current_language()
    form.organisation_id.choices = [
        (
            organisations[c.organisation.slug].id,
            organisations[c.organisation.slug].name_in(language),
        )
        for c in candidates
    ]
    if request.method == "GET":
        form.version.data = referral.version
    if form.validate_on_submit():
        try:
            services.act(
                referral.id,
                current_user,
                Action.ROUTE_BY_HAND,
                form.version.data,
                organisation_id=form.organisation_id.data,
                text=form.reason.data.strip(),
            )
        except ServiceError as error:
            flash(_route_refusal(error.code), "error")
        else:
            org = db.session.get(Organisation, form.organisation_id.data)
            flash(_("Offered to %(name)s.", name=org.name_in(current_language())), "success")
        return redirect(url_for("admin.route", referral_id=referral.id))
    return render_template(
        "admin/route.html",
        referral=referral,
        candidates=candidates,
        organisations=organisations,
        form=form,
        can_route=Action.ROUTE_BY_HAND in services.allowed_actions(current_user, referral),
    )


def _route_refusal(code: str) -> str:
    if code == ServiceError.ALREADY_TAKEN:
        return _("Someone changed this referral in the meantime. Please look at it again.")
    return _("This referral cannot be routed by hand now.")


# --- reports ------------------------------------------------------------------------------------


def _period() -> tuple[PeriodForm, reports.Period]:
    form = PeriodForm(request.args)
    default = reports.Period.last_12_months(utcnow().astimezone(WARSAW).date())
    if request.args and form.validate():
        return form, reports.Period(form.start.data or default.start, form.end.data or default.end)
    if not request.args:
        form.start.data, form.end.data = default.start, default.end
    return form, default


@bp.get("/reports")
@coordinator_required
def report():
    form, period = _period()
    return render_template(
        "admin/reports.html",
        form=form,
        period=period,
        tables=reports.Report(period, current_language()).tables(),
    )


@bp.get("/reports/<key>.csv")
@coordinator_required
def report_csv(key: str):
    _form, period = _period()
    table = reports.Report(period, current_language()).table(key)
    if table is None:
        abort(404)
    filename = f"referral-{key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return csvfile.download(filename, table.columns, table.rows)


# --- the audit trail ----------------------------------------------------------------------------


def _audit_filter() -> tuple[AuditFilterForm, audit.AuditFilter]:
    form = AuditFilterForm(request.args)
    _with_organisations(form)
    form.organisation_id.choices[0] = ("", _("All organisations"))
    form.user_id.choices = [("", _("All users"))] + [
        (u.id, f"{u.name} ({u.email})")
        for u in db.session.scalars(select(User).order_by(User.name))
    ]
    if request.args and not form.validate():
        return form, audit.AuditFilter(referral_id=-1)
    return form, audit.AuditFilter(
        kind=form.kind.data or "",
        organisation_id=form.organisation_id.data,
        user_id=form.user_id.data,
        referral_id=form.referral_id.data,
        start=form.start.data,
        end=form.end.data,
    )


@bp.get("/audit")
@coordinator_required
def audit_trail():
    form, trail_filter = _audit_filter()
    page = audit.page(trail_filter, request.args.get("page", 1, type=int))
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        users={u.id: u for u in db.session.scalars(select(User))},
        organisations={o.id: o for o in db.session.scalars(select(Organisation))},
    )


@bp.get("/audit.csv")
@coordinator_required
def audit_csv():
    _form, trail_filter = _audit_filter()
    users = {u.id: u.email for u in db.session.scalars(select(User))}
    organisations = {o.id: o.slug for o in db.session.scalars(select(Organisation))}
    header = [
        _("Time (UTC)"),
        _("What"),
        _("Referral"),
        _("User"),
        _("Organisation"),
        _("Offered to"),
        _("From"),
        _("To"),
        _("Reason"),
        _("Text"),
        _("Sign-in succeeded"),
    ]
    rows = (
        [
            row.at.isoformat(timespec="seconds"),
            row.action,
            row.referral_id,
            users.get(row.user_id) or row.email,
            organisations.get(row.organisation_id),
            organisations.get(row.offered_to_id),
            row.from_state,
            row.to_state,
            row.reason_code,
            row.text,
            None if row.success is None else bool(row.success),
        ]
        for row in audit.every_row(trail_filter)
    )
    return csvfile.download("referral-audit.csv", header, rows, stream=True)
