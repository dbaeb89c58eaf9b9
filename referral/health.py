"""``/healthz`` for load balancers and monitoring: JSON, 503 when the database does not answer.

It reports the database, the rate-limit store, the mail outbox's backlog with the age of its
oldest unsent message, how many messages it gave up on (``outbox.settle``: refused for good, or
not delivered for five days), and when the sweep last finished (``flask worker`` or
``flask sweep``).
"""

import logging

from flask import Flask, current_app
from sqlalchemy import text

from . import outbox
from .extensions import db, limiter
from .models import utcnow
from .worker import last_finished

log = logging.getLogger(__name__)


def _limit_store() -> str:
    """ "ok", "unreachable" (limits are then counted in each process's memory), or "memory"."""
    if str(current_app.config["RATELIMIT_STORAGE_URI"]).startswith("memory://"):
        return "memory"
    try:
        return "ok" if limiter.storage.check() else "unreachable"
    except Exception:  # a store that cannot even be asked is unreachable
        return "unreachable"


def init_app(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        report: dict = {"status": "ok", "database": "ok", "limit_store": _limit_store()}
        try:
            db.session.execute(text("SELECT 1"))
            waiting = outbox.backlog()
            last_sweep = last_finished("sweep")
        except Exception:  # any failure to reach the database means "not ready"
            log.warning("health check: database unreachable")
            db.session.rollback()
            return {**report, "status": "unavailable", "database": "unreachable"}, 503
        now = utcnow()
        waited = waiting.waited(now)
        report["outbox"] = {
            "pending": waiting.pending,
            "oldest_pending_seconds": round(waited.total_seconds()) if waited else None,
            "given_up": waiting.given_up,
        }
        report["last_sweep_at"] = last_sweep.isoformat() if last_sweep else None
        return report
