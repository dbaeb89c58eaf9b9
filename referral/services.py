"""The use cases. Each loads what it needs, asks ``routing`` and ``handoff`` for the decision,
writes the change with its ReferralEvent(s) and outbox rows, and commits: one transaction each.

Errors are ``ServiceError`` subclasses with a stable ``code`` that the web layer translates.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from . import handoff, notifications, routing
from .extensions import db
from .handoff import Action, Party, State
from .models import (
    City,
    Coverage,
    Note,
    Organisation,
    Referral,
    ReferralEvent,
    Request,
    User,
    utcnow,
)
from .passwords import looks_like_token, new_token, token_hash
from .service_errors import ServiceError, get_or_invalid

# Short references for phone conversations: no 0/O, 1/I/L, 2/Z, 5/S, 8/B look-alikes.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
ACTIVE_STATES = (State.OFFERED, State.ACCEPTED, State.IN_PROGRESS)


# --- intake -----------------------------------------------------------------------------------


@dataclass
class IntakeData:
    """What the intake form (or a caseworker) gives; validated before it gets here."""

    needs: list[str]
    language: str
    consent_version: str
    city_slug: str | None = None
    voivodeship: str | None = None
    languages: list[str] = field(default_factory=list)
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    contact_channel: str | None = None
    safe_to_message: bool = False
    interpreter_needed: bool = False
    description: str | None = None
    urgent: bool = False
    residence_status: str | None = None


@dataclass
class SubmittedRequest:
    request: Request
    status_token: str  # shown once to the person; only its hash is stored


def submit_request(
    data: IntakeData, submitted_by: User | None = None, now: datetime | None = None
) -> SubmittedRequest:
    """Store a request, make one referral per need, and route each at once."""
    now = now or utcnow()
    city = None
    if data.city_slug:
        city = db.session.scalar(select(City).where(City.slug == data.city_slug))
        if city is None:
            raise ServiceError(ServiceError.INVALID, "unknown city")
    voivodeship = city.voivodeship_teryt if city else data.voivodeship
    if not voivodeship or not data.needs:
        raise ServiceError(ServiceError.INVALID, "place and needs are required")
    token = new_token()
    request = Request(
        reference=_new_reference(),
        status_token_hash=token_hash(token),
        created_at=now,
        language=data.language,
        city=city,
        voivodeship_teryt=voivodeship,
        urgent=data.urgent,
        interpreter_needed=data.interpreter_needed,
        name=data.name or None,
        phone=data.phone or None,
        email=data.email or None,
        contact_channel=data.contact_channel,
        safe_to_message=data.safe_to_message,
        languages=sorted(set(data.languages)),
        description=data.description or None,
        residence_status=data.residence_status or None,
        consent_version=data.consent_version,
        consent_at=now,
        consent_language=data.language,
        submitted_by=submitted_by,
        referring_organisation_id=submitted_by.organisation_id if submitted_by else None,
    )
    db.session.add(request)
    directory = Directory.load(now)
    for specialism in dict.fromkeys(data.needs):
        referral = Referral(
            request=request,
            specialism=specialism,
            state=State.NEW,
            urgent=data.urgent,
            referring_organisation_id=request.referring_organisation_id,
            created_at=now,
        )
        db.session.add(referral)
        _route(referral, Action.ROUTE, Party.SYSTEM, directory, now)
    db.session.commit()
    return SubmittedRequest(request=request, status_token=token)


def _new_reference() -> str:
    while True:
        raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        reference = f"{raw[:3]}-{raw[3:]}"
        if not db.session.scalar(select(Request.id).where(Request.reference == reference)):
            return reference


def find_request_by_token(token: str) -> Request | None:
    if not looks_like_token(token):
        return None
    return db.session.scalar(
        select(Request)
        .where(Request.status_token_hash == token_hash(token))
        .options(selectinload(Request.referrals).selectinload(Referral.organisation))
    )


def withdraw_request(request: Request, now: datetime | None = None) -> None:
    """The person withdraws every open referral and their personal data is erased at once.

    Staff acting on one of the referrals meanwhile does not stop it: the withdrawal is retried
    from the referrals' new state."""
    now = now or utcnow()
    for _attempt in range(3):
        try:
            for referral in request.referrals:
                if referral.state in handoff.OPEN_STATES:
                    _apply(referral, Action.WITHDRAW, {Party.PERSON}, None, now)
            _erase(request, now)
            db.session.commit()
            return
        except StaleDataError:
            db.session.rollback()
    raise ServiceError(ServiceError.ALREADY_TAKEN)


