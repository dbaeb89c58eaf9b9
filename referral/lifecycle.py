"""The referral lifecycle: a request is submitted and each need routed; organisations accept,
decline, start, hand back and close; the sweep expires offers left unanswered; the person
withdraws, and the system withdraws a request left open too long; both erase it (``erasure``).

Each use case loads what it needs, asks ``handoff`` once whether the move is allowed (and
``routing``, through the directory, whom to offer it to), writes the change with its
ReferralEvent and outbox rows, and commits: one transaction each. Refusals are ``ServiceError``s.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from flask import current_app
from sqlalchemy import Select, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload, undefer
from sqlalchemy.orm.exc import StaleDataError

from . import (
    appointments,
    counters,
    duplicates,
    handoff,
    notifications,
    person_messages,
    routing,
    webhooks,
)
from .access import Actor, acting_organisation_id, sees_person_of
from .directory import Directory, need_of
from .erasure import erase, has_open_need, leave_no_trace, open_too_long, unerased
from .extensions import db, locked
from .handoff import ACTIVE_STATES, OPEN_TOO_LONG, Action, Party, State
from .models import (
    ApiToken,
    City,
    EventText,
    FromPerson,
    FromPersonKind,
    HelpRequest,
    NameKey,
    Note,
    Organisation,
    Referral,
    ReferralEvent,
    User,
    Voivodeship,
    utcnow,
)
from .passwords import looks_like_token, new_token, token_hash
from .personal_data import name_keys
from .service_errors import ServiceError, get_or_refuse

# Short references for phone conversations: no 0/O, 1/I/L, 2/Z, 5/S, 8/B look-alikes.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_CHARS = 6

# Who acts on a referral: a staff member, or an organisation's system through its API token (the
# organisation itself, with its party rules; no person stands behind it).
Acting = User | ApiToken


def _account_and_token(actor: Acting | None) -> tuple[int | None, int | None]:
    """What an event, a note or a request records of who did it: (staff account, API token)."""
    if isinstance(actor, ApiToken):
        return None, actor.id
    return (actor.id if actor else None), None


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
    # The public form's, or an API call's Idempotency-Key's: made once (``refuse_if_sent``).
    submission_hash: str | None = None


@dataclass
class SubmittedRequest:
    request: HelpRequest
    status_token: str  # shown once to the person; only its hash is stored
    reference: str = ""  # the request's, kept: reading it after the commit would ask again
    link_sent_by: tuple[str, ...] = ()  # the channels the status link went by, if any


def _place(data: IntakeData) -> dict:
    """Where the person is, as a request's columns: a city, or the voivodeship itself (as an
    object: a mail written before the flush names it). UNKNOWN_PLACE for neither."""
    if data.city_slug:
        city = db.session.scalar(select(City).where(City.slug == data.city_slug))
        if city is None:
            raise ServiceError(ServiceError.UNKNOWN_PLACE, data.city_slug)
        return {"city": city, "voivodeship_teryt": city.voivodeship_teryt}
    if region := db.session.get(Voivodeship, data.voivodeship) if data.voivodeship else None:
        return {"voivodeship": region, "voivodeship_teryt": region.teryt}
    raise ServiceError(ServiceError.UNKNOWN_PLACE)


def submit_request(
    data: IntakeData, submitted_by: Acting | None = None, now: datetime | None = None
) -> SubmittedRequest:
    """Store a request, make one referral per need, and route each at once. ``submitted_by``: the
    caseworker, or the token of their organisation's system, that referred the person."""
    now = now or utcnow()
    place = _place(data)
    if not data.needs:
        raise ServiceError(ServiceError.NO_NEEDS)
    token = new_token()
    reference = _new_reference()
    earlier = _earlier_open_request(data)
    request = HelpRequest(
        reference=reference,
        status_token_hash=token_hash(token),
        created_at=now,
        language=data.language,
        **place,
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
        submitted_by=submitted_by if isinstance(submitted_by, User) else None,
        submitted_by_token_id=_account_and_token(submitted_by)[1],
        referring_organisation_id=acting_organisation_id(submitted_by) if submitted_by else None,
        possible_duplicate_of=earlier,
        submission_hash=data.submission_hash,
    )
    referrals = [
        Referral(
            request=request,
            specialism=specialism,
            state=State.NEW,
            urgent=data.urgent,
            referring_organisation_id=request.referring_organisation_id,
            created_at=now,
            events=[],  # a new referral was offered to no one: routing need not look
            appointment_steps=[],  # nor has steps of an appointment: the confirmation knows
        )
        for specialism in dict.fromkeys(data.needs)
    ]
    db.session.add_all([request, *referrals])
    # The only moment the plain token exists.
    link_sent_by = person_messages.send_status_link(request, token)
    directory = Directory.load(now)
    # Everything is written at commit, in one flush (organisations in key order), the referrals
    # already routed; their offer mails follow, once the referrals have their ids.
    with db.session.no_autoflush:
        for referral in referrals:
            _reroute(referral, Step(Action.ROUTE, _SYSTEM), directory, now)
    try:
        with _kept_loaded():
            db.session.commit()
    except IntegrityError:
        # The same form or call sent twice at once: the other one was written first.
        db.session.rollback()
        refuse_if_sent(data.submission_hash)
        raise
    return SubmittedRequest(request, token, reference, link_sent_by)


