"""The coordinator's side of the person's rights: a copy of a person's data for a reference
(/admin/copy, recorded as an opening), and the requests soon erased because they stayed open too
long (/admin/retention)."""

from flask import current_app, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from .. import access_log, data_copy, lifecycle, paging
from ..decorators import coordinator_required
from ..erasure import erasure_due, open_too_long
from ..fields import show_error
from ..models import HelpRequest, Referral, utcnow
from . import bp
from .forms import CopyForm

RETENTION_PAGE = 50


@bp.get("/copy")
@coordinator_required
def data_copy_for_reference():
    """With a reference: the person's copy, in the language of their request (the page, or the
    JSON file with ``format=json``)."""
    form = CopyForm(request.args)
    if not request.args:
        return render_template("admin/copy.html", form=form)
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
        return render_template("admin/copy.html", form=form), 400
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


@bp.get("/retention")
@coordinator_required
def retention():
    """Requests still open that will be withdrawn and erased within OPEN_RETENTION_WARNING_DAYS:
    their holders can close them first."""
    within = current_app.config["OPEN_RETENTION_WARNING_DAYS"]
    query = open_too_long(utcnow(), within_days=within).options(
        selectinload(HelpRequest.referrals).selectinload(Referral.organisation)
    )
    page = paging.page_of(query, paging.requested_page(), RETENTION_PAGE)
    return render_template(
        "admin/retention.html",
        page=page,
        within=within,
        erasures={help_request.id: erasure_due(help_request) for help_request in page.items},
    )
