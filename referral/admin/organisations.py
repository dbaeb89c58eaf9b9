"""The directory: organisations, their details and what they cover where (/admin/organisations)."""

import json

from babel import Locale
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..contact import day_names
from ..decorators import coordinator_required
from ..directory import city_choices, place_names, voivodeship_choices
from ..explain import specialism_label
from ..extensions import db
from ..fields import show_error, text_of
from ..handoff import warsaw_date
from ..i18n import current_language
from ..models import Organisation, utcnow
from ..organisations import (
    OrganisationData,
    add_coverage,
    facts,
    remove_coverage,
    save_organisation,
)
from ..service_errors import ServiceError
from ..vocabulary import SPOKEN_LANGUAGES, UI_LANGUAGES
from . import bp
from .forms import ConfirmForm, CoverageForm, OrganisationForm

TEXT_FIELDS = tuple(
    f"{what}_{language}" for what in ("name", "description") for language in UI_LANGUAGES
)


def _organisation_form(obj=None) -> OrganisationForm:
    form = OrganisationForm(obj=obj)
    language = current_language()
    form.home_city_id.choices = [("", _("No home city")), *city_choices(language, by="id")]
    names = Locale.parse(language).languages
    form.languages.choices = [(code, names.get(code, code)) for code in SPOKEN_LANGUAGES]
    return form


def _organisation_edit_form(org: Organisation) -> OrganisationForm:
    """The slug is in addresses and exports: it is chosen once, never edited."""
    form = _organisation_form(obj=org)
    del form.slug
    if not form.is_submitted():
        for day, (opens, closes) in (org.opening_hours or {}).items():
            form[f"opens_{day}"].data, form[f"closes_{day}"].data = opens, closes
    return form


def _organisation_data(form: OrganisationForm) -> OrganisationData:
    text = {name: text_of(getattr(form, name)) for name in TEXT_FIELDS}
    return OrganisationData(
        **text,
        website=form.website.data or None,
        home_city_id=form.home_city_id.data,
        languages=form.languages.data or [],
        languages_confirmed=form.languages_confirmed.data,
        email=form.email.data or None,
        takes_referrals=form.takes_referrals.data,
        capacity=form.capacity.data,
        paused_until=form.paused_until.data,
        pause_reason=text_of(form.pause_reason) or None,
        street_address=text_of(form.street_address) or None,
        postal_code=form.postal_code.data or None,
        public_phone=form.public_phone.data or None,
        opening_hours=form.opening_hours(),
        contact_confirmed=form.contact_confirmed.data,
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
        "admin/organisations.html", organisations=rows, today=warsaw_date(utcnow())
    )


