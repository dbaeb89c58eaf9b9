"""Flask extensions, created unbound and initialised in ``create_app``."""

from typing import TYPE_CHECKING, TypeVar

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints so Alembic migrations are portable between SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
Row = TypeVar("Row", bound=Base)
if TYPE_CHECKING:
    # db.Model is made at run time from Base: type checkers see Base, the models' real ancestor.
    Model = Base
else:
    Model = db.Model


def upsert_into(model):
    """``INSERT`` into ``model`` in this database's dialect, the one that has ``ON CONFLICT``
    (``on_conflict_do_update``, ``on_conflict_do_nothing``): SQLite and PostgreSQL spell it alike,
    through two classes."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def locked(model: type[Row], *ids: int) -> list[Row]:
    """The rows read afresh and locked until the commit, in key order (PostgreSQL ``FOR NO KEY
    UPDATE``; SQLite, the whole database's write lock). A step that checks a row, then writes
    beside it, locks it first: it sees what a step committed meanwhile and waits for one under
    way. Rows that point at it (events, messages) may still be added by others."""
    key = model.id  # type: ignore[attr-defined]
    if db.session.get_bind().dialect.name == "sqlite":
        # No row locks: a write to the rows takes the database's write lock, held to the commit.
        # It changes nothing: the columns stamped on update are set to themselves too.
        unchanged = {column.name: column for column in model.__table__.c if column.onupdate}
        db.session.execute(update(model).where(key.in_(ids)).values(id=key, **unchanged))
    query = select(model).where(key.in_(ids)).order_by(key)
    return list(
        db.session.scalars(
            query.with_for_update(key_share=True).execution_options(populate_existing=True)
        )
    )


migrate = Migrate()
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _reads_outside_the_api() -> bool:
    """Pages that only read, outside the API, have no limit (every limit elsewhere is on a form's
    POST): the limiter need not look for one, which cost a public page a sixth of its time."""
    return request.method in ("GET", "HEAD") and request.blueprint != "api"


@event.listens_for(Engine, "connect")
def _sqlite_settings(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, let readers work while one writer writes (WAL), wait for a
    lock instead of failing at once when two processes write (the sweep, the web app), keep
    a 64 MiB page cache so the reports' scans stay in memory, and overwrite what is deleted with
    zeros, so that erased personal data does not linger in free pages of the file."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA cache_size = -65536")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()
