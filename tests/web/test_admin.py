"""The coordinator's pages: the directory, users, the unmatched queue and routing by hand, audit."""

import re
from html import unescape

import pytest
from sqlalchemy import select

from referral import accounts, audit, lifecycle, paging
from referral.extensions import db
from referral.handoff import Action, State
from referral.models import PasswordReset, Referral, SignInEvent, User
from referral.seed import DEMO_PASSWORD

from ..helpers import enrol, intake, org, user

ADMIN_PAGES = [
    "/admin/",
    "/admin/organisations",
    "/admin/organisations/new",
    "/admin/organisations/1",
    "/admin/users",
    "/admin/users/new",
    "/admin/unmatched",
    "/admin/reports",
    "/admin/reports/months.csv",
    "/admin/audit",
    "/admin/audit.csv",
]


def submit(app, need: str, city: str, languages=("uk",)) -> int:
    """A person's request with one need; returns the referral's id."""
    with app.app_context():
        submitted = lifecycle.submit_request(
            intake(need, city_slug=city, languages=list(languages), name="Олена")
        )
        return submitted.request.referrals[0].id


def referral_state(app, referral_id: int) -> tuple[str, str | None]:
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        return referral.state, referral.organisation.slug if referral.organisation else None


def organisation_form(app, slug: str, **changes) -> dict:
    """The edit form of an organisation as the page fills it, with ``changes``."""
    with app.app_context():
        o = org(slug)
        data = {
            "name_pl": o.name_pl,
            "name_uk": o.name_uk,
            "name_en": o.name_en,
            "description_pl": o.description_pl,
            "description_uk": o.description_uk,
            "description_en": o.description_en,
            "website": o.website or "",
            "home_city_id": str(o.home_city_id or ""),
            "languages": list(o.languages),
            "email": o.email or "",
            "capacity": "" if o.capacity is None else str(o.capacity),
            "paused_until": "",
            "pause_reason": "",
        }
        if o.takes_referrals:
            data["takes_referrals"] = "y"
        if o.languages_confirmed:
            data["languages_confirmed"] = "y"
    data.update(changes)
    return data


def text(response) -> str:
    return response.get_data(as_text=True)


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_staff_of_an_organisation_get_404_on_every_admin_page(login_as, url):
    assert login_as("nomada").get(url).status_code == 404


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, staff, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_coordinator_sees_every_admin_page(coordinator):
    for url in ADMIN_PAGES:
        assert coordinator.get(url).status_code == 200, url


def test_coordinator_menu_links_to_the_admin_pages(coordinator):
    page = text(coordinator.get("/admin/"))
    for url in ("/admin/unmatched", "/admin/organisations", "/admin/reports", "/admin/audit"):
        assert f'href="{url}"' in page


# --- organisations and coverage ---------------------------------------------------------------


def test_pausing_nomada_sends_a_new_legal_request_in_wroclaw_to_the_next_candidate(
    app, coordinator
):
    with app.app_context():
        nomada_id = org("nomada").id
    response = coordinator.post(
        f"/admin/organisations/{nomada_id}",
        data=organisation_form(
            app, "nomada", paused_until="2099-12-31", pause_reason="Staff on holiday"
        ),
    )
    assert response.status_code == 302

    referral_id = submit(app, "legal", "wroclaw")

    state, holder = referral_state(app, referral_id)
    assert state == State.OFFERED and holder not in (None, "nomada")
    page = text(coordinator.get(f"/admin/referrals/{referral_id}/route-by-hand"))
    nomada_row = re.search(r"Nomada Association</th>(.*?)</tr>", page, re.S).group(1)
    assert "Paused" in nomada_row


def seen_on(page) -> str:
    """The organisation as the edit page showed it (its hidden ``seen`` field), as a browser
    sends it back."""
    return unescape(re.search(r'name="seen" type="hidden" value="([^"]*)"', text(page))[1])