def _erase(request: Request, now: datetime) -> None:
    request.name = request.phone = request.email = request.description = None
    request.contact_channel = request.residence_status = None
    request.languages = []
    request.safe_to_message = request.interpreter_needed = False
    request.erased_at = now
    for referral in request.referrals:
        for note in referral.notes:
            db.session.delete(note)


def purge_expired(now: datetime | None = None) -> int:
    """Erase personal data of requests whose referrals all ended more than RETENTION_DAYS ago."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RETENTION_DAYS"])
    still_open = (
        select(Referral.id)
        .where(Referral.request_id == Request.id)
        .where(
            (Referral.state.not_in([State.CLOSED, State.WITHDRAWN]))
            | (Referral.updated_at > cutoff)
        )
        .exists()
    )
    requests = db.session.scalars(
        select(Request).where(Request.erased_at.is_(None), Request.created_at < cutoff, ~still_open)
    ).all()
    for request in requests:
        _erase(request, now)
    db.session.commit()
    return len(requests)


# --- routing ----------------------------------------------------------------------------------


@dataclass
class Directory:
    """The routing view of every organisation, loaded once per use case (and per sweep).

    Profiles are built once and replaced as offers change an organisation's load, so a sweep
    re-routing thousands of referrals does not rebuild the whole directory for each.
    """

    today: date
    organisations: dict[int, Organisation]
    open_load: dict[int, int]
    coverage: dict[int, frozenset[routing.Coverage]]
    _profiles: dict[int, routing.Organisation] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, now: datetime) -> Directory:
        organisations = {org.id: org for org in db.session.scalars(select(Organisation))}
        # Plain rows, not ORM objects: a big directory has tens of thousands of them.
        coverage: dict[int, set[routing.Coverage]] = {}
        for org_id, specialism, scope, area in db.session.execute(
            select(Coverage.organisation_id, Coverage.specialism, Coverage.scope, Coverage.area)
        ):
            coverage.setdefault(org_id, set()).add(
                routing.Coverage(specialism, routing.Scope(scope), area)
            )
        open_load = dict(
            db.session.execute(
                select(Referral.organisation_id, func.count())
                .where(Referral.state.in_(ACTIVE_STATES))
                .group_by(Referral.organisation_id)
            ).all()
        )
        return cls(
            today=now.astimezone(handoff.WARSAW).date(),
            organisations=organisations,
            open_load=open_load,
            coverage={org_id: frozenset(rows) for org_id, rows in coverage.items()},
        )

    def profile(self, org: Organisation) -> routing.Organisation:
        profile = self._profiles.get(org.id)
        if profile is None:
            profile = self._profiles[org.id] = routing.Organisation(
                slug=org.slug,
                name=org.name_pl,
                takes_referrals=org.takes_referrals,
                paused=org.is_paused(self.today),
                languages=frozenset(org.languages or ()),
                capacity=org.capacity,
                open_load=self.open_load.get(org.id, 0),
                last_offered_at=org.last_offered_at,
                coverage=self.coverage.get(org.id, frozenset()),
            )
        return profile

    def _profiles_of_all(self) -> list[routing.Organisation]:
        return [self.profile(org) for org in self.organisations.values()]

    def _refresh(self, org_id: int) -> None:
        """Bring a cached profile up to date with the organisation's load and last offer."""
        if org_id in self._profiles:
            self._profiles[org_id] = replace(
                self._profiles[org_id],
                open_load=self.open_load.get(org_id, 0),
                last_offered_at=self.organisations[org_id].last_offered_at,
            )

    def tried(self, referral: Referral) -> set[str]:
        """Slugs of the organisations this referral was ever offered to (or is held by): routing
        never offers it to them again."""
        ids = {event.offered_to_id for event in referral.events} | {referral.organisation_id}
        return {self.organisations[i].slug for i in ids if i in self.organisations}

    def by_slug(self, slug: str) -> Organisation:
        return next(org for org in self.organisations.values() if org.slug == slug)

    def assess(self, need: routing.Need, tried: Iterable[str] = ()) -> list[routing.Candidate]:
        return routing.assess(need, self._profiles_of_all(), frozenset(tried))

    def rank(self, need: routing.Need, tried: Iterable[str] = ()) -> list[routing.Candidate]:
        return routing.rank(need, self._profiles_of_all(), frozenset(tried))

    def offered(self, org: Organisation, now: datetime) -> None:
        """Keep the in-memory view true after an offer (a sweep routes many in a row)."""
        org.last_offered_at = now
        self.open_load[org.id] = self.open_load.get(org.id, 0) + 1
        self._refresh(org.id)

    def released(self, org_id: int | None) -> None:
        if org_id is not None and self.open_load.get(org_id):
            self.open_load[org_id] -= 1
            self._refresh(org_id)


