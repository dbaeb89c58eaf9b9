"""CSV downloads that a spreadsheet opens correctly.

UTF-8 with a byte order mark, so that Excel shows Polish and Ukrainian letters intact; commas
between fields (RFC 4180), numbers with a dot. Text that a spreadsheet would run as a formula is
prefixed with an apostrophe.
"""

import csv
import io
from collections.abc import Iterable

from flask import Response, stream_with_context

BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _lines(header: list[str], rows: Iterable[Iterable]) -> Iterable[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_cell(c) for c in header])
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(c) for c in row])
        yield buffer.getvalue()


def download(
    filename: str, header: list[str], rows: Iterable[Iterable], stream: bool = False
) -> Response:
    """A CSV attachment; ``stream`` sends it row by row (long exports read from the database)."""
    lines = _lines(header, rows)
    return Response(
        stream_with_context(iter(lines)) if stream else "".join(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