def test_saving_an_organisation_keeps_what_a_colleague_changed_meanwhile(app, coordinator):
    """A coordinator pauses Nomada while another, from a page opened before, sets its capacity:
    the save wrote every field of the older page and took the pause back, unnoticed."""
    with app.app_context():
        nomada_id = org("nomada").id
    seen = seen_on(coordinator.get(f"/admin/organisations/{nomada_id}"))
    paused = organisation_form(app, "nomada", paused_until="2099-12-31", pause_reason="Holiday")
    coordinator.post(f"/admin/organisations/{nomada_id}", data=paused)  # the colleague
    mine = organisation_form(app, "nomada", capacity="3", seen=seen)
    mine["paused_until"] = mine["pause_reason"] = ""  # as the older page showed them
    assert coordinator.post(f"/admin/organisations/{nomada_id}", data=mine).status_code == 302
    with app.app_context():
        nomada = org("nomada")
        assert (nomada.capacity, str(nomada.paused_until)) == (3, "2099-12-31")


def test_two_coordinators_changing_one_field_differently_are_told(app, coordinator):
    """Saved again after the 409, the page's memory had become the organisation as it was then,
    while its fields still showed the older page: the colleague's pause went, unnoticed."""
    with app.app_context():
        nomada_id = org("nomada").id
    seen = seen_on(coordinator.get(f"/admin/organisations/{nomada_id}"))
    colleague = organisation_form(
        app, "nomada", capacity="5", paused_until="2099-12-31", pause_reason="Holiday"
    )
    coordinator.post(f"/admin/organisations/{nomada_id}", data=colleague)
    mine = organisation_form(app, "nomada", capacity="9", seen=seen)
    mine["paused_until"] = mine["pause_reason"] = ""  # as the older page showed them
    refused = coordinator.post(f"/admin/organisations/{nomada_id}", data=mine)
    assert refused.status_code == 409
    page = " ".join(text(refused).split())
    assert "Someone changed this organisation while you were editing it" in page
    assert "Capacity" in page and 'name="capacity"' in page and 'value="9"' in page
    with app.app_context():
        assert org("nomada").capacity == 5
    # Sent again from this page, the change goes in over the colleague's, and only it.
    again = {**mine, "seen": seen_on(refused)}
    assert coordinator.post(f"/admin/organisations/{nomada_id}", data=again).status_code == 302
    with app.app_context():
        nomada = org("nomada")
        assert (nomada.capacity, str(nomada.paused_until)) == (9, "2099-12-31")


def test_a_form_refused_for_its_own_error_keeps_the_page_s_memory(app, coordinator):
    with app.app_context():
        nomada_id = org("nomada").id
    seen = seen_on(coordinator.get(f"/admin/organisations/{nomada_id}"))
    colleague = organisation_form(app, "nomada", paused_until="2099-12-31", pause_reason="Holiday")
    coordinator.post(f"/admin/organisations/{nomada_id}", data=colleague)
    mine = organisation_form(app, "nomada", capacity="9", seen=seen, email="not an e-mail")
    mine["paused_until"] = mine["pause_reason"] = ""
    invalid = coordinator.post(f"/admin/organisations/{nomada_id}", data=mine)
    fixed = {**mine, "email": "info@nomada.example", "seen": seen_on(invalid)}
    assert coordinator.post(f"/admin/organisations/{nomada_id}", data=fixed).status_code == 302
    with app.app_context():
        nomada = org("nomada")
        assert (nomada.capacity, str(nomada.paused_until)) == (9, "2099-12-31")


@pytest.mark.parametrize("seen", ["[" * 5000, '{"capacity": {"a": [1]}, "name_pl": 5}'])
def test_a_page_s_memory_of_the_organisation_that_is_no_organisation_is_not_a_500(
    app, coordinator, seen
):
    """The hidden ``seen`` is the page's: nested past Python's recursion limit it answered 500."""
    with app.app_context():
        nomada_id = org("nomada").id
    mine = organisation_form(app, "nomada", capacity="4", seen=seen)
    assert coordinator.post(f"/admin/organisations/{nomada_id}", data=mine).status_code in (
        302,
        409,
    )


@pytest.mark.parametrize("languages", [["xx"], ["xx", "yy"]])
def test_a_choice_not_offered_is_refused_in_the_reader_s_language(app, coordinator, languages):
    """WTForms' own words for a choice not offered came in English on a Polish page, with the
    value sent echoed: every list of choices now says it in ours."""
    with app.app_context():
        nomada_id = org("nomada").id
        user("coordinator@konsorcjum.example").language = "pl"
        db.session.commit()
    mine = organisation_form(app, "nomada", languages=languages)
    page = text(coordinator.post(f"/admin/organisations/{nomada_id}", data=mine))
    assert "Wybierz z listy." in page and "valid choice" not in page and "xx" not in page


