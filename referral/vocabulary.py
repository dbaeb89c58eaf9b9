"""The product's fixed vocabularies: codes are stable identifiers, labels are translated.

Pure (no Flask): labels are marked with ``N_`` so Babel extracts them; the web layer passes them
through ``gettext`` when it shows them, in the viewer's locale.
"""

from enum import StrEnum
from typing import TYPE_CHECKING


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


class LabelledEnum(StrEnum):
    """A StrEnum whose members carry an English label marked for translation.

    Declared as ``CODE = "code", N_("Label")`` (optionally a third item: a one-line hint).
    """

    _value_: str
    label: str
    hint: str

    if TYPE_CHECKING:
        # Type checkers read a member as its code: ``.value`` is the code, and looking a member
        # up by its code (``State("new")``) needs no label.
        @property
        def value(self) -> str: ...

    else:

        def __new__(cls, value: str, label: str, hint: str = ""):
            member = str.__new__(cls, value)
            member._value_ = value
            member.label = label
            member.hint = hint
            return member


class Specialism(LabelledEnum):
    LEGAL = "legal", N_("Legal help"), N_("Residence, work permits, asylum, your rights.")
    LANGUAGE = "language", N_("Polish lessons"), N_("Courses to learn Polish.")
    HOUSING = "housing", N_("Housing"), N_("Finding a flat or a place to stay.")
    PSYCHOLOGICAL = (
        "psychological",
        N_("Psychological support"),
        N_("Someone to talk to about stress, loss or fear."),
    )
    EMPLOYMENT = "employment", N_("Work"), N_("Finding a job, your rights at work.")
    EDUCATION = "education", N_("School and children"), N_("School places, help for children.")
    MEDICAL = "medical", N_("Health care"), N_("How to see a doctor, health insurance.")
    MATERIAL = "material", N_("Material help"), N_("Food, clothes, money for basic needs.")
    INFORMATION = (
        "information",
        N_("Information and documents"),
        N_("General advice, forms, where to go."),
    )


class Urgency(LabelledEnum):
    NORMAL = "normal", N_("Normal"), N_("An organisation answers within about two working days.")
    URGENT = (
        "urgent",
        N_("Urgent"),
        N_("You may lose your home, job or legal stay within days, or you are not safe."),
    )


class ContactChannel(LabelledEnum):
    PHONE = "phone", N_("Phone call")
    SMS = "sms", N_("SMS")
    EMAIL = "email", N_("E-mail")
    VIBER = "viber", N_("Viber")
    TELEGRAM = "telegram", N_("Telegram")
    WHATSAPP = "whatsapp", N_("WhatsApp")


class ResidenceStatus(LabelledEnum):
    # The words on people's documents beside the law's: PESEL UKR, karta pobytu, CUKR.
    TEMPORARY_PROTECTION = (
        "temporary_protection",
        N_("Temporary protection for people from Ukraine (PESEL UKR, UKR status)"),
    )
    PROTECTION_APPLICANT = "protection_applicant", N_("Applied for international protection")
    REFUGEE = "refugee", N_("Refugee status or subsidiary protection")
    TEMPORARY_RESIDENCE = (
        "temporary_residence",
        N_("Temporary residence permit (residence card, karta pobytu; also CUKR)"),
    )
    PERMANENT_RESIDENCE = (
        "permanent_residence",
        N_("Permanent residence or EU long-term resident (residence card, karta pobytu)"),
    )
    VISA = "visa", N_("Visa or visa-free stay")
    NO_DOCUMENT = "no_document", N_("No document")
    UNDISCLOSED = "undisclosed", N_("I prefer not to say")


class Role(LabelledEnum):
    STAFF = "staff", N_("Staff")
    COORDINATOR = "coordinator", N_("Coordinator")


# Interface languages: the public URL prefix and the staff preference.
UI_LANGUAGES = ("pl", "uk", "en")

# Languages a person may speak (ISO 639-1); their names come from Babel's locale data.
SPOKEN_LANGUAGES = (
    "uk",
    "ru",
    "pl",
    "en",
    "be",
    "ka",
    "hy",
    "az",
    "tr",
    "ar",
    "fa",
    "ps",
    "uz",
    "tg",
    "kk",
    "vi",
    "hi",
    "es",
    "fr",
    "de",
)
