"""Personal data at rest: encrypted with DATA_KEYS (the app refuses to start without keys), shown
in clear to those allowed, matched by keyed hashes, re-encrypted by ``rotate-keys``, copied by
``backup``; the migration encrypts what was stored before."""

import re
import sqlite3
import stat

import pytest
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from referral import create_app
from referral.config import TestConfig
from referral.extensions import db
from referral.models import HelpRequest, OutboxMessage, ReferralEvent, User, WebhookEndpoint
from referral.personal_data import MissingKeys, match_key, name_keys

from .canaries import stored


def app_with(app, **settings):
    """Another app on the test database, with other settings (keys)."""
    base = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    return create_app(type("Other", (TestConfig,), {**base, **settings}))


# --- keys -----------------------------------------------------------------------------------


def test_without_keys_the_app_refuses_to_start(tmp_path):
    settings = {"DATA_KEYS": None, "DATA_KEYS_FILE": str(tmp_path / "data_keys")}
    with pytest.raises(MissingKeys, match="DATA_KEYS is not set"):
        create_app(type("Production", (TestConfig,), settings))


def test_a_key_that_is_not_a_fernet_key_is_refused():
    with pytest.raises(MissingKeys, match="key 2 is not a Fernet key"):
        create_app(type("Typo", (TestConfig,), {"DATA_KEYS": f"{TestConfig.DATA_KEYS},not-a-key"}))


def test_development_keys_are_made_once_private_and_kept(tmp_path):
    settings = {
        "DATA_KEYS": None,
        "MATCH_KEY": None,
        "DATA_KEYS_FILE": str(tmp_path / "instance" / "data_keys"),
        "MATCH_KEY_FILE": str(tmp_path / "instance" / "match_key"),
        "DEVELOPMENT_KEYS": True,
    }
    first = create_app(type("Development", (TestConfig,), settings))
    files = [tmp_path / "instance" / "data_keys", tmp_path / "instance" / "match_key"]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    Fernet(files[0].read_text().strip())  # a real key
    again = create_app(type("Later", (TestConfig,), {**settings, "DEVELOPMENT_KEYS": False}))
    with first.app_context():
        token = first.extensions["personal_data"].encrypt("Olena")
    assert again.extensions["personal_data"].decrypt(token) == "Olena"


# --- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["+48 600 100 200", "600100200", "600-100-200", "+48600100200", "0048 600 100 200"]
)
def test_a_phone_number_matches_in_every_spelling(ctx, spelling):
    assert match_key("phone", spelling) == match_key("phone", "+48 600 100 200")


@given(st.from_regex(r"[a-z0-9.]{1,20}@[a-z0-9]{1,12}\.(pl|org|ua)", fullmatch=True))
def test_an_email_matches_in_any_letter_case_and_with_spaces_around(app, address):
    with app.app_context():
        assert match_key("email", f"  {address.upper()} ") == match_key("email", address)


def test_matching_hashes_depend_on_the_key_and_tell_contacts_apart(app):
    with app.app_context():
        ours = match_key("phone", "+48 600 100 200")
        assert ours != match_key("phone", "+48 600 100 201")
        assert ours != match_key("email", "+48 600 100 200")
        assert match_key("phone", "not a number") is None
        assert match_key("email", "") is None
    other = app_with(app, MATCH_KEY="another-match-key-another-match-key-1234")
    with other.app_context():
        assert match_key("phone", "+48 600 100 200") != ours


# --- encrypted at rest, shown to those allowed ------------------------------------------------


def test_personal_data_is_absent_from_the_database_and_shown_to_those_allowed(
    app, client, person, login_as, coordinator
):
    canaries = person.canaries
    assert [c for c in canaries.plain() if c.encode() in stored(app)] == []

    status = client.get(person.path).get_data(as_text=True)
    assert canaries.story in status
    copy = client.get(f"{person.path}/copy").get_data(as_text=True)
    assert all(value in copy for value in (canaries.name, canaries.e164, canaries.email))
    holder = login_as(person.holder).get(f"/staff/referrals/{person.referral_id}")
    html = holder.get_data(as_text=True)
    for value in (
        canaries.name,
        canaries.email,
        canaries.story,
        canaries.note,
        canaries.staff_words,
    ):
        assert value in html
    assert canaries.e164 in html
    for page in (
        f"/staff/referrals/{person.referral_id}",
        f"/admin/referrals/{person.referral_id}/route-by-hand",
    ):
        assert canaries.staff_words in coordinator.get(page).get_data(as_text=True)
    # The organisation that declined sees its own words, not the person.
    declined = login_as(person.declined_by).get(f"/staff/referrals/{person.referral_id}")
    assert canaries.name not in declined.get_data(as_text=True)