@contextmanager
def _kept_loaded() -> Iterator[None]:
    """Commit without expiring what the session holds: the confirmation shows the request and
    its referrals just written, and reading them back would cost a query for each."""
    session = db.session()
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = expiring


def _earlier_open_request(data: IntakeData) -> str | None:
    """The reference of the newest request not erased, with a need still open, given the same
    phone number or e-mail, or a name of two words or more with the same words in any spelling
    and order: staff and the coordinator see "possible duplicate of ABC-123". Matched on the keyed
    hashes (``HelpRequest.with_contact``, ``NameKey``), nothing decrypted."""
    same: list[Select] = [
        select(HelpRequest.id).where(HelpRequest.with_contact(phone=data.phone, email=data.email))
    ]
    if len(words := name_keys(data.name)) >= 2:
        same.append(NameKey.requests_with_all(words))
    # The candidates first, each set by its index, then the newest of them: with the two as one
    # OR, PostgreSQL walked the requests newest first looking for a match, and a person never
    # seen before (most of them) cost a walk through all of them: 2.4 s at a million.
    return db.session.scalar(
        select(HelpRequest.reference)
        .where(
            HelpRequest.id.in_(union(*same)),
            HelpRequest.erased_at.is_(None),
            has_open_need(),
        )
        .order_by(HelpRequest.created_at.desc(), HelpRequest.id.desc())
        .limit(1)
    )


def duplicate_seen_by(user: Actor, request: HelpRequest) -> str | None:
    """The reference of the earlier request this one may duplicate, for whoever may see that
    request's person too (its holder or sender, the coordinator): to anyone else it would tell
    that a person of this name or number asked for help elsewhere."""
    earlier = request.possible_duplicate_of
    if earlier is None or user.is_coordinator:
        return earlier
    seen = (
        select(Referral.id)
        .join(HelpRequest, HelpRequest.id == Referral.request_id)
        .where(HelpRequest.reference == earlier, sees_person_of(user))
    )
    return earlier if db.session.scalar(seen.limit(1)) is not None else None


@dataclass
class FromThePublicForm:
    """What a public form made: the new request (None when every need joined an open one), the
    open referrals its words joined, and whether a fresh link went to the contact given then
    (not within FRESH_LINK_EVERY_MINUTES of the last, nor where no message can go)."""

    submitted: SubmittedRequest | None
    joined: list[Referral]
    relinked: bool = False