def need_of(referral: Referral) -> routing.Need:
    request = referral.request
    return routing.Need(
        specialism=referral.specialism,
        city=request.city.slug if request.city else "",
        voivodeship=request.voivodeship_teryt,
        languages=frozenset(request.languages or ()),
    )


def candidates_for(referral: Referral, now: datetime | None = None) -> list[routing.Candidate]:
    """Every organisation with its verdict for this referral (the coordinator's view)."""
    directory = Directory.load(now or utcnow())
    return directory.assess(need_of(referral), directory.tried(referral))


def route_preview(
    specialism: str, city_slug: str, languages: Iterable[str] = ()
) -> list[routing.Candidate]:
    """Ranked candidates for a hypothetical need: for checking the directory."""
    city = db.session.scalar(select(City).where(City.slug == city_slug))
    if city is None:
        raise ServiceError(ServiceError.INVALID, "unknown city")
    need = routing.Need(specialism, city.slug, city.voivodeship_teryt, frozenset(languages))
    return Directory.load(utcnow()).rank(need)


def _route(
    referral: Referral,
    action: Action,
    party: Party,
    directory: Directory,
    now: datetime,
    actor: User | None = None,
    reason_code: str | None = None,
    text: str | None = None,
) -> None:
    """Apply a re-routing transition (route, decline, expire, hand back): offer to the best
    candidate not tried yet, or leave the referral unmatched."""
    previous_org_id = referral.organisation_id
    candidates = directory.rank(need_of(referral), directory.tried(referral))
    target = directory.by_slug(candidates[0].organisation.slug) if candidates else None
    _transition(
        referral,
        action,
        {party},
        now,
        actor=actor,
        organisation_id=previous_org_id if action != Action.ROUTE else None,
        reason_code=reason_code,
        text=text,
        offer_to=target,
        reasons=candidates[0] if candidates else None,
        directory=directory,
    )


def _transition(
    referral: Referral,
    action: Action,
    parties: set[Party],
    now: datetime,
    *,
    actor: User | None = None,
    organisation_id: int | None = None,
    reason_code: str | None = None,
    text: str | None = None,
    offer_to: Organisation | None = None,
    reasons: routing.Candidate | None = None,
    directory: Directory | None = None,
) -> None:
    """The one place a referral changes state: checks the table, updates, writes the event.

    ``offer_to`` is whom the referral is offered to; a re-routing move without one leaves the
    referral unmatched."""
    before = State(referral.state)
    after = handoff.transition(before, action, frozenset(parties), offer_to is not None)
    if directory and before in ACTIVE_STATES:
        directory.released(referral.organisation_id)
    referral.state = after
    referral.updated_at = now
    if after == State.OFFERED:
        _offer(referral, offer_to, reasons, now, directory)
    elif after in (State.UNMATCHED, State.WITHDRAWN):
        referral.organisation_id = None
        referral.offered_at = referral.deadline_at = None
    if after in (State.CLOSED, State.WITHDRAWN):
        referral.closed_at = now
    db.session.add(
        ReferralEvent(
            referral=referral,
            at=now,
            action=action,
            party=sorted(parties)[0],
            actor_id=actor.id if actor else None,
            # A referral is created and routed in one transaction: its log starts from nothing,
            # so replaying it (handoff.replay) needs no separate creation event.
            from_state=None if before == State.NEW else before,
            to_state=after,
            organisation_id=organisation_id,
            offered_to_id=offer_to.id if after == State.OFFERED and offer_to else None,
            reason_code=reason_code,
            text=text,
        )
    )


def _offer(
    referral: Referral,
    org: Organisation,
    candidate: routing.Candidate | None,
    now: datetime,
    directory: Directory | None,
) -> None:
    referral.organisation = org
    referral.organisation_id = org.id
    referral.assigned_user_id = None
    referral.offered_at = now
    hours = handoff.deadline_hours(referral.urgent, current_app.config["DEADLINE_HOURS"])
    referral.deadline_at = handoff.response_deadline(now, hours)
    referral.routing_scope = candidate.scope if candidate else None
    referral.routing_reasons = (
        [{"code": r.code, "params": dict(r.params)} for r in candidate.reasons] if candidate else []
    )
    if directory:
        directory.offered(org, now)
    else:
        org.last_offered_at = now
    notifications.offer_made(referral, org)


# --- actions by people ------------------------------------------------------------------------