def test_unpausing_takes_effect_on_the_next_routing(app, coordinator):
    with app.app_context():
        nomada_id = org("nomada").id
    form = organisation_form(app, "nomada", paused_until="2099-12-31", pause_reason="Holiday")
    coordinator.post(f"/admin/organisations/{nomada_id}", data=form)
    assert referral_state(app, submit(app, "legal", "wroclaw"))[1] != "nomada"
    coordinator.post(f"/admin/organisations/{nomada_id}", data=organisation_form(app, "nomada"))
    assert referral_state(app, submit(app, "legal", "wroclaw"))[1] == "nomada"


def test_a_pause_needs_a_reason_and_the_form_keeps_what_was_typed(app, coordinator):
    with app.app_context():
        nomada_id = org("nomada").id
    form = organisation_form(app, "nomada", paused_until="2099-12-31", name_en="Nomada NEW")
    page = text(coordinator.post(f"/admin/organisations/{nomada_id}", data=form))
    assert "Say why the organisation is paused." in page
    assert 'value="Nomada NEW"' in page
    with app.app_context():
        assert org("nomada").paused_until is None


def test_capacity_that_is_not_a_number_is_refused_next_to_the_field(app, coordinator):
    with app.app_context():
        nomada_id = org("nomada").id
    form = organisation_form(app, "nomada", capacity="many")
    response = coordinator.post(f"/admin/organisations/{nomada_id}", data=form)
    assert response.status_code == 200
    assert 'id="capacity-error"' in text(response)


UNREADABLE = "Some characters could not be read. Please type this again without them."


def test_a_nul_typed_in_any_field_is_an_error_on_that_field(app, coordinator):
    """PostgreSQL refuses NUL in text: an organisation's name, an API token's name and the
    reference looked up in the audit trail or for a copy of a person's data answered 500 with one
    (every text field of every form is checked now, as the public forms' were)."""
    with app.app_context():
        nomada_id = org("nomada").id
    form = organisation_form(app, "nomada", name_en="Nomada\x00")
    response = coordinator.post(f"/admin/organisations/{nomada_id}", data=form)
    assert response.status_code == 200 and 'id="name_en-error"' in text(response)
    assert UNREADABLE in text(response) and 'value="Stowarzyszenie Nomada"' in text(response)
    token = coordinator.post(
        f"/admin/organisations/{nomada_id}/api-tokens/new", data={"name": "CRM\x00"}
    )
    assert token.status_code == 400 and UNREADABLE in text(token)
    for page in ("/admin/audit", "/admin/copy"):
        response = coordinator.get(page, query_string={"reference": "KX7-94M\x00"})
        assert response.status_code in (200, 400) and UNREADABLE in text(response), page
    with app.app_context():
        assert org("nomada").name_en == "Nomada Association"


def test_a_new_organisation_with_coverage_gets_the_next_matching_request(app, coordinator):
    response = coordinator.post(
        "/admin/organisations/new",
        data={
            "slug": "chelm-help",
            "name_pl": "Pomoc Chełm",
            "languages": ["pl", "uk"],
            "email": "intake@chelm-help.example",
            "takes_referrals": "y",
        },
    )
    assert response.status_code == 302
    edit_url = response.headers["Location"]
    response = coordinator.post(
        edit_url + "/coverage",
        data={"specialism": "psychological", "scope": "city", "city": "chelm"},
    )
    assert response.status_code == 302

    referral_id = submit(app, "psychological", "chelm")

    assert referral_state(app, referral_id) == (State.OFFERED, "chelm-help")


def test_the_same_coverage_twice_is_refused_with_a_message(app, coordinator):
    with app.app_context():
        nomada_id = org("nomada").id
    page = text(
        coordinator.post(
            f"/admin/organisations/{nomada_id}/coverage",
            data={"specialism": "legal", "scope": "city", "city": "wroclaw"},
        )
    )
    assert "The organisation already covers this here." in page


def test_city_coverage_without_a_city_is_refused(app, coordinator):
    with app.app_context():
        nomada_id = org("nomada").id
    page = text(
        coordinator.post(
            f"/admin/organisations/{nomada_id}/coverage",
            data={"specialism": "housing", "scope": "city", "city": ""},
        )
    )
    assert "Choose a city." in page