def submit_from_person(data: IntakeData, now: datetime | None = None) -> FromThePublicForm:
    """The public form: a need asked again from the same phone number or e-mail while it is still
    open with them joins that referral (its holder reads the new words, "asked again") instead of
    making a second offer (``duplicates``), and a fresh status link goes to the contact given in
    the earlier request; the other needs make a new request. The same form sent again (a reload,
    a double tap) is refused with ALREADY_SENT and the reference of the request it made."""
    now = now or utcnow()
    refuse_if_sent(data.submission_hash)
    open_needs = _open_needs(data)
    if open_needs:
        # The requests it joins, locked: the same form tapped twice waits here for the first,
        # which is then sent; an erasure under way takes its needs out of what is open.
        locked(HelpRequest, *{need.request_id for need in open_needs})
        # The referrals it joins, after their requests (as a withdrawal): a decline meanwhile
        # must not leave the new words with the organisation that let the need go.
        referrals = locked(Referral, *(need.referral_id for need in open_needs))
        refuse_if_sent(data.submission_hash)
        # Read again under the locks; only what was locked is joined (a request made meanwhile
        # is not: its need goes to a new one).
        still_open = {r.id for r in referrals if r.state in handoff.OPEN_STATES}
        open_needs = [need for need in open_needs if need.referral_id in still_open]
    split = duplicates.split_needs(data.needs, open_needs)
    place = _place(data) if split.joined else {}
    joined = [_ask_again(need.referral_id, data, place, now) for need in split.joined.values()]
    relinked = False
    for request_id in split.earlier_requests:
        # A fresh link to the contact given then; nothing about it is shown on this screen.
        earlier = db.session.get_one(HelpRequest, request_id)
        relinked |= person_messages.send_fresh_link(earlier, now=now) > 0
    if not split.new:
        db.session.commit()
        return FromThePublicForm(None, joined, relinked)
    submitted = submit_request(replace(data, needs=split.new), now=now)
    return FromThePublicForm(submitted, joined, relinked)


def refuse_if_sent(submission_hash: str | None) -> None:
    """ALREADY_SENT with the reference of the request the form (or API call) made, or none when
    its every need joined an open one (nothing of that request is shown). Before a request is
    made with a ``submission_hash``; ``submit_request`` refuses one sent twice at once."""
    if submission_hash is None:
        return
    sent = select(HelpRequest.reference).where(HelpRequest.submission_hash == submission_hash)
    if (reference := db.session.scalar(sent)) is not None:
        raise ServiceError(ServiceError.ALREADY_SENT, reference)
    joined = select(FromPerson.id).where(FromPerson.submission_hash == submission_hash)
    if db.session.scalar(joined.limit(1)) is not None:
        raise ServiceError(ServiceError.ALREADY_SENT)


def _open_needs(data: IntakeData) -> list[duplicates.OpenNeed]:
    rows = db.session.execute(
        select(Referral.specialism, Referral.id, Referral.request_id)
        .join(HelpRequest, HelpRequest.id == Referral.request_id)
        .where(
            HelpRequest.with_contact(phone=data.phone, email=data.email),
            HelpRequest.erased_at.is_(None),
            Referral.state.in_(handoff.OPEN_STATES),
        )
    )
    return [duplicates.OpenNeed(*row) for row in rows]


def _ask_again(referral_id: int, data: IntakeData, place: dict, now: datetime) -> Referral:
    """The new request's words join the open referral, with what else it changed (the place,
    ``_place``'s, an urgency); whoever holds it is told."""
    referral = db.session.get_one(Referral, referral_id)
    city_id = place["city"].id if "city" in place else None
    earlier = referral.request
    moved = (city_id, place["voivodeship_teryt"]) != (earlier.city_id, earlier.voivodeship_teryt)
    db.session.add(
        FromPerson(
            request_id=referral.request_id,
            referral=referral,
            organisation_id=referral.organisation_id,
            kind=FromPersonKind.ASKED_AGAIN,
            body=data.description or None,
            created_at=now,
            submission_hash=data.submission_hash,
            city_id=city_id if moved else None,
            voivodeship_teryt=place["voivodeship_teryt"] if moved else None,
            urgent=True if data.urgent and not referral.urgent else None,
        )
    )
    if referral.organisation_id is not None:
        notifications.person_wrote(referral)
    return referral


