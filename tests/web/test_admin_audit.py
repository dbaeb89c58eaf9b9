"""Every administrative action is in the audit trail (issue 10): who, what, when, before/after,
on the page and in the CSV."""

import csv
import io

from referral.extensions import db
from referral.models import AdminEvent

from ..helpers import org, user


def events(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(db.select(AdminEvent).order_by(AdminEvent.id)).all()
        return [(e.action, e.actor.email if e.actor else None, e.before, e.after) for e in rows]


def test_account_changes_are_audited_with_who_and_before_after(app, coordinator):
    with app.app_context():
        nomada_id, pfm_user_id = org("nomada").id, user("staff@pfm.example").id
    coordinator.post(
        "/admin/users/new",
        data={
            "email": "new@nomada.example",
            "name": "Nowa",
            "role": "staff",
            "language": "pl",
            "organisation_id": nomada_id,
        },
    )
    coordinator.post(
        f"/admin/users/{pfm_user_id}", data={"role": "coordinator", "organisation_id": ""}
    )
    coordinator.post(f"/admin/users/{pfm_user_id}/active", data={"active": "0"})
    coordinator.post(f"/admin/users/{pfm_user_id}/password-link")

    me = "coordinator@konsorcjum.example"
    actions = events(app)
    assert [a[:2] for a in actions] == [
        ("user_created", me),
        ("password_link_issued", me),
        ("role_changed", me),
        ("user_deactivated", me),
        ("password_link_issued", me),
    ]
    role = actions[2]
    assert role[2]["role"] == "staff" and role[3] == {
        "role": "coordinator",
        "organisation_id": None,
        "cases": [],  # none was theirs to leave with the organisation
    }
    assert actions[3][2:] == ({"active": True}, {"active": False})
    for event in actions:  # no token, no password in the audit
        assert "token" not in str(event) and "password_hash" not in str(event)


def test_organisation_and_coverage_edits_are_audited(app, coordinator):
    with app.app_context():
        nomada = org("nomada")
        nomada_id, coverage_id = nomada.id, nomada.coverage[0].id
    page = coordinator.get(f"/admin/organisations/{nomada_id}").get_data(as_text=True)
    assert "Two-step sign-in" in page
    coordinator.post(f"/admin/organisations/{nomada_id}/coverage/{coverage_id}/remove")
    coordinator.post(f"/admin/organisations/{nomada_id}/two-factor", data={"required": "1"})
    actions = events(app)
    assert [a[0] for a in actions] == ["coverage_removed", "two_factor_required"]
    assert set(actions[0][2]) == {"specialism", "scope", "area"}
    assert actions[1][3] == {"require_two_factor": True}


def test_the_audit_page_and_csv_show_administrative_actions(app, coordinator):
    with app.app_context():
        pfm_user_id = user("staff@pfm.example").id
    coordinator.post(f"/admin/users/{pfm_user_id}/active", data={"active": "0"})
    page = coordinator.get("/admin/audit?kind=admin").get_data(as_text=True)
    assert "Account deactivated" in page and "staff@pfm.example" in page
    assert "1 entry." in page
    body = coordinator.get("/admin/audit.csv?kind=admin").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][1] == "user_deactivated"
    assert rows[1][4] == "coordinator@konsorcjum.example"
    assert rows[1][12] == "staff@pfm.example"
    assert rows[1][13] == '{"active": true}' and rows[1][14] == '{"active": false}'


def test_a_date_at_the_calendar_s_end_gets_a_message_not_a_crash(app, coordinator):
    """0001-01-01 has no time in UTC and 9999-12-31 no next day: the trail and its CSV were a
    500 with either."""
    for period in ("start=0001-01-01", "end=9999-12-31"):
        page = coordinator.get(f"/admin/audit?{period}")
        assert page.status_code == 200
        assert "Enter a date between the years 2000 and 2099." in page.get_data(as_text=True)
        assert coordinator.get(f"/admin/audit.csv?{period}").status_code < 500


def test_reset_2fa_on_the_command_line_is_audited_and_ends_sessions(app, login_as):
    email = "coordinator@konsorcjum.example"
    signed_in = login_as("coordinator")
    result = app.test_cli_runner().invoke(args=["reset-2fa", email])
    assert result.exit_code == 0, result.output
    assert signed_in.get("/staff/").status_code == 302
    with app.app_context():
        assert not user(email).two_factor_enabled
    assert events(app)[-1][:2] == ("two_factor_reset", None)
    unknown = app.test_cli_runner().invoke(args=["reset-2fa", "nobody@nowhere.example"])
    assert unknown.exit_code != 0 and "No user" in unknown.output


