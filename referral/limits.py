"""Rate limits that hold across every web process and machine.

The counts live in Redis (``REDIS_URL``) whenever more than one process serves the app: a count
kept in each process's memory lets each of four workers take the whole limit. The app refuses to
start such a production configuration. When Redis goes away, Flask-Limiter logs a warning and
counts in memory until it answers again: intake keeps working, with limits per process.
"""

import os

from flask import Flask


class SharedLimitsRequired(RuntimeError):
    """Several workers would each count the limits in their own memory."""


def workers() -> int:
    """How many worker processes serve the app on this machine: gunicorn.conf.py exports its
    worker count as ``WEB_CONCURRENCY`` (gunicorn's own variable for it)."""
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


def check_store(app: Flask) -> None:
    """Refuse a production app served by several workers whose limits would be kept in memory."""
    config = app.config
    in_memory = str(config.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory://")
    production = not (app.debug or app.testing)
    if production and in_memory and config.get("RATELIMIT_ENABLED", True) and workers() > 1:
        raise SharedLimitsRequired(
            f"{workers()} workers would each keep their own rate-limit counts: set REDIS_URL "
            "(or RATELIMIT_STORAGE_URI) to a store they share, or run one worker."
        )