def _new_reference() -> str:
    while True:
        raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_CHARS))
        reference = f"{raw[:3]}-{raw[3:]}"
        if not db.session.scalar(select(HelpRequest.id).where(HelpRequest.reference == reference)):
            return reference


def normalise_reference(text: str) -> str:
    """People read references over the phone: accept "kx794m", "KX7 94M" or "KX7-94M"."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(raw) == REFERENCE_CHARS:
        return f"{raw[:3]}-{raw[3:]}"
    return text.strip().upper()


def find_request_by_reference(text: str) -> HelpRequest | None:
    return db.session.scalar(
        select(HelpRequest).where(HelpRequest.reference == normalise_reference(text))
    )


def find_request_by_token(token: str) -> HelpRequest | None:
    if not looks_like_token(token):
        return None
    return db.session.scalar(
        select(HelpRequest)
        .where(HelpRequest.status_token_hash == token_hash(token))
        .options(selectinload(HelpRequest.referrals).selectinload(Referral.organisation))
    )


# --- withdrawal -------------------------------------------------------------------


def withdraw_request(
    request: HelpRequest, now: datetime | None = None, by: User | None = None
) -> None:
    """The person withdraws every open referral and their personal data is erased at once,
    status link included: through the status link, or ``by`` a coordinator when the person asks
    in person or by letter."""
    if request.erased_at is not None:
        raise ServiceError(ServiceError.ALREADY_ERASED)
    if by is not None and not by.is_coordinator:
        raise ServiceError(ServiceError.NOT_YOURS)
    party = Party.COORDINATOR if by else Party.PERSON
    step = Step(Action.WITHDRAW, frozenset({party}), actor=by)
    _withdraw_and_erase(request, step, now or utcnow())
    leave_no_trace()


def withdraw_requests_open_too_long(now: datetime | None = None) -> int:
    """The system withdraws the open needs of requests sent more than OPEN_RETENTION_DAYS ago and
    erases them: a request nobody closed does not keep a person's data for ever. Each withdrawal
    is stamped when it is written (``now`` given: at it), not when the run began: the report
    tallies count up to ten minutes ago, and a long run's later steps, stamped earlier, would fall
    behind what they counted."""
    step = Step(Action.WITHDRAW, _SYSTEM, reason_code=OPEN_TOO_LONG)
    erased = 0
    # By id, one request loaded at a time: holding them all, every commit expired every one of
    # them (a backlog of 30,000 took about a tenth of a second a request, and growing).
    for request_id in db.session.scalars(open_too_long(now or utcnow())).all():
        try:
            _withdraw_and_erase(db.session.get_one(HelpRequest, request_id), step, now or utcnow())
        except ServiceError:
            continue
        erased += 1
    return erased


def _withdraw_and_erase(request: HelpRequest, step: Step, now: datetime) -> None:
    """Withdraw every open referral of the request and erase it, in one transaction. A step on
    one of its referrals under way finishes first: this one then withdraws from its new state."""
    unerased(request)  # a step beside it under way finishes first
    # Its referrals before the organisations' rows they count in, as the sweep locks them:
    # taken the other way round, each would wait for the other.
    locked(Referral, *(referral.id for referral in request.referrals))
    for referral in request.referrals:
        if referral.state in handoff.OPEN_STATES:
            _transition(referral, _rule(referral, step), step, now)
    erase(request, now)
    db.session.commit()


# --- the one place a referral changes state ---------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Who takes which action on a referral, and why: what its event records."""

    action: Action
    parties: frozenset[Party]
    actor: Acting | None = None
    reason_code: str | None = None
    text: str | None = None


_SYSTEM = frozenset({Party.SYSTEM})


def _rule(referral: Referral, step: Step) -> handoff.Rule:
    """The state table's one check of a step (TransitionRefused when it is not allowed)."""
    return handoff.rule_for(State(referral.state), step.action, step.parties)