def test_the_trail_s_referral_column_is_one_referral_not_the_app_s_name(app, coordinator):
    """The msgid "Referral" is the app's name too ("Skierowania" in Polish): the column has a
    context of its own, so it reads "Skierowanie"."""
    with app.app_context():
        user("coordinator@konsorcjum.example").language = "pl"
        db.session.commit()
    page = coordinator.get("/admin/audit").get_data(as_text=True)
    assert ">Skierowanie</th>" in page


def test_every_administrative_action_reads_in_polish_without_raw_fields(app, coordinator):
    """The details showed the audit's own spelling on Polish and Ukrainian pages: "role:
    coordinator → staff", "organisation_id: None → 5", "cases: [] → []", "active: True"."""
    import re
    import time
    from datetime import date
    from html import unescape

    import pyotp

    from referral import accounts, api_tokens, organisations, two_factor, webhooks
    from referral.admin import audit_details
    from referral.admin.views import ACTION_LABELS
    from referral.handoff import Action
    from referral.models import Coverage

    with app.app_context():
        me = user("coordinator@konsorcjum.example")
        nomada = org("nomada")
        new, _token = accounts.create_staff_account(
            "nowa@nomada.example", "Nowa", nomada.id, "staff", "pl", by=me
        )
        accounts.change_role(new.id, "coordinator", None, by=me)
        accounts.change_role(new.id, "staff", org("pfm").id, by=me)
        accounts.set_user_active(new.id, False, by=me)
        accounts.set_user_active(new.id, True, by=me)
        accounts.issue_password_reset(new.id, by=me)
        accounts.require_two_factor(nomada.id, True, by=me)
        accounts.require_two_factor(nomada.id, False, by=me)
        accounts.reset_two_factor("staff@pfm.example", by=me)
        next_code = pyotp.TOTP(me.totp_secret).at(time.time() + 30)
        assert two_factor.renew_recovery_codes(me, next_code).codes
        data = organisations.OrganisationData(
            name_pl="Fundacja Nowa",
            description_pl="Opis",
            website="https://nowa.example/",
            home_city_id=nomada.home_city_id,
            languages=["pl", "uk"],
            email="intake@nowa.example",
            capacity=10,
            street_address="ul. Długa 1",
            postal_code="50-001",
            public_phone="+48 71 123 45 67",
            opening_hours={"MO": ["09:00", "17:00"], "TU": ["09:00", "17:00"]},
        )
        created = organisations.save_organisation(data, slug="nowa", by=me)
        organisations.save_organisation(
            organisations.OrganisationData(
                name_pl="Fundacja Nowa",
                name_uk="Фонд",
                takes_referrals=False,
                paused_until=date(2026, 12, 24),
                pause_reason="Urlop",
                languages_confirmed=False,
                contact_confirmed=False,
            ),
            created.id,
            by=me,
        )
        for scope, area in (("city", "wroclaw"), ("voivodeship", "02"), ("nationwide", None)):
            organisations.add_coverage(created.id, "legal", scope, area, by=me)
        coverage = db.session.scalar(
            db.select(Coverage).where(Coverage.organisation_id == created.id)
        )
        organisations.remove_coverage(created.id, coverage.id, by=me)
        issued = api_tokens.issue(created.id, "CRM", False, by=me)
        api_tokens.revoke(created.id, issued.token.id, by=me)
        endpoint = webhooks.register(created.id, "https://nowa.example/hook", by=me)
        webhooks.remove(created.id, endpoint.endpoint.id, by=me)
        written = db.session.scalars(db.select(AdminEvent)).all()
        keys = {key for e in written for values in (e.before, e.after) for key in (values or {})}
        assert {e.action for e in written} == {
            action for action in ACTION_LABELS if not isinstance(action, Action)
        } - {"sign_in"}
        assert keys <= set(audit_details.LABELS)
        me.language = "pl"
        db.session.commit()

    page = unescape(coordinator.get("/admin/audit?kind=admin").get_data(as_text=True))
    cells = " ".join(re.findall(r"<td>(.*?)</td>\s*</tr>", page, flags=re.S))
    details = re.sub(r"<(?!br>)[^>]+>", "", cells)
    for key in keys:
        assert not re.search(rf"\b{key}\b:", details), key
    for raw in ("None", "True", "False", "[]", "{}", "read_write", "nationwide", "coordinator →"):
        assert raw not in details, raw
    for seen in (
        "Rola: Koordynator → Pracownik",
        "Organizacja: — → Fundacja Polskie Forum Migracyjne",
        "Może się logować: Nie → Tak",
        "Gdzie: W jednym województwie",
        "Dostęp: Odczyt i zmiany",
        "Nazwa systemu: CRM",
        "Godziny otwarcia: — → poniedziałek–wtorek 09:00–17:00",
        "Przerwa do dnia (włącznie): — → 24 grudnia 2026",
    ):
        assert seen in details, seen
    assert "Przypisane sprawy" not in details  # no case changed hands: left out
    assert "— → —" not in details and "Miejsce: —" not in details