def test_staff_find_a_person_by_phone_or_e_mail_in_any_spelling(app, person, login_as):
    holder = login_as(person.holder)
    digits = person.canaries.phone_digits
    for search in (digits, f"+48-{digits}", person.canaries.email.upper()):
        html = holder.get("/staff/", query_string={"reference": search}).get_data(as_text=True)
        assert html.count(f"/staff/referrals/{person.referral_id}") >= 1, search
    # The organisation that declined may open the referral, but its number finds nothing.
    declined = login_as(person.declined_by)
    html = declined.get("/staff/", query_string={"reference": digits}).get_data(as_text=True)
    assert f"/staff/referrals/{person.referral_id}" not in html


# --- rotate-keys ------------------------------------------------------------------------------


def test_rotate_keys_encrypts_everything_again_with_the_newest_key(app, client, person):
    new_key = Fernet.generate_key().decode()
    rotating = app_with(app, DATA_KEYS=f"{new_key},{TestConfig.DATA_KEYS}")
    result = rotating.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "request.name: 1 encrypted again" in result.output
    assert "note.body: 2 encrypted again" in result.output
    again = rotating.test_cli_runner().invoke(args=["rotate-keys"])
    assert "request.name: 0 encrypted again" in again.output  # done: safe to run again

    only_new = app_with(app, DATA_KEYS=new_key)  # the old key is gone
    html = only_new.test_client().get(person.path).get_data(as_text=True)
    assert person.canaries.story in html
    with only_new.app_context():
        request = db.session.scalar(select(HelpRequest))
        assert request.name == person.canaries.name
        assert {m.to_address for m in db.session.scalars(select(OutboxMessage))}


def test_rotate_keys_redoes_the_matching_hashes_for_a_new_match_key(app, person, login_as):
    new_match = "a-new-match-key-a-new-match-key-0123456789"
    moved = app_with(app, MATCH_KEY=new_match)
    result = moved.test_cli_runner().invoke(args=["rotate-keys"])
    assert "Matching hashes redone: 2" in result.output  # the contacts, and the name's words
    with moved.app_context():
        request = db.session.scalar(select(HelpRequest))
        assert request.phone_match == match_key("phone", person.canaries.phone)
        assert {k.key for k in request.name_keys} == name_keys(person.canaries.name)


def test_rotate_keys_does_not_put_back_the_name_of_a_person_erased_meanwhile(
    app, client, person, monkeypatch
):
    """The person withdraws while rotate-keys holds a batch of names (it runs beside the live
    app): the words of their name, erased, came back as hashes the staff search finds."""
    from referral import maintenance
    from referral.models import NameKey

    batches = maintenance._batches

    def withdrawing_meanwhile(raw, key, *columns):
        for rows in batches(raw, key, *columns):
            if columns == ("name",):
                assert client.post(f"{person.path}/withdraw", data={"confirmed": "yes"})
            yield rows

    monkeypatch.setattr(maintenance, "_batches", withdrawing_meanwhile)
    with app.app_context():
        maintenance._redo_name_keys()
        db.session.remove()
    with app.app_context():
        assert db.session.scalar(select(HelpRequest)).erased_at is not None
        assert db.session.scalars(select(NameKey)).all() == []


# --- backup -----------------------------------------------------------------------------------


def test_backup_makes_a_private_consistent_copy_holding_only_encrypted_personal_data(
    app, person, tmp_path
):
    target = tmp_path / "backup.db"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert result.exit_code != 0 and "use pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    copy = sqlite3.connect(target)
    (name,) = copy.execute("SELECT name FROM request").fetchone()
    copy.close()
    assert person.canaries.name.encode() not in target.read_bytes()
    with app.app_context():
        assert app.extensions["personal_data"].decrypt(name) == person.canaries.name
    again = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert again.exit_code != 0 and "exists" in again.output


