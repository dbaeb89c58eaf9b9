"""Bar charts as inline SVG drawn on the server: readable without JavaScript, announced to screen
readers as one image with a title and a description; the numbers are in a table beside it."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

WIDTH = 400
LABEL_WIDTH = 160
VALUE_WIDTH = 44
BAR_HEIGHT = 16
BAR_GAP = 3
GROUP_GAP = 10
FONT_SIZE = 13
LEGEND_HEIGHT = 26
# Dark enough on white for text-level contrast (4.5:1), and told apart by the legend's words too.
COLOURS = ("#0b5394", "#a34700", "#1e6b36", "#5b2a86")

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
    value_text: Callable[[float | int], str] = str,
) -> Markup:
    """Horizontal bars, one group per label and one bar per series, with the value at its end."""
    chart_id = f"chart-{next(_ids)}"
    top = LEGEND_HEIGHT if len(series) > 1 else 4
    group_height = len(series) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP + GROUP_GAP
    height = top + max(1, len(labels)) * group_height
    largest = max((v for s in series for v in s.values if v), default=0) or 1
    scale = (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / largest
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'style="max-width:30rem;height:auto" font-size="{FONT_SIZE}" '
        f'font-family="system-ui, sans-serif" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    if len(series) > 1:
        x = LABEL_WIDTH
        for index, one in enumerate(series):
            parts.append(
                f'<rect x="{x}" y="6" width="12" height="12" fill="{COLOURS[index % 4]}"/>'
                f'<text x="{x + 16}" y="16" fill="#1a1a1a">{escape(one.name)}</text>'
            )
            x += 24 + 8 * len(one.name)
    for row, label in enumerate(labels):
        y = top + row * group_height
        middle = y + (len(series) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP) / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{middle + FONT_SIZE / 3:.1f}" text-anchor="end" '
            f'fill="#1a1a1a">{escape(_shorten(label))}</text>'
        )
        for index, one in enumerate(series):
            value = one.values[row] or 0
            bar_y = y + index * (BAR_HEIGHT + BAR_GAP)
            width = value * scale
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{bar_y}" width="{width:.1f}" '
                f'height="{BAR_HEIGHT}" fill="{COLOURS[index % 4]}"/>'
                f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{bar_y + BAR_HEIGHT - 3}" '
                f'fill="#1a1a1a">{escape(value_text(value))}</text>'
            )
    parts.append("</svg>")
    # Every text in it went through escape().
    return Markup("".join(parts))  # noqa: S704  # nosec


def _shorten(label: str, limit: int = 20) -> str:
    """Long names are cut in the picture; the table beside it has them whole."""
    return label if len(label) <= limit else label[: limit - 1] + "…"
