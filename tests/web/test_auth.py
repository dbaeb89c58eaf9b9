from datetime import timedelta

from referral import accounts
from referral.extensions import db
from referral.models import SignInEvent, SignInThrottle, utcnow
from referral.seed import DEMO_PASSWORD

from ..helpers import user


def sign_in(client, email, password, **headers):
    return client.post("/login", data={"email": email, "password": password}, headers=headers)


def test_demo_staff_can_sign_in_and_out(client, staff):
    response = sign_in(client, "staff@nomada.example", DEMO_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    client.post("/logout")
    assert client.get("/staff/").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_message(client, staff):
    wrong = sign_in(client, "staff@nomada.example", "nope").get_data(as_text=True)
    unknown = sign_in(client, "nobody@nowhere.example", "nope").get_data(as_text=True)
    message = "The e-mail or password is not correct."
    assert message in wrong and message in unknown


def test_message_is_translated_for_the_browser_language(client, staff):
    page = sign_in(client, "x@y.example", "nope", **{"Accept-Language": "uk"})
    assert 'lang="uk"' in page.get_data(as_text=True)


def test_huge_email_is_refused_with_a_message_not_a_crash(client, staff):
    response = sign_in(client, "a" * 10_000 + "@x.example", "whatever")
    assert response.status_code == 200
    assert "This e-mail is too long." in response.get_data(as_text=True)


def test_a_nul_in_the_e_mail_is_refused_with_a_message_not_a_crash(client, staff):
    """PostgreSQL refuses NUL in text: the forgotten-password form answered 500 with one."""
    response = sign_in(client, "staff@nomada.example\x00", "whatever")
    assert response.status_code == 200
    assert "Some characters could not be read." in response.get_data(as_text=True)
    forgot = client.post("/login/forgot", data={"email": "staff@nomada.example\x00"})
    assert forgot.status_code == 200
    assert "Some characters could not be read." in forgot.get_data(as_text=True)


def test_cookie_copied_before_sign_out_no_longer_works(app, client, staff):
    sign_in(client, "staff@pfm.example", DEMO_PASSWORD)
    stolen = client.get_cookie("session").value
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/staff/").status_code == 302


def test_password_change_ends_other_sessions(app, client, staff):
    sign_in(client, "staff@pfm.example", DEMO_PASSWORD)
    with app.app_context():
        accounts.set_password(user("staff@pfm.example"), "a brand new password")
        db.session.commit()
    assert client.get("/staff/").status_code == 302


def test_lock_expires(app, staff):
    client = app.test_client()
    for _ in range(5):
        sign_in(client, "staff@sip.example", "guess")
    with app.app_context():
        for throttle in db.session.scalars(db.select(SignInThrottle)):
            throttle.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert sign_in(client, "staff@sip.example", DEMO_PASSWORD).status_code == 302


def test_every_sign_in_is_audited(app, client, staff):
    sign_in(client, "staff@nomada.example", "bad")
    sign_in(client, "staff@nomada.example", DEMO_PASSWORD)
    with app.app_context():
        events = db.session.scalars(db.select(SignInEvent).order_by(SignInEvent.id)).all()
        assert [e.success for e in events] == [False, True]


def test_missing_csrf_token_is_refused(app, staff):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = app.test_client().post(
            "/login", data={"email": "staff@nomada.example", "password": DEMO_PASSWORD}
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client, staff):
    response = sign_in(client, "staff@nomada.example", DEMO_PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_language_switch_on_staff_pages_sets_preference(app, client, staff):
    sign_in(client, "staff@nomada.example", DEMO_PASSWORD)
    client.post("/language", data={"lang": "uk", "next": "/staff/"})
    assert 'lang="uk"' in client.get("/staff/").get_data(as_text=True)
    with app.app_context():
        assert user("staff@nomada.example").language == "uk"