def test_removing_coverage_stops_routing_there(app, coordinator):
    with app.app_context():
        nomada = org("nomada")
        coverage_id = next(
            c.id for c in nomada.coverage if (c.specialism, c.area) == ("psychological", "wroclaw")
        )
        nomada_id = nomada.id
    response = coordinator.post(f"/admin/organisations/{nomada_id}/coverage/{coverage_id}/remove")
    assert response.status_code == 302
    assert referral_state(app, submit(app, "psychological", "wroclaw"))[0] == State.UNMATCHED


# --- the unmatched queue and routing by hand --------------------------------------------------


def test_chelm_psychological_request_is_queued_and_routed_by_hand_to_pfm(app, coordinator):
    referral_id = submit(app, "psychological", "chelm")

    queue = text(coordinator.get("/admin/unmatched"))
    assert f"/admin/referrals/{referral_id}/route-by-hand" in queue
    assert "Polish Migration Forum Foundation" not in queue  # the candidates are a click away

    page = text(coordinator.get(f"/admin/referrals/{referral_id}/route-by-hand"))
    assert "Polish Migration Forum Foundation" in page
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    with app.app_context():
        pfm_id = org("pfm").id
    response = coordinator.post(
        f"/admin/referrals/{referral_id}/route-by-hand",
        data={
            "organisation_id": pfm_id,
            "reason": "PFM offers online sessions in Ukrainian.",
            "version": version,
        },
        follow_redirects=True,
    )

    assert referral_state(app, referral_id) == (State.OFFERED, "pfm")
    timeline = text(response)
    assert "PFM offers online sessions in Ukrainian." in timeline
    assert f"/admin/referrals/{referral_id}/route-by-hand" not in text(
        coordinator.get("/admin/unmatched")
    )
    with app.app_context():
        last = db.session.get(Referral, referral_id).events[-1]
        assert (last.action, last.offered_to_id) == (Action.ROUTE_BY_HAND, pfm_id)
        assert last.actor_id == user("coordinator@konsorcjum.example").id


def test_routing_by_hand_needs_a_reason(app, coordinator):
    referral_id = submit(app, "psychological", "chelm")
    with app.app_context():
        pfm_id = org("pfm").id
    page = text(
        coordinator.post(
            f"/admin/referrals/{referral_id}/route-by-hand",
            data={"organisation_id": pfm_id, "reason": "  ", "version": 1},
        )
    )
    assert "Say why you route it by hand" in page
    assert referral_state(app, referral_id) == (State.UNMATCHED, None)


def test_an_offered_referral_can_be_rerouted_by_hand(app, coordinator):
    referral_id = submit(app, "legal", "wroclaw")
    assert referral_state(app, referral_id) == (State.OFFERED, "nomada")
    with app.app_context():
        hfpc_id = org("hfpc").id
        version = db.session.get(Referral, referral_id).version
    coordinator.post(
        f"/admin/referrals/{referral_id}/route-by-hand",
        data={"organisation_id": hfpc_id, "reason": "Court case.", "version": version},
    )
    assert referral_state(app, referral_id) == (State.OFFERED, "hfpc")


def test_routing_by_hand_from_a_stale_page_says_someone_else_acted(app, coordinator):
    referral_id = submit(app, "psychological", "chelm")
    with app.app_context():
        pfm_id = org("pfm").id
    form = {"organisation_id": pfm_id, "reason": "First.", "version": 1}
    coordinator.post(f"/admin/referrals/{referral_id}/route-by-hand", data=form)
    second = coordinator.post(
        f"/admin/referrals/{referral_id}/route-by-hand",
        data={**form, "reason": "Second."},
        follow_redirects=True,
    )
    assert "Someone changed this referral in the meantime." in text(second)


def test_a_closed_referral_shows_no_route_form(app, coordinator):
    referral_id = submit(app, "legal", "wroclaw")
    with app.app_context():
        lifecycle.act(referral_id, user("coordinator@konsorcjum.example"), Action.WITHDRAW)
    page = text(coordinator.get(f"/admin/referrals/{referral_id}/route-by-hand"))
    assert 'name="reason"' not in page


def test_unknown_referral_is_404(coordinator):
    assert coordinator.get("/admin/referrals/999/route-by-hand").status_code == 404


# --- users ------------------------------------------------------------------------------------


