"""Labels bought from the rate-card carrier: the 4x6 PDF parses, carries the tracking number as
text and as a Code 128 barcode (decoded here from the page's bar rectangles with a decoder of our
own, against the Code 128 symbol table written out below), the ZPL has one ^BC label per package,
and the packing slip reads its contents in a constant number of queries."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.utils import timezone
from pypdf import PdfReader

from shipments import documents, rates
from shipments.carriers import CarrierError, LabelResult, VoidRefused, adapter_for
from shipments.carriers import tracking_numbers as tn
from shipments.demo_carriers import seed_boxes, seed_carriers
from shipments.models import Carrier, Manifest, Package, PackageLine, Shipment
from tests.inventory.factories import make_item
from tests.orders.factories import SHIP_TO_CA, make_order, make_world

D = Decimal

# Code 128 symbols 0..106: widths of bar, space, bar, space, bar, space (stop: 7 elements).
CODE128 = """
212222 222122 222221 121223 121322 131222 122213 122312 132212 221213
221312 231212 112232 122132 122231 113222 123122 123221 223211 221132
221231 213212 223112 312131 311222 321122 321221 312212 322112 322211
212123 212321 232121 111323 131123 131321 112313 132113 132311 211313
231113 231311 112133 112331 132131 113123 113321 133121 313121 211331
231131 213113 213311 213131 311123 311321 331121 312113 312311 332111
314111 221411 431111 111224 111422 121124 121421 141122 141221 112214
112412 122114 122411 142112 142211 241211 221114 413111 241112 134111
111242 121142 121241 114212 124112 124211 411212 421112 421211 212141
214121 412121 111143 111341 131141 114113 114311 411113 411311 113141
114131 311141 411131 211412 211214 211232 2331112
""".split()  # noqa: SIM905 - laid out as the standard prints it
SYMBOL = {pattern: value for value, pattern in enumerate(CODE128)}
START_A, START_B, START_C, STOP = 103, 104, 105, 106


def bars_of(page, height: float) -> list[tuple[float, float]]:
    """(x, width) of every filled rectangle of the given height in the page's content stream."""
    bars = []
    for operands, operator in page.get_contents().operations:
        if operator == b"re":
            x, _y, w, h = (float(v) for v in operands)
            if abs(h - height) < 1e-6:
                bars.append((x, w))
    return sorted(bars)


def decode_code128(bars: list[tuple[float, float]]) -> str:
    """Module widths from the bars and the gaps between them, then symbols, check, and text."""
    elements = []
    for i, (x, w) in enumerate(bars):
        elements.append(w)
        if i + 1 < len(bars):
            elements.append(bars[i + 1][0] - (x + w))
    module = min(elements)
    widths = "".join(str(round(e / module)) for e in elements)
    symbols = [SYMBOL[widths[i : i + 6]] for i in range(0, len(widths) - 7, 6)]
    assert SYMBOL[widths[-7:]] == STOP, "no stop symbol"
    *data, check = symbols
    assert check == (data[0] + sum(i * v for i, v in enumerate(data[1:], start=1))) % 103, "bad check"
    code = {START_A: "A", START_B: "B", START_C: "C"}[data[0]]
    # code switches: in A and B, 99 -> C; in C and A, 100 -> B; in C and B, 101 -> A
    switches = {"A": {99: "C", 100: "B"}, "B": {99: "C", 101: "A"}, "C": {100: "B", 101: "A"}}
    text = ""
    for value in data[1:]:
        if value in switches[code]:
            code = switches[code][value]
        elif code == "C":
            text += f"{value:02d}"
        elif code == "B":
            text += chr(value + 32)
        else:
            text += chr(value + 32) if value < 64 else chr(value - 64)
    return text


def test_the_decoder_reads_a_hand_made_symbol():
    """Start B, "A" (33), check (104 + 33) % 103 = 34, stop; in 1-pt modules, bars from x = 0."""
    widths = CODE128[START_B] + CODE128[33] + CODE128[34] + CODE128[STOP]
    bars, x = [], 0.0
    for i, w in enumerate(int(c) for c in widths):
        if i % 2 == 0:
            bars.append((x, float(w)))
        x += w
    assert decode_code128(bars) == "A"


@pytest.fixture
def world(db):
    seed_carriers()
    w = make_world(regions=("nj",), name="Brand of Labels")
    seed_boxes(w.nj.warehouse)
    return w


def make_shipment(
    world, *, lines: int = 1, packages: int = 2, gift: str = ""
) -> tuple[Shipment, list[Package]]:
    items = [make_item(world.client, f"LBL-{i}", name=f"Thing {i}", weight_lb=D("1.5")) for i in range(lines)]
    order = make_order(
        world.client,
        [(item, 2) for item in items],
        ship_to=SHIP_TO_CA,
        reference="PO-LBL-1",
        gift_message=gift,
    )
    shipment = Shipment.objects.create(client=world.client, order=order, warehouse=world.nj.warehouse)
    made = []
    for n in range(1, packages + 1):
        package = Package.objects.create(
            client=world.client,
            shipment=shipment,
            number=n,
            weight_lb=D("2.25") * n,
            length_in=10,
            width_in=8,
            height_in=6,
        )
        for item, line in zip(items, order.lines.all(), strict=False):
            PackageLine.objects.create(client=world.client, package=package, line=line, item=item, quantity=1)
        made.append(package)
    return shipment, made


