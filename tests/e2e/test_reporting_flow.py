"""In a real browser: an account manager opens the fleet view, sees the client's health, clicks
through to the client dashboard with its charts, opens the quarter's QBR and downloads its PDF."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from django.utils import timezone
from pypdf import PdfReader

from accounts.enums import Role
from reporting.kpis import kpi_report, local_today
from shipments.services.shipping import buy_label, ship_out
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment


def _brand_with_shipped_orders(manager):
    """A brand at a New Jersey node with three orders shipped over the last three days."""
    world = make_world(regions=("nj",), name="Kestrel Coffee", slug="kestrel-coffee")
    world.client.account_managers.add(manager)
    make_carriers()
    item = make_item(world.client, "BEANS")
    stock(world.client, world.nj, item, 30)
    now = timezone.now()
    for days_ago in (3, 2, 1):
        received = now - timedelta(days=days_ago)
        order = make_order(world.client, [(item, 2)], ship_to=SHIP_TO_NJ, received_at=received)
        shipment = buy_label(
            actor=SYSTEM, shipment=packed_shipment(order, world.nj), at=received + timedelta(hours=1)
        )
        ship_out(actor=SYSTEM, shipment=shipment, at=received + timedelta(hours=2))
    make_order(world.client, [(item, 1)], ship_to=SHIP_TO_NJ)  # open: due today or soon
    return world.client


def test_fleet_to_dashboard_to_qbr_pdf(transactional_db, page, login):
    manager = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="am-reports@example.test")
    client = _brand_with_shipped_orders(manager)

    login(manager.email, TEST_PASSWORD)

    # The fleet view is the console home: the client's row with its health.
    assert page.url.endswith("/console/")
    table = page.get_by_role("table", name="Clients")
    row = table.locator('tbody tr[data-client="kestrel-coffee"]')
    row.wait_for()
    assert row.locator('[data-col="on_time_7d"]').inner_text().strip() != ""
    assert re.search(r"\d", row.locator('[data-col="due_today"]').inner_text())

    # One click to the client's dashboard, with its charts drawn from data.
    with page.expect_navigation():
        row.get_by_role("link", name="Kestrel Coffee").click()
    assert page.url.endswith(f"/console/clients/{client.pk}/dashboard/")
    page.get_by_label("Period", exact=True).select_option("7d")
    page.wait_for_url("**period=7d**")
    shipped = page.locator('[data-kpi="orders_shipped"] .kpi-value').inner_text()
    assert shipped == "3"
    on_time_chart = page.locator('[data-chart="on_time_ship_rate"] svg[role="img"]')
    assert on_time_chart.is_visible()
    assert on_time_chart.locator("circle.dot").count() > 0
    volumes = page.locator('[data-chart="volumes"] svg[role="img"]')
    assert volumes.is_visible()
    assert volumes.locator("rect.rect").count() > 0
    assert "Orders received and shipped" in volumes.locator("title").first.text_content()
    page.screenshot(path="/tmp/e2e-dashboard.png", full_page=True)

    # This quarter's QBR, and its PDF.
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Quarterly business review")).click()
    assert re.search(rf"/console/clients/{client.pk}/qbr/\d{{4}}/q[1-4]/$", page.url)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    data = open(download.path(), "rb").read()  # noqa: SIM115 - Playwright owns the file
    assert data.startswith(b"%PDF")
    text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
    assert "Kestrel Coffee" in text
    today = local_today(client)
    first = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    units = kpi_report(client_ids=[client.pk], start=first, end=today).totals["units_shipped"]
    assert units.display in text
