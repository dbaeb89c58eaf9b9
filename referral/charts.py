"""Bar charts as inline SVG drawn on the server: readable without JavaScript, announced to screen
readers as one image with a title and a description; the numbers are in a table beside it.

Nothing is cut: each label is written whole above its bars, wrapped onto as many lines as it
needs, and the legend is an HTML list under the picture, wrapping like any text."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from flask_babel import format_decimal
from markupsafe import Markup, escape

WIDTH = 400
VALUE_WIDTH = 56
BAR_HEIGHT = 14
BAR_GAP = 3
GROUP_GAP = 10
FONT_SIZE = 13
LINE_HEIGHT = 16
# A generous width per character (wide capitals, diacritics): a line never runs past the edge.
CHARACTER_WIDTH = 0.62 * FONT_SIZE
# One per specialism, told apart from each other and by the legend's words too.
COLOURS = (
    "#0b5394",
    "#a34700",
    "#1e6b36",
    "#5b2a86",
    "#b0174f",
    "#00707a",
    "#6b5200",
    "#4a4a4a",
    "#c2409e",
)

_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | int | None]


def bar_chart(
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[float | int], str] = format_decimal,
    stacked: bool = False,
) -> Markup:
    """Horizontal bars, one group per label: one bar per series, or one bar of all the series
    stacked (``stacked``, its total at its end), with the value at each bar's end, written in
    the page's locale as the table beside it writes it ("1 234", "1,234")."""
    chart_id = f"chart-{next(_ids)}"
    bars = 1 if stacked else len(series)
    bars_height = bars * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
    totals = [sum(one.values[row] or 0 for one in series) for row in range(len(labels))]
    largest = max(totals if stacked else [v or 0 for s in series for v in s.values], default=0)
    scale = (WIDTH - VALUE_WIDTH) / (largest or 1)
    body, y = [], 0.0
    for row, label in enumerate(labels):
        for line in wrap(label, int(WIDTH / CHARACTER_WIDTH)):
            y += LINE_HEIGHT
            body.append(f'<text x="0" y="{y - 4:.1f}" fill="#1a1a1a">{escape(line)}</text>')
        y += 2
        if stacked:
            x = 0.0
            for index, one in enumerate(series):
                width = (one.values[row] or 0) * scale
                body.append(_bar(x, y, width, index))
                x += width
            body.append(_value(x, y, value_text(totals[row])))
        else:
            for index, one in enumerate(series):
                width = (one.values[row] or 0) * scale
                bar_y = y + index * (BAR_HEIGHT + BAR_GAP)
                body.append(_bar(0, bar_y, width, index))
                body.append(_value(width, bar_y, value_text(one.values[row] or 0)))
        y += bars_height + GROUP_GAP
    height = max(y, LINE_HEIGHT)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" '
        f'font-size="{FONT_SIZE}" font-family="system-ui, sans-serif" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
        *body,
        "</svg>",
    ]
    if len(series) > 1:
        parts.append('<ul class="chart-legend">')
        parts += [
            f'<li><span class="swatch swatch-{index % len(COLOURS)}"></span>{escape(one.name)}</li>'
            for index, one in enumerate(series)
        ]
        parts.append("</ul>")
    # Every text in it went through escape().
    return Markup("".join(parts))  # noqa: S704  # nosec


def _bar(x: float, y: float, width: float, index: int) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{BAR_HEIGHT}" '
        f'fill="{COLOURS[index % len(COLOURS)]}"/>'
    )


def _value(x: float, y: float, text: str) -> str:
    baseline = y + BAR_HEIGHT - 3
    return f'<text x="{x + 4:.1f}" y="{baseline:.1f}" fill="#1a1a1a">{escape(text)}</text>'


def wrap(text: str, limit: int) -> list[str]:
    """Words onto lines of at most ``limit`` characters; a longer word gets a line to itself,
    broken where it must."""
    lines: list[str] = []
    for word in text.split() or [""]:
        while len(word) > limit:
            lines.append(word[:limit])
            word = word[limit:]
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
