"""The coordinator's side of the person's rights, for a person who asks in person or by letter: a
copy of their data for a reference (/admin/copy, recorded as an opening) and its erasure
(/admin/erase); and the requests soon erased because they stayed open too long
(/admin/retention)."""

from dataclasses import replace

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import access_log, data_copy, lifecycle, paging
from ..decorators import coordinator_required
from ..erasure import erasure_due, open_too_long
from ..extensions import db
from ..fields import show_error
from ..models import HelpRequest, Referral, utcnow
from ..service_errors import ServiceError
from . import bp
from .forms import CopyForm, EraseForm

RETENTION_PAGE = 50


@bp.get("/copy")
@coordinator_required
def data_copy_for_reference():
    """With a reference: the person's copy, in the language of their request (the page, or the
    JSON file with ``format=json``)."""
    form = CopyForm(request.args)
    if not request.args:
        return _person_data_page(form)
    valid = form.validate()
    found = lifecycle.find_request_by_reference(form.reference.data or "") if valid else None
    if valid and found is None:
        show_error(form.reference, _("No request has this reference."))
    elif found is not None and found.erased_at is not None:
        show_error(
            form.reference,
            _("The personal data of this request was erased: nothing is held about the person."),
        )
    if found is None or found.erased_at is not None:
        return _person_data_page(form, status=400)
    with force_locale(found.language):
        copy = data_copy.copy_of(found)
        response = (
            data_copy.json_download(copy)
            if request.args.get("format") == "json"
            else render_template(
                "copy.html",
                copy=copy,
                json_url=url_for(
                    ".data_copy_for_reference", reference=found.reference, format="json"
                ),
            )
        )
    access_log.record(current_user, access_log.Page.COPY, [(found.id, None)])
    return response


def _person_data_page(copy_form=None, erase_form=None, status: int = 200):
    page = render_template(
        "admin/person_data.html",
        copy_form=copy_form or CopyForm(formdata=None),
        erase_form=erase_form or EraseForm(formdata=None, prefix="erase"),
    )
    return page, status


@bp.post("/erase")
@coordinator_required
def erase_for_reference():
    """Withdraw every open need of the request and erase the person's data, as the person asked."""
    form = EraseForm(prefix="erase")
    if not form.validate_on_submit():
        return _person_data_page(erase_form=form, status=400)
    found = lifecycle.find_request_by_reference(form.reference.data or "")
    if found is None:
        show_error(form.reference, _("No request has this reference."))
        return _person_data_page(erase_form=form, status=400)
    try:
        lifecycle.withdraw_request(found, by=current_user)
    except ServiceError as error:
        message = {
            ServiceError.ALREADY_ERASED: _(
                "The personal data of this request was erased: nothing is held about the person."
            ),
        }.get(error.code, _("Someone changed this request a moment ago. Please try again."))
        show_error(form.reference, message)
        return _person_data_page(erase_form=form, status=400)
    flash(
        _(
            "Request %(reference)s was withdrawn and the person's data erased.",
            reference=found.reference,
        ),
        "success",
    )
    return redirect(url_for(".data_copy_for_reference"))


@bp.get("/retention")
@coordinator_required
def retention():
    """Requests still open that will be withdrawn and erased within OPEN_RETENTION_WARNING_DAYS:
    their holders can close them first."""
    within = current_app.config["OPEN_RETENTION_WARNING_DAYS"]
    ids = paging.page_of(open_too_long(utcnow(), within), paging.requested_page(), RETENTION_PAGE)
    loaded = db.session.scalars(
        select(HelpRequest)
        .where(HelpRequest.id.in_(ids.items))
        .options(selectinload(HelpRequest.referrals).selectinload(Referral.organisation))
    )
    by_id = {help_request.id: help_request for help_request in loaded}
    page = replace(ids, items=[by_id[request_id] for request_id in ids.items])
    return render_template(
        "admin/retention.html",
        page=page,
        within=within,
        erasures={help_request.id: erasure_due(help_request) for help_request in page.items},
    )
