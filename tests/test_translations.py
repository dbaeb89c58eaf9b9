"""Three complete languages: every catalogue compiles, every message is translated, none is fuzzy,
the catalogues hold every string the code marks, and templates show no text outside ``_()``."""

import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("pl", "uk", "en")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "N_": None,
    "pgettext": ((1, "c"), 2),
}


def catalog(language):
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


def extracted_ids() -> set[str]:
    method_map = [
        ("referral/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    options = {"templates/**.html": {"extensions": "jinja2.ext.do"}}
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options, keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            message = message[0]
        if message:
            ids.add(message)
    return ids


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_not_fuzzy(language):
    problems = []
    for message in catalog(language):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_compiles_with_matching_placeholders(language):
    cat = catalog(language)
    errors = [(message.id, err) for message, errs in cat.check() for err in errs]
    assert not errors
    write_mo(BytesIO(), cat)


@pytest.mark.parametrize("language", ("pl", "uk"))
def test_plural_forms_have_three_cases(language):
    assert catalog(language).num_plurals == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_holds_every_marked_string(language):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(language) if m.id}
    missing = sorted(extracted_ids() - ids)
    assert not missing, f"run `make translations`; missing: {missing[:20]}"


def has_letters(text: str) -> bool:
    """Letters outside the placeholder that stands for a ``{{ expression }}``."""
    return bool(re.search(r"[^\W\d_]", text.replace(EXPRESSION, "")))


class VisibleText(HTMLParser):
    """Collects text and human-read attribute values that contain letters."""

    ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        for name, value in attrs:
            if name in self.ATTRIBUTES and value and has_letters(value):
                self.found.append(value)

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and has_letters(data):
            self.found.append(data.strip())


EXPRESSION = "\x00"


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html"))
)
def test_template_has_no_text_outside_gettext(template):
    source = (ROOT / template).read_text(encoding="utf-8")
    # Jinja comments, statements and expressions go; what is left is what a reader sees.
    source = re.sub(r"{#.*?#}", "", source, flags=re.S)
    source = re.sub(r"{%.*?%}", "", source, flags=re.S)
    source = re.sub(r"{{.*?}}", EXPRESSION, source, flags=re.S)
    parser = VisibleText()
    parser.feed(source)
    assert not parser.found, f"{template}: text outside _(): {parser.found}"


# Ukrainian takes 21, 31, 41… in the form of 1: that form must not speak of one thing only.
UK_SAID_OF_ONE = {
    "%(num)d mail to staff or an organisation was not delivered in the last %(days)d days: an "
    "address to correct.": ["чи організації ", "виправте адресу"],
    "%(num)d message to a person was not delivered either. The organisation that holds the case "
    "sees it on the referral's page and can check the contact details with the person.": [
        "людині",
        "бачить його",
        "цієї людини",
    ],
    "%(num)d open request will be withdrawn and erased soon because it stayed open too long.": [
        "бо він"
    ],
    "More than %(num)d open request will be withdrawn and erased soon because it stayed open too "
    "long.": ["бо він"],
    "%(num)d referral is waiting for you to route it by hand.": ["його"],
}


def test_ukrainian_form_of_one_reads_right_for_twenty_one(app):
    from flask_babel import force_locale, ngettext

    plurals = {m.id[0]: m.id[1] for m in catalog("uk") if m.pluralizable}
    with app.test_request_context(), force_locale("uk"):
        for singular, said_of_one in UK_SAID_OF_ONE.items():
            text = ngettext(singular, plurals[singular], 21, days=30)
            assert "21" in text, text
            for words in said_of_one:
                assert words not in text, text
