"""One way to page a long list: the page number from the address, clamped to the pages there are
(an old bookmark or a forged number shows the nearest page, never an error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import Select, func, select

from .extensions import db

# A long list counts its rows up to here and pages through those: counting (and sorting) every
# row of a table of millions costs seconds, and nobody pages past the thousandth row; filters
# and searches reach the rest.
COUNT_CAP = 1000


@dataclass
class Page:
    items: list[Any]
    total: int
    number: int
    per_page: int
    capped: bool = False  # more rows than COUNT_CAP: ``total`` and the pages stop there

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def clamp(number: int, total: int, per_page: int) -> int:
    return max(1, min(number, page_count(total, per_page)))


def window(number: int, total: int, per_page: int) -> tuple[int, int]:
    """The LIMIT and OFFSET of page ``number``: its last page stops at ``total``, so that a list
    counted up to the cap never shows rows past the count it gives."""
    offset = (number - 1) * per_page
    return max(0, min(per_page, total - offset)), offset


def requested_page(name: str = "page") -> int:
    """The page asked for in the query string; anything that is not a plain number is page 1
    (superscripts such as ``²`` are digits to ``str.isdigit``, not to ``int``)."""
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else 1


def capped_count(query: Select) -> tuple[int, bool]:
    """How many rows ``query`` gives, counted up to COUNT_CAP, and whether it gives more."""
    counted = query.order_by(None).limit(COUNT_CAP + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(counted)) or 0
    return min(total, COUNT_CAP), total > COUNT_CAP


def page_of(query: Select, number: int, per_page: int) -> Page:
    """One page of ``query``'s rows: a count up to COUNT_CAP, then the page itself."""
    total, capped = capped_count(query)
    number = clamp(number, total, per_page)
    limit, offset = window(number, total, per_page)
    items = db.session.scalars(query.limit(limit).offset(offset)).all()
    return Page(list(items), total, number, per_page, capped)


def first_distinct(query: Select) -> tuple[list[Any], bool]:
    """The distinct values of ``query``'s one column in the order it gives them, read from its
    first COUNT_CAP + 1 rows, and whether it gives more: a list of rows each standing for several
    of ``query``'s (a request for its referrals) counted and paged as cheaply as ``capped_count``.
    When it gives more, the last value read is left out (its other rows may lie past the cut)."""
    read = db.session.scalars(query.limit(COUNT_CAP + 1)).all()
    values = list(dict.fromkeys(read))
    capped = len(read) > COUNT_CAP
    return (values[:-1] if capped else values)[:COUNT_CAP], capped
