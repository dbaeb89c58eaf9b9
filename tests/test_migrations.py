"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from referral.extensions import db
from referral.handoff import OPEN_STATES, State


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, db.metadata) == []


def test_the_partial_index_of_open_referrals_holds_the_open_states_and_no_other(app):
    """Migration 0015 writes the index's condition as text: it must still be ``OPEN_STATES``."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            found = "SELECT sql FROM sqlite_master WHERE name = 'ix_referral_open_created'"
        else:
            found = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_referral_open_created'"
        condition = db.session.scalar(text(found)).split("WHERE", 1)[1]
    assert {state for state in State if f"'{state}'" in condition} == OPEN_STATES


def test_0019_names_the_need_of_the_messages_written_before_it_where_it_can(app, staff):
    """A request of one need: its messages were about that need. One of several: which need a
    message told of is not known, and it stays shown to each holder."""
    from flask_migrate import downgrade, upgrade

    from referral import lifecycle
    from referral.handoff import Action
    from referral.models import OutboxMessage

    from .helpers import intake, user

    with app.app_context():
        requests = [
            lifecycle.submit_request(intake(*needs, email="o@example.com", safe_to_message=True))
            for needs in (("legal",), ("legal", "housing"))
        ]
        for submitted in requests:
            referral = submitted.request.referrals[0]
            holder = user(f"staff@{referral.organisation.slug}.example")
            lifecycle.act(referral.id, holder, Action.ACCEPT)
        one, several = (submitted.request.id for submitted in requests)
        only = requests[0].request.referrals[0].id
        db.session.close()  # its reads would hold PostgreSQL's locks against the ALTERs below
        downgrade(revision="0018")
        upgrade()
        db.session.expire_all()
        accepted = dict(
            db.session.execute(
                db.select(OutboxMessage.request_id, OutboxMessage.referral_id).where(
                    OutboxMessage.kind == "person_accepted"
                )
            ).all()
        )
        assert accepted == {one: only, several: None}
        links = db.session.scalars(
            db.select(OutboxMessage.referral_id).where(OutboxMessage.kind == "person_status_link")
        ).all()
        assert links and set(links) == {None}


def test_0022_empties_the_links_sent_before_the_app_emptied_them(app, staff):
    """Sent before the outbox began emptying them, a status link's text stayed readable until the
    request's erasure; one not yet sent keeps it, to be sent."""
    from flask_migrate import downgrade, upgrade

    from referral import lifecycle
    from referral.models import OutboxMessage, utcnow

    from .helpers import intake

    with app.app_context():
        sent, waiting = (
            lifecycle.submit_request(intake("legal", phone=phone)).status_token
            for phone in ("+48 600 100 201", "+48 600 100 202")
        )
        links = db.session.scalars(
            db.select(OutboxMessage)
            .where(OutboxMessage.kind == "person_status_link")
            .order_by(OutboxMessage.id)
        ).all()
        links[0].sent_at = utcnow()  # as the outbox marked it before emptying them
        db.session.commit()
        db.session.close()
        downgrade(revision="0021")
        upgrade()
        db.session.expire_all()
        bodies = db.session.scalars(
            db.select(OutboxMessage.body)
            .where(OutboxMessage.kind == "person_status_link")
            .order_by(OutboxMessage.id)
        ).all()
        assert bodies[0] == "" and sent not in bodies[0]
        assert waiting in bodies[1]
