"""The referrals an organisation's system reads, as the staff pages would show them to that
organisation: the list (``visible_referrals``, boxed, filtered, paged by cursor) and one referral
with the personal data only while ``may_see_personal_data`` allows it."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Literal, get_args

from flask import url_for
from sqlalchemy import and_, or_
from sqlalchemy.orm import joinedload, selectinload

from .. import access, access_log, lifecycle
from ..extensions import db
from ..fields import in_service_years
from ..handoff import Outcome, State
from ..i18n import current_language
from ..models import ApiToken, HelpRequest, Note, Organisation, Referral
from ..service_errors import ServiceError
from ..vocabulary import ContactChannel, ResidenceStatus, Specialism
from .problems import ApiProblem
from .schemas import (
    ApiAction,
    ListQuery,
    NoteOut,
    OrganisationRef,
    Person,
    ReferralDetail,
    ReferralPage,
    ReferralSummary,
)

# The actions a system can take through the API: those of the staff page.
API_ACTIONS = get_args(ApiAction)


# --- the cursor: where the previous page ended, in the order (updated_at, id) --------------------


def encode_cursor(referral: Referral) -> str:
    raw = json.dumps([referral.updated_at.isoformat(), referral.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


LARGEST_ID = 2**31 - 1  # PostgreSQL's integer, a referral's id


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, referral_id = json.loads(raw)
        at = datetime.fromisoformat(moment)
        if at.tzinfo is None or not in_service_years(at):
            raise ValueError(cursor)
        # type(), not isinstance: JSON's true is an int to isinstance, and no id to the database.
        if type(referral_id) is not int or not 0 < referral_id <= LARGEST_ID:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise ApiProblem("invalid_cursor") from error
    return at, referral_id


# --- the list -----------------------------------------------------------------------------------


def referrals_page(token: ApiToken, query: ListQuery) -> ReferralPage:
    """One page in the order of the last change, oldest first: a system that keeps the last
    ``resume_cursor`` (or ``updated_since``) sees every change, a referral changed meanwhile again
    on a later page."""
    org = token.organisation_id
    statement = access.visible_referrals(token)
    if query.box == "offered":
        statement = statement.where(
            Referral.organisation_id == org, Referral.state == State.OFFERED
        )
    elif query.box == "ours":
        statement = statement.where(
            Referral.organisation_id == org,
            Referral.state.in_((State.ACCEPTED, State.IN_PROGRESS)),
        )
    elif query.box == "sent":
        statement = statement.where(Referral.referring_organisation_id == org)
    if query.state:
        statement = statement.where(Referral.state == query.state)
    if query.need:
        statement = statement.where(Referral.specialism == query.need)
    if query.updated_since:
        statement = statement.where(Referral.updated_at >= query.updated_since)
    if query.cursor:
        at, last_id = decode_cursor(query.cursor)
        statement = statement.where(
            or_(Referral.updated_at > at, and_(Referral.updated_at == at, Referral.id > last_id))
        )
    rows = db.session.scalars(
        statement.order_by(Referral.updated_at, Referral.id)
        .limit(query.limit + 1)
        .options(
            joinedload(Referral.request),
            joinedload(Referral.organisation),
            joinedload(Referral.referring_organisation),
        )
    ).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    end = encode_cursor(rows[-1]) if rows else query.cursor
    return ReferralPage(
        items=[summary(referral) for referral in rows],
        next_cursor=end if more else None,
        resume_cursor=end,
    )


def _organisation(org: Organisation | None) -> OrganisationRef | None:
    return OrganisationRef(slug=org.slug, name=org.name_in(current_language())) if org else None


def summary(referral: Referral) -> ReferralSummary:
    return ReferralSummary(
        id=referral.id,
        version=referral.version,
        reference=referral.request.reference,
        need=Specialism(referral.specialism),
        state=State(referral.state),
        urgent=referral.urgent,
        organisation=_organisation(referral.organisation),
        referring_organisation=_organisation(referral.referring_organisation),
        offered_at=referral.offered_at,
        deadline_at=referral.deadline_at,
        outcome=Outcome(referral.outcome) if referral.outcome else None,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
        closed_at=referral.closed_at,
    )


# --- one referral -------------------------------------------------------------------------------

_FULL = (
    selectinload(Referral.request).undefer_group("personal").selectinload(HelpRequest.city),
    selectinload(Referral.organisation),
    selectinload(Referral.referring_organisation),
    selectinload(Referral.notes).selectinload(Note.author),
    selectinload(Referral.notes).selectinload(Note.api_token),
    selectinload(Referral.notes).selectinload(Note.organisation),
)


def visible_or_404(token: ApiToken, referral_id: int, full: bool = False) -> Referral:
    """The referral if the token's organisation may see it; anything else answers 404."""
    referral = db.session.scalar(
        access.visible_referrals(token)
        .where(Referral.id == referral_id)
        .options(*(_FULL if full else ()))
    )
    if referral is None:
        raise ApiProblem(ServiceError.NOT_FOUND)
    return referral


def _person(request: HelpRequest) -> Person:
    return Person(
        name=request.name,
        phone=request.phone,
        email=request.email,
        contact_channel=ContactChannel(request.contact_channel)
        if request.contact_channel
        else None,
        safe_to_message=request.safe_to_message,
        interpreter_needed=request.interpreter_needed,
        languages=list(request.languages or []),
        residence_status=(
            ResidenceStatus(request.residence_status) if request.residence_status else None
        ),
        language=request.language,
        description=request.description,
    )


def note_out(note: Note) -> NoteOut:
    return NoteOut(
        id=note.id,
        shared=note.shared,
        body=note.body,
        author=note.author_name,
        organisation=_organisation(note.organisation),
        created_at=note.created_at,
    )


def detail(token: ApiToken, referral_id: int) -> ReferralDetail:
    """What the referral's staff page shows the token's organisation, as data."""
    referral = visible_or_404(token, referral_id, full=True)
    request = referral.request
    personal_data: Literal["shown", "not_yours", "erased"]
    if request.erased_at is not None:
        personal_data = "erased"
    elif access.may_see_personal_data(token, referral):
        personal_data = "shown"
    else:
        personal_data = "not_yours"
    allowed = lifecycle.allowed_actions(token, referral)
    notes = [note_out(note) for note in referral.notes if access.may_see_note(token, note)]
    answer = ReferralDetail(
        **summary(referral).model_dump(),
        city=request.city.slug if request.city else None,
        voivodeship=request.voivodeship_teryt,
        allowed_actions=[action for action in API_ACTIONS if action in allowed],
        personal_data=personal_data,
        person=_person(request) if personal_data == "shown" else None,
        notes=notes,
    )
    if personal_data == "shown" or (notes and request.erased_at is None):
        access_log.record(token, access_log.Page.API, [referral])
    return answer


def status_url(language: str, status_token: str) -> str:
    return url_for("public.status", lang=language, token=status_token, _external=True)
