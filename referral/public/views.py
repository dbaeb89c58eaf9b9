"""Public pages: anonymous, phone first, the language in the URL (``/uk/...``)."""

import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Callable

from flask import (
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from .. import access_log, contact, data_copy, lifecycle, person_messages
from ..directory import active_members, coverage_summary, kept, place_names
from ..erasure import erasure_due
from ..explain import language_names, specialism_label
from ..extensions import limiter
from ..i18n import browser_language
from ..models import HelpRequest
from ..promises import Promises
from ..security_headers import holds_secret
from ..service_errors import ServiceError
from ..throttle import taking_at_least
from ..vocabulary import ContactChannel, Specialism, Urgency
from . import bp
from .forms import ContactForm, IntakeForm, LostLinkForm, MessageForm, WithdrawForm

log = logging.getLogger(__name__)


@bp.url_value_preprocessor
def pull_language(endpoint, values):
    g.lang = (values or {}).pop("lang", None)


@bp.url_defaults
def add_language(endpoint, values):
    if "lang" not in values and current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values["lang"] = g.lang


# A public form refused before its view ran (by its rate limit, or its CSRF check after the
# session was lost), shown again as sent with why beside it, per endpoint: nothing typed is lost.
_SHOWN_AGAIN: dict[str, Callable[[str, int], ResponseReturnValue]] = {}


def shown_again_when_refused(endpoint: str):
    """Registers how the form of ``endpoint`` comes back, given why and the status."""

    def register(show: Callable[[str, int], ResponseReturnValue]):
        _SHOWN_AGAIN[endpoint] = show
        return show

    return register


def _shown_again(why: str, status: int) -> ResponseReturnValue | None:
    show = _SHOWN_AGAIN.get(request.endpoint or "")
    if show is None:
        return None
    try:
        return show(why, status)
    except HTTPException as refused:  # a link that opens nothing: raised in a handler, a 500
        return refused.get_response()


@bp.errorhandler(429)
def too_many_requests(error):
    limit = limiter.current_limit
    seconds = limit.reset_at - time.time() if limit else 3600
    # Rounded up, never down (waiting as told must be enough); reset_at is a whole second late.
    minutes = max(1, math.ceil((seconds - 1) / 60))
    wait = ngettext(
        "Please try again in %(num)d minute.", "Please try again in %(num)d minutes.", minutes
    )
    why = _("Not sent yet: many were sent in a short time.") + " " + wait
    shown = _shown_again(why, 429)
    return shown or (render_template("errors/rate_limited.html", minutes=minutes), 429)


def _posted_from_our_pages() -> bool:
    """The browser says the form came from one of our pages (``Sec-Fetch-Site``; ``Origin`` is
    "null" under the no-referrer policy of these pages). One posted by another site is not shown
    back filled in: it would hand the visitor a form a stranger filled. A browser that sends no
    ``Sec-Fetch-Site`` (Safari before 16.4) gets the bare page, as before."""
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


@bp.errorhandler(CSRFError)
def token_lost(error):
    """The CSRF check failed on a public form: the session under it was lost (cookies cleared,
    a shared phone's browser closed)."""
    why = _("For your safety this was not sent. Please check it and send it again.")
    shown = _shown_again(why, 400) if _posted_from_our_pages() else None
    return shown or (render_template("errors/csrf.html"), 400)


# Stands for the visitor's CSRF token in a kept page.
_TOKEN_SLOT = "\x00csrf-token\x00"  # noqa: S105  # nosec B105 - a placeholder, not a secret


def _kept_page(render: Callable[[], str]) -> str:
    """A public page as every anonymous visitor sees it, rendered once per language by this
    process and kept until the directory changes (``directory.kept``); only the CSRF token is
    each visitor's own. A signed-in visitor, a message to show or a query string gets the page
    rendered afresh."""
    if request.args or session.get("_flashes") or current_user.is_authenticated:
        return render()

    def render_with_slot() -> str:
        page = render()
        token = g.get("csrf_token")  # Flask-WTF keeps the token it put in the page here
        return page.replace(token, _TOKEN_SLOT) if token else page

    page = kept(("page", request.endpoint, g.lang), render_with_slot)
    return page.replace(_TOKEN_SLOT, generate_csrf()) if _TOKEN_SLOT in page else page


@bp.get("/")
def root():
    return redirect(url_for("public.home", lang=browser_language()))


@bp.get("/<lang:lang>/")
def home():
    return _kept_page(lambda: render_template("public/home.html", members=active_members()))


@bp.get("/<lang:lang>/privacy")
def privacy():
    return _kept_page(lambda: render_template("public/privacy.html", members=active_members()))


def _intake_page(form: IntakeForm, refused_because: str | None = None) -> str:
    return render_template(
        "public/request.html",
        form=form,
        specialisms=Specialism,
        urgencies=Urgency,
        refused_because=refused_because,
    )


@bp.get("/<lang:lang>/request")
@holds_secret  # as the confirmation at the same address
def intake():
    return _kept_page(lambda: _intake_page(IntakeForm(language=g.lang)))


def _switching_language() -> bool:
    """The intake form posted by its language switch: shown again in the other language, nothing
    checked or stored (nor counted against the intake's limit)."""
    return "draft" in request.form


# The form's submission has a view of its own at the same address, the only one with the intake's
# rate limit: checking a limit that cannot apply cost the empty form a tenth of its time.
@bp.post("/<lang:lang>/request")
@limiter.limit(lambda: current_app.config["INTAKE_RATE_LIMIT"], exempt_when=_switching_language)
@holds_secret  # the confirmation shows the status link
def submit_intake():
    if request.content_length and not request.form:
        abort(400)  # a body that is not UTF-8 form data: nothing to show next to the fields
    form = IntakeForm(language=g.lang)
    if _switching_language():
        return _intake_page(form)  # the form as typed, in this language
    if form.is_submitted() and form.is_spam:
        # A robot filled the hidden field: a neutral page, nothing stored, nothing to learn from.
        log.info("intake: honeypot filled, nothing stored")
        return render_template("public/received.html")
    if not form.validate_on_submit():
        return _intake_page(form)
    try:
        made = lifecycle.submit_from_person(
            form.to_intake(g.lang, current_app.config["CONSENT_VERSION"])
        )
    except ServiceError as refused:
        if refused.code != ServiceError.ALREADY_SENT:
            raise
        return render_template("public/already_sent.html", reference=refused.detail)
    asked_again = [referral.specialism for referral in made.joined]
    submitted = made.submitted
    if submitted is None:
        return render_template(
            "public/still_open.html", asked_again=asked_again, relinked=made.relinked
        )
    # Rendered on the POST response rather than redirected: the status token then travels only in
    # this page to this person, never in a Location header, a flash message or the session.
    return render_template(
        "public/confirmation.html",
        asked_again=asked_again,
        relinked=made.relinked,
        reference=submitted.reference,
        status_token=submitted.status_token,
        link_sent_by=submitted.link_sent_by,
        help_request=submitted.request,
        channel=_channel(submitted.request),
        promises=_promises(),
    )


@shown_again_when_refused("public.submit_intake")
def _intake_kept(why: str, status: int):
    form = IntakeForm(language=g.lang)
    form.form_errors.extend([why, _("What you typed is still in the form below.")])
    return _intake_page(form, refused_because=_("Your request was not sent yet")), status


def _channel(help_request: HelpRequest) -> ContactChannel | None:
    channel = help_request.contact_channel
    return ContactChannel(channel) if channel else None


def _promises() -> Promises:
    return Promises(current_app.config["COORDINATOR_ANSWER_DAYS"])


def _request_or_404(token: str) -> HelpRequest:
    """The request of this status link; any other link ends here, on the friendly 404 page."""
    found = lifecycle.find_request_by_token(token)
    if found is None:
        abort(make_response(render_template("public/status_not_found.html"), 404))
    return found


def _status_page(
    found: HelpRequest,
    token: str,
    *,
    contact_form: ContactForm | None = None,
    message_form: MessageForm | None = None,
    answered: tuple | None = None,
    done: str | None = None,
    status: int = 200,
):
    """The status page; after a change through it, shown on the POST's response (``done`` says
    what was done) rather than redirected: the link stays out of Location headers. ``answered``:
    (referral id, its appointment's answer form) not taken, shown again with its words."""
    if answered is not None:  # one answer form per appointment: its field is named by the need
        referral_id, answer_form = answered
        answer_form.words.id = f"words-{referral_id}"
    if contact_form is None:
        contact_form = ContactForm(formdata=None, obj=found)
    if message_form is None:
        message_form = _message_form(found, formdata=None)
    page = render_template(
        "public/status.html",
        help_request=found,
        token=token,
        channel=_channel(found),
        promises=_promises(),
        form=WithdrawForm(),
        contact_form=contact_form,
        message_form=message_form,
        answered=answered,
        done=done,
        erasure=erasure_due(found),
        openings=access_log.openings(found),
        not_arriving=person_messages.not_arriving(found),
    )
    _record_if_staff(found)
    return page, status


def _record_if_staff(found: HelpRequest) -> None:
    """A staff member signed in here (the caseworker handed the person's link at the referral)
    opening the person's own pages is a look at their data like any other; the person's own
    looks are theirs, and not recorded."""
    if current_user.is_authenticated:
        access_log.record(current_user, access_log.Page.STATUS_LINK, [(found.id, None)])


def _message_form(found: HelpRequest, **kwargs) -> MessageForm:
    """The message form, offering the needs an organisation holds now."""
    language = g.lang
    holding = [
        (str(r.id), f"{specialism_label(r.specialism)}: {r.organisation.name_in(language)}")
        for r in lifecycle.holding(found)
        if r.organisation
    ]
    return MessageForm(holding=holding, **kwargs)


@bp.get("/<lang:lang>/status/<token>")
@holds_secret
def status(token):
    return _status_page(_request_or_404(token), token)


@bp.post("/<lang:lang>/status/<token>/contact")
@holds_secret
def change_contact(token):
    found = _request_or_404(token)
    form = ContactForm()
    if not form.validate_on_submit():
        return _status_page(found, token, contact_form=form, status=400)
    try:
        changed = lifecycle.change_contact(found, form.to_contact())
    except ServiceError:  # erased a moment ago: the link opens nothing now
        abort(404)
    done = _("Thank you. We saved how to contact you.") if changed else _("Nothing was changed.")
    return _status_page(found, token, done=done)


def refused_on_status_link() -> tuple[HelpRequest, str]:
    """The request and link of a status page form refused before its view ran (its view reads
    them from the address the same way)."""
    token = (request.view_args or {})["token"]
    return _request_or_404(token), token


@shown_again_when_refused("public.change_contact")
def _contact_kept(why: str, status: int):
    found, token = refused_on_status_link()
    form = ContactForm()
    form.form_errors.append(why)
    return _status_page(found, token, contact_form=form, status=status)


def _this_status_link() -> str:
    """The rate limits' key of one request's status link: a hash of it, never the link."""
    token = (request.view_args or {}).get("token", "")
    return "status:" + hashlib.sha256(f"limits|{token}".encode()).hexdigest()


@bp.post("/<lang:lang>/status/<token>/message")
@limiter.limit(lambda: current_app.config["STATUS_MESSAGE_RATE_LIMIT"])
@limiter.limit(lambda: current_app.config["STATUS_MESSAGE_RATE_LIMIT"], key_func=_this_status_link)
@holds_secret
def write_message(token):
    found = _request_or_404(token)
    form = _message_form(found)
    if not form.validate_on_submit():
        return _status_page(found, token, message_form=form, status=400)
    try:
        lifecycle.write_to_holder(
            found,
            int(form.referral_id.data),
            form.body.data or "",
            submission_hash=form.submission_hash(),
        )
    except ServiceError:  # the need moved on since the page was shown
        form.body.errors = [_("This need is not with an organisation now. Please look again.")]
        return _status_page(found, token, message_form=form, status=400)
    return _status_page(found, token, done=_("Thank you. The organisation will read your message."))


@shown_again_when_refused("public.write_message")
def _message_kept(why: str, status: int):
    found, token = refused_on_status_link()
    form = _message_form(found)
    form.body.errors = [why]
    return _status_page(found, token, message_form=form, status=status)


@bp.post("/<lang:lang>/status/<token>/withdraw")
@holds_secret
def withdraw(token):
    found = _request_or_404(token)
    form = WithdrawForm()
    refused = not form.validate_on_submit()
    if refused or form.confirmed.data != "yes":  # answered here: no link in a redirect
        page = render_template("public/withdraw.html", help_request=found, token=token, form=form)
        return page, 400 if refused else 200
    reference = found.reference
    with contextlib.suppress(ServiceError):  # tapped twice: the first erased it
        lifecycle.withdraw_request(found)
    # Shown on the POST's response: the link opens nothing any more.
    return render_template("public/withdrawn.html", reference=reference)


@bp.get("/<lang:lang>/status/<token>/copy")
@holds_secret
def data_copy_page(token):
    found = _request_or_404(token)
    page = render_template(
        "copy.html",
        copy=data_copy.copy_of(found),
        json_url=url_for("public.data_copy_json", token=token),
    )
    _record_if_staff(found)
    return page


@bp.get("/<lang:lang>/status/<token>/copy.json")
@holds_secret
def data_copy_json(token):
    found = _request_or_404(token)
    download = data_copy.json_download(data_copy.copy_of(found))
    _record_if_staff(found)
    return download


@bp.get("/<lang:lang>/organisations")
def organisations():
    """The public directory: who takes referrals, for what, where and in which languages."""

    def render() -> str:
        names = place_names(g.lang)
        members = [
            (org, coverage_summary(org, names, _("All of Poland, remotely")))
            for org in active_members()
        ]
        return render_template(
            "public/organisations.html",
            members=members,
            language_names=language_names,
            address_line=contact.address_line,
            describe_hours=contact.describe_hours,
        )

    return _kept_page(render)


@bp.route("/<lang:lang>/status/lost", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["STATUS_LOST_RATE_LIMIT"], methods=["POST"])
def status_lost():
    """ "I lost my link": a new link to the phone or e-mail given then. The answer is the same,
    and takes at least STATUS_LOST_SECONDS, whether or not a request was found."""
    form = LostLinkForm()
    if not form.validate_on_submit():
        return render_template("public/status_lost.html", form=form, asked=False)
    with taking_at_least(current_app.config["STATUS_LOST_SECONDS"]):
        person_messages.send_fresh_links_to(form.contact.data or "")
    return render_template("public/status_lost.html", form=form, asked=True)


@shown_again_when_refused("public.status_lost")
def _lost_link_kept(why: str, status: int):
    form = LostLinkForm()
    form.contact.errors = [why]
    return render_template("public/status_lost.html", form=form, asked=False), status
