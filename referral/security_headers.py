"""Security headers on every response, in one place.

- Content-Security-Policy: scripts, styles, images and forms from this site only; no inline
  script; never framed (``frame-ancestors 'none'``, and X-Frame-Options for old browsers).
- ``X-Content-Type-Options: nosniff``.
- Referrer-Policy ``same-origin``; ``no-referrer`` on pages marked ``@holds_secret`` (their URL or
  body carries a token: a link followed from them must not take it along), which are also kept
  out of search engines.
- ``Cache-Control: no-store`` on everything but the public pages, the API and static files: a
  shared computer's cache or back button must not show staff pages or tokens.
- HSTS when the request came over HTTPS.
"""

from functools import wraps

from flask import Flask, current_app, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000"
CACHEABLE_BLUEPRINTS = ("public", "api")


def holds_secret(view):
    """Marks a view whose URL or page holds a secret token (status link, password link...)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)

    wrapper.holds_secret = True  # type: ignore[attr-defined]
    return wrapper


def _holds_secret() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "holds_secret", False)


def _cacheable() -> bool:
    return request.endpoint == "static" or (
        request.blueprint in CACHEABLE_BLUEPRINTS and not _holds_secret()
    )


def init_app(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        if _holds_secret():
            headers["Referrer-Policy"] = "no-referrer"
            headers["X-Robots-Tag"] = "noindex, nofollow"
        else:
            headers["Referrer-Policy"] = "same-origin"
        if not _cacheable():
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            headers["Strict-Transport-Security"] = HSTS
        return response
