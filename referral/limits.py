"""Rate limits that hold across every web process and machine.

The counts live in Redis (``REDIS_URL``) whenever more than one process serves the app: a count
kept in each process's memory lets each of four workers take the whole limit. The app refuses to
start such a production configuration. When Redis goes away, Flask-Limiter logs a warning and
counts in memory until it answers again: intake keeps working, with limits per process.

Every answer a limit counts carries the limit's ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset``; ``Retry-After`` only a refusal (429) or an outage (503).
"""

import os

from flask import Flask, Response

from .extensions import limiter

# The answers RFC 9110 gives Retry-After a meaning with, besides a redirect (where it would delay
# following it): how long to wait before asking again.
RETRY_AFTER_STATUSES = (429, 503)


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


def init_app(app: Flask) -> None:
    """The limiter, and Retry-After only with a 429 or a 503: Flask-Limiter sends it with every
    answer it counts (until the window's end), and no setting of its own keeps it to a refusal.
    Flask runs the app's ``after_request`` functions last registered first, so this one,
    registered before the limiter's, runs after it."""
    app.after_request(_retry_after_only_to_wait)
    limiter.init_app(app)


def _retry_after_only_to_wait(response: Response) -> Response:
    if response.status_code not in RETRY_AFTER_STATUSES:
        response.headers.pop("Retry-After", None)
    return response
