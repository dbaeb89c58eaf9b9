"""An organisation's access to the API (on /admin/organisations/<id>): its tokens and its
webhook endpoints. A token or a signing secret is shown once, on the page answering the post."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import api_tokens, webhooks
from ..decorators import coordinator_required
from ..extensions import db
from ..fields import show_error, text_of
from ..models import Organisation
from ..security_headers import holds_secret
from ..service_errors import ServiceError
from . import bp
from .forms import ApiTokenForm, WebhookForm


@bp.context_processor
def _api_access():
    return {"api_tokens_of": api_tokens.tokens_of, "webhooks_of": webhooks.endpoints_of}


def _to_api_access(org: Organisation):
    return redirect(url_for("admin.organisation_edit", organisation_id=org.id) + "#api")


@bp.route("/organisations/<int:organisation_id>/api-tokens/new", methods=["GET", "POST"])
@coordinator_required
@holds_secret  # the answer to the post shows the token
def api_token_new(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    form = ApiTokenForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("admin/api_token_form.html", form=form, organisation=org), status
    issued = api_tokens.issue(org.id, text_of(form.name), form.read_only.data, by=current_user)
    # Rendered, not redirected: the token exists only in this response.
    return render_template("admin/api_secret.html", organisation=org, token=issued)


@bp.post("/organisations/<int:organisation_id>/api-tokens/<int:token_id>/revoke")
@coordinator_required
def api_token_revoke(organisation_id: int, token_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    try:
        api_tokens.revoke(org.id, token_id, by=current_user)
    except ServiceError:  # NOT_FOUND: not this organisation's token
        abort(404)
    flash(_("The token is revoked: it no longer works."), "success")
    return _to_api_access(org)


@bp.route("/organisations/<int:organisation_id>/webhooks/new", methods=["GET", "POST"])
@coordinator_required
@holds_secret  # the answer to the post shows the signing secret
def webhook_new(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            registered = webhooks.register(org.id, text_of(form.url), by=current_user)
        except ServiceError:  # INVALID_WEBHOOK_URL
            show_error(
                form.url,
                _(
                    "Use the https:// address of a server on the internet, without a user name "
                    "or password."
                ),
            )
        else:
            return render_template(
                "admin/webhook_secret.html", organisation=org, registered=registered
            )
    status = 400 if form.is_submitted() else 200
    return render_template("admin/webhook_form.html", form=form, organisation=org), status


@bp.post("/organisations/<int:organisation_id>/webhooks/<int:endpoint_id>/remove")
@coordinator_required
def webhook_remove(organisation_id: int, endpoint_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    try:
        webhooks.remove(org.id, endpoint_id, by=current_user)
    except ServiceError:  # NOT_FOUND
        abort(404)
    flash(_("The webhook is removed: nothing more is sent to it."), "success")
    return _to_api_access(org)
