"""Two-step sign-in (TOTP) and forgotten passwords, as staff and an attacker would use them."""

import re
from datetime import UTC, datetime

import pyotp

from referral.extensions import db
from referral.models import AdminEvent, OutboxMessage, RecoveryCode
from referral.seed import DEMO_PASSWORD

from ..helpers import enrol, org, user

STAFF = "staff@nomada.example"


def text(response) -> str:
    return response.get_data(as_text=True)


def password_step(client, email=STAFF):
    return client.post("/login", data={"email": email, "password": DEMO_PASSWORD})


def enrolled(app, email=STAFF) -> tuple[list[str], pyotp.TOTP]:
    with app.app_context():
        codes = enrol(email)
        return codes, pyotp.TOTP(user(email).totp_secret)


def test_enrolment_shows_a_qr_code_then_ten_recovery_codes(app, login_as):
    client = login_as("nomada")
    page = client.get("/staff/profile/2fa")
    html = text(page)
    assert "<svg" in html and "<script" not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    with app.app_context():
        secret = user(STAFF).totp_secret
    assert client.get("/staff/profile/2fa").get_data(as_text=True).count(secret[:4]) >= 1  # same
    wrong = client.post("/staff/profile/2fa", data={"code": "000000"})
    assert wrong.status_code == 400 and 'id="code-error"' in text(wrong)
    done = client.post("/staff/profile/2fa", data={"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>", text(done))
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        stored = db.session.scalars(
            db.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user(STAFF).id)
        ).all()
        assert len(stored) == 10 and not set(codes) & set(stored)
        assert user(STAFF).two_factor_enabled


def test_sign_in_asks_for_the_code_and_never_accepts_one_twice(app, client, staff):
    _codes, totp = enrolled(app)
    assert password_step(client).headers["Location"] == "/login/code"
    assert client.get("/staff/").status_code == 302  # not signed in yet
    code = totp.at(datetime.now(UTC), counter_offset=1)  # the next step: not used at enrolment
    assert client.post("/login/code", data={"code": code}).status_code == 302
    assert client.get("/staff/").status_code == 200
    again = app.test_client()
    password_step(again)
    replay = again.post("/login/code", data={"code": code})
    assert replay.status_code == 200 and "This code is not correct" in text(replay)


def test_a_recovery_code_works_once(app, staff):
    codes, _totp = enrolled(app)
    first, second = app.test_client(), app.test_client()
    password_step(first)
    assert first.post("/login/code", data={"code": codes[0].upper()}).status_code == 302
    password_step(second)
    assert second.post("/login/code", data={"code": codes[0]}).status_code == 200


def test_codes_are_throttled_like_passwords(app, staff):
    codes, _totp = enrolled(app)
    client = app.test_client()
    password_step(client)
    for _ in range(5):
        client.post("/login/code", data={"code": "123456"})
    locked = client.post("/login/code", data={"code": codes[0]})
    assert "Too many failed attempts" in text(locked)
    assert client.get("/staff/").status_code == 302


def test_six_digits_of_another_script_are_a_wrong_code_not_an_error(app, login_as):
    """Superscript or Arabic-Indic digits pass ``str.isdigit``; comparing them with the app's code
    raised TypeError (``hmac.compare_digest`` takes ASCII only): a 500 at sign-in, at enrolment
    and at the renewal of recovery codes."""
    others = ("²²²²²²", "١٢٣٤٥٦")
    enrolling = login_as("nomada")
    for code in others:
        wrong = enrolling.post("/staff/profile/2fa", data={"code": code})
        assert wrong.status_code == 400 and 'id="code-error"' in text(wrong)
    codes, _totp = enrolled(app)
    client = app.test_client()
    password_step(client)
    for code in others:
        wrong = client.post("/login/code", data={"code": code})
        assert wrong.status_code == 200 and "This code is not correct" in text(wrong)
    client = signed_in_with_a_recovery_code(app, codes)
    for code in others:
        wrong = client.post("/staff/profile/2fa/recovery-codes", data={"code": code})
        assert wrong.status_code == 400 and 'id="code-error"' in text(wrong)


def test_the_code_step_needs_the_password_step_first(client, staff):
    response = client.post("/login/code", data={"code": "123456"})
    assert response.headers["Location"] == "/login"


def test_a_coordinator_enrols_before_any_admin_page_opens(app, staff):
    client = app.test_client()
    password_step(client, "coordinator@konsorcjum.example")
    assert client.get("/admin/users").headers["Location"] == "/staff/profile/2fa"
    assert client.get("/staff/profile/2fa").status_code == 200


def test_an_organisation_can_require_two_step_sign_in(app, login_as, coordinator):
    staff_client = login_as("nomada")
    assert staff_client.get("/staff/").status_code == 200
    with app.app_context():
        nomada_id = org("nomada").id
    coordinator.post(f"/admin/organisations/{nomada_id}/two-factor", data={"required": "1"})
    assert staff_client.get("/staff/").headers["Location"] == "/staff/profile/2fa"
    assert login_as("pfm").get("/staff/").status_code == 200  # other organisations: unchanged


# --- forgot password ------------------------------------------------------------------------------


def test_forgot_password_answers_the_same_and_mails_a_link_only_to_an_account(app, client, staff):
    known = client.post("/login/forgot", data={"email": "Staff@Nomada.example"})
    unknown = client.post("/login/forgot", data={"email": "nobody@nowhere.example"})
    strip = lambda r: re.sub(r'name="csrf_token"[^>]*>', "", text(r))  # noqa: E731
    assert known.status_code == unknown.status_code == 200
    assert strip(known) == strip(unknown)
    with app.app_context():
        mails = db.session.scalars(db.select(OutboxMessage)).all()
        assert [m.to_address for m in mails] == [STAFF]
        link = re.search(r"http://127.0.0.1:5000(/reset/\S+)", mails[0].body).group(1)
    new = "a brand new long password"
    response = client.post(link, data={"password": new, "repeat": new})
    assert response.headers["Location"] == "/staff/"  # set and signed in
    assert client.get(link).status_code == 404


