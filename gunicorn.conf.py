"""gunicorn settings: ``gunicorn -c gunicorn.conf.py 'referral:create_app()'`` (docs/deploy.md).

Workers from the cores, timeouts, and the access log on standard output with status and password
tokens and query strings redacted (``referral.log_redaction``): a log line shows ``/uk/status/…``
and ``/staff/?…``, never the token nor what was searched.
Each setting can be changed on the command line (``-w 4``) or through gunicorn's environment
variables (``WEB_CONCURRENCY``, ``GUNICORN_CMD_ARGS``).
"""

import logging
import multiprocessing
import os

from gunicorn.glogging import Logger

from referral.log_redaction import redact

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Sync workers: each handles one request at a time, so one per core and one more per core to
# cover the time a request waits for the database. nginx in front buffers slow clients.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 20  # on SIGTERM, requests in flight get this long to finish
keepalive = 5  # seconds an idle keep-alive connection from nginx stays open
# Replace each worker after a while (and not all at once): memory never creeps up.
max_requests = 5000
max_requests_jitter = 500

# systemd's signals manage the server: no control socket (gunicorn 25.1 and later put one in the
# home directory, which the unit keeps read-only).
control_socket_disable = True

accesslog = "-"
# The default format plus the time taken (%(M)s, milliseconds).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


class RedactingLogger(Logger):
    """gunicorn's logger whose access-log fields (request line, path, query, referrer, headers)
    have tokens and query strings redacted (``referral.log_redaction``)."""

    def atoms(self, resp, req, environ, request_time):
        fields = super().atoms(resp, req, environ, request_time)
        redacted = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        if redacted.get("q"):  # the query string alone, without its "?"
            redacted["q"] = "…"
        return redacted


logger_class = RedactingLogger


class ToErrorLog(logging.Handler):
    """Hands the app's log records (``referral.*``, flask-limiter's "falling back to in-memory
    storage") to gunicorn's error log, which has them in its own place and format, and follows
    its reopening (USR1) and reloads (HUP). Without it they went nowhere."""

    def __init__(self, error_log: logging.Logger) -> None:
        super().__init__()
        self.error_log = error_log

    def emit(self, record: logging.LogRecord) -> None:
        self.error_log.handle(record)


def on_starting(server):
    """Tell the app how many workers share this machine's memory: with more than one, a rate
    limit kept in memory would count per worker, and the app refuses to start (referral.limits).
    And send the app's log to the error log, at gunicorn's ``--log-level``."""
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)
    logging.getLogger().addHandler(ToErrorLog(server.log.error_log))
    logging.getLogger().setLevel(server.log.loglevel)
