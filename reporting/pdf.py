"""The QBR as a PDF, drawn with reportlab (platypus for the layout, ``reportlab.graphics`` for the
charts): the client's name and the quarter, every KPI with the previous quarter and the change (the
page's own display strings, so the two never disagree), a bar chart of weekly orders, a line of the
weekly on-time ship rate against the target, shipping, inventory movers, alerts, notes and actions.
"""

from __future__ import annotations

from io import BytesIO
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import HRFlowable

from .qbr import QBR, week_label

ACCENT = colors.HexColor("#2f5bea")
ACCENT_LIGHT = colors.HexColor("#a4bcfd")
MUTED = colors.HexColor("#667085")
LINE = colors.HexColor("#e4e7ec")
OK = colors.HexColor("#067647")
OFF = colors.HexColor("#b42318")
WIDTH = LETTER[0] - 1.5 * inch

_styles = getSampleStyleSheet()
H1 = ParagraphStyle("qbr-h1", parent=_styles["Title"], alignment=0, fontSize=20, spaceAfter=4)
H2 = ParagraphStyle("qbr-h2", parent=_styles["Heading2"], fontSize=13, spaceBefore=10, spaceAfter=4)
BODY = ParagraphStyle("qbr-body", parent=_styles["BodyText"], fontSize=9.5, leading=12)
SMALL = ParagraphStyle("qbr-small", parent=BODY, fontSize=8, textColor=MUTED)
CELL = ParagraphStyle("qbr-cell", parent=BODY, fontSize=8.5, leading=10)


