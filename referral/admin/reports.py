"""The coordinator's reports: counts by month, need, place and organisation (/admin/reports)."""

from flask import abort, render_template, request

from .. import report_tables
from ..decorators import coordinator_required
from ..handoff import warsaw_date
from ..i18n import current_language
from ..models import utcnow
from ..reports import Period
from . import bp, csvfile
from .forms import PeriodForm


def _period() -> tuple[PeriodForm, Period]:
    form = PeriodForm(request.args)
    default = Period.last_12_months(warsaw_date(utcnow()))
    if request.args and form.validate():
        return form, Period(form.start.data or default.start, form.end.data or default.end)
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
        tables=report_tables.Report(period, current_language()).tables(),
    )


@bp.get("/reports/<key>.csv")
@coordinator_required
def report_csv(key: str):
    _form, period = _period()
    table = report_tables.Report(period, current_language()).table(key)
    if table is None:
        abort(404)
    filename = f"referral-{key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return csvfile.download(filename, table.columns, table.rows)
