"""An organisation's public contact: the address line and opening hours as people read them, and
the weekly groups that the HSDS export turns into schedule objects. No Flask here."""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel.dates import get_day_names

# iCalendar's weekday codes (RFC 5545 BYDAY), as HSDS uses them, Monday first.
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


def clock_time(text: str) -> str | None:
    """ "9:00", "09.00" or "09:00" as "09:00"; None when it is not a time of day."""
    found = _TIME.match(text.strip())
    return f"{int(found.group(1)):02d}:{found.group(2)}" if found else None


@dataclass(frozen=True)
class HoursGroup:
    """Consecutive weekdays open at the same hours."""

    days: tuple[str, ...]
    opens: str
    closes: str


def hour_groups(hours: dict | None) -> list[HoursGroup]:
    """The week's opening hours with neighbouring days of equal hours put together."""
    groups: list[HoursGroup] = []
    previous = None
    for day in DAYS:
        times = (hours or {}).get(day)
        if not times:
            previous = None
            continue
        opens, closes = times
        if previous and (previous.opens, previous.closes) == (opens, closes):
            groups[-1] = previous = HoursGroup((*previous.days, day), opens, closes)
        else:
            previous = HoursGroup((day,), opens, closes)
            groups.append(previous)
    return groups


def day_names(language: str) -> dict[str, str]:
    names = get_day_names("wide", locale=language)
    return {code: names[index] for index, code in enumerate(DAYS)}


def describe_group(group: HoursGroup, language: str) -> str:
    """ "Monday–Friday: 09:00–17:00" in ``language``."""
    names = day_names(language)
    days = names[group.days[0]]
    if len(group.days) > 1:
        days += f"–{names[group.days[-1]]}"
    return f"{days}: {group.opens}–{group.closes}"


def describe_hours(hours: dict | None, language: str) -> list[str]:
    return [describe_group(group, language) for group in hour_groups(hours)]


def address_line(street: str | None, postal_code: str | None, city: str | None) -> str:
    """ "ul. Zamenhofa 1, 00-153 Warszawa": what is known of it, in Polish postal order."""
    town = " ".join(part for part in (postal_code, city) if part)
    return ", ".join(part for part in (street, town) if part)
