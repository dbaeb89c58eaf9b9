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