def _transition(
    referral: Referral,
    rule: handoff.Rule,
    step: Step,
    now: datetime,
    *,
    offer_to: Organisation | None = None,
    candidate: routing.Candidate | None = None,
) -> None:
    """Move a referral along ``rule`` (already checked) and write the event.

    ``offer_to`` is whom the referral is offered to next (``candidate`` says why, when routing
    chose it); a re-routing move without one leaves the referral unmatched."""
    before = State(referral.state)
    after = rule.lands_on(offer_to is not None)
    actor = step.actor
    # The organisation whose step it is: the one it was offered to or held by, else the actor's.
    step_organisation_id = referral.organisation_id or (
        acting_organisation_id(actor) if actor else None
    )
    before_holder = referral.organisation_id
    referral.state = after
    referral.updated_at = now
    if after == State.OFFERED and offer_to is not None:
        _offer(referral, offer_to, candidate, now)
    elif after in (State.UNMATCHED, State.WITHDRAWN):
        referral.organisation_id = None
        referral.offered_at = referral.deadline_at = None
        if after == State.UNMATCHED and before != State.UNMATCHED and referral.urgent:
            notifications.urgent_unmatched(referral)
    if after == State.UNMATCHED and before != State.UNMATCHED:
        notifications.unmatched(referral, tried=before != State.NEW)
    counters.holder_changed(before, before_holder, after, referral.organisation_id)
    if after in (State.CLOSED, State.WITHDRAWN):
        referral.closed_at = now
    account_id, token_id = _account_and_token(actor)
    cancelled = None
    if before in (State.ACCEPTED, State.IN_PROGRESS) and (
        referral.organisation_id != before_holder  # the holder's appointment is no one else's
        or (after == State.CLOSED and appointments.still_to_come(referral, now))
    ):
        cancelled = appointments.cancel(referral, now, account_id)  # its step stays
    event = ReferralEvent(
        referral=referral,
        at=now,
        action=step.action,
        party=min(rule.parties & step.parties),
        actor_id=account_id,
        api_token_id=token_id,
        # A referral is created and routed in one transaction: its log starts from nothing,
        # so replaying it (handoff.replay) needs no separate creation event.
        from_state=None if before == State.NEW else before,
        to_state=after,
        organisation_id=step_organisation_id,
        offered_to_id=offer_to.id if after == State.OFFERED and offer_to else None,
        reason_code=step.reason_code,
        words=EventText(referral=referral, body=step.text) if step.text else None,
    )
    db.session.add(event)
    webhooks.stepped(referral, event)
    person_messages.stepped(referral, before, after, step.reason_code, cancelled)


def _reroute(
    referral: Referral,
    step: Step,
    directory: Directory,
    now: datetime,
    rule: handoff.Rule | None = None,
) -> None:
    """A move that offers the referral to the best candidate not tried yet (route, decline,
    expire, hand back), or leaves it unmatched when there is none. ``rule``: the step's row of
    the state table, when the caller checked it already."""
    rule = rule or _rule(referral, step)
    best = directory.best(need_of(referral), directory.tried(referral))
    offer_to = directory.row(best) if best else None
    _transition(referral, rule, step, now, offer_to=offer_to, candidate=best)


