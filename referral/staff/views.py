"""Staff pages: the inbox, the referral page with its actions and notes, referring a person, and
the profile. Every referral is looked up through ``access.visible_referrals``: others get 404."""

from datetime import datetime, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, format_timedelta
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import access, access_log, accounts, explain, lifecycle, timeline
from ..auth.views import lock_message
from ..directory import covered_city_choices
from ..extensions import db
from ..fields import show_anew, show_error, text_of
from ..handoff import Action
from ..i18n import current_language
from ..models import HelpRequest, Note, Referral, ReferralEvent, User, utcnow
from ..paging import requested_page
from ..security_headers import holds_secret
from ..service_errors import ServiceError
from ..vocabulary import ContactChannel, ResidenceStatus
from . import bp
from .forms import (
    AcceptForm,
    ActionForm,
    CloseForm,
    DeclineForm,
    HandBackForm,
    InboxFilterForm,
    LanguageForm,
    NoteForm,
    OfferMailForm,
    PasswordForm,
    ReferralForm,
    WithdrawForm,
)
from .inbox import PARTS, Filters, found_by_person, inbox_parts

# The actions on a referral's page, each with its form. An action is spelled one way: its code is
# the endpoint and the form's prefix, and its URL the same words with hyphens (``hand-back``).
ACTIONS = {
    Action.ACCEPT: AcceptForm,
    Action.DECLINE: DeclineForm,
    Action.START: ActionForm,
    Action.HAND_BACK: HandBackForm,
    Action.CLOSE: CloseForm,
    Action.WITHDRAW: WithdrawForm,
}


@bp.context_processor
def staff_helpers():
    return {
        "time_left": time_left,
        "waiting": waiting,
        "timeline": timeline,
        "ContactChannel": ContactChannel,
        "ResidenceStatus": ResidenceStatus,
        "language_names": explain.language_names,
    }


def time_left(deadline: datetime | None) -> tuple[str, bool]:
    """("37 hours", False) left, or ("2 hours", True) overdue: the answer deadline in words,
    cut down to the unit shown (a unit from two of it up), never rounded up: Babel's rounding
    said "2 days" when 37 hours were left."""
    if deadline is None:
        return "", False
    delta = deadline - utcnow()
    return format_timedelta(_cut_down(abs(delta)), threshold=2), delta.total_seconds() < 0


_UNITS = (timedelta(days=1), timedelta(hours=1), timedelta(minutes=1))


