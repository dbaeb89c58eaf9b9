"""Counts kept in the same transaction as the step that changes them, so that reading them costs
one row instead of a count over every referral: each organisation's open load (routing)."""

from __future__ import annotations

from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.orm import Session

from .extensions import db
from .handoff import ACTIVE_STATES, State
from .models import Organisation, Referral


def holder_changed(
    before: State, before_holder: int | None, after: State, after_holder: int | None
) -> None:
    """A step moved a referral from (state, holder) to (state, holder): the holder it leaves has
    one active referral less, the one it reaches one more (nothing when both are the same)."""
    leaving = before_holder if before in ACTIVE_STATES else None
    reaching = after_holder if after in ACTIVE_STATES else None
    if leaving == reaching:
        return
    with db.session.no_autoflush:  # the step's rows are written together, at commit
        for organisation_id, change in ((leaving, -1), (reaching, +1)):
            if organisation_id is None:
                continue
            organisation = db.session.get(Organisation, organisation_id)
            if organisation is not None:
                # In memory at once (routing reads it for the next need of a sweep); in the
                # database as an increment, below.
                organisation.open_load += change


@event.listens_for(Session, "before_flush")
def _open_load_as_increment(session, flush_context, instances) -> None:
    """Write a changed open load as ``open_load + change``, not as the number this session read:
    two transactions offering to one organisation at once then both count. The ORM writes the
    rows in key order, so two sweeps never wait on each other's rows crosswise (no deadlock)."""
    for organisation in session.dirty:
        if not isinstance(organisation, Organisation):
            continue
        history = inspect(organisation).attrs.open_load.history
        if history.added and history.deleted:
            change = history.added[0] - history.deleted[0]
            organisation.open_load = Organisation.open_load + change


def recount_open_load() -> None:
    """Count every organisation's open load afresh: after referrals were written in bulk, not
    through the lifecycle (the benchmarks' data)."""
    active = (
        select(func.count())
        .where(Referral.organisation_id == Organisation.id, Referral.state.in_(ACTIVE_STATES))
        .scalar_subquery()
    )
    db.session.execute(
        update(Organisation).values(open_load=active).execution_options(synchronize_session=False)
    )
