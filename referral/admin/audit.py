"""The audit trail: referral events, sign-ins, administrative actions and API calls, filtered,
paged and as CSV (/admin/audit)."""

import json

from flask import render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, paging
from ..decorators import coordinator_required
from ..extensions import db
from ..models import ApiToken, Organisation, User
from . import bp, csvfile
from .forms import AuditFilterForm
from .users import organisation_choices


def _audit_filter() -> tuple[AuditFilterForm, audit.AuditFilter]:
    form = AuditFilterForm(request.args)
    form.organisation_id.choices = organisation_choices(_("All organisations"))
    form.user_id.choices = [("", _("All users"))] + [
        (str(u.id), f"{u.name} ({u.email})")
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
    page = audit.page(trail_filter, paging.requested_page())
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        users={u.id: u for u in db.session.scalars(select(User))},
        organisations={o.id: o for o in db.session.scalars(select(Organisation))},
        api_tokens=_api_token_names(),
    )


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
    users = {u.id: u.email for u in db.session.scalars(select(User))}
    organisations = {o.id: o.slug for o in db.session.scalars(select(Organisation))}
    api_tokens = _api_token_names()
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
            row.referral_id,
            users.get(row.user_id) or row.email,
            organisations.get(row.organisation_id),
            organisations.get(row.offered_to_id),
            row.from_state,
            row.to_state,
            row.reason_code,
            row.text,
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
