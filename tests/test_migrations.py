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
