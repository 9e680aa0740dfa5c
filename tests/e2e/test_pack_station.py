"""A warehouse operator packs a picked order at the pack station in a real browser: scans (typed
into the scan field + Enter), sees the proposed box, closes the package with a weight, completes
and buys the label, and gets the print links."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from accounts.enums import Role
from orders import allocation
from shipments.enums import ShipmentStatus
from shipments.models import Shipment
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world
from tests.shipments.factories import SYSTEM, make_boxes, wave_and_pick
from tests.shipments.shipping_support import make_carriers


def test_operator_scans_boxes_weighs_and_buys_the_label(transactional_db, page, login):
    world = make_world(regions=("nj",))
    item = make_item(
        world.client, "E2E-1", barcode="555555555555", weight_lb=1, length_in=4, width_in=4, height_in=2
    )
    stock(world.client, world.nj, item, 10)
    make_boxes(world.nj.warehouse)
    make_carriers()
    order = make_order(world.client, [(item, 2)])
    allocation.allocate(actor=SYSTEM, order=order)
    wave_and_pick(order, world.nj)
    operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    operator.warehouses.add(world.nj.warehouse)

    login(operator.email, TEST_PASSWORD)
    page.goto("/floor/pack/")
    page.get_by_label("Order number or reference").fill(order.number)
    page.get_by_label("Order number or reference").press("Enter")
    expect(page.get_by_role("heading", name=f"Pack {order.number}")).to_be_visible()
    expect(page.locator("#proposal")).to_contain_text("S · Small mailer")

    scan = page.get_by_label("Barcode or SKU")
    scan.fill("NOT-IN-ORDER")
    scan.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Refused")
    scanned = page.locator('tr[data-sku="E2E-1"] [data-scanned]')
    for count in (1, 2):
        # Each scan waits for its own answer (the count), not for feedback the previous one left.
        page.get_by_label("Barcode or SKU").fill("555555555555")
        page.get_by_label("Barcode or SKU").press("Enter")
        expect(scanned).to_have_text(str(count))
        expect(page.locator("#feedback")).to_contain_text("Packed 1 x E2E-1")

    expect(page.get_by_label("Box")).to_have_value(str(world.nj.warehouse.box_types.get(code="S").pk))
    page.get_by_label("Weight (lb)").fill("2.4")
    page.get_by_role("button", name="Close package").click()
    expect(page.locator("#feedback")).to_contain_text("Package 1 closed")

    page.get_by_role("button", name="Complete and buy label").click()
    expect(page.locator("#feedback")).to_contain_text("label bought")
    expect(page.locator("#print-links").get_by_role("link", name="Label (PDF)")).to_have_attribute(
        "href", re.compile(r"/floor/shipments/\d+/label.pdf")
    )
    shipment = Shipment.objects.get(order=order)
    assert shipment.status == ShipmentStatus.LABEL_CREATED and shipment.tracking_number
    expect(page.locator("#label-status")).to_contain_text(shipment.tracking_number)
