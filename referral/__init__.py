"""Referral: routes migrants' requests for help to the consortium member that covers them."""

import os

from flask import Flask

from .config import Config
from .extensions import babel, csrf, db, login_manager, migrate


def create_app(config: type | dict | None = None) -> Flask:
    """The app factory: ``config`` is a settings class or a dict of overrides.

    Templates, catalogues and migrations are read from inside the package, so an installed wheel
    runs from any directory."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)

    if app.config.get("PROXY_COUNT"):
        # Behind a reverse proxy: take the client address from X-Forwarded-For (rate limits).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way
            app.wsgi_app, x_for=app.config["PROXY_COUNT"], x_proto=1
        )

    from . import (
        i18n,
        limits,
        log_redaction,
        personal_data,
        security_headers,
        session_security,
        sms,
        urls,
    )

    limits.check_store(app)
    sms.check_settings(app)

    session_security.init_app(app)
    personal_data.init_app(app)  # refuses to start without keys for personal data
    log_redaction.init_app()
    app.url_map.converters["lang"] = i18n.LanguageConverter
    app.url_map.converters["int"] = urls.IdConverter
    app.jinja_env.globals["query_args"] = urls.query_args

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    csrf.init_app(app)
    limits.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    login_manager.init_app(app)
    i18n.init_app(app)

    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .public import bp as public_bp
    from .staff import bp as staff_bp

    for blueprint in (public_bp, auth_bp, staff_bp, admin_bp, api_bp):
        app.register_blueprint(blueprint)

    from . import cli, errors, health, person_messages

    cli.init_app(app)
    person_messages.init_app(app)
    errors.init_app(app)
    security_headers.init_app(app)
    health.init_app(app)

    return app
