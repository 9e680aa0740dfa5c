"""A brand creates an order in the portal for an item in stock, adds a line with htmx, and sees it
allocated at its node (allocation runs after commit; tasks run eagerly in tests)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.enums import Role
from orders.enums import OrderStatus
from orders.models import Order
from tests.accounts.factories import TEST_PASSWORD, ClientFactory, UserFactory, WarehouseFactory
from tests.inventory.factories import make_item, make_node, stock

pytestmark = pytest.mark.e2e


def test_brand_creates_an_order_in_the_portal_and_sees_it_allocated(transactional_db, page, login):
    warehouse = WarehouseFactory(code="NJ1", name="Secaucus", zip_code="07094")
    brand = ClientFactory(name="Alpine Socks", slug="alpine-socks")
    brand.warehouses.add(warehouse)
    admin = UserFactory(role=Role.CLIENT_ADMIN, client=brand, email="admin@alpine.example.test")
    node = make_node(warehouse)
    socks = make_item(brand, "SOCK-RED-M", name="Red socks, medium")
    hat = make_item(brand, "HAT-BLUE", name="Blue beanie")
    stock(brand, node, socks, 10)
    stock(brand, node, hat, 4, location=node.bins[1])

    login(admin.email, TEST_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    page.wait_for_url("**/portal/orders/")
    page.get_by_role("link", name="New order").click()
    page.wait_for_url("**/portal/orders/new/")

    page.get_by_label("Your order reference").fill("WEB-1001")
    page.get_by_label("Service level").select_option("expedited")
    page.get_by_label("Name", exact=True).fill("Ann Buyer")
    page.get_by_label("Address line 1").fill("221 Washington St")
    page.get_by_label("City").fill("Hoboken")
    page.get_by_label("State").fill("NJ")
    page.get_by_label("ZIP code").fill("07030")
    rows = page.locator("#order-lines tr.order-line")
    expect(rows).to_have_count(3)
    rows.nth(0).get_by_label("SKU or barcode").fill("SOCK-RED-M")
    rows.nth(0).get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="+ Add line").click()
    expect(rows).to_have_count(4)
    rows.nth(3).get_by_label("SKU or barcode").fill("HAT-BLUE")
    rows.nth(3).get_by_label("Quantity").fill("2")
    with page.expect_navigation():
        page.get_by_role("button", name="Create order").click()

    order = Order.objects.get(client=brand, external_reference="WEB-1001")
    page.wait_for_url(f"**/portal/orders/{order.pk}/")
    expect(page.get_by_role("status").first).to_contain_text(f"{order.number} received")
    expect(page.locator("#order-status")).to_have_text("Allocated")
    lines = page.get_by_role("table", name="Lines")
    expect(lines.locator('tr[data-sku="SOCK-RED-M"] .allocation')).to_contain_text(node.bins[0].code)
    expect(lines.locator('tr[data-sku="SOCK-RED-M"] .allocation')).to_contain_text("NJ1")
    expect(lines.locator('tr[data-sku="HAT-BLUE"] .allocation')).to_contain_text(node.bins[1].code)
    expect(page.get_by_role("list", name="Timeline")).to_contain_text("Received → Allocated")
    expect(page.locator("#ship-by time")).to_be_visible()
    page.screenshot(path="/tmp/e2e-order.png", full_page=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and order.channel == "portal"
    assert sorted((a.item.sku, a.quantity) for a in order.allocations.select_related("item")) == [
        ("HAT-BLUE", 2),
        ("SOCK-RED-M", 3),
    ]

    # Back on the list the order shows allocated, with its ship-by in the node's time.
    page.get_by_role("link", name="← Orders").click()
    row = page.locator(f'tr[data-order="{order.number}"]')
    expect(row.locator(".badge").first).to_have_text("Allocated")
    expect(row.locator(".ship-by")).to_contain_text("E")