def create_user(coordinator, **fields):
    data = {"email": "new@nomada.example", "name": "Nowa Osoba", "role": "staff", "language": "uk"}
    data.update(fields)
    return coordinator.post("/admin/users/new", data=data)


def link_in(response) -> str:
    return re.search(r'value="(http://localhost/reset/[^"]+)"', text(response)).group(1)


def test_new_staff_account_gets_a_one_time_link_to_choose_a_password(app, client, coordinator):
    with app.app_context():
        nomada_id = org("nomada").id
    response = create_user(coordinator, organisation_id=nomada_id)
    assert response.status_code == 200
    link = link_in(response).removeprefix("http://localhost")

    assert client.get(link).status_code == 200
    response = client.post(
        link, data={"password": "a long new password", "repeat": "a long new password"}
    )
    assert response.status_code == 302

    signed_in = client.post(
        "/login", data={"email": "new@nomada.example", "password": "a long new password"}
    )
    assert signed_in.status_code == 302
    assert client.get(link).status_code == 404  # used once
    with app.app_context():
        assert user("new@nomada.example").organisation_id == nomada_id


def test_no_password_is_ever_put_in_an_e_mail(app, coordinator):
    from referral.models import OutboxMessage

    with app.app_context():
        nomada_id = org("nomada").id
    create_user(coordinator, organisation_id=nomada_id)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxMessage)) == 0


def test_staff_without_an_organisation_is_refused(coordinator):
    page = text(create_user(coordinator, organisation_id=""))
    assert "Staff belong to an organisation: choose one." in page


def test_an_e_mail_already_in_use_is_refused(coordinator):
    page = text(create_user(coordinator, email="STAFF@pfm.example", organisation_id=4))
    assert "An account with this e-mail already exists." in page


def test_deactivating_a_user_ends_their_session_at_once(app, login_as, coordinator):
    nomada = login_as("nomada")
    assert nomada.get("/staff/").status_code == 200
    with app.app_context():
        nomada_user_id = user("staff@nomada.example").id
    coordinator.post(f"/admin/users/{nomada_user_id}/active", data={"active": "0"})

    assert nomada.get("/staff/").status_code == 302
    again = nomada.post("/login", data={"email": "staff@nomada.example", "password": DEMO_PASSWORD})
    assert again.status_code == 200  # refused


def test_a_coordinator_cannot_deactivate_themself(app, coordinator):
    with app.app_context():
        own_id = user("coordinator@konsorcjum.example").id
    response = coordinator.post(
        f"/admin/users/{own_id}/active", data={"active": "0"}, follow_redirects=True
    )
    assert "You cannot deactivate your own account." in text(response)
    assert coordinator.get("/admin/").status_code == 200


def test_a_new_password_link_replaces_the_previous_one(app, client, coordinator):
    with app.app_context():
        pfm_user_id = user("staff@pfm.example").id
    first = link_in(coordinator.post(f"/admin/users/{pfm_user_id}/password-link"))
    second = link_in(coordinator.post(f"/admin/users/{pfm_user_id}/password-link"))
    assert client.get(first.removeprefix("http://localhost")).status_code == 404
    assert client.get(second.removeprefix("http://localhost")).status_code == 200
    with app.app_context():
        token = second.rsplit("/", 1)[1]
        assert db.session.scalar(db.select(PasswordReset.token_hash)) != token  # only the hash


def test_an_expired_link_does_not_work(app, client, staff):
    from datetime import timedelta

    from referral.models import utcnow

    with app.app_context():
        token = accounts.issue_password_reset(
            user("staff@pfm.example").id, by=None, now=utcnow() - timedelta(days=4)
        )
    assert client.get(f"/reset/{token}").status_code == 404


def test_passwords_that_differ_or_are_short_are_refused(app, client, staff):
    with app.app_context():
        token = accounts.issue_password_reset(user("staff@pfm.example").id, by=None)
    page = text(client.post(f"/reset/{token}", data={"password": "short", "repeat": "short"}))
    assert "Use at least 12 characters." in page
    page = text(
        client.post(
            f"/reset/{token}", data={"password": "a long password 1", "repeat": "a long password 2"}
        )
    )
    assert "The two passwords are not the same." in page


