"""Coordinator pages: the directory, users, the unmatched queue, reports and the audit trail."""

from flask import render_template

from ..decorators import coordinator_required
from . import bp


@bp.get("/")
@coordinator_required
def index():
    return render_template("admin/index.html")
