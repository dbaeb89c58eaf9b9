"""The stack's ceiling: Flask and Flask-SQLAlchemy with nothing of Referral's, served by the same
gunicorn settings. ``POST /intake`` stores one row with the columns of Referral's ``request``
table from a form; ``GET /page/<size>`` answers a page of ``size`` bytes, built once.

Run by bench_http.py: ``gunicorn -c gunicorn.conf.py --chdir bench bare_app:app`` with
``BENCH_DATABASE_URL`` set.
"""

import os
import secrets
from datetime import UTC, datetime

from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


class BareRequest(db.Model):  # type: ignore[name-defined]
    """Referral's request table, column for column, without its keys to other tables."""

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(7), unique=True)
    status_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(2))
    city_id: Mapped[int | None] = mapped_column(Integer)
    voivodeship_teryt: Mapped[str] = mapped_column(String(2))
    urgent: Mapped[bool] = mapped_column(Boolean)
    interpreter_needed: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    contact_channel: Mapped[str | None] = mapped_column(String(20))
    safe_to_message: Mapped[bool] = mapped_column(Boolean)
    languages: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    residence_status: Mapped[str | None] = mapped_column(String(40))
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consent_language: Mapped[str] = mapped_column(String(2))
    submitted_by_id: Mapped[int | None] = mapped_column(Integer)
    referring_organisation_id: Mapped[int | None] = mapped_column(Integer)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_DATABASE_URL"]
    db.init_app(app)
    pages: dict[int, bytes] = {}

    @app.post("/intake")
    def intake():
        form = request.form
        now = datetime.now(UTC)
        row = BareRequest(
            reference=secrets.token_urlsafe(6)[:7],
            status_token_hash=secrets.token_hex(32),
            created_at=now,
            language="uk",
            city_id=None,
            voivodeship_teryt="14",
            urgent=form.get("urgency") == "urgent",
            interpreter_needed=False,
            name=form.get("name"),
            phone=form.get("phone"),
            email=form.get("email"),
            contact_channel=form.get("contact_channel"),
            safe_to_message=False,
            languages=form.getlist("languages"),
            description=form.get("description"),
            residence_status=None,
            consent_version="bench",
            consent_at=now,
            consent_language="uk",
        )
        db.session.add(row)
        db.session.commit()
        return f"<!doctype html><title>Received</title><p>Reference {row.reference}</p>"

    @app.get("/page/<int:size>")
    def page(size: int):
        if size not in pages:
            pages[size] = b"<!doctype html><title>Bare</title><p>" + b"x" * max(0, size - 38)
        return Response(pages[size], mimetype="text/html")

    return app


app = create_app()
