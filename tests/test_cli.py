"""The flask commands: route-preview on the demo directory, sweep, create-user, seed-demo."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referral import lifecycle
from referral.config import TestConfig
from referral.extensions import db
from referral.models import City, Coverage, Organisation, Referral, User, Voivodeship, utcnow
from referral.passwords import verify_password
from referral.vocabulary import Specialism

from .helpers import intake, user

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args, stdin=None):
        return runner.invoke(args=list(args), input=stdin)

    return invoke


def preview(cli, need, city, *languages) -> list[dict]:
    args = ["route-preview", "--need", need, "--city", city, "--json"]
    for language in languages:
        args += ["--lang", language]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def orgs(rows: list[dict]) -> list[str]:
    return [row["org"] for row in rows]


# route-preview on the demo directory


def test_legal_aid_in_wroclaw_for_a_ukrainian_speaker_goes_to_nomada(cli, directory):
    assert orgs(preview(cli, "legal", "wroclaw", "uk"))[0] == "nomada"


def test_psychological_support_in_lublin_goes_to_homo_faber(cli, directory):
    assert orgs(preview(cli, "psychological", "lublin"))[0] == "homo-faber"


def test_housing_in_warsaw_for_a_ukrainian_speaker_prefers_pfm(cli, directory):
    ranked = orgs(preview(cli, "housing", "warszawa", "uk"))
    assert ranked.index("pfm") < ranked.index("chlebem-i-sola")


def test_information_in_chelm_goes_to_homo_faber_for_the_voivodeship(cli, directory):
    first = preview(cli, "information", "chelm")[0]
    assert (first["org"], first["scope"]) == ("homo-faber", "voivodeship")


def test_psychological_support_in_chelm_has_no_candidate(cli, directory):
    assert preview(cli, "psychological", "chelm") == []


def test_an_organisation_not_taking_referrals_never_appears(cli, directory):
    cities = ["warszawa", "krakow", "wroclaw", "poznan", "lublin", "chelm", "gdansk"]
    for specialism in Specialism:
        for city in cities:
            assert "amnesty-pl" not in orgs(preview(cli, specialism.value, city, "pl", "en"))


def test_every_row_has_org_scope_and_reasons_as_sentences(cli, directory):
    rows = preview(cli, "legal", "warszawa", "uk", "ru")
    assert len(rows) >= 3
    for row in rows:
        assert row["scope"] in ("city", "voivodeship", "nationwide")
        assert row["reasons"] and all(isinstance(r, str) and r for r in row["reasons"])
    assert [row["scope"] for row in rows][-1] == "nationwide"


def test_text_output_lists_the_ranking(cli, directory):
    result = cli("route-preview", "--need", "legal", "--city", "wroclaw", "--lang", "uk")
    assert result.exit_code == 0
    assert result.output.startswith("1. nomada (city): ")


def test_text_output_says_when_nothing_covers_the_need(cli, directory):
    result = cli("route-preview", "--need", "psychological", "--city", "chelm")
    assert "the referral would be unmatched" in result.output


def test_unknown_city_exits_with_a_clear_message(cli, directory):
    result = cli("route-preview", "--need", "legal", "--city", "atlantis", "--json")
    assert result.exit_code != 0
    assert "Unknown city 'atlantis'" in result.output


def test_unknown_need_exits_with_the_choices(cli, directory):
    result = cli("route-preview", "--need", "magic", "--city", "wroclaw")
    assert result.exit_code != 0
    assert "legal" in result.output


# sweep


def test_sweep_prints_how_many_offers_it_expired(app, cli, directory):
    with app.app_context():
        long_ago = utcnow() - timedelta(days=30)
        lifecycle.submit_request(intake("legal", "information", languages=[]), now=long_ago)
    result = cli("sweep")
    assert result.exit_code == 0
    assert result.output.strip() == "Expired and re-routed: 2"
    assert cli("sweep").output.strip() == "Expired and re-routed: 0"
    with app.app_context():
        # Re-routed with a fresh deadline, or unmatched when nobody else covers the need.
        for state, deadline in db.session.execute(select(Referral.state, Referral.deadline_at)):
            assert deadline > utcnow() if state == "offered" else state == "unmatched"


# create-user


def test_create_user_for_an_organisation_reads_the_password_from_stdin(app, cli, directory):
    result = cli(
        "create-user",
        "Ala@Nomada.example",
        "--org",
        "nomada",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created ala@nomada.example." in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ala@nomada.example"))
        assert (user.role, user.organisation.slug) == ("staff", "nomada")
        assert verify_password(user.password_hash, PASSWORD, app.config["ARGON2_PROFILE"])
        assert PASSWORD not in user.password_hash


def test_create_coordinator(app, cli, directory):
    result = cli(
        "create-user",
        "boss@konsorcjum.example",
        "--coordinator",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "boss@konsorcjum.example"))
        assert (user.role, user.organisation_id) == ("coordinator", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give exactly one of --org SLUG or --coordinator."),
        (["--org", "nomada", "--coordinator"], "Give exactly one of --org SLUG or --coordinator."),
        (["--org", "nowhere"], "No organisation with slug 'nowhere'."),
    ],
)
def test_create_user_refuses_a_wrong_role(app, cli, directory, args, message):
    result = cli("create-user", "x@y.example", *args, "--password-stdin", stdin=PASSWORD)
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_refuses_a_short_password_and_a_taken_email(app, cli, directory):
    short = cli("create-user", "x@y.example", "--coordinator", "--password-stdin", stdin="short")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    cli("create-user", "x@y.example", "--coordinator", "--password-stdin", stdin=PASSWORD)
    again = cli("create-user", "X@y.example", "--org", "pfm", "--password-stdin", stdin=PASSWORD)
    assert again.exit_code != 0 and "already exists" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_create_user_needs_the_password_on_stdin(cli, directory):
    result = cli("create-user", "x@y.example", "--coordinator")
    assert result.exit_code != 0 and "--password-stdin" in result.output


# seed-demo


def counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Voivodeship, City, Organisation, Coverage, User)
    }


def test_seed_demo_twice_gives_the_same_directory_and_accounts(app, cli):
    first = cli("seed-demo")
    assert first.exit_code == 0, first.output
    with app.app_context():
        after_first = counts()
    second = cli("seed-demo")
    assert second.exit_code == 0 and second.output == first.output
    with app.app_context():
        assert counts() == after_first
        assert after_first["Organisation"] == 9 and after_first["Voivodeship"] == 16
        assert after_first["User"] == after_first["Organisation"] + 1
    assert "coordinator@konsorcjum.example" in first.output
    assert "staff@nomada.example" in first.output


def test_a_real_site_loads_the_directory_without_the_demo_accounts(app, cli):
    """The directory's only loader made ten accounts with the README's password, a coordinator
    among them: on a site at an https address it refuses, and load-directory loads no account."""
    app.config["PUBLIC_URL"] = "https://referral.example.org"
    try:
        refused = cli("seed-demo")
        loaded = cli("load-directory")
    finally:
        app.config["PUBLIC_URL"] = TestConfig.PUBLIC_URL
    assert refused.exit_code != 0 and "load-directory" in refused.output
    assert loaded.exit_code == 0, loaded.output
    with app.app_context():
        loaded_counts = counts()
    assert loaded_counts["Organisation"] == 9 and loaded_counts["City"] > 0
    assert loaded_counts["User"] == 0
    assert "/admin/organisations" in loaded.output  # where to give their real addresses


def test_an_account_made_on_the_command_line_is_in_the_audit(app, staff):
    """Every account made is in the audit, whether by the coordinator's page or the server's
    command line (a coordinator made there has every right)."""
    from referral.models import AdminEvent

    result = app.test_cli_runner().invoke(
        args=["create-user", "boss@x.example", "--coordinator", "--password-stdin"],
        input="a-very-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        [made] = db.session.scalars(db.select(AdminEvent)).all()
        assert (made.action, made.actor_id, made.after["role"]) == (
            "user_created",
            None,
            "coordinator",
        )
        assert made.user_id == user("boss@x.example").id
