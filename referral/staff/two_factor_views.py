"""Two-step sign-in at /staff/profile/2fa: enrolling (scan, confirm with a code, keep the
recovery codes), then how many recovery codes are left and making new ones. The pages show
secrets: no Referer, no cache."""

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import two_factor
from ..auth.forms import CodeForm
from ..auth.views import lock_message
from ..fields import show_error
from ..security_headers import holds_secret
from . import bp


def _enrolment_page(form: CodeForm, status: int = 200):
    """For those enrolled, the recovery codes left and the form for new ones; else the QR code,
    the secret and the confirmation form."""
    if current_user.two_factor_enabled:
        page = render_template(
            "staff/two_factor.html",
            form=form,
            codes_left=two_factor.recovery_codes_left(current_user),
            few_codes=two_factor.FEW_RECOVERY_CODES,
        )
        return page, status
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


@bp.post("/profile/2fa/recovery-codes", endpoint="recovery_codes_renew")
@login_required
@holds_secret
def renew_recovery_codes():
    form = CodeForm()
    if not form.validate_on_submit() or not current_user.two_factor_enabled:
        return _enrolment_page(form, status=400)
    renewal = two_factor.renew_recovery_codes(current_user, form.code.data or "")
    if renewal.locked_minutes:
        form.form_errors.append(lock_message(renewal.locked_minutes))
        return _enrolment_page(form, status=429)
    if renewal.codes is None:
        show_error(
            form.code,
            _(
                "This code is not correct. Type the 6-digit code your authenticator app shows "
                "now: a recovery code does not work here."
            ),
        )
        return _enrolment_page(form, status=400)
    # Rendered, not redirected: the codes exist only in this response.
    return render_template("staff/recovery_codes.html", codes=renewal.codes, renewed=True)