def _cut_down(span: timedelta) -> timedelta:
    for unit in _UNITS:
        if span >= 2 * unit:
            return (span // unit) * unit
    return span


def waiting(since: datetime) -> str:
    """How long the person has been waiting, in words ("3 days")."""
    return format_timedelta(utcnow() - since)


# --- the inbox ----------------------------------------------------------------------------------


@bp.get("/")
@login_required
def inbox():
    form = InboxFilterForm(formdata=request.args)
    cities = covered_city_choices(current_user.organisation_id, current_language())
    form.city.choices = [("", _("All cities")), *cities]
    form.validate()
    # A filter value that is not in the list (an old bookmark) is ignored, not an error page.
    value = {name: None if f.errors else f.data for name, f in form._fields.items()}
    filters = Filters(
        reference=value["reference"] or "",
        specialism=value["specialism"] or "",
        city_id=int(value["city"]) if value["city"] else None,
        state=value["state"] or "",
        mine=bool(value["mine"]),
        sort=value["sort"] or "deadline",
    )
    pages = {key: requested_page(f"{key}_page") for key in PARTS}
    parts = inbox_parts(current_user, filters, pages)
    page = render_template(
        "staff/inbox.html", form=form, parts=parts, filtered=filters != Filters()
    )
    if filters.reference:
        found = found_by_person(parts, filters.reference)
        access_log.record(current_user, access_log.Page.SEARCH, found)
    return page


# --- one referral -------------------------------------------------------------------------------


def _visible_or_404(referral_id: int, *options) -> Referral:
    referral = db.session.scalar(
        access.visible_referrals(current_user).where(Referral.id == referral_id).options(*options)
    )
    if referral is None:
        abort(404)
    return referral


def _colleague_choices() -> list[tuple[str, str]]:
    colleagues = db.session.scalars(
        select(User)
        .where(User.organisation_id == current_user.organisation_id, User.active.is_(True))
        .order_by(User.name)
    )
    return [("", _("Nobody yet"))] + [(str(u.id), u.name) for u in colleagues]


def _render_referral(
    referral: Referral,
    submitted: dict | None = None,
    status: int = 200,
    unsaved: dict | None = None,
):
    """The referral page; ``submitted`` holds a form that failed validation, shown with errors;
    ``unsaved`` the words of a refused one (``not_done``)."""
    data = {"version": referral.version}
    forms = {
        action.value: form_class(formdata=None, data=data, prefix=action.value)
        for action, form_class in ACTIONS.items()
    }
    forms["notes"] = NoteForm(formdata=None)
    forms.update(submitted or {})
    forms[Action.ACCEPT].assignee.choices = _colleague_choices()
    allowed = {a.value for a in lifecycle.allowed_actions(current_user, referral) & ACTIONS.keys()}
    personal = access.may_see_personal_data(current_user, referral)
    notes = [note for note in referral.notes if access.may_see_note(current_user, note)]
    page = render_template(
        "staff/referral.html",
        referral=referral,
        forms=forms,
        allowed=allowed,
        personal=personal,
        may_add_note=access.may_add_note(current_user, referral),
        notes=notes,
        reasons=explain.stored_reasons(referral),
        duplicate_of=lifecycle.duplicate_seen_by(current_user, referral.request),
        unsaved=unsaved,
    )
    words = any(event.text for event in referral.events)
    if referral.request.erased_at is None and (personal or notes or words):
        access_log.record(current_user, access_log.Page.REFERRAL, [referral])
    return page, status


_FULL_PAGE = (
    selectinload(Referral.request).undefer_group("personal").selectinload(HelpRequest.city),
    selectinload(Referral.request).selectinload(HelpRequest.voivodeship),
    selectinload(Referral.organisation),
    selectinload(Referral.referring_organisation),
    selectinload(Referral.assigned_user),
    selectinload(Referral.events).selectinload(ReferralEvent.organisation),
    selectinload(Referral.events).selectinload(ReferralEvent.offered_to),
    selectinload(Referral.events).selectinload(ReferralEvent.words),
    selectinload(Referral.notes).selectinload(Note.author),
    selectinload(Referral.notes).selectinload(Note.organisation),
)


@bp.get("/referrals/<int:referral_id>")
@login_required
def referral(referral_id: int):
    return _render_referral(_visible_or_404(referral_id, *_FULL_PAGE))


def not_done(referral_id: int, message: str, name: str, form, words: str | None):
    """A step, a note or a proposal refused because the referral moved on meanwhile: the page as
    it is now (409), the refusal at its top, and what was typed kept, in its form (``name``) when
    the page still offers it, carrying the version now shown, else quoted to copy."""
    flash(message, "error")
    referral = _visible_or_404(referral_id, *_FULL_PAGE)
    if isinstance(form, ActionForm):
        show_anew(form.version, referral.version)
    unsaved = {"form": name, "words": words}
    return _render_referral(referral, {name: form}, status=409, unsaved=unsaved)


def _refusal_message(code: str, action: Action) -> str:
    if code == ServiceError.STALE_VERSION:
        if action in (Action.ACCEPT, Action.DECLINE):
            return _("Someone else already answered this referral. Nothing was changed.")
        return _("Someone else changed this referral a moment ago. Nothing was changed.")
    if code == ServiceError.NOT_YOURS:
        return _("Your organisation cannot do this with this referral. Nothing was changed.")
    if code == ServiceError.NOT_ALLOWED_NOW:
        return _("This is no longer possible: the referral has moved on. Nothing was changed.")
    if code == ServiceError.NOT_A_COLLEAGUE:
        return _("That person is no longer in your organisation. Nothing was changed.")
    # The form checks reasons and outcomes first: only a forged post gets here.
    return _("This did not work. Please check the form and try again.")


def _done_message(action: Action) -> str:
    return {
        Action.ACCEPT: _("You accepted the referral."),
        Action.DECLINE: _("You declined the referral. It goes to the next organisation."),
        Action.START: _("You started working on the referral."),
        Action.HAND_BACK: _("You handed the referral back. It goes to the next organisation."),
        Action.CLOSE: _("You closed the referral."),
        Action.WITHDRAW: _("You withdrew the referral."),
    }[action]


def _details(form: ActionForm) -> dict:
    """What the action's form adds to the bare action, by field name."""
    details = {}
    if "reason" in form:
        details["reason_code"] = form.reason.data
    if "text" in form:
        details["text"] = text_of(form.text) or None
    if "outcome" in form:
        details["outcome"] = form.outcome.data
    if "assignee" in form and form.assignee.data:
        details["assignee_id"] = int(form.assignee.data)
    return details


def _action_view(action: Action):
    form_class = ACTIONS[action]

    @login_required
    def view(referral_id: int):
        referral = _visible_or_404(referral_id)
        form = form_class(prefix=action.value)
        if isinstance(form, AcceptForm):
            form.assignee.choices = _colleague_choices()
        if not form.validate_on_submit():
            referral = _visible_or_404(referral_id, *_FULL_PAGE)
            return _render_referral(referral, {action.value: form}, status=400)
        try:
            lifecycle.act(referral.id, current_user, action, form.version.data, **_details(form))
        except ServiceError as error:
            words = text_of(form.text) if isinstance(form, (DeclineForm, CloseForm)) else None
            return not_done(
                referral_id, _refusal_message(error.code, action), action.value, form, words
            )
        flash(_done_message(action), "success")
        if action in (Action.DECLINE, Action.HAND_BACK):
            return redirect(url_for(".inbox"))
        return redirect(url_for(".referral", referral_id=referral_id))

    return view


for _action in ACTIONS:
    bp.add_url_rule(
        f"/referrals/<int:referral_id>/{_action.value.replace('_', '-')}",
        endpoint=_action.value,
        view_func=_action_view(_action),
        methods=["POST"],
    )


@bp.post("/referrals/<int:referral_id>/notes")
@login_required
def notes(referral_id: int):
    referral = _visible_or_404(referral_id)
    form = NoteForm()
    if not access.may_add_note(current_user, referral):
        refusal = _("Only the organisations working on this referral can add notes.")
        return not_done(referral_id, refusal, "notes", form, text_of(form.body))
    if not form.validate_on_submit():
        referral = _visible_or_404(referral_id, *_FULL_PAGE)
        return _render_referral(referral, {"notes": form}, status=400)
    try:
        lifecycle.add_note(referral, current_user, text_of(form.body), shared=form.shared.data)
    except ServiceError:  # erased since the page was read
        erased = _(
            "The personal data of this request was erased: nothing is held about the person."
        )
        return not_done(referral_id, erased, "notes", form, text_of(form.body))
    flash(_("Your note was added."), "success")
    return redirect(url_for(".referral", referral_id=referral_id))


# --- referring a person --------------------------------------------------------------------------


@bp.route("/referrals/new", methods=["GET", "POST"])
@login_required
@holds_secret  # the "submitted" page shows the person's status link
def new_referral():
    form = ReferralForm(language=current_language())
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("staff/new.html", form=form), status
    intake = form.to_intake(form.person_language.data, current_app.config["CONSENT_VERSION"])
    try:
        submitted = lifecycle.submit_request(intake, submitted_by=current_user)
    except ServiceError as refused:
        if refused.code != ServiceError.ALREADY_SENT:
            raise
        # Sent again (a reload, a double tap, an answer lost on the way): what it made, not a
        # second request. Its status link was only on that first answer.
        flash(
            _(
                "This form was already sent: the referral is %(reference)s. If the person has no "
                'status link, they can ask for a new one under "Lost your link?" on the home '
                "page.",
                reference=refused.detail,
            ),
            "info",
        )
        return redirect(url_for(".inbox", reference=refused.detail))
    # Rendered, not redirected: the status token exists only in this response.
    page = render_template(
        "staff/submitted.html",
        help_request=submitted.request,
        status_url=url_for(
            "public.status",
            lang=submitted.request.language,
            token=submitted.status_token,
            _external=True,
        ),
    )
    access_log.record(current_user, access_log.Page.SUBMITTED, [(submitted.request.id, None)])
    return page


# --- the profile --------------------------------------------------------------------------------


def _render_profile(language_form=None, password_form=None, offer_mail_form=None, status=200):
    language_form = language_form or LanguageForm(formdata=None, language=current_user.language)
    password_form = password_form or PasswordForm(formdata=None)
    offer_mail_form = offer_mail_form or OfferMailForm(
        formdata=None, offer_mail=current_user.offer_mail
    )
    page = render_template(
        "staff/profile.html",
        language_form=language_form,
        password_form=password_form,
        offer_mail_form=offer_mail_form,
    )
    return page, status


@bp.get("/profile")
@login_required
def profile():
    return _render_profile()


def _saved(form, name: str) -> bool:
    """Keep one choice of the profile: the form's field ``name`` is the account's column."""
    if not form.validate_on_submit():
        return False
    setattr(current_user, name, form[name].data)
    db.session.commit()
    return True


@bp.post("/profile/language")
@login_required
def profile_language():
    form = LanguageForm()
    if not _saved(form, "language"):
        return _render_profile(language_form=form, status=400)
    with force_locale(form.language.data):
        flash(_("Your interface language was saved."), "success")
    return redirect(url_for(".profile"))


@bp.post("/profile/offer-mail")
@login_required
def profile_offer_mail():
    form = OfferMailForm()
    if not _saved(form, "offer_mail"):
        return _render_profile(offer_mail_form=form, status=400)
    flash(_("Your choice of e-mails about offers was saved."), "success")
    return redirect(url_for(".profile"))


@bp.post("/profile/password")
@login_required
def profile_password():
    form = PasswordForm()
    if form.validate_on_submit():
        changed = accounts.change_password(
            current_user, form.current.data or "", form.password.data or ""
        )
        if changed.user:
            # The new session token signed every other device out; keep this one signed in.
            login_user(current_user._get_current_object())
            flash(_("Your password was changed. Other devices were signed out."), "success")
            return redirect(url_for(".profile"))
        if changed.locked_minutes:
            show_error(form.current, lock_message(changed.locked_minutes))
        else:
            show_error(form.current, _("The current password is not correct."))
    return _render_profile(password_form=form, status=400)