def test_changing_the_role_makes_staff_a_coordinator(app, login_as, coordinator):
    with app.app_context():
        pfm_user_id = user("staff@pfm.example").id
    coordinator.post(
        f"/admin/users/{pfm_user_id}", data={"role": "coordinator", "organisation_id": ""}
    )
    # A coordinator enrols in two-step sign-in before any coordinator page opens.
    new_coordinator = login_as("pfm")
    assert new_coordinator.get("/admin/").headers["Location"] == "/staff/profile/2fa"
    with app.app_context():
        enrol("staff@pfm.example")
    assert new_coordinator.get("/admin/").status_code == 200
    with app.app_context():
        changed = db.session.get(User, pfm_user_id)
        assert (changed.role, changed.organisation_id) == ("coordinator", None)


def test_a_coordinator_cannot_change_their_own_role(app, coordinator):
    """Deactivating oneself was refused, but a coordinator could make themself staff: the only
    coordinator left the consortium with none, and the pages to put it right with them."""
    with app.app_context():
        me = user("coordinator@konsorcjum.example")
        me_id, pfm_id = me.id, org("pfm").id
    response = coordinator.post(
        f"/admin/users/{me_id}", data={"role": "staff", "organisation_id": str(pfm_id)}
    )
    assert response.status_code == 400
    assert "You cannot change your own role." in unescape(response.get_data(as_text=True))
    assert coordinator.get("/admin/").status_code == 200
    with app.app_context():
        assert db.session.get(User, me_id).role == "coordinator"


def test_no_change_may_leave_the_consortium_without_an_active_coordinator(app, coordinator):
    with app.app_context():
        me = user("coordinator@konsorcjum.example")
        with pytest.raises(accounts.ServiceError) as refused:
            accounts.change_role(me.id, "staff", org("pfm").id, by=None)
        assert refused.value.code == accounts.ServiceError.LAST_COORDINATOR
        pfm = user("staff@pfm.example")
        accounts.change_role(pfm.id, "coordinator", None, by=me)
        accounts.change_role(me.id, "staff", org("pfm").id, by=pfm)  # another one is left
        assert user("coordinator@konsorcjum.example").role == "staff"


# --- audit --------------------------------------------------------------------------------------


def test_audit_shows_sign_ins_and_failures_and_referral_steps(app, client, coordinator):
    client.post("/login", data={"email": "staff@pfm.example", "password": "wrong"})
    referral_id = submit(app, "legal", "wroclaw")
    page = text(coordinator.get("/admin/audit"))
    assert "Failed sign-in" in page and "Signed in" in page
    assert f'href="/staff/referrals/{referral_id}"' in page


def test_what_was_typed_for_no_account_is_not_kept_only_told_apart(app, client, coordinator):
    """A password pasted into the e-mail field, or anyone's address tried by an attacker: the
    audit keeps that there was no such account, and which attempts typed the same, not the text."""
    for typed in ("Hunter2-My-Own-Password", "hunter2-my-own-password", "nobody@example.org"):
        client.post("/login", data={"email": typed, "password": "wrong"})
    with app.app_context():
        kept = db.session.scalars(
            select(SignInEvent.email).where(SignInEvent.user_id.is_(None)).order_by(SignInEvent.id)
        ).all()
    assert not any("hunter2" in email.lower() or "nobody" in email for email in kept)
    assert kept[0] == kept[1] != kept[2]  # told apart, not read
    page = text(coordinator.get("/admin/audit"))
    assert page.count("No such account") == 3 and "Hunter2" not in page


def test_attempts_on_a_locked_account_are_recorded_as_that_account(app, client, coordinator):
    for _ in range(6):  # five wrong passwords lock it; the sixth is refused unchecked
        client.post("/login", data={"email": "staff@nomada.example", "password": "wrong"})
    with app.app_context():
        nomada = user("staff@nomada.example").id
        recorded = db.session.execute(
            select(SignInEvent.user_id, SignInEvent.email).where(SignInEvent.success.is_(False))
        ).all()
    assert recorded == [(nomada, "staff@nomada.example")] * 6


def test_audit_filters_by_referral_and_by_user(app, coordinator):
    first, second = submit(app, "legal", "wroclaw"), submit(app, "legal", "krakow")
    page = text(coordinator.get(f"/admin/audit?referral_id={first}"))
    assert f'href="/staff/referrals/{first}"' in page
    assert f'href="/staff/referrals/{second}"' not in page
    assert "1 entry." in page
    with app.app_context():
        own_id = user("coordinator@konsorcjum.example").id
    page = text(coordinator.get(f"/admin/audit?user_id={own_id}&kind=sign_in"))
    assert "2 entries." in page  # the password, then the second step


