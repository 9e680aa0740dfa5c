"""Shipment pages: the console list (filters, CSV), detail with its actions, exceptions and
manifests; the portal's own shipments (another brand's is a 404); the floor's scan-out; the
label and slip downloads."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from accounts.enums import Role
from inventory.enums import MoveReason
from inventory.models import Move
from orders.models import Order
from shipments.enums import ShipmentStatus
from shipments.models import Manifest, Shipment
from shipments.services.shipping import buy_label, ship_out
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, make_node, stock
from tests.orders.factories import SHIP_TO_NJ, make_order
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant_a, tenant_b, operator_admin, client):
    make_carriers()
    node = make_node(tenant_a.warehouse)
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 30)

    def packed(**header):
        return packed_shipment(make_order(tenant_a.client, [(item, 1)], ship_to=SHIP_TO_NJ, **header), node)

    return {"a": tenant_a, "b": tenant_b, "admin": operator_admin, "packed": packed, "node": node}


def test_console_list_filters_and_exports_csv(world, client, django_assert_max_num_queries):
    client.force_login(world["admin"])
    labelled = buy_label(actor=SYSTEM, shipment=world["packed"](carrier_service="ups:ground"))
    shipped = ship_out(actor=SYSTEM, shipment=buy_label(actor=SYSTEM, shipment=world["packed"]()))
    url = reverse("console-shipments")
    page = client.get(url)
    assert page.status_code == 200
    assert labelled.number in page.content.decode() and shipped.number in page.content.decode()
    filtered = client.get(url, {"carrier": "ups"}).content.decode()
    assert labelled.number in filtered and shipped.number not in filtered
    rows = client.get(url, {"status": "in_transit"}, HTTP_HX_REQUEST="true")
    assert rows.status_code == 200 and "<html" not in rows.content.decode()
    assert shipped.number in rows.content.decode() and labelled.number not in rows.content.decode()
    export = client.get(url, {"export": "csv", "carrier": "usps"})
    text = b"".join(export.streaming_content).decode()
    lines = text.strip().splitlines()
    assert lines[0].startswith("shipment,client,order") and len(lines) == 2 and shipped.number in lines[1]
    # A brand's reference a spreadsheet would run as a formula comes out as text.
    Order.objects.filter(pk=shipped.order_id).update(external_reference='=HYPERLINK("http://x")')
    text = b"".join(client.get(url, {"export": "csv", "carrier": "usps"}).streaming_content).decode()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    for size in (1, 2):
        with django_assert_max_num_queries(20):
            assert client.get(url, {"per_page": size}).status_code == 200


def test_console_detail_buy_ship_and_downloads(world, client):
    client.force_login(world["admin"])
    shipment = world["packed"]()
    detail = reverse("console-shipment", args=[shipment.pk])
    assert "Buy label" in client.get(detail).content.decode()
    client.post(reverse("console-shipment-action", args=[shipment.pk, "buy-label"]))
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.LABEL_CREATED
    page = client.get(detail).content.decode()
    assert "Chosen" in page and shipment.tracking_number in page and "Void label" in page
    pdf = client.get(reverse("floor-shipment-label", args=[shipment.pk]))
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    zpl = client.get(reverse("floor-shipment-label-zpl", args=[shipment.pk]))
    assert zpl.status_code == 200 and b"^XA" in zpl.content
    slip = client.get(reverse("floor-shipment-slip", args=[shipment.pk]))
    assert slip.status_code == 200 and slip.content[:4] == b"%PDF"
    client.post(reverse("console-shipment-action", args=[shipment.pk, "ship"]))
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.IN_TRANSIT


def test_portal_shows_the_brands_own_shipments_and_404s_anothers(world, client):
    shipment = buy_label(actor=SYSTEM, shipment=world["packed"]())
    client.force_login(world["a"].user)
    listing = client.get(reverse("portal-shipments")).content.decode()
    assert shipment.number in listing
    page = client.get(reverse("portal-shipment", args=[shipment.pk])).content.decode()
    assert shipment.tracking_number in page and ("ups.com" in page or "usps.com" in page)
    assert "Rates quoted" not in page  # the operator's costs of other services stay in the console
    assert client.get(reverse("floor-shipment-label", args=[shipment.pk])).status_code == 200

    client.force_login(world["b"].user)
    assert client.get(reverse("portal-shipment", args=[shipment.pk])).status_code == 404
    assert client.get(reverse("floor-shipment-label", args=[shipment.pk])).status_code == 404
    assert client.get(reverse("floor-shipment-slip", args=[shipment.pk])).status_code == 404
    assert shipment.number not in client.get(reverse("portal-shipments")).content.decode()


def test_floor_scan_out_ships_once(world, client):
    operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    operator.warehouses.add(world["node"].warehouse)
    client.force_login(operator)
    shipment = buy_label(actor=SYSTEM, shipment=world["packed"]())
    url = reverse("floor-ship")
    assert shipment.number in client.get(url).content.decode()
    response = client.post(url, {"code": shipment.tracking_number})
    assert response.status_code == 302
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.IN_TRANSIT
    client.post(url, {"code": shipment.tracking_number})
    assert Move.objects.filter(reason=MoveReason.SHIP).count() == 1
    unknown = client.post(url, {"code": "1Z-NOT-OURS"})
    assert unknown.status_code == 200 and "No shipment has the label" in unknown.content.decode()


def test_exceptions_and_manifest_pages(world, client):
    client.force_login(world["admin"])
    late = ship_out(actor=SYSTEM, shipment=buy_label(actor=SYSTEM, shipment=world["packed"]()))
    Shipment.objects.filter(pk=late.pk).update(estimated_delivery_date=date(2000, 1, 3))
    page = client.get(reverse("console-shipment-exceptions")).content.decode()
    assert late.number in page

    waiting = buy_label(actor=SYSTEM, shipment=world["packed"](carrier_service="ups:ground"))
    manifests = reverse("console-manifests")
    assert "UPS" in client.get(manifests).content.decode()
    ups = waiting.carrier
    response = client.post(manifests, {"warehouse": world["node"].warehouse.pk, "carrier": ups.pk})
    manifest = Manifest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "console-manifest", args=[manifest.pk]
    )
    detail = client.get(reverse("console-manifest", args=[manifest.pk])).content.decode()
    assert waiting.number in detail
    csv = b"".join(
        client.get(reverse("console-manifest", args=[manifest.pk]), {"export": "csv"}).streaming_content
    )
    assert waiting.tracking_number.encode() in csv
    again = client.post(manifests, {"warehouse": world["node"].warehouse.pk, "carrier": ups.pk})
    assert again.status_code == 200 and "No UPS shipment" in again.content.decode()


def test_a_brand_cannot_open_console_or_floor_pages(world, client):
    client.force_login(world["a"].admin)
    assert client.get(reverse("console-shipments")).status_code == 403
    assert client.get(reverse("console-manifests")).status_code == 403
    assert client.get(reverse("floor-ship")).status_code == 403
