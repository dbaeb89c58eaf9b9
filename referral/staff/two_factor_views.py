"""Enrolling in two-step sign-in at /staff/profile/2fa: scan, confirm with a code, keep the
recovery codes. The pages show secrets: no Referer, no cache."""

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import two_factor
from ..auth.forms import CodeForm
from ..fields import show_error
from ..security_headers import holds_secret
from . import bp


def _enrolment_page(form: CodeForm, status: int = 200):
    """The status for those enrolled; else the QR code, the secret and the confirmation form."""
    if current_user.two_factor_enabled:
        codes_left = two_factor.recovery_codes_left(current_user)
        return render_template("staff/two_factor.html", codes_left=codes_left), status
    two_factor.begin(current_user)
    page = render_template(
        "staff/two_factor.html",
        form=form,
        qr_svg=two_factor.qr_svg(current_user),
        secret=two_factor.grouped_secret(current_user),
    )
    return page, status


@bp.get("/profile/2fa", endpoint="two_factor")
@login_required
@holds_secret
def enrolment():
    return _enrolment_page(CodeForm(formdata=None))


@bp.post("/profile/2fa", endpoint="two_factor_confirm")
@login_required
@holds_secret
def confirm_enrolment():
    form = CodeForm()
    if not form.validate_on_submit() or current_user.two_factor_enabled:
        return _enrolment_page(form, status=400)
    codes = two_factor.confirm(current_user, form.code.data or "")
    if codes is None:
        show_error(form.code, _("This code is not correct. Please try the newest code."))
        return _enrolment_page(form, status=400)
    # Rendered, not redirected: the codes exist only in this response.
    return render_template("staff/recovery_codes.html", codes=codes)
