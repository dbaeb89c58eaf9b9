"""What a person is told about each of their needs, on the confirmation and on the status page:
what happened and nothing more (docs/design.md, "Honest promises"). A need offered to an
organisation names it and says by when it answers; a need that went to nobody says so, when the
coordinator answers, and which of the consortium's members help anywhere in Poland meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .directory import active_members, kept
from .models import LocalisedNames, Organisation
from .routing import Scope
from .vocabulary import Specialism


@dataclass(frozen=True)
class PublicMember(LocalisedNames):
    """What a page shows of a member: its names and public contact details, copied from the
    directory so that this process can keep it between requests (``directory.kept``)."""

    name_pl: str
    name_uk: str | None
    name_en: str | None
    public_phone: str | None
    website: str | None
    email: str | None

    @classmethod
    def of(cls, org: Organisation) -> PublicMember:
        return cls(org.name_pl, org.name_uk, org.name_en, org.public_phone, org.website, org.email)


@dataclass(frozen=True)
class ContactPoint:
    """A member that helps people anywhere in Poland (by phone, e-mail or online), and with what."""

    organisation: PublicMember
    specialisms: tuple[Specialism, ...]


def nationwide_members() -> list[ContactPoint]:
    """The members taking referrals that help people anywhere in Poland, with what; read once
    per process and directory version."""
    return kept("nationwide members", _read_nationwide_members)


def _read_nationwide_members() -> list[ContactPoint]:
    points = []
    for org in active_members():
        specialisms = tuple(
            s
            for s in Specialism
            if any(c.specialism == s and c.scope == Scope.NATIONWIDE for c in org.coverage)
        )
        if specialisms:
            points.append(ContactPoint(PublicMember.of(org), specialisms))
    return points


@dataclass
class Promises:
    """What the needs' list of a page promises: how many working days the coordinator takes to
    answer about a need nobody took, and the contact points meanwhile (read only if needed)."""

    answer_days: int

    @cached_property
    def _members(self) -> list[ContactPoint]:
        return nationwide_members()

    def contact_points(self, specialism: str) -> tuple[list[ContactPoint], bool]:
        """The nationwide members that help with this need, and True; when none does, every
        nationwide member (for the person's other questions), and False."""
        helping = [point for point in self._members if specialism in point.specialisms]
        return (helping, True) if helping else (self._members, False)
