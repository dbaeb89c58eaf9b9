"""Whether a new request repeats needs still open with the same person (issue 13.6; docs/design.md,
"Duplicates"). Pure: no Flask, no database; ``lifecycle`` asks the database and acts on the answer.

A need asked again by the same phone number or e-mail (matched on their keyed hashes) while a
referral for it is still open joins that referral: no second offer is made. Only the needs not
open make new referrals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OpenNeed:
    """A referral still open (new, offered, accepted, in progress, unmatched) of a request given
    the same phone number or e-mail."""

    specialism: str
    referral_id: int
    request_id: int


@dataclass(frozen=True)
class Split:
    new: list[str] = field(default_factory=list)  # make new referrals, in the order asked
    joined: dict[str, OpenNeed] = field(default_factory=dict)  # join these open referrals

    @property
    def earlier_requests(self) -> list[int]:
        """The earlier requests the joined needs belong to, oldest first."""
        return sorted({need.request_id for need in self.joined.values()})


def split_needs(needs: Sequence[str], open_needs: Iterable[OpenNeed]) -> Split:
    """Each need asked, once: joined to the oldest open referral for it, or new."""
    oldest: dict[str, OpenNeed] = {}
    for open_need in sorted(open_needs, key=lambda n: n.referral_id):
        oldest.setdefault(open_need.specialism, open_need)
    split = Split()
    for need in dict.fromkeys(needs):
        if need in oldest:
            split.joined[need] = oldest[need]
        else:
            split.new.append(need)
    return split
