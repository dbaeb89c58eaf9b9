"""Who has seen a person's data: every page, export and API answer that shows it records the
account (or the organisation's API token), its organisation, the request and the referral, and
when. The person reads which organisations
(never which staff member) on their status page; the coordinator reads everything in the audit.

A view records after it rendered the page, in its own transaction, so that the objects the page
used are not reloaded; a failure to record is a failure to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from .access import acting_organisation_id
from .extensions import db
from .models import ApiToken, DataAccess, HelpRequest, Organisation, Referral, User, utcnow
from .vocabulary import N_, LabelledEnum


class Page(LabelledEnum):
    """Where personal data was shown; the label is what the coordinator's audit says."""

    REFERRAL = "referral", N_("Opened the referral")
    SUMMARY = "summary", N_("Opened the case summary to print")
    SUBMITTED = "submitted", N_("Referred the person")
    ROUTE = "route", N_("Opened the routing page")
    SEARCH = "search", N_("Found the person by name, phone or e-mail")
    AUDIT = "audit", N_("Read the audit trail")
    EXPORT = "export", N_("Exported the audit trail")
    COPY = "copy", N_("Made a copy of the person's data")
    API = "api", N_("Read it through the API")
    STATUS_LINK = "status_link", N_("Opened the person's own pages through their link")


def record(
    viewer: User | ApiToken,
    page: Page,
    referrals: Iterable[Referral | tuple[int, int | None]],
) -> None:
    """``viewer`` (a staff member, or an organisation's system) saw the personal data of these
    referrals (or (request id, referral id) pairs) on ``page``, now; one transaction. The
    opening is the viewer's organisation's, or the consortium's (None) for a coordinator."""
    now = utcnow()
    by_token = isinstance(viewer, ApiToken)
    organisation_id = acting_organisation_id(viewer)
    rows = [
        {
            "at": now,
            "user_id": None if by_token else viewer.id,
            "api_token_id": viewer.id if by_token else None,
            "organisation_id": organisation_id,
            "request_id": item.request_id if isinstance(item, Referral) else item[0],
            "referral_id": item.id if isinstance(item, Referral) else item[1],
            "page": page.value,
        }
        for item in referrals
    ]
    if rows:
        db.session.execute(insert(DataAccess), rows)
        db.session.commit()


@dataclass(frozen=True)
class Opening:
    """One organisation's openings of a person's data (``organisation`` None: the consortium's
    coordinator)."""

    organisation: Organisation | None
    first: datetime
    last: datetime
    times: int


def openings(request: HelpRequest) -> list[Opening]:
    """Which organisations opened the request's data, when first and last, and how often; the
    most recent first."""
    rows = db.session.execute(
        select(
            DataAccess.organisation_id,
            func.min(DataAccess.at),
            func.max(DataAccess.at),
            func.count(),
        )
        .where(DataAccess.request_id == request.id)
        .group_by(DataAccess.organisation_id)
    ).all()
    organisations = {
        org.id: org
        for org in db.session.scalars(
            select(Organisation).where(Organisation.id.in_([row[0] for row in rows if row[0]]))
        )
    }
    found = [
        Opening(organisations.get(org_id) if org_id else None, first, last, times)
        for org_id, first, last, times in rows
    ]
    return sorted(found, key=lambda opening: opening.last, reverse=True)


def every_opening(request: HelpRequest) -> list[DataAccess]:
    """Each opening of the request's data, oldest first (for the person's copy of their data)."""
    return list(
        db.session.scalars(
            select(DataAccess)
            .where(DataAccess.request_id == request.id)
            .order_by(DataAccess.at, DataAccess.id)
        )
    )