@bp.route("/organisations/new", methods=["GET", "POST"])
@coordinator_required
def organisation_new():
    form = _organisation_form()
    if request.method == "GET":
        form.takes_referrals.data = True
        form.contact_confirmed.data = True
    if form.validate_on_submit():
        try:
            org = save_organisation(_organisation_data(form), slug=form.slug.data, by=current_user)
        except ServiceError:  # SLUG_TAKEN: the only refusal of a valid form
            show_error(form.slug, _("Another organisation already uses this short name."))
        else:
            flash(_("The organisation is saved. Now add what it covers."), "success")
            return redirect(url_for("admin.organisation_edit", organisation_id=org.id))
    return render_template(
        "admin/organisation_form.html", form=form, organisation=None, days=_day_names()
    )


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@coordinator_required
def organisation_edit(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    form = _organisation_edit_form(org)
    status, clashing = 200, []
    if form.validate_on_submit():
        data = _organisation_data(form)
        try:
            save_organisation(data, organisation_id=org.id, by=current_user, seen=_seen(form))
        except ServiceError as clash:  # STALE_VERSION: a colleague changed these fields too
            clashing = str(clash.detail).split(",")
            for name in clashing:
                show_error(
                    getattr(form, name, None) or form.opens_MO,  # opening_hours: the week's first
                    _(
                        "Someone changed this organisation while you were editing it, here too. "
                        "Save again to keep what you wrote."
                    ),
                )
            status = 409
        else:
            flash(_("The changes are saved. They apply from the next routing on."), "success")
            return redirect(url_for("admin.organisation_edit", organisation_id=org.id))
    form.seen.data = json.dumps(_shown_now(org, form, clashing))
    return _render_organisation(org, form, _coverage_form()), status


def _shown_now(org: Organisation, form: OrganisationForm, clashing: list[str]) -> dict:
    """What the page shows now, for the next save to tell others' changes from this one's: a
    refused form still shows the older page's fields, so its memory stays that page's, but for
    the fields just answered (a clash), whose colleague's value the coordinator has now seen."""
    now = facts(org)
    seen = _seen(form) if request.method == "POST" else None
    if seen is None:
        return now
    return {**seen, **{name: now[name] for name in clashing if name in now}}


def _seen(form: OrganisationForm) -> dict | None:
    """The organisation as the page showed it; None when the form carried none (nothing is
    merged: every field is written as sent)."""
    try:
        seen = json.loads(form.seen.data or "null")
    except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
        return None
    return seen if isinstance(seen, dict) else None


def _render_organisation(org: Organisation, form: OrganisationForm, coverage_form: CoverageForm):
    """An organisation's page: its details form, what it covers, and the form to add coverage."""
    return render_template(
        "admin/organisation_form.html",
        form=form,
        organisation=org,
        days=_day_names(),
        coverage_form=coverage_form,
        coverage=_coverage_rows(org),
    )


def _day_names() -> list[tuple[str, str]]:
    """(code, name) of each weekday, Monday first, in the reader's language."""
    return list(day_names(current_language()).items())


def _coverage_form() -> CoverageForm:
    form = CoverageForm()
    language = current_language()
    form.city.choices = [("", _("Choose a city")), *city_choices(language)]
    form.voivodeship.choices = [("", _("Choose a voivodeship")), *voivodeship_choices(language)]
    return form


def _coverage_rows(org: Organisation) -> list[tuple[int, str, str]]:
    """(id, specialism, place) of each coverage row, sorted for reading."""
    names = place_names(current_language())
    rows = [
        (
            coverage.id,
            specialism_label(coverage.specialism),
            names.get((coverage.scope, coverage.area), coverage.area or "")
            if coverage.area
            else _("All of Poland, remotely"),
        )
        for coverage in org.coverage
    ]
    return sorted(rows, key=lambda row: (row[1], row[2]))


def _to_coverage(org: Organisation):
    return redirect(url_for("admin.organisation_edit", organisation_id=org.id) + "#coverage")


@bp.post("/organisations/<int:organisation_id>/coverage")
@coordinator_required
def coverage_add(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    form = _coverage_form()
    if form.validate_on_submit():
        try:
            add_coverage(
                org.id, form.specialism.data, form.scope.data, form.area(), by=current_user
            )
        except ServiceError:  # ALREADY_COVERED
            show_error(form.specialism, _("The organisation already covers this here."))
        else:
            flash(_("The coverage is added."), "success")
            return _to_coverage(org)
    return _render_organisation(org, _organisation_edit_form(org), form)


@bp.route(
    "/organisations/<int:organisation_id>/coverage/<int:coverage_id>/remove",
    methods=["GET", "POST"],
)
@coordinator_required
def coverage_remove(organisation_id: int, coverage_id: int):
    """A page that asks first (GET); its button removes the coverage (POST)."""
    org = db.get_or_404(Organisation, organisation_id)
    row = next((row for row in _coverage_rows(org) if row[0] == coverage_id), None)
    if row is None:
        abort(404)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template(
            "admin/coverage_remove.html", organisation=org, coverage=row, form=form
        )
    try:
        remove_coverage(org.id, coverage_id, by=current_user)
    except ServiceError:  # NOT_FOUND: removed by someone else a moment ago
        abort(404)
    flash(_("The coverage is removed."), "success")
    return _to_coverage(org)
