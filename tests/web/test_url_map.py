"""Every route of the app, walked: security headers on every response, and no address or page
number anyone can type gives a server error."""

import pytest

from referral.seed import DEMO_PASSWORD

from ..web.test_sign_in_attacks import sign_in

BIG_IDS = [2**31, 2**63 + 1, 10**30]
TOKEN = "x" * 43
SAMPLE = {"lang": "en", "filename": "app.css", "key": "summary", "token": TOKEN, "id": "nothing"}


def routes(app, method="GET"):
    return [rule for rule in app.url_map.iter_rules() if method in rule.methods]


def path_of(rule, ids=1) -> str:
    values = {
        name: ids
        if type(converter).__name__ in ("IntegerConverter", "IdConverter")
        else SAMPLE.get(name, "x")
        for name, converter in rule._converters.items()
    }
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<{name}>", str(value))
        for kind in ("int", "lang", "path", "string"):
            path = path.replace(f"<{kind}:{name}>", str(value))
    return path


@pytest.fixture
def visitors(app, staff, coordinator):
    """An anonymous visitor, partner staff and the coordinator."""
    partner = app.test_client()
    sign_in(partner, "staff@nomada.example", DEMO_PASSWORD)
    return {"anonymous": app.test_client(), "staff": partner, "coordinator": coordinator}


PRIVATE_BLUEPRINTS = ("staff.", "admin.")
TOKEN_PAGES = ("public.status", "public.withdraw", "auth.reset_password")


def check_headers(endpoint, response, secure=False):
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, endpoint
    script_src = [d for d in csp.split(";") if d.strip().startswith(("script-src", "default-src"))]
    assert script_src and not any("unsafe-inline" in d for d in script_src), endpoint
    assert headers.get("X-Content-Type-Options") == "nosniff", endpoint
    assert headers.get("Referrer-Policy"), endpoint
    if endpoint.startswith(PRIVATE_BLUEPRINTS) or endpoint in TOKEN_PAGES:
        assert "no-store" in headers.get("Cache-Control", ""), endpoint
    if endpoint in TOKEN_PAGES:
        assert headers["Referrer-Policy"] == "no-referrer", endpoint
    assert ("Strict-Transport-Security" in headers) == secure, endpoint


def test_every_page_carries_the_security_headers(app, visitors):
    seen = 0
    for rule in routes(app):
        for who, client in visitors.items():
            response = client.get(path_of(rule))
            assert response.status_code < 500, (rule.rule, who)
            check_headers(rule.endpoint, response)
            seen += 1
    assert seen > 3 * 30


def test_over_https_every_page_also_asks_for_https_next_time(app, visitors):
    client = app.test_client()
    for rule in routes(app):
        check_headers(rule.endpoint, client.get(path_of(rule), base_url="https://localhost"), True)


def test_the_pages_that_hold_a_token_send_no_referrer(app, client, visitors):
    from .test_public import post_intake

    assert post_intake(client, "en").headers["Referrer-Policy"] == "no-referrer"
    submitted = visitors["staff"].get("/staff/referrals/new")
    assert "no-store" in submitted.headers["Cache-Control"]


@pytest.mark.parametrize("big", BIG_IDS)
def test_an_id_too_big_for_the_database_is_not_found(app, visitors, big):
    for method in ("GET", "POST"):
        for rule in routes(app, method):
            if "<int:" not in rule.rule:
                continue
            response = visitors["coordinator"].open(path_of(rule, ids=big), method=method)
            assert response.status_code == 404, (method, rule.rule)


@pytest.mark.parametrize("big", BIG_IDS)
def test_a_page_number_too_big_shows_a_page_not_an_error(app, visitors, big):
    query = f"?page={big}&offered_page={big}&cases_page={big}&sent_page={big}&referral_id={big}"
    for rule in routes(app):
        for who, client in visitors.items():
            response = client.get(path_of(rule) + query)
            assert response.status_code < 500, (rule.rule, who)


@pytest.mark.parametrize("number", ["²", "١٢", "３", "-1", "1e9", "٣" * 12])
def test_a_page_number_in_other_digits_shows_the_first_page(app, visitors, number):
    """Superscripts, Arabic-Indic and full-width digits are digits to ``str.isdigit`` but not to
    ``int``: ``?page=²`` made every paged list (the inbox, the unmatched queue, the audit, the
    retention list) answer 500."""
    names = ("page", "offered_page", "cases_page", "sent_page")
    for rule in routes(app):
        for who, client in visitors.items():
            response = client.get(path_of(rule), query_string=dict.fromkeys(names, number))
            assert response.status_code < 500, (rule.rule, who)


def test_a_token_page_form_works_over_https_though_it_sends_no_referrer(app, client, directory):
    """No-referrer pages post their forms without a Referer: the CSRF token must be enough."""
    from ..helpers import csrf_token_of
    from .test_public import sent_request

    path = sent_request(client, "en")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.get(path, base_url="https://localhost")
        response = client.post(
            f"{path}/withdraw",
            data={"csrf_token": csrf_token_of(page.get_data(as_text=True))},
            base_url="https://localhost",
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 200
    assert "Withdraw" in response.get_data(as_text=True)


def test_query_keys_that_url_for_reads_as_its_own_are_ignored(app, visitors):
    """A page rebuilds its own address (the language switch, the pager, the audit's CSV link) from
    the query: keys ``url_for`` takes as arguments (``_method``, ``_external``, ``_scheme``,
    ``_anchor``) made every public page answer 500, or a link to another host's scheme."""
    query = "?_method=POST&_external=1&_scheme=javascript&_anchor=x&kind=sign_in"
    for rule in routes(app):
        for who, client in visitors.items():
            response = client.get(path_of(rule) + query)
            assert response.status_code < 500, (rule.rule, who)
            assert b"javascript:" not in response.data, (rule.rule, who)