def _p(text, style=CELL) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _table(headers: list[str], rows: list[list], widths: list[float] | None = None) -> Table:
    data = [[_p(h, SMALL) for h in headers]] + [[_p(c) for c in row] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, MUTED),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, LINE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def weekly_orders_chart(qbr: QBR) -> Drawing:
    """Bars of orders received and shipped per week."""
    drawing = Drawing(WIDTH, 190)
    drawing.add(String(0, 178, "Orders per week", fontName="Helvetica-Bold", fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 36, 40, WIDTH - 50, 125
    received = [w["orders_received"] for w in qbr.weeks] or [0]
    shipped = [w["orders_shipped"] for w in qbr.weeks] or [0]
    chart.data = [received, shipped]
    chart.categoryAxis.categoryNames = [week_label(w["week"]) for w in qbr.weeks] or [""]
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    top = max([*received, *shipped, 1])
    chart.valueAxis.valueMax = top * 1.15
    chart.bars[0].fillColor = ACCENT_LIGHT
    chart.bars[1].fillColor = ACCENT
    chart.bars.strokeColor = None
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = WIDTH - 190, 182
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.fontSize = 8
    legend.colorNamePairs = [(ACCENT_LIGHT, "Received"), (ACCENT, "Shipped")]
    drawing.add(legend)
    return drawing


def on_time_chart(qbr: QBR) -> Drawing:
    """The weekly on-time ship rate (a week with nothing due is left out, never drawn as 0) and
    the client's target as a flat line."""
    drawing = Drawing(WIDTH, 180)
    target = qbr.on_time_target
    title = "On-time ship rate per week" + (f" (target {target:.2f}%)" if target is not None else "")
    drawing.add(String(0, 168, title, fontName="Helvetica-Bold", fontSize=10))
    weeks = [w for w in qbr.weeks if w["on_time"].value is not None]
    if not weeks:
        drawing.add(String(0, 80, "No orders were due in this quarter.", fontSize=9, fillColor=MUTED))
        return drawing
    values = [float(w["on_time"].value) for w in weeks]
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 36, 40, WIDTH - 50, 115
    series = [values]
    if target is not None:
        series.append([float(target)] * len(values))
    chart.data = series
    chart.categoryAxis.categoryNames = [week_label(w["week"]) for w in weeks]
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.categoryAxis.labels.fontSize = 7
    low = min([*values, float(target) if target is not None else 100.0])
    chart.valueAxis.valueMin = max(0, int(low) - 2)
    chart.valueAxis.valueMax = 100
    chart.valueAxis.labels.fontSize = 7
    chart.lines[0].strokeColor = ACCENT
    chart.lines[0].strokeWidth = 2
    if target is not None:
        chart.lines[1].strokeColor = OFF
        chart.lines[1].strokeDashArray = (4, 3)
    drawing.add(chart)
    return drawing


def _kpi_rows(rows) -> list[list]:
    out = []
    for c in rows:
        target = ""
        if c.current.target is not None:
            target = c.target_display + (
                " met" if c.meets_target else " missed" if c.meets_target is False else ""
            )
        out.append(
            [
                c.label,
                c.value,
                "as of today" if c.now else c.previous_display,
                "" if c.now else c.change_display,
                target,
            ]
        )
    return out


def qbr_pdf(qbr: QBR) -> bytes:
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=0.75 * inch,
        rightMargin=0.75 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.7 * inch,
        title=f"{qbr.client.name} — QBR {qbr.quarter.label}",
        author="Fulfillment",
    )
    q, prev = qbr.quarter, qbr.quarter.previous
    story: list = [
        Paragraph(escape(qbr.client.name), H1),
        Paragraph(
            escape(f"Quarterly business review · {q.label} ({q.span}) · compared with {prev.label}"), BODY
        ),
        Paragraph(
            escape(f"Times in {qbr.client.time_zone}. Generated {timezone.now():%Y-%m-%d %H:%M} UTC."), SMALL
        ),
        HRFlowable(width="100%", color=LINE, spaceBefore=6, spaceAfter=6),
        weekly_orders_chart(qbr),
        on_time_chart(qbr),
    ]
    widths = [WIDTH * 0.34, WIDTH * 0.17, WIDTH * 0.17, WIDTH * 0.16, WIDTH * 0.16]
    for _slug, title, rows in qbr.sections:
        story.append(
            KeepTogether(
                [
                    Paragraph(escape(title), H2),
                    _table(["KPI", q.label, prev.label, "Change", "Target"], _kpi_rows(rows), widths),
                ]
            )
        )
    for name, title in (
        ("shipping_by_carrier", "Shipping by carrier"),
        ("shipping_by_service", "Shipping by service"),
        ("shipping_by_zone", "Shipping by zone"),
    ):
        rows = qbr.shipping.get(name) or []
        if not rows:
            continue
        story.append(Paragraph(title, H2))
        story.append(
            _table(
                ["", "Orders", "Cost", "Cost / order", "Delivered", "Transit mean", "On time"],
                [
                    [
                        r["label"],
                        r["orders"],
                        f"${r['cost']:,.2f}",
                        "n/a" if r["cost_per_order"] is None else f"${r['cost_per_order']:,.2f}",
                        r["shipments_delivered"],
                        "n/a" if r["transit_days_mean"] is None else f"{r['transit_days_mean']:.1f} d",
                        "n/a"
                        if r["carrier_on_time_delivery"] is None
                        else f"{r['carrier_on_time_delivery']:.2f}%",
                    ]
                    for r in rows
                ],
            )
        )
    for title, movers in (("Top movers", qbr.top_movers), ("Slow movers", qbr.slow_movers)):
        story.append(Paragraph(title, H2))
        if movers:
            story.append(
                _table(
                    ["SKU", "Item", "Units shipped", "On hand"],
                    [[m["sku"], m["name"], f"{m['units_shipped']:,}", f"{m['on_hand']:,}"] for m in movers],
                )
            )
        else:
            story.append(Paragraph("None in this quarter.", SMALL))
    a, pa = qbr.alerts, qbr.previous_alerts
    story += [
        Paragraph("Alerts and exceptions", H2),
        _table(
            ["", q.label, prev.label],
            [
                ["Alerts opened", a.total, pa.total],
                ["Mean time to resolve", a.mttr_display, pa.mttr_display],
                ["Shipments with a carrier exception", a.shipment_exceptions, pa.shipment_exceptions],
                ["Order errors recorded", a.order_error_total, pa.order_error_total],
            ],
        ),
    ]
    if a.rows:
        story.append(Spacer(1, 4))
        story.append(
            _table(["Rule", "Severity", "Opened"], [[r["label"], r["severity"], r["count"]] for r in a.rows])
        )
    story.append(Paragraph("Notes", H2))
    notes = qbr.notes.notes if qbr.notes and qbr.notes.notes else "No notes."
    for para in notes.split("\n\n"):
        story.append(Paragraph(escape(para).replace("\n", "<br/>"), BODY))
    story.append(Paragraph("Action items", H2))
    if qbr.action_items:
        story.append(
            _table(
                ["", "Action", "Owner", "Due"],
                [
                    [
                        "done" if i.done else "open",
                        i.text,
                        i.owner,
                        i.due_date.isoformat() if i.due_date else "",
                    ]
                    for i in qbr.action_items
                ],
                [WIDTH * 0.06, WIDTH * 0.56, WIDTH * 0.22, WIDTH * 0.16],
            )
        )
    else:
        story.append(Paragraph("No action items.", SMALL))

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(0.75 * inch, 0.45 * inch, f"{qbr.client.name} · QBR {q.label}")
        canvas.drawRightString(LETTER[0] - 0.75 * inch, 0.45 * inch, f"Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
