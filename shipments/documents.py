"""Shipping documents: the 4x6 label (PDF and ZPL II) with a Code 128 tracking barcode, and the
packing slip (PDF, Letter) with the brand's name.

Drawn with reportlab; the barcode is reportlab's Code 128 (it picks code sets A/B/C itself, so a
digit-only number is printed compactly in set C). Callers pass the packages they already hold;
the packing slip reads the packages' contents in two queries however many lines there are.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Prefetch
from django_scopes import scope
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, inch
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .models import Package, PackageLine, Shipment

if TYPE_CHECKING:
    from .rates import Quote

LABEL_SIZE = (4 * inch, 6 * inch)  # 288 x 432 pt
MARGIN = 14
BAR_HEIGHT = 72  # points; the test finds the bars by this height
ZPL_DPI = 203  # 8 dots/mm, the common thermal printer
ZPL_WIDTH, ZPL_HEIGHT = 4 * ZPL_DPI, 6 * ZPL_DPI


def _from_lines(shipment: Shipment) -> list[str]:
    node = shipment.warehouse
    lines = [node.name, node.address_line1]
    if node.address_line2:
        lines.append(node.address_line2)
    lines.append(f"{node.city}, {node.state} {node.zip_code}")
    return lines


def _to_lines(shipment: Shipment) -> list[str]:
    order = shipment.order
    lines = [order.ship_to_name]
    if order.ship_to_company:
        lines.append(order.ship_to_company)
    lines.append(order.ship_to_address1)
    if order.ship_to_address2:
        lines.append(order.ship_to_address2)
    lines.append(f"{order.ship_to_city}, {order.ship_to_state} {order.ship_to_zip}".strip())
    if order.ship_to_country and order.ship_to_country != "US":
        lines.append(order.ship_to_country)
    return lines


def _service_line(shipment: Shipment, quote: Quote | None) -> tuple[str, int | None]:
    if quote is not None:
        return f"{quote.carrier_name} {quote.service_name}", quote.zone
    carrier = shipment.carrier.name if shipment.carrier_id else ""
    service = shipment.service.name if shipment.service_id else ""
    return f"{carrier} {service}".strip() or "Carrier not chosen", shipment.zone


def _weight(package: Package) -> str:
    if package.weight_lb is None:
        return "weight n/a"
    return f"{Decimal(package.weight_lb).normalize():f} lb"


def barcode_for(tracking_number: str, max_width: float) -> Code128:
    """A Code 128 symbol of the number, bars as wide as fit ``max_width`` (at most 1.5 pt)."""
    probe = Code128(tracking_number, barWidth=1, barHeight=BAR_HEIGHT, humanReadable=False)
    bar_width = min(1.5, max_width / probe.width)
    return Code128(tracking_number, barWidth=bar_width, barHeight=BAR_HEIGHT, humanReadable=False)


def label_pdf(
    *,
    shipment: Shipment,
    packages: Sequence[Package],
    tracking_numbers: Sequence[str],
    quote: Quote | None = None,
) -> bytes:
    """One 4x6 inch page per package: from, to, carrier and service, zone, weight, package n of N,
    the tracking number as text and as a Code 128 barcode. ``quote`` names the service when the
    shipment does not yet (the label is bought before the shipment is saved with it)."""
    if len(packages) != len(tracking_numbers):
        raise ValueError("one tracking number per package")
    width, height = LABEL_SIZE
    buffer = io.BytesIO()
    pdf = pdf_canvas.Canvas(buffer, pagesize=LABEL_SIZE, pageCompression=0)
    pdf.setTitle(f"Label {shipment.number}")
    service, zone = _service_line(shipment, quote)
    total = len(packages)
    for index, (package, number) in enumerate(zip(packages, tracking_numbers, strict=True), start=1):
        y = height - MARGIN - 8
        pdf.setFont("Helvetica-Bold", 7)
        pdf.drawString(MARGIN, y, "FROM")
        pdf.setFont("Helvetica", 8)
        for line in _from_lines(shipment):
            y -= 10
            pdf.drawString(MARGIN, y, line[:60])
        y -= 10
        pdf.line(MARGIN, y, width - MARGIN, y)
        y -= 14
        pdf.setFont("Helvetica-Bold", 8)
        pdf.drawString(MARGIN, y, "SHIP TO")
        pdf.setFont("Helvetica-Bold", 12)
        for line in _to_lines(shipment):
            y -= 15
            pdf.drawString(MARGIN + 12, y, line[:38])
        y -= 12
        pdf.line(MARGIN, y, width - MARGIN, y)
        y -= 18
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(MARGIN, y, service[:34])
        y -= 16
        pdf.setFont("Helvetica", 10)
        zone_text = f"Zone {zone}" if zone else "Zone n/a"
        pdf.drawString(MARGIN, y, f"{zone_text}   {_weight(package)}   Package {index} of {total}")
        y -= 13
        pdf.drawString(MARGIN, y, f"{shipment.number}   Order {shipment.order.number}")
        y -= 10
        pdf.line(MARGIN, y, width - MARGIN, y)
        symbol = barcode_for(number, width - 2 * MARGIN)
        x = (width - symbol.width) / 2
        bar_y = MARGIN + 40
        symbol.drawOn(pdf, x, bar_y)
        pdf.setFont("Helvetica-Bold", 11)
        pdf.drawCentredString(width / 2, MARGIN + 24, "TRACKING #")
        pdf.setFont("Courier-Bold", 12)
        pdf.drawCentredString(width / 2, MARGIN + 10, number)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _zpl_text(value: str) -> str:
    """ZPL field data cannot hold the command prefixes ^ and ~."""
    return str(value).replace("^", " ").replace("~", " ")


def label_zpl(
    *,
    shipment: Shipment,
    packages: Sequence[Package],
    tracking_numbers: Sequence[str],
    quote: Quote | None = None,
) -> str:
    """ZPL II for a 4x6 label at 203 dpi: one ``^XA...^XZ`` per package, the tracking number as
    a ``^BC`` Code 128 barcode (automatic code sets) and as text."""
    if len(packages) != len(tracking_numbers):
        raise ValueError("one tracking number per package")
    service, zone = _service_line(shipment, quote)
    total = len(packages)
    labels = []
    for index, (package, number) in enumerate(zip(packages, tracking_numbers, strict=True), start=1):
        cmds = ["^XA", "^CI28", f"^PW{ZPL_WIDTH}", f"^LL{ZPL_HEIGHT}", "^FO30,30^A0N,22,22^FDFROM^FS"]
        y = 56
        for line in _from_lines(shipment):
            cmds.append(f"^FO30,{y}^A0N,24,24^FD{_zpl_text(line)}^FS")
            y += 28
        y += 10
        cmds.append(f"^FO20,{y}^GB772,3,3^FS")
        y += 16
        cmds.append(f"^FO30,{y}^A0N,24,24^FDSHIP TO^FS")
        y += 30
        for line in _to_lines(shipment):
            cmds.append(f"^FO60,{y}^A0N,36,36^FD{_zpl_text(line)}^FS")
            y += 42
        y += 10
        cmds.append(f"^FO20,{y}^GB772,3,3^FS")
        y += 20
        cmds.append(f"^FO30,{y}^A0N,44,44^FD{_zpl_text(service)}^FS")
        y += 54
        zone_text = f"Zone {zone}" if zone else "Zone n/a"
        cmds.append(
            f"^FO30,{y}^A0N,30,30^FD{zone_text}  {_zpl_text(_weight(package))}  Package {index} of {total}^FS"
        )
        y += 38
        cmds.append(f"^FO30,{y}^A0N,26,26^FD{shipment.number}  Order {shipment.order.number}^FS")
        cmds.append(f"^FO20,{ZPL_HEIGHT - 330}^GB772,3,3^FS")
        cmds.append(f"^FO60,{ZPL_HEIGHT - 300}^BY3^BCN,200,N,N,N,A^FD{_zpl_text(number)}^FS")
        cmds.append(f"^FO0,{ZPL_HEIGHT - 80}^FB{ZPL_WIDTH},1,0,C^A0N,40,40^FD{_zpl_text(number)}^FS")
        cmds.append("^XZ")
        labels.append("\n".join(cmds))
    return "\n".join(labels) + "\n"


def packing_slip_pdf(*, shipment: Shipment) -> bytes:
    """A Letter page: the brand's name as heading, order number and the brand's reference, ship-to,
    each package with its contents (SKU, name, quantity), and the gift message if any."""
    with scope(client=shipment.client_id):
        shipment = (
            Shipment.objects.select_related("client", "order", "warehouse")
            .prefetch_related(
                Prefetch(
                    "packages",
                    queryset=Package.objects.order_by("number").prefetch_related(
                        Prefetch("lines", queryset=PackageLine.objects.select_related("item").order_by("id"))
                    ),
                )
            )
            .get(pk=shipment.pk)
        )
        packages = list(shipment.packages.all())
    order = shipment.order
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        title=f"Packing slip {order.number}",
        author=shipment.client.name,
        leftMargin=0.75 * inch,
        rightMargin=0.75 * inch,
        topMargin=0.75 * inch,
        bottomMargin=0.75 * inch,
    )
    story = [
        Paragraph(_escape(shipment.client.name), styles["Title"]),
        Paragraph("Packing slip", styles["Heading2"]),
        Paragraph(
            f"Order <b>{order.number}</b> &nbsp; Your reference <b>{_escape(order.external_reference)}</b>"
            f" &nbsp; Shipment {shipment.number}",
            styles["Normal"],
        ),
        Spacer(1, 12),
        Paragraph("<b>Ship to</b>", styles["Normal"]),
        *[Paragraph(_escape(line), styles["Normal"]) for line in _to_lines(shipment)],
        Spacer(1, 12),
    ]
    total = len(packages)
    for package in packages:
        story.append(Paragraph(f"Package {package.number} of {total}", styles["Heading3"]))
        rows = [["SKU", "Item", "Quantity"]]
        rows += [
            [line.item.sku, Paragraph(_escape(line.item.name), styles["Normal"]), str(line.quantity)]
            for line in package.lines.all()
        ]
        if len(rows) == 1:
            rows.append(["", "(empty)", ""])
        table = Table(rows, colWidths=[1.6 * inch, 4.0 * inch, 1.0 * inch], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
                    ("ALIGN", (2, 0), (2, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story += [table, Spacer(1, 10)]
    if order.gift_message:
        story += [
            Spacer(1, 12),
            Paragraph("<b>Gift message</b>", styles["Normal"]),
            Paragraph(_escape(order.gift_message).replace("\n", "<br/>"), styles["Normal"]),
        ]
    doc.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
