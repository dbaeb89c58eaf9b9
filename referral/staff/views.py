"""Staff pages: the inbox and the referral page, scoped to the user's organisation."""

from flask import render_template
from flask_login import login_required

from . import bp


@bp.get("/")
@login_required
def inbox():
    return render_template("staff/inbox.html")
