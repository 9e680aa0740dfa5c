"""The dock-to-stock flow on a tablet-sized screen: check-in, scanner receiving (htmx, no reload),
putaway into a suggested bin, and the ASN stocked."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.actors import Actor
from accounts.enums import Role
from inventory import services
from inventory.enums import ASNStatus, LocationType
from inventory.models import Balance
from tests.accounts.factories import TEST_PASSWORD, ClientFactory, UserFactory, WarehouseFactory

from .conftest import TIMEOUT_MS

pytestmark = pytest.mark.e2e

SYSTEM = Actor.system("tests")
BARCODE = "0123456789050"


@pytest.fixture
def tablet(browser, live_server):
    """A page the size of a landscape tablet (1024 x 768)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_operator_checks_in_receives_by_scanner_and_puts_away(transactional_db, tablet):
    page = tablet
    warehouse = WarehouseFactory(code="NJ1", name="Secaucus")
    brand = ClientFactory(name="Alpine Socks", slug="alpine-socks")
    brand.warehouses.add(warehouse)
    operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None, email="dock@example.test")
    operator.warehouses.add(warehouse)
    services.location_create(actor=SYSTEM, warehouse=warehouse, code="DOCK-1", type=LocationType.RECEIVING)
    services.location_create(actor=SYSTEM, warehouse=warehouse, code="QC-1", type=LocationType.QUARANTINE)
    services.locations_bulk_create(
        actor=SYSTEM, warehouse=warehouse, zone="A", aisles="01", bays="01-04", levels="1", type="pick"
    )
    item = services.item_create(
        actor=SYSTEM,
        client=brand,
        sku="SOCK-RED-M",
        name="Red socks, medium",
        barcodes=[{"code": BARCODE, "kind": "ean"}],
    )
    asn = services.asn_create(
        actor=SYSTEM,
        client=brand,
        warehouse=warehouse,
        lines=[{"item": item, "expected_quantity": 3}],
        submit=True,
        reference="PO-7001",
        carrier="UPS",
    )
    line = asn.lines.get()

    # Sign in and check the truck in at the dock by scanning the ASN number.
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(operator.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dock").click()
    page.wait_for_url("**/floor/dock/")
    scan = page.get_by_label("ASN number, reference, tracking or BOL")
    expect(scan).to_be_focused()
    scan.fill(asn.number)
    with page.expect_navigation():
        scan.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"{asn.number} checked in at NJ1")
    asn.refresh_from_db()
    assert asn.status == ASNStatus.ARRIVED

    # Receive: three scans update the line in place, without reloading the page.
    page.get_by_role("table", name="Checked in").locator(f'tr[data-asn="{asn.number}"]').get_by_role(
        "link", name="Receive"
    ).click()
    page.wait_for_url(f"**/floor/asns/{asn.pk}/receive/")
    page.evaluate("window.__sameDocument = true")
    code = page.get_by_label("Barcode or SKU")
    received = page.locator(f"#line-{line.pk} td.received")
    expect(received).to_have_text("0")
    for n in (1, 2, 3):
        expect(code).to_be_focused()
        code.fill(BARCODE)
        code.press("Enter")
        expect(received).to_have_text(str(n))
        expect(page.locator(".feedback.ok")).to_contain_text("Received 1 x SOCK-RED-M")
        expect(code).to_have_value("")
    code.fill("999000111")
    code.press("Enter")
    error = page.locator(".feedback.error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("No item with SKU or barcode “999000111”")
    expect(received).to_have_text("3")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    page.screenshot(path="/tmp/e2e-receiving.png", full_page=True)
    assert line.receipts.count() == 3

    # Finish receiving, then put the units away into the first suggested bin.
    with page.expect_navigation():
        page.get_by_role("button", name="Finish receiving").click()
    page.wait_for_url(f"**/floor/asns/{asn.pk}/putaway/")
    card = page.locator(f"#putaway-line-{line.pk}")
    expect(card.locator(".waiting")).to_have_text("3")
    bin_button = card.locator("button.bin").first
    bin_code = bin_button.get_attribute("data-bin")
    with page.expect_navigation():
        bin_button.click()
    expect(page.get_by_role("status").first).to_contain_text(f"Put away 3 x SOCK-RED-M to {bin_code}")
    expect(page.locator("#stocked")).to_contain_text("Stocked")
    page.screenshot(path="/tmp/e2e-putaway.png", full_page=True)

    asn.refresh_from_db()
    assert asn.status == ASNStatus.RECEIVED
    assert asn.stocked_at is not None and asn.stocked_at >= asn.arrived_at
    assert Balance.objects.get(item=item, location__code=bin_code).on_hand == 3
    assert Balance.objects.get(item=item, location__code="DOCK-1").on_hand == 0
