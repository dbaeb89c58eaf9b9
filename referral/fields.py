"""Form pieces the blueprints share: the checkbox list and choices drawn from a vocabulary."""

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from wtforms import Field, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from .vocabulary import LabelledEnum


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as checkboxes (one per option), not a list box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def choices_of(vocabulary: Iterable[LabelledEnum]) -> list[tuple[str, str]]:
    """(code, translated label) for each member, in the vocabulary's order; the labels are
    translated when the form is shown, in the reader's language."""
    return [(member.value, _l(member.label)) for member in vocabulary]


def optional_int(value: object) -> int | None:
    """Coerce a select's value to an id; the empty choice ("none") gives None."""
    return int(value) if value not in (None, "", "None") else None  # type: ignore[call-overload]


def text_of(field: Field) -> str:
    """What was typed in a text field, without surrounding spaces ("" when nothing was)."""
    return (field.data or "").strip()


def show_error(field: Field, message: str) -> None:
    """Put a message next to a field after validation (a use case refused what it says)."""
    field.errors = [*field.errors, message]