def _offer(
    referral: Referral,
    org: Organisation,
    candidate: routing.Candidate | None,
    now: datetime,
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
    org.last_offered_at = now
    notifications.offer_made(referral, org)


# --- actions by people ------------------------------------------------------------------------


def parties_of(user: Actor | None, referral: Referral) -> set[Party]:
    """Who ``user`` is for this referral (None: the person, through the status link); an API
    token is its organisation, so it is what that organisation's staff would be."""
    if user is None:
        return {Party.PERSON}
    parties = set()
    if user.is_coordinator:
        parties.add(Party.COORDINATOR)
    if (organisation_id := acting_organisation_id(user)) is not None:
        if organisation_id == referral.organisation_id and referral.state in ACTIVE_STATES:
            parties.add(Party.HOLDER)
        if organisation_id == referral.referring_organisation_id:
            parties.add(Party.REFERRER)
    return parties


def allowed_actions(user: Actor, referral: Referral) -> set[Action]:
    return handoff.allowed_actions(State(referral.state), frozenset(parties_of(user, referral)))


def _check_reason(
    action: Action, reason_code: str | None, text: str | None, outcome: str | None
) -> None:
    """Declines and hand-backs say why (``other`` in words), a close gives its outcome, and a
    coordinator routing by hand gives a reason: the event log must explain every step."""
    if action in (Action.DECLINE, Action.HAND_BACK):
        if reason_code not in set(handoff.DeclineReason):
            raise ServiceError(ServiceError.REASON_REQUIRED)
        if reason_code == handoff.DeclineReason.OTHER and not (text or "").strip():
            raise ServiceError(ServiceError.EXPLANATION_REQUIRED)
    elif action == Action.CLOSE and outcome not in set(handoff.Outcome):
        raise ServiceError(ServiceError.OUTCOME_REQUIRED)
    elif action == Action.ROUTE_BY_HAND and not (reason_code or (text or "").strip()):
        raise ServiceError(ServiceError.REASON_REQUIRED)


def act(
    referral_id: int,
    user: Acting | None,
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
    """Do ``action`` on a referral as ``user`` (a staff member or an API token): accept, decline,
    start, hand back, close, withdraw, or (coordinator) route by hand. Raises ServiceError when
    refused or lost. Visibility is the caller's check (``access.visible_referrals``)."""
    now = now or utcnow()
    # Locked before the step writes the organisations' rows (their open load), as the sweep
    # locks the offers it expires before it writes them: else each would wait for the other.
    referral = get_or_refuse(Referral, referral_id, lock=True)
    step = Step(action, frozenset(parties_of(user, referral)), user, reason_code or outcome, text)
    try:
        if version is not None and referral.version != version:  # the page showed another
            raise ServiceError(ServiceError.STALE_VERSION)
        rule = _rule(referral, step)
        _check_reason(action, reason_code, text, outcome)
        if action == Action.ROUTE_BY_HAND:
            target = db.session.get(Organisation, organisation_id) if organisation_id else None
            if target is None:
                raise ServiceError(ServiceError.NOT_FOUND, "organisation")
            _transition(referral, rule, step, now, offer_to=target)
        elif rule.reroutes:
            _reroute(referral, step, Directory.load(now), now, rule)
        else:
            _transition(referral, rule, step, now)
            _after(referral, action, user, now, assignee_id=assignee_id, outcome=outcome)
        db.session.commit()
    except handoff.TransitionRefused as error:
        db.session.rollback()
        raise ServiceError(error.code) from None
    except ServiceError:
        db.session.rollback()
        raise
    return referral


def _after(
    referral: Referral,
    action: Action,
    user: Acting | None,
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


def _colleague(user: Acting | None, assignee_id: int | None) -> int | None:
    if assignee_id is None:
        return None
    colleague = db.session.get(User, assignee_id)
    if (
        user is None
        or colleague is None
        or colleague.organisation_id != user.organisation_id
        or not colleague.active
    ):
        raise ServiceError(ServiceError.NOT_A_COLLEAGUE)
    return colleague.id


def add_note(referral: Referral, author: Acting, body: str, shared: bool) -> Note:
    """A note by a staff member or an organisation's system; may_add_note is the caller's check,
    ALREADY_ERASED when the person's data was erased since."""
    unerased(referral.request)
    account_id, token_id = _account_and_token(author)
    note = Note(
        referral=referral,
        author_id=account_id,
        api_token_id=token_id,
        organisation_id=acting_organisation_id(author),
        shared=shared,
        body=body,
        created_at=utcnow(),
    )
    db.session.add(note)
    webhooks.note_added(note)
    db.session.commit()
    return note


# --- the sweep --------------------------------------------------------------------------------


def expire_overdue(now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire offers past their deadline and re-route them. Safe to run twice at once: rows
    another sweep holds are skipped (PostgreSQL), and a lost race on the version is skipped."""
    now = now or utcnow()
    directory = Directory.load(now)
    expiry = Step(Action.EXPIRE, _SYSTEM, reason_code="deadline_passed")
    expired = 0
    while True:
        query = (
            select(Referral)
            .where(Referral.state == State.OFFERED, Referral.deadline_at < now)
            .order_by(Referral.deadline_at)
            .limit(batch_size)
            .options(
                selectinload(Referral.events),
                selectinload(Referral.request).options(
                    selectinload(HelpRequest.city),
                    # The person hears where their request went (person_messages.stepped).
                    undefer(HelpRequest.phone),
                    undefer(HelpRequest.email),
                ),
            )
        )
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Referral)
        referrals = db.session.scalars(query).all()
        if not referrals:
            break
        try:
            # One flush, at commit: the ORM then updates the organisations' rows in key order,
            # so two sweeps never wait on each other crosswise.
            with db.session.no_autoflush:
                for referral in referrals:
                    _reroute(referral, expiry, directory, now)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            directory = Directory.load(now)
            continue
        expired += len(referrals)
    return expired


# --- the person, through their status link (issue 13.4) ---------------------------------------


# How the person can be reached: what they may change through the status link.
CONTACT_FIELDS = ("phone", "email", "contact_channel", "safe_to_message")


@dataclass(frozen=True)
class Contact:
    """Validated like the intake (``public.forms.ContactFields``)."""

    phone: str | None
    email: str | None
    contact_channel: str
    safe_to_message: bool


def change_contact(
    request: HelpRequest, contact: Contact, now: datetime | None = None
) -> list[str]:
    """The person changes how to be reached: the matching hashes follow (``HelpRequest``), the
    messages not sent yet follow (``person_messages.forget_unsent``), and the change is recorded
    by field name, without values, for the organisations and the audit. Returns the fields that
    changed."""
    unerased(request)
    changed = [name for name in CONTACT_FIELDS if getattr(request, name) != getattr(contact, name)]
    if changed:
        for name in changed:
            setattr(request, name, getattr(contact, name))
        person_messages.forget_unsent(
            request, no_longer_safe="safe_to_message" in changed and not contact.safe_to_message
        )
        db.session.add(
            FromPerson(
                request_id=request.id,
                kind=FromPersonKind.CONTACT_CHANGED,
                changed=changed,
                created_at=now or utcnow(),
            )
        )
        db.session.commit()
    return changed


def holding(request: HelpRequest) -> list[Referral]:
    """The needs an organisation holds (offered, accepted, in progress): the person may write to
    it about them."""
    return [r for r in request.referrals if r.state in ACTIVE_STATES and r.organisation_id]


def write_to_holder(
    request: HelpRequest,
    referral_id: int,
    body: str,
    now: datetime | None = None,
    submission_hash: str | None = None,
) -> FromPerson:
    """The person's message for the organisation holding one of their needs; it is notified.
    The same form sent again (``submission_hash``: a reload of the answer) is the message it
    wrote, not a second one nor a second mail (tapped twice at once, the second waits for the
    first at the lock). ALREADY_ERASED when the person's data was erased since."""
    unerased(request)
    referral = next((r for r in holding(request) if r.id == referral_id), None)
    if referral is None:
        raise ServiceError(ServiceError.NOT_FOUND, "referral")
    if submission_hash is not None:
        sent = select(FromPerson).where(
            FromPerson.request_id == request.id, FromPerson.submission_hash == submission_hash
        )
        if (written := db.session.scalar(sent.limit(1))) is not None:
            return written
    message = FromPerson(
        request_id=request.id,
        referral=referral,
        organisation_id=referral.organisation_id,
        kind=FromPersonKind.MESSAGE,
        body=body,
        created_at=now or utcnow(),
        submission_hash=submission_hash,
    )
    db.session.add(message)
    notifications.person_wrote(referral)
    db.session.commit()
    return message