def buy(shipment, packages, carrier_code="ups", service="ground") -> tuple[LabelResult, rates.Quote]:
    carrier = Carrier.objects.get(code=carrier_code)
    adapter = adapter_for(carrier)
    quotes = adapter.rate(
        origin_zip=shipment.warehouse.zip_code,
        destination_zip=shipment.order.ship_to_zip,
        parcels=[rates.Parcel(p.weight_lb, p.length_in, p.width_in, p.height_in) for p in packages],
        residential=True,
        ship_date=None,
        calendar=None,
        service_level="standard",
    )
    quote = next(q for q in quotes if q.service == service)
    return adapter.buy_label(shipment=shipment, packages=packages, quote=quote), quote


@pytest.mark.parametrize(
    "carrier, service, fmt",
    [("ups", "ground", "ups"), ("fedex", "2day", "fedex"), ("usps", "priority_mail", "usps")],
)
def test_label_pdf_is_4x6_with_the_tracking_number_as_text_and_code128(world, carrier, service, fmt):
    shipment, packages = make_shipment(world)
    result, quote = buy(shipment, packages, carrier, service)
    assert result.tracking_number == result.package_tracking_numbers[0]
    assert len(set(result.package_tracking_numbers)) == 2
    assert all(tn.is_valid(n, fmt) for n in result.package_tracking_numbers)
    assert (result.cost, result.currency) == (quote.total, "USD")

    reader = PdfReader(io.BytesIO(result.label_pdf))
    assert len(reader.pages) == 2  # a page per package
    for n, (page, number) in enumerate(zip(reader.pages, result.package_tracking_numbers, strict=True), 1):
        box = page.mediabox
        assert (float(box.width), float(box.height)) == (288.0, 432.0)
        text = page.extract_text()
        assert number in text
        assert f"Package {n} of 2" in text
        assert f"Zone {quote.zone}" in text and "Zone 8" in text  # Secaucus NJ to Los Angeles
        assert quote.carrier_name in text and quote.service_name in text
        assert "Cy Buyer" in text and "Los Angeles" in text and world.nj.warehouse.name in text
        assert f"{D('2.25') * n:f}".rstrip("0") in text
        bars = bars_of(page, documents.BAR_HEIGHT)
        assert len(bars) > 20
        assert decode_code128(bars) == number


def test_label_zpl_has_a_code128_per_package(world):
    shipment, packages = make_shipment(world)
    result, _quote = buy(shipment, packages)
    assert result.label_zpl.count("^XA") == 2 and result.label_zpl.count("^XZ") == 2
    assert result.label_zpl.count("^BC") == 2
    for number in result.package_tracking_numbers:
        assert f"^FD{number}^FS" in result.label_zpl
    assert "^PW812" in result.label_zpl  # 4 in at 203 dpi


def test_a_quote_of_another_carrier_is_refused(world):
    shipment, packages = make_shipment(world)
    _result, quote = buy(shipment, packages, "fedex", "2day")
    with pytest.raises(CarrierError):
        adapter_for(Carrier.objects.get(code="ups")).buy_label(
            shipment=shipment, packages=packages, quote=quote
        )


def test_numbers_already_issued_are_never_issued_again(world, monkeypatch):
    _shipment, packages = make_shipment(world, packages=1)
    carrier = Carrier.objects.get(code="fedex")
    first = tn.issue(carrier=carrier, service_code="2day", seeds=[packages[0].pk])[0]
    Package.objects.filter(pk=packages[0].pk).update(tracking_number=first)
    draws = iter([first, first, "123456789012"])
    monkeypatch.setattr(tn, "candidate", lambda **kw: next(draws))
    assert tn.issue(carrier=carrier, service_code="2day", seeds=[packages[0].pk]) == ["123456789012"]


def test_void_before_pickup_only(world):
    shipment, _packages = make_shipment(world, packages=1)
    adapter = adapter_for(Carrier.objects.get(code="ups"))
    adapter.void(shipment=shipment)  # not shipped, not manifested: fine
    assert adapter.track(shipment=shipment) == []
    shipment.shipped_at = timezone.now()
    with pytest.raises(VoidRefused, match="left the node"):
        adapter.void(shipment=shipment)
    shipment.shipped_at = None
    shipment.manifest = Manifest.objects.create(
        warehouse=shipment.warehouse,
        carrier=Carrier.objects.get(code="ups"),
        date=timezone.localdate(),
        closed_at=timezone.now(),
    )
    with pytest.raises(VoidRefused, match="manifest"):
        adapter.void(shipment=shipment)


def test_packing_slip_names_the_brand_and_lists_the_contents(world):
    shipment, _packages = make_shipment(world, lines=3, gift="Happy birthday, Cy!")
    pdf = documents.packing_slip_pdf(shipment=shipment)
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (612.0, 792.0)  # Letter
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Brand of Labels" in text
    assert shipment.order.number in text and "PO-LBL-1" in text
    assert "Cy Buyer" in text
    assert "Package 1 of 2" in text and "Package 2 of 2" in text
    for i in range(3):
        assert f"LBL-{i}" in text and f"Thing {i}" in text
    assert "Happy birthday, Cy!" in text


def test_packing_slip_queries_do_not_grow_with_lines(world, django_assert_num_queries):
    small, _ = make_shipment(world, lines=1, packages=1)
    big_world = make_world(regions=("nj",), name="Other brand")
    big, _ = make_shipment(big_world, lines=8, packages=3)
    with django_assert_num_queries(3):
        documents.packing_slip_pdf(shipment=small)
    with django_assert_num_queries(3):
        documents.packing_slip_pdf(shipment=big)