def test_audit_counts_up_to_the_cap_and_pages_through_the_newest_of_every_kind(
    app, client, coordinator, monkeypatch
):
    monkeypatch.setattr(paging, "COUNT_CAP", 6)
    monkeypatch.setattr(audit, "PER_PAGE", 4)  # the last page stops at the cap: 4 + 2
    for city in ("wroclaw", "krakow", "warszawa"):
        client.post("/login", data={"email": "staff@pfm.example", "password": "wrong"})
        submit(app, "legal", city)
    everyone = audit.AuditFilter()
    with app.app_context():
        trail = audit.entries(everyone)
        newest_first = db.session.execute(
            select(trail.c.kind, trail.c.id).order_by(trail.c.at.desc(), trail.c.id.desc())
        ).all()
        pages = [audit.page(everyone, number) for number in (1, 2, 3)]
    assert len(newest_first) > 6 and {kind for kind, _id in newest_first} >= {"referral", "sign_in"}
    shown = [(row.kind, row.id) for page in pages[:2] for row in page.items]
    assert shown == [tuple(row) for row in newest_first[:6]]
    assert [(page.number, page.total, page.capped) for page in pages] == [
        (1, 6, True),
        (2, 6, True),
        (2, 6, True),  # past the cap: its last page
    ]
    assert "More than 6 entries." in text(coordinator.get("/admin/audit"))
    pager = coordinator.get("/admin/audit?_method=POST&_anchor=x").get_data(as_text=True)
    assert 'href="/admin/audit?page=2" rel="next"' in pager  # url_for's own keys left out
    assert "3 entries." in text(coordinator.get("/admin/audit?kind=referral"))


