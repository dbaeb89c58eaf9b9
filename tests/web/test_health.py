from referral import create_app
from referral.config import TestConfig


def test_health_is_ok_with_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


class Unreachable(TestConfig):
    SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"connect_timeout": 1}}


def test_health_is_unavailable_without_the_database():
    response = create_app(Unreachable).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable"}