# --- the migration ----------------------------------------------------------------------------


def test_the_migration_encrypts_what_was_stored_before_and_moves_the_words_out_of_the_log(
    app, directory
):
    with app.app_context():
        downgrade(revision="0005")
        try:
            _plain_rows_as_before()
            upgrade()
            request = db.session.scalar(select(HelpRequest))
            assert (request.name, request.phone, request.description) == (
                "Olena",
                "+48600100200",
                "My story",
            )
            assert request.phone_match == match_key("phone", "+48 600 100 200")
            raw = db.session.execute(text("SELECT name FROM request")).scalar()
            assert raw != "Olena" and raw.startswith("gAAAA")
            event = db.session.scalar(select(ReferralEvent))
            assert event.text == "She lives at Prosta 5"
            message = db.session.scalar(select(OutboxMessage))
            assert (message.request_id, message.to_address) == (request.id, "olena@example.org")
            assert db.session.scalar(select(User)).totp_secret == "JBSWY3DPEHPK3PXP"
            assert db.session.scalar(select(WebhookEndpoint)).secret == "whsec_c2VjcmV0"
            raw = db.session.execute(text('SELECT totp_secret FROM "user"')).scalar()
            assert raw != "JBSWY3DPEHPK3PXP"
        finally:
            db.session.rollback()
            upgrade()


def _plain_rows_as_before() -> None:
    """A request, its referral with a worded step, a mail, a staff member's two-step sign-in
    secret and a webhook's signing secret, as 0005 stored them."""
    statements = [
        'INSERT INTO "user" (id, email, password_hash, name, role, language, active,'
        " session_token_hash, created_at, totp_secret) VALUES (1, 'a@example.org', 'x', 'A',"
        " 'staff', 'pl', true, 'h', CURRENT_TIMESTAMP, 'JBSWY3DPEHPK3PXP')",
        "INSERT INTO webhook_endpoint (id, organisation_id, url, secret, created_at)"
        " VALUES (1, (SELECT MIN(id) FROM organisation), 'https://example.org/hook',"
        " 'whsec_c2VjcmV0', CURRENT_TIMESTAMP)",
        "INSERT INTO request (id, reference, status_token_hash, created_at, language,"
        " voivodeship_teryt, urgent, interpreter_needed, name, phone, email, safe_to_message,"
        " languages, description, residence_status, consent_version, consent_at,"
        " consent_language) VALUES (1, 'ACD-EFG', 'h', CURRENT_TIMESTAMP, 'uk', '02', false,"
        " false, 'Olena', '+48600100200', 'olena@example.org', false, '[]', 'My story',"
        " 'visa', '2026-11', CURRENT_TIMESTAMP, 'uk')",
        "INSERT INTO referral (id, request_id, specialism, state, urgent, routing_reasons,"
        " created_at, updated_at, version) VALUES (1, 1, 'legal', 'unmatched', false, '[]',"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        "INSERT INTO referral_event (id, referral_id, at, action, party, to_state, text)"
        " VALUES (1, 1, CURRENT_TIMESTAMP, 'route', 'system', 'unmatched',"
        " 'She lives at Prosta 5')",
        "INSERT INTO outbox_message (id, created_at, kind, to_address, subject, body, attempts,"
        " next_attempt_at) VALUES (1, CURRENT_TIMESTAMP, 'accepted_person', 'olena@example.org',"
        " 'Your request ACD-EFG: an organisation will contact you', 'Hello', 0,"
        " CURRENT_TIMESTAMP)",
    ]
    for statement in statements:
        db.session.execute(text(statement))
    db.session.commit()


def test_pages_that_show_no_personal_data_never_load_it(app, person, login_as, coordinator):
    """The inbox, the sweep's and the reports' queries leave the encrypted columns deferred:
    nothing is decrypted where nothing personal is shown."""
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", remember)
    try:
        login_as(person.holder).get("/staff/")
        coordinator.get("/admin/unmatched")
        coordinator.get("/admin/reports")
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", remember)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects
    # Columns only personal data has (a name or an e-mail could be a staff member's).
    for column in ("phone", "description", "residence_status", "body"):
        pattern = re.compile(rf"\.{column}\b")
        assert not [s for s in selects if pattern.search(s)], column
