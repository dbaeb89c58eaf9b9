"""The coordinator's reports: counts by month, need, place and organisation (/admin/reports)."""

from flask import abort, render_template, request
from flask_babel import gettext as _

from .. import report_tables
from ..decorators import coordinator_required
from ..directory import voivodeship_choices
from ..fields import show_error
from ..handoff import warsaw_date
from ..i18n import current_language
from ..models import utcnow
from ..reports import Period
from . import bp, csvfile
from .forms import ReportForm


def _report() -> tuple[ReportForm, report_tables.Report]:
    """The report the query string asks for; the last 12 months of all Poland by default."""
    form = ReportForm(request.args)
    language = current_language()
    form.voivodeship.choices = [("", _("All of Poland")), *voivodeship_choices(language)]
    default = period = Period.last_12_months(warsaw_date(utcnow()))
    if request.args and form.validate():
        period = Period(form.start.data or period.start, form.end.data or period.end)
        if period.end < period.start:
            # One end alone, beyond the other's default: an end a year ago, a start after today.
            given = form.end if form.end.data else form.start
            show_error(given, _("The end date must not be before the start date."))
            period = default
    elif not request.args:
        form.start.data, form.end.data = period.start, period.end
    # A voivodeship not in the list (an edited address) is all of Poland, as the list shows.
    voivodeship = form.voivodeship.data or ""
    if voivodeship not in dict(form.voivodeship.choices):  # type: ignore[arg-type]
        voivodeship = form.voivodeship.data = ""
    return form, report_tables.Report(period, language, voivodeship)


@bp.get("/reports")
@coordinator_required
def report():
    form, built = _report()
    return render_template(
        "admin/reports.html", form=form, period=built.period, tables=built.tables()
    )


@bp.get("/reports/<key>.csv")
@coordinator_required
def report_csv(key: str):
    _form, built = _report()
    period = built.period
    table = built.table(key)
    if table is None:
        abort(404)
    filename = f"referral-{key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return csvfile.download(filename, table.columns, table.rows)
