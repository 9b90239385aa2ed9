"""Server-rendered SVG chart of answered requests per month, on time versus late.

No JavaScript and no chart library: the markup is built here from numbers only, every text is
escaped, and the chart carries a <title>/<desc> plus per-bar titles for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from dsr.console.metrics import MonthFigures

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 28, 40


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{round(rate * 100)} %"


def on_time_chart(months: Sequence[MonthFigures]) -> Markup:
    """Stacked bars (on time / late) per month with the on-time rate above each bar."""
    peak = max((m.answered for m in months), default=0)
    step = max(1, math.ceil(peak / 4))  # whole-number gridlines
    scale_max = step * 4
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar_w = slot * 0.6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
        'aria-labelledby="chart-title chart-desc">',
        '<title id="chart-title">Beantwortete Anfragen je Monat: fristgerecht und verspätet</title>',
        '<desc id="chart-desc">Grün: innerhalb der Frist beantwortet, rot: verspätet. '
        "Über jedem Balken der Anteil fristgerechter Antworten.</desc>",
    ]
    for tick in range(5):
        value = step * tick
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{value}</text>')
    for i, month in enumerate(months):
        x = LEFT + slot * i + (slot - bar_w) / 2
        on_h = plot_h * month.on_time / scale_max
        late_h = plot_h * month.late / scale_max
        base = TOP + plot_h
        tip = escape(
            f"{month.label}: {month.answered} beantwortet, {month.on_time} fristgerecht, "
            f"{month.late} verspätet"
        )
        parts.append(f"<g><title>{tip}</title>")
        if on_h:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - on_h:.1f}" width="{bar_w:.1f}" height="{on_h:.1f}" '
                'class="ontime"/>'
            )
        if late_h:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - on_h - late_h:.1f}" width="{bar_w:.1f}" '
                f'height="{late_h:.1f}" class="late"/>'
            )
        parts.append("</g>")
        cx = x + bar_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{base + 16:.1f}" class="axis" text-anchor="middle">'
            f"{escape(month.label)}</text>"
        )
        if month.answered:
            parts.append(
                f'<text x="{cx:.1f}" y="{base - on_h - late_h - 6:.1f}" class="rate" '
                f'text-anchor="middle">{escape(_percent(month.on_time_rate))}</text>'
            )
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 - built from numbers and escaped text only
