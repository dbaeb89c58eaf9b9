"""/healthz: JSON for monitoring; 503 without the database."""

from datetime import timedelta

from referral import create_app, worker
from referral.config import TestConfig
from referral.extensions import db
from referral.models import OutboxMessage, utcnow


def test_health_reports_database_limits_outbox_and_last_sweep(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "limit_store": "memory",
        "outbox": {"pending": 0, "oldest_pending_seconds": None, "given_up": 0},
        "last_sweep_at": None,
    }


def test_health_shows_the_outbox_backlog_and_when_the_sweep_last_ran(app, client, directory):
    with app.app_context():
        given_up = OutboxMessage(
            kind="offer",
            to_address="gone@nomada.example",
            subject="s",
            body="b",
            attempts=3,
            created_at=utcnow() - timedelta(days=7),
        )
        db.session.add(given_up)
        db.session.flush()
        given_up.next_attempt_at = None  # a week ago: not the backlog, counted apart
        for minutes in (10, 1):
            db.session.add(
                OutboxMessage(
                    kind="offer",
                    to_address="intake@nomada.example",
                    subject="s",
                    body="b",
                    created_at=utcnow() - timedelta(minutes=minutes),
                )
            )
        db.session.add(
            OutboxMessage(
                kind="offer",
                to_address="a@b.example",
                subject="s",
                body="b",
                sent_at=utcnow(),
                created_at=utcnow() - timedelta(hours=5),
            )
        )
        db.session.commit()
        worker.run_job("sweep")
    report = client.get("/healthz").json
    assert (report["outbox"]["pending"], report["outbox"]["given_up"]) == (2, 1)
    assert 595 <= report["outbox"]["oldest_pending_seconds"] <= 660
    assert report["last_sweep_at"] is not None


class Unreachable(TestConfig):
    SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"connect_timeout": 1}}


def test_health_is_unavailable_without_the_database():
    response = create_app(Unreachable).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["database"] == "unreachable"