def test_forgot_password_sends_no_second_link_within_minutes(app, client, staff):
    for _ in range(3):
        client.post("/login/forgot", data={"email": STAFF})
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxMessage)) == 1


def test_the_mailed_link_ignores_a_forged_host_header(app, client, staff):
    client.post("/login/forgot", data={"email": STAFF}, headers={"Host": "evil.example"})
    with app.app_context():
        assert "evil.example" not in db.session.scalar(db.select(OutboxMessage.body))


def test_a_locked_out_user_gets_in_through_the_reset_link(app, client, staff):
    for _ in range(6):
        client.post("/login", data={"email": STAFF, "password": "attacker guess"})
    client.post("/login/forgot", data={"email": STAFF})
    with app.app_context():
        body = db.session.scalar(db.select(OutboxMessage.body))
    link = re.search(r"http://127.0.0.1:5000(/reset/\S+)", body).group(1)
    new = "my own long password"
    assert client.post(link, data={"password": new, "repeat": new}).status_code == 302
    assert client.get("/staff/").status_code == 200
    client.post("/logout")
    again = client.post("/login", data={"email": STAFF, "password": new})
    assert again.status_code == 302


# --- recovery codes left, and new ones ------------------------------------------------------------

CODE_PATTERN = r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>"


def signed_in_with_a_recovery_code(app, codes, email=STAFF):
    """An enrolled user, reading the pages in English, signed in without spending the app's
    current code (kept for the form)."""
    with app.app_context():
        user(email).language = "en"
        db.session.commit()
    client = app.test_client()
    password_step(client, email)
    assert client.post("/login/code", data={"code": codes.pop()}).status_code == 302
    return client


def signs_in_with(app, code, email=STAFF):
    """A client signed in with this code, or None (signing in ends the account's other session)."""
    client = app.test_client()
    password_step(client, email)
    return client if client.post("/login/code", data={"code": code}).status_code == 302 else None


def renewals(app) -> list[AdminEvent]:
    with app.app_context():
        return db.session.scalars(
            db.select(AdminEvent).where(AdminEvent.action == "recovery_codes_renewed")
        ).all()


def test_the_page_counts_the_recovery_codes_left_and_warns_when_few(app, staff):
    codes, _totp = enrolled(app)
    client = signed_in_with_a_recovery_code(app, codes)
    page = text(client.get("/staff/profile/2fa"))
    assert "You have 9 unused recovery codes." in page
    assert "recovery codes are left" not in page
    assert 'action="/staff/profile/2fa/recovery-codes"' in page
    for code in codes[:5]:
        assert signs_in_with(app, code)
    client = signed_in_with_a_recovery_code(app, codes)
    page = text(client.get("/staff/profile/2fa"))
    assert "Only 3 recovery codes are left. Make new codes below" in page


def test_new_recovery_codes_replace_the_old_ones_and_are_shown_once(app, staff):
    codes, totp = enrolled(app)
    client = signed_in_with_a_recovery_code(app, codes)
    response = client.post(
        "/staff/profile/2fa/recovery-codes",
        data={"code": totp.at(datetime.now(UTC), counter_offset=1)},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    html = text(response)
    assert "Your old recovery codes no longer work." in html
    new_codes = re.findall(CODE_PATTERN, html)
    assert len(set(new_codes)) == 10 and not set(new_codes) & set(codes)
    assert not signs_in_with(app, codes[0])
    again = signs_in_with(app, new_codes[0])
    assert "You have 9 unused recovery codes." in text(again.get("/staff/profile/2fa"))
    (event,) = renewals(app)
    with app.app_context():
        me = user(STAFF).id
    assert (event.actor_id, event.user_id) == (me, me)
    assert event.before == {"recovery_codes_left": 9} and event.after == {"recovery_codes_left": 10}
    assert not any(code in str(event.before) + str(event.after) for code in new_codes)


def test_a_recovery_code_or_a_wrong_code_makes_no_new_codes(app, staff):
    codes, _totp = enrolled(app)
    client = signed_in_with_a_recovery_code(app, codes)
    for refused in (codes[0], "000000"):
        response = client.post("/staff/profile/2fa/recovery-codes", data={"code": refused})
        assert response.status_code == 400
        html = text(response)
        assert 'id="code-error"' in html and "a recovery code does not work here" in html
        assert not re.findall(CODE_PATTERN, html)
    assert renewals(app) == []
    assert signs_in_with(app, codes[0]) and signs_in_with(app, codes[1])


def test_wrong_codes_for_new_recovery_codes_are_throttled(app, staff):
    codes, totp = enrolled(app)
    client = signed_in_with_a_recovery_code(app, codes)
    for _ in range(5):
        client.post("/staff/profile/2fa/recovery-codes", data={"code": "123456"})
    locked = client.post(
        "/staff/profile/2fa/recovery-codes",
        data={"code": totp.at(datetime.now(UTC), counter_offset=1)},
    )
    assert locked.status_code == 429 and "Too many failed attempts" in text(locked)
    assert not re.findall(CODE_PATTERN, text(locked)) and renewals(app) == []


def test_new_recovery_codes_need_the_form_token(app, staff, monkeypatch):
    codes, totp = enrolled(app)
    client = signed_in_with_a_recovery_code(app, codes)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(
        "/staff/profile/2fa/recovery-codes",
        data={"code": totp.at(datetime.now(UTC), counter_offset=1)},
    )
    assert response.status_code == 400 and renewals(app) == []
