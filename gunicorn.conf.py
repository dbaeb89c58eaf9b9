"""gunicorn settings: ``gunicorn -c gunicorn.conf.py 'referral:create_app()'``.

The access log goes to standard output with status and password tokens redacted
(``referral.log_redaction``): a log line shows ``/uk/status/…``, never the token.
"""

from gunicorn.glogging import Logger

from referral.log_redaction import redact

accesslog = "-"


class RedactingLogger(Logger):
    """gunicorn's logger whose access-log fields (request line, path, query, referrer, headers)
    have tokens redacted."""

    def atoms(self, resp, req, environ, request_time):
        fields = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}


logger_class = RedactingLogger