def parties_of(user: User | None, referral: Referral) -> set[Party]:
    """Who ``user`` is for this referral (None: the person, through the status link)."""
    if user is None:
        return {Party.PERSON}
    parties = set()
    if user.is_coordinator:
        parties.add(Party.COORDINATOR)
    if user.organisation_id is not None:
        if user.organisation_id == referral.organisation_id and referral.state in ACTIVE_STATES:
            parties.add(Party.HOLDER)
        if user.organisation_id == referral.referring_organisation_id:
            parties.add(Party.REFERRER)
    return parties


def allowed_actions(user: User, referral: Referral) -> set[Action]:
    return handoff.allowed_actions(State(referral.state), frozenset(parties_of(user, referral)))


def _apply(
    referral: Referral,
    action: Action,
    parties: set[Party],
    actor: User | None,
    now: datetime,
    **changes,
) -> None:
    _transition(
        referral,
        action,
        parties,
        now,
        actor=actor,
        organisation_id=referral.organisation_id or (actor.organisation_id if actor else None),
        **changes,
    )


def _load_for_action(referral_id: int, version: int | None) -> Referral:
    referral = get_or_invalid(Referral, referral_id, "referral")
    if version is not None and referral.version != version:
        # The page the user acted from is out of date: someone else got there first.
        raise ServiceError(ServiceError.ALREADY_TAKEN)
    return referral


def _check_reason(
    action: Action, reason_code: str | None, text: str | None, outcome: str | None
) -> None:
    """Declines and hand-backs say why (``other`` in words), a close gives its outcome, and a
    coordinator routing by hand gives a reason: the event log must explain every step."""
    if action in (Action.DECLINE, Action.HAND_BACK):
        if reason_code not in set(handoff.DeclineReason):
            raise ServiceError(ServiceError.INVALID, "a decline reason is required")
        if reason_code == handoff.DeclineReason.OTHER and not (text or "").strip():
            raise ServiceError(ServiceError.INVALID, "say why in words")
    elif action == Action.CLOSE and outcome not in set(handoff.Outcome):
        raise ServiceError(ServiceError.INVALID, "an outcome is required")
    elif action == Action.ROUTE_BY_HAND and not (reason_code or (text or "").strip()):
        raise ServiceError(ServiceError.INVALID, "a reason is required")


def act(
    referral_id: int,
    user: User | None,
    action: Action,
    version: int | None = None,
    *,
    reason_code: str | None = None,
    text: str | None = None,
    assignee_id: int | None = None,
    outcome: str | None = None,
    organisation_id: int | None = None,
    now: datetime | None = None,
) -> Referral:
    """Do ``action`` on a referral as ``user``: accept, decline, start, hand back, close,
    withdraw, or (coordinator) route by hand. Raises ServiceError when refused or lost."""
    now = now or utcnow()
    referral = _load_for_action(referral_id, version)
    parties = parties_of(user, referral)
    try:
        handoff.transition(State(referral.state), action, frozenset(parties))
        _check_reason(action, reason_code, text, outcome)
        if action in (Action.DECLINE, Action.HAND_BACK):
            _route(
                referral,
                action,
                Party.HOLDER,
                Directory.load(now),
                now,
                actor=user,
                reason_code=reason_code,
                text=text,
            )
        elif action == Action.ROUTE_BY_HAND:
            target = db.session.get(Organisation, organisation_id) if organisation_id else None
            if target is None:
                raise ServiceError(ServiceError.INVALID, "no such organisation")
            _apply(
                referral,
                action,
                parties,
                user,
                now,
                offer_to=target,
                reasons=None,
                reason_code=reason_code,
                text=text,
            )
        else:
            _apply(
                referral, action, parties, user, now, reason_code=reason_code or outcome, text=text
            )
            _after(referral, action, user, now, assignee_id=assignee_id, outcome=outcome)
        db.session.commit()
    except handoff.TransitionRefused as error:
        db.session.rollback()
        raise ServiceError(error.code) from None
    except StaleDataError:
        # Optimistic locking: someone changed the referral since we loaded it. The loss can
        # surface at commit or at any autoflush before it (a lazy load in a notification).
        db.session.rollback()
        raise ServiceError(ServiceError.ALREADY_TAKEN) from None
    except ServiceError:
        db.session.rollback()
        raise
    return referral


def _after(
    referral: Referral,
    action: Action,
    user: User | None,
    now: datetime,
    *,
    assignee_id: int | None,
    outcome: str | None,
) -> None:
    """What an action changes besides the state."""
    if action == Action.ACCEPT:
        referral.assigned_user_id = _colleague(user, assignee_id)
        referral.deadline_at = None
        notifications.accepted(referral)
    elif action == Action.CLOSE:
        referral.outcome = outcome
        notifications.closed(referral)


