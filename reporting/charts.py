"""Server-side charts for the pages: pygal renders inline SVG (no JavaScript, nothing fetched).

Every chart is accessible: the SVG is an ``img`` labelled by its own ``<title>`` and ``<desc>``,
and carries the table of its numbers (``headers`` / ``rows``) that the template prints beside it,
for screen readers and for anyone who wants the exact figures. Colours and type follow
``static/css/app.css`` so a chart looks like the page around it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pygal
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

# app.css: --ink, --muted, --line, --accent, --ok, --off and the light accent of its progress bars.
INK, MUTED, LINE, ACCENT, OK, OFF, ACCENT_LIGHT = (
    "#1d2433",
    "#667085",
    "#e4e7ec",
    "#2f5bea",
    "#067647",
    "#b42318",
    "#a4bcfd",
)
FONT = 'system-ui,-apple-system,"Segoe UI",Roboto,sans-serif'

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground=INK,
    foreground_strong=INK,
    foreground_subtle=MUTED,
    opacity="1",
    opacity_hover="1",
    transition="none",
    colors=(ACCENT, MUTED, OK, OFF),
    font_family=FONT,
    label_font_family=FONT,
    major_label_font_family=FONT,
    value_font_family=FONT,
    value_label_font_family=FONT,
    tooltip_font_family=FONT,
    title_font_family=FONT,
    legend_font_family=FONT,
    no_data_font_family=FONT,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    tooltip_font_size=13,
    guide_stroke_color=LINE,
    major_guide_stroke_color=LINE,
)
BAR_STYLE = Style(**{**STYLE.__dict__, "colors": (ACCENT_LIGHT, ACCENT)})

WIDTH, HEIGHT = 640, 280
MAX_X_LABELS = 12  # more would overlap: the others are still in the data table
_ids = itertools.count(1)


@dataclass(frozen=True)
class Chart:
    """An inline SVG and the table of the numbers it draws."""

    key: str  # a stable name for tests and anchors ("on_time_ship_rate", "volumes")
    title: str
    description: str
    svg: SafeString
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    points: int = 0  # how many values are drawn (0: the chart says "No data")


def _config(chart_class, *, labels: Sequence[str], style: Style, **extra):
    chart = chart_class(
        style=style,
        width=WIDTH,
        height=HEIGHT,
        js=[],  # no script: the tooltips are the data table
        disable_xml_declaration=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, math.ceil(len(labels) / MAX_X_LABELS)),
        truncate_label=-1,
        truncate_legend=-1,
        margin=12,
        margin_bottom=28,  # room for the legend row under the x labels
        spacing=8,
        no_data_text="No data for this period",
        **extra,
    )
    chart.x_labels = list(labels)
    return chart


def _accessible(svg: str, *, title: str, description: str) -> SafeString:
    """Give pygal's SVG ``role="img"`` with a ``<title>`` and ``<desc>`` naming it."""
    n = next(_ids)
    title_id, desc_id = f"chart-title-{n}", f"chart-desc-{n}"
    opening = re.match(r"<svg\b[^>]*>", svg)
    head = (
        opening.group(0)[:-1]
        + f' role="img" aria-labelledby="{title_id}" aria-describedby="{desc_id}" focusable="false">'
    )
    # pygal writes its config into a <script> even without its JS: a page with a strict CSP and
    # no chart JavaScript has no use for it.
    body = re.sub(r"<script\b.*?</script>", "", svg[opening.end() :], flags=re.S)
    labels = (
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(description)}</desc>'
    )
    return mark_safe(head + labels + body)


def _number(value: Decimal | float | int | None) -> float | None:
    return None if value is None else float(value)


def kpi_line_chart(
    *,
    key: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[Decimal | float | None],
    displays: Sequence[str],
    target: Decimal | float | None,
    target_display: str = "",
    unit: str = "%",
) -> Chart:
    """A KPI per period against its target, drawn as a flat dashed line.

    ``values`` are in the unit shown on the axis (percent points for a rate); a missing value ("n/a":
    nothing was due in that period) is a gap in the line, never a zero. ``displays`` are the page's
    own texts for each value, printed in the data table so it matches the tiles and the API.
    """
    points = [_number(v) for v in values]
    drawn = [p for p in points if p is not None]
    target_value = _number(target)
    extra = {}
    if unit == "%" and drawn:
        low = min([*drawn, *([target_value] if target_value is not None else [])])
        extra["range"] = (max(0.0, math.floor(low - 1)), 100.0)
    chart = _config(
        pygal.Line,
        labels=labels,
        style=STYLE,
        allow_interruptions=True,
        dots_size=3,
        value_formatter=lambda v: f"{v:.1f}{unit}" if unit == "%" else f"{v:g} {unit}".strip(),
        **extra,
    )
    chart.add(title, points)
    if target_value is not None and drawn:
        chart.add(
            f"Target {target_display}".strip(),
            [target_value] * len(points),
            show_dots=False,
            stroke_style={"dasharray": "6,4", "width": 2},
        )
    description = (
        f"{title} by period from {labels[0]} to {labels[-1]}"
        + (f", against a target of {target_display}" if target_display else "")
        + f"; {len(drawn)} of {len(points)} periods have a value."
        if labels
        else f"{title}: no periods."
    )
    svg = chart.render(is_unicode=True)
    rows = [[label, display, target_display] for label, display in zip(labels, displays, strict=True)]
    return Chart(
        key=key,
        title=title,
        description=description,
        svg=_accessible(svg, title=title, description=description),
        headers=["Period", title, "Target"],
        rows=rows,
        points=len(drawn),
    )


def volume_bar_chart(
    *,
    key: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
) -> Chart:
    """Counts per period, one bar per series side by side (orders received against shipped)."""
    chart = _config(pygal.Bar, labels=labels, style=BAR_STYLE, value_formatter=lambda v: f"{v:,.0f}")
    total = 0
    for name, values in series:
        chart.add(name, [int(v) for v in values])
        total += sum(int(v) for v in values)
    description = (
        f"{title} by period from {labels[0]} to {labels[-1]}: "
        + "; ".join(f"{name} {sum(values):,} in all" for name, values in series)
        + "."
        if labels
        else f"{title}: no periods."
    )
    rows = [[label, *(f"{values[i]:,}" for _, values in series)] for i, label in enumerate(labels)]
    return Chart(
        key=key,
        title=title,
        description=description,
        svg=_accessible(chart.render(is_unicode=True), title=title, description=description),
        headers=["Period", *(name for name, _ in series)],
        rows=rows,
        points=len(labels) * len(series) if total else 0,
    )
