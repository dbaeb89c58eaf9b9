"""The audit trail: referral events, sign-ins, administrative actions, API calls and openings of
personal data, filtered (by a reference too), paged and as CSV (/admin/audit). Showing or
exporting the words staff wrote with a step is itself an opening, recorded."""

import json
from functools import partial

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import access_log, audit, lifecycle, paging
from ..decorators import coordinator_required
from ..explain import specialism_label
from ..extensions import db
from ..fields import show_error
from ..models import ApiToken, HelpRequest, Organisation, Referral, User
from . import audit_details, bp, csvfile
from .forms import AuditFilterForm
from .users import organisation_choices


def _audit_filter() -> tuple[AuditFilterForm, audit.AuditFilter]:
    form = AuditFilterForm(request.args)
    form.organisation_id.choices = organisation_choices(_("All organisations"))
    form.user_id.choices = [("", _("All users"))] + [
        (str(u.id), f"{u.name} ({u.email})")
        for u in db.session.scalars(select(User).order_by(User.name))
    ]
    nothing = audit.AuditFilter(referral_id=-1)
    valid = form.validate() if request.args else True
    if form.referral_id.errors:  # a hidden field: an edited address shows everything else
        form.referral_id.data, form.referral_id.errors = None, []
        valid = not any(f.errors for f in form)
    if not valid:
        return form, nothing
    request_id = None
    if form.reference.data:
        found = lifecycle.find_request_by_reference(form.reference.data)
        if found is None:
            show_error(form.reference, _("No request has this reference."))
            return form, nothing
        request_id = found.id
    return form, audit.AuditFilter(
        kind=form.kind.data or "",
        organisation_id=form.organisation_id.data,
        user_id=form.user_id.data,
        referral_id=form.referral_id.data,
        request_id=request_id,
        start=form.start.data,
        end=form.end.data,
    )


@bp.get("/audit")
@coordinator_required
def audit_trail():
    form, trail_filter = _audit_filter()
    page = audit.page(trail_filter, paging.requested_page())
    organisations = {o.id: o for o in db.session.scalars(select(Organisation))}
    api_tokens = _api_token_names()
    html = render_template(
        "admin/audit.html",
        form=form,
        page=page,
        referrals=referral_names(
            {row.referral_id for row in page.items if row.referral_id}
            | ({form.referral_id.data} if form.referral_id.data else set())
        ),
        requests=request_references(
            {row.request_id for row in page.items if row.request_id and not row.referral_id}
        ),
        every_referral={k: v for k, v in request.args.items() if k not in ("referral_id", "page")},
        users={u.id: u for u in db.session.scalars(select(User))},
        organisations=organisations,
        api_tokens=api_tokens,
        changes=partial(
            audit_details.changes,
            names=audit_details.Names.for_rows(page.items, organisations, api_tokens),
        ),
        pages={code.value: code.label for code in access_log.Page},
        text_of=audit.text_of,
    )
    shown = {row.referral_id for row in page.items if row.kind == "referral" and row.text}
    access_log.record(current_user, access_log.Page.AUDIT, audit.with_words(shown))
    return html


def referral_names(referral_ids: set[int]) -> dict[int, tuple[str, str]]:
    """(reference, need) of each referral: how people name a referral, never by its number."""
    rows = db.session.execute(
        select(Referral.id, HelpRequest.reference, Referral.specialism)
        .join(Referral.request)
        .where(Referral.id.in_(referral_ids))
    )
    return {referral_id: (reference, need) for referral_id, reference, need in rows}


def request_references(request_ids: set[int]) -> dict[int, str]:
    """The reference of each request: whose data an opening of a whole request (a copy, the
    caseworker's page after referring) showed."""
    rows = db.session.execute(
        select(HelpRequest.id, HelpRequest.reference).where(HelpRequest.id.in_(request_ids))
    )
    return {request_id: reference for request_id, reference in rows}


def _api_token_names() -> dict[int, str]:
    return {
        token_id: name for token_id, name in db.session.execute(select(ApiToken.id, ApiToken.name))
    }


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@bp.get("/audit.csv")
@coordinator_required
def audit_csv():
    _form, trail_filter = _audit_filter()
    exported = audit.with_words(audit.referrals_with_words(trail_filter))
    access_log.record(current_user, access_log.Page.EXPORT, exported)
    users = {u.id: u.email for u in db.session.scalars(select(User))}
    organisations = {o.id: o.slug for o in db.session.scalars(select(Organisation))}
    api_tokens = _api_token_names()
    header = [
        _("Time (UTC)"),
        _("What"),
        _("Reference"),
        _("Need"),
        _("User"),
        _("Organisation"),
        _("Offered to"),
        _("From"),
        _("To"),
        _("Reason"),
        _("Text"),
        _("Sign-in succeeded"),
        _("Account"),
        _("Before"),
        _("After"),
        _("API token"),
        _("Answer"),
    ]
    rows = (
        [
            row.at.isoformat(timespec="seconds"),
            row.action,
            row.reference,
            specialism_label(row.specialism) if row.specialism else None,
            users.get(row.user_id) or row.email,
            organisations.get(row.organisation_id),
            organisations.get(row.offered_to_id),
            row.from_state,
            row.to_state,
            row.reason_code,
            audit.text_of(row),
            None if row.success is None else bool(row.success),
            users.get(row.subject_id),
            _json(row.before),
            _json(row.after),
            api_tokens.get(row.api_token_id),
            row.status,
        ]
        for row in audit.every_row(trail_filter)
    )
    return csvfile.download("referral-audit.csv", header, rows, stream=True)