def _colleague(user: User, assignee_id: int | None) -> int | None:
    if assignee_id is None:
        return None
    colleague = db.session.get(User, assignee_id)
    if (
        colleague is None
        or colleague.organisation_id != user.organisation_id
        or not colleague.active
    ):
        raise ServiceError(ServiceError.INVALID, "assignee is not a colleague")
    return colleague.id


def add_note(referral: Referral, author: User, body: str, shared: bool) -> Note:
    note = Note(
        referral=referral,
        author=author,
        organisation_id=author.organisation_id,
        shared=shared,
        body=body,
        created_at=utcnow(),
    )
    db.session.add(note)
    db.session.commit()
    return note


# --- the sweep --------------------------------------------------------------------------------


def expire_overdue(now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire offers past their deadline and re-route them. Safe to run twice at once: rows
    another sweep holds are skipped (PostgreSQL), and a lost race on the version is skipped."""
    now = now or utcnow()
    directory = Directory.load(now)
    expired = 0
    while True:
        query = (
            select(Referral)
            .where(Referral.state == State.OFFERED, Referral.deadline_at < now)
            .order_by(Referral.deadline_at)
            .limit(batch_size)
            .options(
                selectinload(Referral.events),
                selectinload(Referral.request).selectinload(Request.city),
            )
        )
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Referral)
        referrals = db.session.scalars(query).all()
        if not referrals:
            break
        for referral in referrals:
            _route(
                referral, Action.EXPIRE, Party.SYSTEM, directory, now, reason_code="deadline_passed"
            )
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            directory = Directory.load(now)
            continue
        expired += len(referrals)
    return expired


# --- the directory and staff accounts (the coordinator) --------------------------------------


@dataclass
class OrganisationData:
    """The fields of an organisation the coordinator edits; validated by the form."""

    name_pl: str
    name_uk: str = ""
    name_en: str = ""
    description_pl: str = ""
    description_uk: str = ""
    description_en: str = ""
    website: str | None = None
    home_city_id: int | None = None
    languages: list[str] = field(default_factory=list)
    languages_confirmed: bool = True
    email: str | None = None
    takes_referrals: bool = True
    capacity: int | None = None
    paused_until: date | None = None
    pause_reason: str | None = None


def save_organisation(
    data: OrganisationData, organisation_id: int | None = None, slug: str | None = None
) -> Organisation:
    """Create an organisation (give ``slug``) or update one. Each use case (and each sweep) loads
    the directory afresh, so the change counts from the next one on."""
    if organisation_id is None:
        if not slug or db.session.scalar(select(Organisation.id).where(Organisation.slug == slug)):
            raise ServiceError(ServiceError.INVALID, "the slug is missing or taken")
        organisation = Organisation(slug=slug)
        db.session.add(organisation)
    else:
        organisation = _organisation(organisation_id)
    for name, value in vars(data).items():
        setattr(organisation, name, value)
    organisation.languages = sorted(set(data.languages))
    if organisation.paused_until is None:
        organisation.pause_reason = None
    db.session.commit()
    return organisation


def _organisation(organisation_id: int) -> Organisation:
    return get_or_invalid(Organisation, organisation_id, "organisation")


def add_coverage(organisation_id: int, specialism: str, scope: str, area: str | None) -> Coverage:
    """Add one specialism × place to an organisation; INVALID when it already has it."""
    organisation = _organisation(organisation_id)
    area = None if scope == routing.Scope.NATIONWIDE else area
    if any(
        (c.specialism, c.scope, c.area) == (specialism, scope, area) for c in organisation.coverage
    ):
        raise ServiceError(ServiceError.INVALID, "coverage exists")
    coverage = Coverage(specialism=specialism, scope=scope, area=area)
    organisation.coverage.append(coverage)
    db.session.commit()
    return coverage


def remove_coverage(organisation_id: int, coverage_id: int) -> None:
    coverage = db.session.get(Coverage, coverage_id)
    if coverage is None or coverage.organisation_id != organisation_id:
        raise ServiceError(ServiceError.INVALID, "no such coverage")
    db.session.delete(coverage)
    db.session.commit()


def candidate_lists(
    referrals: Iterable[Referral], now: datetime | None = None
) -> dict[int, list[routing.Candidate]]:
    """``candidates_for`` for many referrals, loading the directory once (the unmatched queue)."""
    directory = Directory.load(now or utcnow())
    return {
        referral.id: directory.assess(need_of(referral), directory.tried(referral))
        for referral in referrals
    }
