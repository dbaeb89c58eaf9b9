"""Staff accounts: create, change the role, deactivate, hand over a password link (/admin/users)."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import accounts
from ..decorators import coordinator_required
from ..extensions import db
from ..fields import show_error
from ..i18n import current_language
from ..models import Organisation, User
from ..reminders import OfferMail
from ..service_errors import ServiceError
from . import bp
from .forms import RoleForm, UserForm


def organisation_choices(none_label: str) -> list[tuple[str, str]]:
    """Every organisation, named in the reader's language; ``none_label`` for no organisation."""
    language = current_language()
    return [("", none_label)] + [
        (str(org.id), org.name_in(language))
        for org in db.session.scalars(select(Organisation).order_by(Organisation.name_pl))
    ]


def _with_organisations(form):
    form.organisation_id.choices = organisation_choices(_("None (the consortium)"))
    return form


def _refused(form, error: ServiceError) -> None:
    """Put a refused account change next to the field it concerns."""
    if error.code == ServiceError.EMAIL_TAKEN:
        show_error(form.email, _("An account with this e-mail already exists."))
    elif error.code == ServiceError.STAFF_NEED_ORGANISATION:
        show_error(form.organisation_id, _("Staff belong to an organisation: choose one."))
    elif error.code == ServiceError.CANNOT_CHANGE_OWN_ROLE:
        show_error(form.role, _("You cannot change your own role."))
    elif error.code == ServiceError.LAST_COORDINATOR:
        show_error(
            form.role, _("The consortium needs an active coordinator: make someone else one first.")
        )
    else:
        abort(404)  # NOT_FOUND: the organisation chosen was deleted meanwhile


@bp.get("/users")
@coordinator_required
def users():
    rows = db.session.scalars(
        select(User)
        .options(selectinload(User.organisation))
        .order_by(User.active.desc(), User.email)
    ).all()
    return render_template("admin/users.html", users=rows, OfferMail=OfferMail)


@bp.route("/users/new", methods=["GET", "POST"])
@coordinator_required
def user_new():
    form = _with_organisations(UserForm())
    if request.method == "GET":
        form.language.data = current_language()
    if form.validate_on_submit():
        try:
            user, token = accounts.create_staff_account(
                form.email.data,
                form.name.data.strip(),
                form.organisation_id.data,
                form.role.data,
                form.language.data,
                by=current_user,
            )
        except ServiceError as error:
            _refused(form, error)
        else:
            return _password_link(user, token, created=True)
    return render_template("admin/user_form.html", form=form)


def _password_link(user: User, token: str, created: bool = False):
    """Shown once, to hand over in person or by phone: the link is never sent by e-mail."""
    link = url_for("auth.reset_password", token=token, _external=True)
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    return render_template(
        "admin/password_link.html", user=user, link=link, created=created, hours=hours
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@coordinator_required
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = _with_organisations(RoleForm(obj=user))
    if form.validate_on_submit():
        try:
            accounts.change_role(
                user.id, form.role.data, form.organisation_id.data, by=current_user
            )
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("The role is saved."), "success")
            return redirect(url_for("admin.users"))
    status = 400 if form.is_submitted() else 200
    return render_template("admin/user_edit.html", form=form, user=user), status


@bp.post("/users/<int:user_id>/active")
@coordinator_required
def user_active(user_id: int):
    user = db.get_or_404(User, user_id)
    active = request.form.get("active") == "1"
    try:
        accounts.set_user_active(user.id, active, current_user)
    except ServiceError as refused:
        if refused.code == ServiceError.LAST_COORDINATOR:  # another was removed a moment ago
            flash(
                _("The consortium needs an active coordinator: make someone else one first."),
                "error",
            )
        else:  # CANNOT_DEACTIVATE_SELF
            flash(_("You cannot deactivate your own account."), "error")
    else:
        if active:
            flash(_("%(name)s can sign in again.", name=user.name), "success")
        else:
            flash(
                _("%(name)s is deactivated and signed out everywhere.", name=user.name), "success"
            )
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password-link")
@coordinator_required
def user_password_link(user_id: int):
    user = db.get_or_404(User, user_id)
    return _password_link(user, accounts.issue_password_reset(user.id, by=current_user))
