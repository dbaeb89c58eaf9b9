"""Issue 13.7: switching the language in the middle of the form keeps what was typed, without
JavaScript: the switch posts the form as a draft, shown again in the other language, nothing
checked and nothing stored."""

import re

from sqlalchemy import func, select

from referral.extensions import db
from referral.models import HelpRequest

HALF_TYPED = {
    "needs": ["legal", "housing"],
    "city": "lublin",
    "languages": ["uk", "be"],
    "name": "Олена Коваленко",
    "phone": "+380 67 123 45 67",
    "contact_channel": "viber",
    "safe_to_message": "y",
    "description": "Мені потрібна консультація щодо карти побиту.",
    "urgency": "urgent",
    "residence_status": "temporary_protection",
}


def test_the_language_switch_on_the_form_is_a_button_posting_the_form_to_the_other_language(
    client, directory
):
    html = client.get("/uk/request").get_data(as_text=True)
    form = '<form method="post" action="/uk/request" novalidate class="intake" id="intake-form">'
    assert form in html
    switch = re.search(r'<nav class="language-switcher".*?</nav>', html, re.S).group(0)
    for code in ("pl", "uk", "en"):
        assert re.search(
            rf'<button type="submit" form="intake-form" formaction="/{code}/request"\s+'
            rf'formnovalidate name="draft" value="{code}"',
            switch,
        )
    assert "<a " not in switch


def test_a_draft_comes_back_in_the_other_language_with_everything_typed_and_nothing_stored(
    app, client, directory
):
    response = client.post("/en/request", data={**HALF_TYPED, "draft": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html and "Ask for help" in html
    for need in ("legal", "housing"):
        assert re.search(rf'value="{need}"[^>]*checked|checked[^>]*value="{need}"', html)
    assert re.search(r'<option selected value="lublin">|<option value="lublin" selected>', html)
    assert 'value="Олена Коваленко"' in html and 'value="+380 67 123 45 67"' in html
    assert re.search(r'value="viber"[^>]*checked|checked[^>]*value="viber"', html)
    assert re.search(r'value="urgent"[^>]*checked|checked[^>]*value="urgent"', html)
    assert "Мені потрібна консультація щодо карти побиту.</textarea>" in html
    assert re.search(r'<option selected value="temporary_protection">', html)
    # Not checked: no error for the consent that is not ticked yet; nothing stored.
    assert "error-summary" not in html and 'class="error"' not in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HelpRequest)) == 0
