"""The shapes of the referral API: pydantic models that validate each request and describe each
answer; the OpenAPI document is generated from them (``api.spec``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    field_validator,
)

from ..fields import FIRST_DAY, LAST_DAY, UNREADABLE, in_service_years
from ..handoff import DeclineReason, Outcome, State
from ..personal_data import normalised_phone
from ..public.forms import DESCRIPTION_MAX
from ..vocabulary import SPOKEN_LANGUAGES, ContactChannel, ResidenceStatus, Specialism

MAX_LIMIT = 200
TEXT_MAX = 2000

SpokenLanguage = Literal[SPOKEN_LANGUAGES]  # type: ignore[valid-type]  # a tuple of codes
UiLanguage = Literal["pl", "uk", "en"]


# The steps an organisation's system takes through the API (the system's own, routing and
# expiry, are not among them).
ApiAction = Literal["accept", "decline", "start", "hand_back", "close", "withdraw"]


class Strict(BaseModel):
    """A request body: unknown fields are an error, not silently dropped (a typo is caught)."""

    model_config = ConfigDict(extra="forbid")


def _readable(value: str) -> str:
    """What a person typed, stripped; refused with characters no one types (NUL, U+FFFD...)."""
    if UNREADABLE.search(value):
        raise ValueError("contains characters that cannot be read")
    return value.strip()


def _within_the_years(value: datetime) -> datetime:
    """A moment in the years the service can count (its time in UTC must exist)."""
    if not in_service_years(value):
        raise ValueError(f"must be between the years {FIRST_DAY.year} and {LAST_DAY.year}")
    return value


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_readable)]
RequiredText = Annotated[Text, AfterValidator(_not_blank)]


# --- reading ------------------------------------------------------------------------------------


class ListQuery(BaseModel):
    box: Literal["offered", "ours", "sent"] | None = Field(
        default=None,
        description="`offered`: waiting for our answer; `ours`: accepted or in progress with us; "
        "`sent`: referred by us. None: every referral we may see.",
    )
    state: State | None = None
    need: Specialism | None = None
    updated_since: Annotated[AwareDatetime, AfterValidator(_within_the_years)] | None = Field(
        default=None, description="Only referrals changed at or after this moment."
    )
    cursor: str | None = Field(
        default=None, max_length=200, description="`next_cursor` of the previous page."
    )
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)


class OrganisationRef(BaseModel):
    slug: str
    name: str


class ReferralSummary(BaseModel):
    id: int
    version: int = Field(description="Send it back with each action: a stale one gets 409.")
    reference: str = Field(description="The request's reference, as people read it out.")
    need: Specialism
    state: State
    urgent: bool
    organisation: OrganisationRef | None = Field(
        description="Offered to or held by; none while unmatched, closed or withdrawn."
    )
    referring_organisation: OrganisationRef | None = Field(
        description="Who referred the person; none when they asked themselves."
    )
    offered_at: datetime | None
    deadline_at: datetime | None = Field(description="Answer the offer by then.")
    outcome: Outcome | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class ReferralPage(BaseModel):
    items: list[ReferralSummary]
    next_cursor: str | None = Field(description="Ask again with it for more; none at the end.")
    resume_cursor: str | None = Field(
        description="Where this answer ended, on every page: keep it and ask again with it later"
        " for only what changed since. None when nothing was listed and no cursor was given."
    )


class Person(BaseModel):
    """The personal data: only for the organisation holding or offered the referral and the one
    that sent it, and only until it is erased."""

    name: str | None
    phone: str | None
    email: str | None
    contact_channel: ContactChannel | None
    safe_to_message: bool
    interpreter_needed: bool
    languages: list[str]
    residence_status: ResidenceStatus | None
    language: str = Field(description="The language the person reads best (pl, uk or en).")
    description: str | None


class NoteOut(BaseModel):
    id: int
    shared: bool = Field(description="Shared with the other organisation, or internal.")
    body: str
    author: str = Field(description="The staff member, or the token's name.")
    organisation: OrganisationRef | None
    created_at: datetime


class ReferralDetail(ReferralSummary):
    city: str | None = Field(description="The city's slug, when the person gave one.")
    voivodeship: str = Field(description="The voivodeship's TERYT code.")
    allowed_actions: list[ApiAction] = Field(
        description="What this token's organisation may do now, each a `POST` to"
        " `/api/v1/referrals/{id}/<action>` (`hand_back`: `/hand-back`)."
    )
    personal_data: Literal["shown", "not_yours", "erased"]
    person: Person | None
    notes: list[NoteOut]


# --- acting -------------------------------------------------------------------------------------


class VersionBody(Strict):
    # An integer as read, not "1": a system that sends a string has misread the referral.
    version: StrictInt = Field(ge=1, le=2**31 - 1, description="The `version` you read.")


class DeclineBody(VersionBody):
    reason: DeclineReason
    text: Text | None = Field(
        default=None, max_length=TEXT_MAX, description="Required with `other`; others read it."
    )


class CloseBody(VersionBody):
    outcome: Outcome


class NoteBody(Strict):
    body: RequiredText = Field(min_length=1, max_length=TEXT_MAX)
    shared: bool = Field(
        default=False, description="Show it to the other organisation (the holder or sender)."
    )


class NewRequest(Strict):
    """A request made by a caseworker's organisation on the person's behalf, as on the staff
    page: the person agreed (``consent``) that it is passed on."""

    needs: list[Specialism] = Field(min_length=1, max_length=len(Specialism))
    city: str | None = Field(
        default=None, max_length=60, pattern=r"^[a-z0-9-]+$", description="A city slug."
    )
    voivodeship: str | None = Field(
        default=None,
        pattern=r"^[0-9]{2}$",
        description="TERYT code, when the city is not in the list.",
    )
    language: UiLanguage = Field(description="The language the person reads best.")
    languages: list[SpokenLanguage] = Field(default_factory=list, max_length=20)
    name: Text | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: EmailStr | None = Field(default=None, max_length=254)
    contact_channel: ContactChannel | None = None
    safe_to_message: bool = False
    interpreter_needed: bool = False
    description: Text | None = Field(default=None, max_length=DESCRIPTION_MAX)
    urgent: bool = False
    residence_status: ResidenceStatus | None = None
    consent: Literal[True] = Field(
        description="The person agreed that the request and contact details are passed on."
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if not value:
            return None
        phone = normalised_phone(value)
        if phone is None:
            raise ValueError("not a valid phone number")
        return phone


class SubmittedRequest(BaseModel):
    reference: str
    status_url: str = Field(
        description="The person's own status page: give it to them; it is shown only once."
    )
    referrals: list[ReferralSummary]