def test_audit_csv_is_utf8_with_bom_and_an_attachment(app, coordinator):
    submit(app, "legal", "wroclaw")
    response = coordinator.get("/admin/audit.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.data.startswith("\ufeff".encode())
    assert "coordinator@konsorcjum.example" in response.data.decode("utf-8-sig")


def test_a_typed_formula_is_defused_in_the_csv(app, client, coordinator):
    """Words staff wrote with a step, as a spreadsheet would run them."""
    referral_id = submit(app, "legal", "wroclaw")
    with app.app_context():
        holder = db.session.get(Referral, referral_id).organisation.slug
        lifecycle.act(
            referral_id,
            user(f"staff@{holder}.example"),
            Action.DECLINE,
            reason_code="other",
            text="=HYPERLINK(1)",
        )
    body = coordinator.get("/admin/audit.csv?kind=referral").data.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body and ",=HYPERLINK" not in body


# --- the public directory ---------------------------------------------------------------------


def test_public_directory_lists_members_that_take_referrals(client, directory):
    page = text(client.get("/en/organisations"))
    assert "Nomada Association" in page
    assert "Amnesty" not in page  # does not take referrals
    assert "Legal help: Wrocław, Lower Silesian" in page


def test_public_directory_says_plainly_when_languages_are_not_confirmed(client, directory):
    page = text(client.get("/en/organisations"))
    nomada = re.search(r"Nomada Association .*?</h2>(.*?)</section>", page, re.S).group(1)
    hfpc = re.search(r"Helsinki Foundation for Human Rights .*?</h2>(.*?)</section>", page, re.S)
    assert "has not confirmed these languages" in nomada
    assert "has not confirmed these languages" not in hfpc.group(1)


def test_public_directory_is_in_the_page_language(client, directory):
    page = text(client.get("/uk/organisations"))
    assert "Асоціація «Номада»" in page and 'lang="uk"' in page


def test_history_and_audit_give_a_decline_reason_in_words(app, coordinator):
    referral_id = submit(app, "legal", "wroclaw")
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        lifecycle.act(
            referral_id,
            user("staff@nomada.example"),
            Action.DECLINE,
            referral.version,
            reason_code="no_capacity",
        )
    for page in (f"/admin/referrals/{referral_id}/route-by-hand", "/admin/audit"):
        html = text(coordinator.get(page))
        assert "We have no capacity now" in html
        assert "no_capacity" not in html


def test_the_coordinator_reads_which_mail_was_given_up_to_correct_the_address(
    app, coordinator, login_as, smtp_server
):
    """An organisation's address the mail server refuses: its offers never arrive, and only the
    coordinator, who keeps the addresses, can mend it. A person's address is never shown."""
    from referral import mailer

    from .staff_steps import refer

    smtp_server.unknown.update({"staff@nomada.example", "olena@example.com"})
    refer(login_as("pfm"), email="olena@example.com", contact_channel="email")
    with app.app_context():
        mailer.deliver_pending()
    page = coordinator.get("/admin/undelivered").get_data(as_text=True)
    row = re.search(
        r"<tr>\s*<td>[^<]*</td>\s*<th scope=\"row\">staff@nomada.example</th>.*?</tr>", page, re.S
    )
    assert row and re.search(r"[A-Z0-9]{3}-[A-Z0-9]{3}", row[0])  # the offer's subject
    assert "The mail server says this address does not exist." in row[0]
    assert "olena@example.com" not in page
    assert "1 message to a person was not delivered either." in page
    home = coordinator.get("/admin/").get_data(as_text=True)
    assert "1 mail to staff or an organisation was not delivered in the last 30 days" in home
    assert login_as("nomada").get("/admin/undelivered").status_code == 404  # as every admin page


def test_mail_still_being_tried_or_sent_is_not_listed_as_undelivered(
    app, coordinator, login_as, smtp_server
):
    from .staff_steps import refer

    refer(login_as("pfm"))
    page = coordinator.get("/admin/undelivered").get_data(as_text=True)
    assert "All mail to staff and organisations was delivered." in page
    assert "not delivered either" not in page


def test_the_start_page_says_plainly_when_nothing_waits(coordinator):
    """Counts of nothing ("0 referrals are waiting") read as a riddle: said in words."""
    page = " ".join(text(coordinator.get("/admin/")).split())
    assert "No referral is waiting for you to route it by hand." in page
    assert "No open request reaches the limit soon." in page
    assert "All mail to staff and organisations was delivered." in page
    assert not re.search(r"\b0 (referrals|open requests|mails)\b", page)


def landmark_names(page: str) -> list[str]:
    """The names of the page's named regions: sections named by a heading, boxes named by a
    label (``scroll_table``)."""
    names = [
        " ".join(re.sub(r"<[^>]+>", "", heading).split())
        for target in re.findall(r'<section[^>]*aria-labelledby="([^"]+)"', page)
        for heading in re.findall(rf'id="{re.escape(target)}"[^>]*>(.*?)</', page, re.S)[:1]
    ]
    return names + re.findall(r'role="region" aria-label="([^"]+)"', page)


def test_no_two_regions_of_an_admin_page_share_a_name(coordinator):
    """axe's landmark-unique: a screen reader's list of regions named the organisation's coverage
    twice (the section, and the table's scrolling box inside it)."""
    for url in ADMIN_PAGES:
        names = landmark_names(text(coordinator.get(url)))
        assert len(names) == len(set(names)), (url, names)


def test_the_start_page_says_when_mail_waits_unsent(app, coordinator):
    """With the worker stopped or the mail server down, the start page said all mail to staff
    was delivered, though nothing had been sent."""
    from datetime import timedelta

    from referral.models import OutboxMessage, utcnow

    submit(app, "legal", "wroclaw")
    assert "waiting to be sent" not in text(coordinator.get("/admin/"))  # just written
    with app.app_context():
        waiting = db.session.scalars(db.select(OutboxMessage)).all()
        for message in waiting:
            message.created_at = utcnow() - timedelta(minutes=42)
        db.session.commit()
    page = text(coordinator.get("/admin/"))
    assert "All mail to staff and organisations was delivered." not in page
    assert f"{len(waiting)} messages are waiting to be sent" in page
    assert "42 minutes" in page


def test_the_user_page_names_the_role_once(app, coordinator):
    with app.app_context():
        pfm_user_id = user("staff@pfm.example").id
    page = text(coordinator.get(f"/admin/users/{pfm_user_id}"))
    assert len(re.findall(r">Role</(h2|legend)>", page)) == 1


def test_the_report_period_writes_its_months_out_as_every_page(coordinator):
    page = text(coordinator.get("/admin/reports?start=2026-01-01&end=2026-12-01"))
    assert "From January 1, 2026 to December 1, 2026." in page
