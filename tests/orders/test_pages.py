"""The order pages: portal list, detail, create and actions; console search, queues and staff
actions. Who may see what, what each form writes (through the services), and constant query counts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.enums import Role
from inventory.models import Balance, Item
from orders import allocation, services
from orders.enums import Channel, HoldKind, OrderStatus
from orders.models import Order
from tests.accounts.factories import UserFactory
from tests.inventory.factories import SYSTEM, Node, make_item, make_node, stock

SHIP_TO = {
    "ship_to_name": "Ann Buyer",
    "ship_to_address1": "1 Main St",
    "ship_to_city": "Hoboken",
    "ship_to_state": "NJ",
    "ship_to_zip": "07030",
}


@dataclass
class Shop:
    """Tenant A with a stocked node: MUG-01 (10 units) and TEA-20 (none)."""

    tenant: object
    node: Node
    mug: Item
    tea: Item


@pytest.fixture
def shop(tenant_a) -> Shop:
    node = make_node(tenant_a.warehouse)
    mug = make_item(tenant_a.client, "MUG-01", name="Stoneware mug")
    tea = make_item(tenant_a.client, "TEA-20", name="Green tea")
    stock(tenant_a.client, node, mug, 10)
    return Shop(tenant_a, node, mug, tea)


def place(
    client_obj, reference: str, lines: list[tuple[str, int]], *, allocate: bool = True, **kwargs
) -> Order:
    order = services.order_create(
        actor=SYSTEM,
        client=client_obj,
        external_reference=reference,
        lines=[{"sku": sku, "quantity": q} for sku, q in lines],
        ship_to=kwargs.pop("ship_to", SHIP_TO),
        **kwargs,
    )
    if allocate and order.status == OrderStatus.RECEIVED:
        allocation.allocate(actor=SYSTEM, order=order)
    order.refresh_from_db()
    return order


def html(response) -> str:
    return response.content.decode()


def create_post(lines: list[dict], **fields) -> dict:
    data = {
        "external_reference": "WEB-1",
        "service_level": "standard",
        "ship_to_name": "Ann Buyer",
        "ship_to_address1": "1 Main St",
        "ship_to_city": "Hoboken",
        "ship_to_state": "NJ",
        "ship_to_zip": "07030",
        "ship_to_country": "US",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, line in enumerate(lines):
        for key, value in line.items():
            data[f"lines-{i}-{key}"] = value
    return data


# --- who sees what -----------------------------------------------------------------------------

PORTAL_PAGES = [
    "/portal/orders/",
    "/portal/orders/?status=allocated&channel=api&q=MUG-01&since=2020-01-01&until=2099-01-01",
    "/portal/orders/new/",
    "/portal/orders/import/",
    "/portal/shopify/",
    "/portal/orders/{order}/",
    "/portal/orders/{order}/address/",
    "/portal/orders/{order}/lines/",
]
CONSOLE_PAGES = [
    "/console/orders/",
    "/console/orders/?q=A-1&status=allocated",
    "/console/orders/queues/",
    "/console/orders/queues/?queue=on_hold",
    "/console/orders/{order}/",
    "/console/clients/{client}/orders/",
]


def urls(paths, order) -> list[str]:
    return [p.format(order=order.pk, client=order.client_id) for p in paths]


@pytest.mark.parametrize("who", ["admin", "user"])
def test_portal_pages_render_for_the_clients_users(client, shop, who):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    client.force_login(getattr(shop.tenant, who))
    for url in urls(PORTAL_PAGES, order):
        assert client.get(url).status_code == 200, url
    assert "A-1" in html(client.get("/portal/orders/"))
    assert ">Orders</a>" in html(client.get("/portal/"))


@pytest.mark.parametrize("role", [Role.OPERATOR_ADMIN, Role.ACCOUNT_MANAGER, Role.WAREHOUSE_OPERATOR])
def test_portal_pages_are_forbidden_to_staff(client, shop, role):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    client.force_login(UserFactory(role=role, client=None))
    for url in urls(PORTAL_PAGES, order):
        assert client.get(url).status_code == 403, url


def test_order_pages_send_the_signed_out_to_sign_in(client, shop):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    for url in urls(PORTAL_PAGES + CONSOLE_PAGES, order):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url, url


def test_another_clients_order_is_404(client, shop, tenant_b):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    client.force_login(tenant_b.admin)
    for url in urls(PORTAL_PAGES[5:], order):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/portal/orders/{order.pk}/cancel/").status_code == 404
    assert "A-1" not in html(client.get("/portal/orders/"))
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED


def test_console_pages_render_for_the_clients_account_manager(client, shop, account_manager):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    shop.tenant.client.account_managers.add(account_manager)
    client.force_login(account_manager)
    for url in urls(CONSOLE_PAGES, order):
        assert client.get(url).status_code == 200, url
    assert "A-1" in html(client.get("/console/orders/"))
    assert ">Orders</a>" in html(client.get("/console/"))
    assert f"/console/clients/{order.client_id}/orders/" in html(
        client.get(f"/console/clients/{order.client_id}/")
    )


def test_console_hides_clients_the_manager_does_not_manage(client, shop, account_manager):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    client.force_login(account_manager)
    assert client.get(f"/console/orders/{order.pk}/").status_code == 404
    assert client.get(f"/console/clients/{order.client_id}/orders/").status_code == 404
    assert "A-1" not in html(client.get("/console/orders/"))


def test_console_pages_are_forbidden_to_client_users(client, shop):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    client.force_login(shop.tenant.admin)
    for url in urls(CONSOLE_PAGES, order):
        assert client.get(url).status_code == 403, url


# --- portal list and detail --------------------------------------------------------------------


def test_list_filters_by_status_channel_reference_sku_and_received_date(client, shop):
    place(shop.tenant.client, "A-1", [("MUG-01", 1)])
    place(shop.tenant.client, "A-2", [("TEA-20", 1)], channel=Channel.CSV)  # backordered
    old = place(shop.tenant.client, "OLD-3", [("MUG-01", 1)], received_at=timezone.now() - timedelta(days=40))
    client.force_login(shop.tenant.user)

    def refs(query: str) -> set[str]:
        return set(re.findall(r'data-reference="([^"]+)"', html(client.get(f"/portal/orders/{query}"))))

    assert refs("") == {"A-1", "A-2", "OLD-3"}
    assert refs("?status=backordered") == {"A-2"}
    assert refs("?channel=csv") == {"A-2"}
    assert refs("?q=tea-20") == {"A-2"}
    assert refs("?q=A-") == {"A-1", "A-2"}
    assert refs(f"?q={old.number}") == {"OLD-3"}
    day = timezone.localtime(old.received_at, timezone.get_fixed_timezone(0)).date()
    assert refs(f"?since={day - timedelta(days=1)}&until={day + timedelta(days=1)}") == {"OLD-3"}
    rows = html(client.get("/portal/orders/?status=backordered", HTTP_HX_REQUEST="true"))
    assert "<html" not in rows and "A-2" in rows


def test_list_shows_ship_by_in_the_nodes_time_with_late_and_at_risk_badges(client, shop):
    late = place(shop.tenant.client, "LATE-1", [("MUG-01", 1)])
    risky = place(shop.tenant.client, "RISK-1", [("MUG-01", 1)])
    fine = place(shop.tenant.client, "FINE-1", [("MUG-01", 1)])
    now = timezone.now()
    Order.objects.filter(pk=late.pk).update(ship_by=now - timedelta(hours=1))
    Order.objects.filter(pk=risky.pk).update(ship_by=now + timedelta(minutes=90))
    Order.objects.filter(pk=fine.pk).update(ship_by=now + timedelta(days=2))
    client.force_login(shop.tenant.user)
    page = html(client.get("/portal/orders/"))

    def row(reference):
        return re.search(rf'data-reference="{reference}">(.*?)</tr>', page, re.S).group(1)

    assert "late</span>" in row("LATE-1") and "at risk" not in row("LATE-1")
    assert "at risk</span>" in row("RISK-1")
    assert "late</span>" not in row("FINE-1") and "at risk" not in row("FINE-1")
    assert re.search(r"E[SD]T</time>", row("FINE-1"))  # the node is in New York
    assert "status-allocated" in row("FINE-1")


def test_detail_shows_lines_allocations_holds_timeline_and_ship_to(
    client, shop, django_capture_on_commit_callbacks
):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 3), ("NOPE-1", 1)])
    assert order.status == OrderStatus.ON_HOLD
    with django_capture_on_commit_callbacks(execute=True):
        services.order_update_lines(actor=SYSTEM, order=order, lines=[{"sku": "MUG-01", "quantity": 3}])
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    client.force_login(shop.tenant.user)
    page = html(client.get(f"/portal/orders/{order.pk}/"))
    assert "status-allocated" in page
    line = re.search(r'<tr data-sku="MUG-01">(.*?)</tr>', page, re.S).group(1)
    assert (
        shop.node.bins[0].code in line and shop.tenant.warehouse.code in line and "<strong>3</strong>" in line
    )
    assert "Exception (unknown SKU) placed" in page and "Exception (unknown SKU) released" in page
    assert "Unknown SKU: NOPE-1" in page
    assert "On hold → Received" in page and "Received → Allocated" in page
    assert "Hoboken, NJ 07030" in page


# --- portal: create ----------------------------------------------------------------------------


def test_create_form_creates_a_portal_order_that_gets_allocated(
    client, shop, django_capture_on_commit_callbacks
):
    client.force_login(shop.tenant.user)
    lines = [
        {"sku": "MUG-01", "quantity": "2", "unit_price": "12.50"},
        {"sku": "", "quantity": "", "unit_price": ""},  # a blank row
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/orders/new/", create_post(lines, service_level="expedited"))
    order = Order.objects.get(client=shop.tenant.client, external_reference="WEB-1")
    assert response.status_code == 302 and response.url == f"/portal/orders/{order.pk}/"
    assert order.channel == Channel.PORTAL and order.service_level == "expedited"
    assert order.status == OrderStatus.ALLOCATED and order.warehouse == shop.tenant.warehouse
    assert [(x.sku, x.quantity, str(x.unit_price)) for x in order.lines.all()] == [("MUG-01", 2, "12.5000")]
    assert Balance.objects.get(item=shop.mug, location=shop.node.bins[0]).allocated == 2
    assert "status-allocated" in html(client.get(response.url))


def test_create_form_shows_a_duplicate_reference_naming_the_existing_order(client, shop):
    existing = place(shop.tenant.client, "WEB-1", [("MUG-01", 1)], channel=Channel.PORTAL)
    client.force_login(shop.tenant.user)
    response = client.post("/portal/orders/new/", create_post([{"sku": "MUG-01", "quantity": "1"}]))
    assert response.status_code == 200
    page = html(response)
    assert f"exists already as {existing.number}" in page
    assert re.search(r'has-error">\s*<label for="id_external_reference">', page)
    assert f'href="/portal/orders/{existing.pk}/"' in page
    assert Order.objects.filter(external_reference="WEB-1").count() == 1


def test_create_form_shows_field_and_line_errors_and_writes_nothing(client, shop):
    client.force_login(shop.tenant.user)
    page = html(client.post("/portal/orders/new/", create_post([], ship_to_name="")))
    assert re.search(r'has-error">\s*<label for="id_ship_to_name">', page)
    page = html(client.post("/portal/orders/new/", create_post([{"sku": "", "quantity": ""}])))
    assert "An order needs at least one line." in page
    page = html(client.post("/portal/orders/new/", create_post([{"sku": "MUG-01", "quantity": "0"}])))
    assert "greater than or equal to 1" in page
    assert not Order.objects.exists()


def test_an_unknown_sku_or_a_bad_zip_is_accepted_onto_a_hold(client, shop):
    client.force_login(shop.tenant.user)
    client.post("/portal/orders/new/", create_post([{"sku": "NOPE-9", "quantity": "1"}]))
    client.post(
        "/portal/orders/new/",
        create_post([{"sku": "MUG-01", "quantity": "1"}], external_reference="W-2", ship_to_zip="00000"),
    )
    unknown, bad_zip = Order.objects.order_by("pk")
    assert unknown.status == bad_zip.status == OrderStatus.ON_HOLD
    assert "Unknown SKU: NOPE-9" in html(client.get(f"/portal/orders/{unknown.pk}/"))
    assert "ZIP 00000 does not exist" in html(client.get(f"/portal/orders/{bad_zip.pk}/"))


def test_add_line_returns_one_blank_row(client, shop):
    client.force_login(shop.tenant.user)
    row = html(client.get("/portal/orders/new/line/?index=3", HTTP_HX_REQUEST="true"))
    assert 'name="lines-3-sku"' in row and 'name="lines-3-quantity"' in row and "<html" not in row
    assert client.get("/portal/orders/new/line/?index=x").status_code == 404


# --- portal: actions ---------------------------------------------------------------------------


def test_cancel_releases_the_stock(client, shop):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 4)])
    client.force_login(shop.tenant.user)
    response = client.post(f"/portal/orders/{order.pk}/cancel/", {"reason": "changed mind"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert Balance.objects.get(item=shop.mug, location=shop.node.bins[0]).allocated == 0
    assert "changed mind" in html(client.get(f"/portal/orders/{order.pk}/"))


def test_client_hold_and_release_buttons(client, shop, django_capture_on_commit_callbacks):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 4)])
    client.force_login(shop.tenant.user)
    assert "Release client hold" not in html(client.get(f"/portal/orders/{order.pk}/"))
    page = html(client.post(f"/portal/orders/{order.pk}/hold/", {"reason": ""}))
    assert "This field is required." in page
    client.post(f"/portal/orders/{order.pk}/hold/", {"reason": "wait for the gift note"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert Balance.objects.get(item=shop.mug, location=shop.node.bins[0]).allocated == 0
    page = html(client.get(f"/portal/orders/{order.pk}/"))
    assert "Release client hold" in page and "wait for the gift note" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/portal/orders/{order.pk}/release/")
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert "Client hold released" in html(client.get(f"/portal/orders/{order.pk}/"))


def test_a_brand_cannot_release_an_operator_hold(client, shop):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 1)])
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR, reason="fraud check")
    client.force_login(shop.tenant.user)
    response = client.post(f"/portal/orders/{order.pk}/release/")
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert "no open hold you can release" in html(client.get(f"/portal/orders/{order.pk}/"))


def test_address_form_corrects_a_bad_zip_and_releases_the_hold(
    client, shop, django_capture_on_commit_callbacks
):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 1)], ship_to={**SHIP_TO, "ship_to_zip": "00000"})
    assert order.status == OrderStatus.ON_HOLD
    client.force_login(shop.tenant.user)
    page = html(client.get(f"/portal/orders/{order.pk}/address/"))
    assert 'value="00000"' in page
    data = {**SHIP_TO, "ship_to_country": "US", "ship_to_zip": "07030"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/portal/orders/{order.pk}/address/", data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.ship_to_zip == "07030" and order.status == OrderStatus.ALLOCATED


def test_lines_form_replaces_the_lines_and_reallocates(client, shop):
    order = place(shop.tenant.client, "A-1", [("MUG-01", 2)])
    client.force_login(shop.tenant.user)
    page = html(client.get(f"/portal/orders/{order.pk}/lines/"))
    assert 'value="MUG-01"' in page
    data = {
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "1",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-sku": "MUG-01",
        "lines-0-quantity": "5",
        "lines-1-sku": "",
        "lines-1-quantity": "",
    }
    response = client.post(f"/portal/orders/{order.pk}/lines/", data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert [(x.sku, x.quantity) for x in order.lines.all()] == [("MUG-01", 5)]
    assert order.status == OrderStatus.ALLOCATED
    assert Balance.objects.get(item=shop.mug, location=shop.node.bins[0]).allocated == 5


# --- portal: CSV upload and the Shopify connection --------------------------------------------

ORDERS_CSV = (
    "external_reference,sku,quantity,ship_to_name,ship_to_address1,ship_to_city,ship_to_state,ship_to_zip\n"
    "CSV-1,MUG-01,2,Ann Buyer,1 Main St,Hoboken,NJ,07030\n"
    "CSV-1,TEA-20,1,Ann Buyer,1 Main St,Hoboken,NJ,07030\n"
    "CSV-2,NOPE-9,1,Bob Buyer,2 Main St,Hoboken,NJ,07030\n"
)


def test_csv_upload_previews_then_imports_the_kept_file(client, shop):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(shop.tenant.user)
    upload = SimpleUploadedFile("orders.csv", ORDERS_CSV.encode(), content_type="text/csv")
    page = html(client.post("/portal/orders/import/", {"file": upload, "dry_run": "on"}))
    assert "All 3 rows are valid" in page
    preview = re.search(r'aria-label="Preview">(.*?)</table>', page, re.S).group(1)
    assert 'data-reference="CSV-1"' in preview and "Unknown SKU: NOPE-9" in preview
    assert not Order.objects.exists()
    kept = re.search(r'<textarea name="content" hidden>(.*?)</textarea>', page, re.S).group(1)
    response = client.post("/portal/orders/import/", {"content": kept})
    assert response.status_code == 302 and response.url == "/portal/orders/"
    orders = {o.external_reference: o for o in Order.objects.all()}
    assert set(orders) == {"CSV-1", "CSV-2"} and orders["CSV-1"].channel == Channel.CSV
    assert orders["CSV-2"].status == OrderStatus.ON_HOLD


def test_csv_upload_with_a_bad_row_imports_nothing(client, shop):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(shop.tenant.user)
    bad = ORDERS_CSV + "CSV-3,MUG-01,lots,Cy,3 Main St,Hoboken,NJ,07030\n"
    upload = SimpleUploadedFile("orders.csv", bad.encode(), content_type="text/csv")
    page = html(client.post("/portal/orders/import/", {"file": upload}))
    assert "nothing was imported" in page and "<code>quantity</code>" in page
    assert not Order.objects.exists()


def test_client_admin_connects_shopify_and_sees_the_endpoint(client, shop):
    client.force_login(shop.tenant.admin)
    response = client.post(
        "/portal/shopify/",
        {"shop_domain": "alpine.myshopify.com", "webhook_secret": "shpss_0123456789abcd", "active": "on"},
    )
    assert response.status_code == 302
    connection = shop.tenant.client.shopify_connection
    page = html(client.get("/portal/shopify/"))
    assert f"/webhooks/shopify/{connection.token}/orders-create/" in page
    assert "abcd" in page and "shpss_0123456789abcd" not in page
    client.post("/portal/shopify/", {"shop_domain": "alpine.myshopify.com", "webhook_secret": ""})
    connection.refresh_from_db()
    assert connection.webhook_secret == "shpss_0123456789abcd" and not connection.active
    page = html(client.post("/portal/shopify/", {"shop_domain": "alpine.example.com", "webhook_secret": ""}))
    assert "myshopify.com" in page and 'has-error">' in page


def test_a_client_user_sees_the_shopify_page_but_cannot_change_it(client, shop):
    client.force_login(shop.tenant.user)
    assert '<form method="post" novalidate class="form-grid">' not in html(client.get("/portal/shopify/"))
    data = {"shop_domain": "alpine.myshopify.com", "webhook_secret": "x"}
    assert client.post("/portal/shopify/", data).status_code == 403


# --- console -----------------------------------------------------------------------------------


def test_console_queues_list_the_right_orders(client, shop, operator_admin):
    c = shop.tenant.client
    held = place(c, "HELD-1", [("MUG-01", 1)])
    services.order_hold(actor=SYSTEM, order=held, kind=HoldKind.OPERATOR, reason="check")
    place(c, "BACK-1", [("TEA-20", 1)])
    risky = place(c, "RISK-1", [("MUG-01", 1)])
    late = place(c, "LATE-1", [("MUG-01", 1)])
    fine = place(c, "FINE-1", [("MUG-01", 1)])
    now = timezone.now()
    Order.objects.filter(pk=risky.pk).update(ship_by=now + timedelta(minutes=30))
    Order.objects.filter(pk=late.pk).update(ship_by=now - timedelta(minutes=30))
    Order.objects.filter(pk=fine.pk).update(ship_by=now + timedelta(hours=3))
    client.force_login(operator_admin)

    def refs(queue: str) -> set[str]:
        page = html(client.get(f"/console/orders/queues/?queue={queue}"))
        return set(re.findall(r'data-reference="([^"]+)"', page))

    assert refs("on_hold") == {"HELD-1"}
    assert refs("backordered") == {"BACK-1"}
    assert refs("at_risk") == {"RISK-1"}
    assert refs("late") == {"LATE-1"}
    page = html(client.get("/console/orders/queues/?queue=late", HTTP_HX_REQUEST="true"))
    assert "<html" not in page
    counts = dict(re.findall(r'data-queue="(\w+)">[^<]*<span class="count">(\d+)</span>', page))
    assert counts == {"on_hold": "1", "backordered": "1", "at_risk": "1", "late": "1"}
    assert client.get("/console/orders/queues/?queue=nope").status_code == 404


def test_console_search_by_reference_client_and_status(client, shop, tenant_b, operator_admin):
    place(shop.tenant.client, "A-1", [("MUG-01", 1)])
    place(shop.tenant.client, "A-2", [("TEA-20", 1)])
    make_item(tenant_b.client, "MUG-01")
    place(tenant_b.client, "B-1", [("MUG-01", 1)], allocate=False)
    client.force_login(operator_admin)

    def refs(query: str) -> set[str]:
        return set(re.findall(r'data-reference="([^"]+)"', html(client.get(f"/console/orders/{query}"))))

    assert refs("") == {"A-1", "A-2", "B-1"}
    assert refs(f"?client={tenant_b.client.pk}") == {"B-1"}
    assert refs("?status=backordered") == {"A-2"}
    assert refs("?q=A-1") == {"A-1"}
    assert set(
        re.findall(
            r'data-reference="([^"]+)"', html(client.get(f"/console/clients/{tenant_b.client.pk}/orders/"))
        )
    ) == {"B-1"}


def test_staff_hold_release_and_reallocate(client, shop, account_manager, django_capture_on_commit_callbacks):
    shop.tenant.client.account_managers.add(account_manager)
    order = place(shop.tenant.client, "A-1", [("TEA-20", 2)])
    assert order.status == OrderStatus.BACKORDERED
    client.force_login(account_manager)
    client.post(f"/console/orders/{order.pk}/hold/", {"reason": "address check by phone"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and order.holds.get().kind == HoldKind.OPERATOR
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/console/orders/{order.pk}/release/", {"kind": "operator"})
    order.refresh_from_db()
    assert order.status == OrderStatus.BACKORDERED
    stock(shop.tenant.client, shop.node, shop.tea, 2, location=shop.node.bins[1])
    order.refresh_from_db()
    if order.status == OrderStatus.BACKORDERED:  # the backorder task may have allocated it already
        page = html(client.get(f"/console/orders/{order.pk}/"))
        assert "Re-allocate" in page
        client.post(f"/console/orders/{order.pk}/reallocate/")
        order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED


def test_a_warehouse_operator_sees_orders_but_cannot_act(client, shop, warehouse_operator):
    warehouse_operator.warehouses.add(shop.tenant.warehouse)
    order = place(shop.tenant.client, "A-1", [("MUG-01", 1)])
    client.force_login(warehouse_operator)
    page = html(client.get(f"/console/orders/{order.pk}/"))
    assert "A-1" in page and "Cancel order" not in page and "Re-allocate" not in page
    assert client.post(f"/console/orders/{order.pk}/cancel/").status_code == 403
    assert client.post(f"/console/orders/{order.pk}/reallocate/").status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED


# --- query counts ------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_list_pages_query_counts_do_not_grow_with_page_size(client, shop, operator_admin):
    for n in range(6):
        place(shop.tenant.client, f"Q-{n}", [("MUG-01", 1), ("TEA-20", 1)])
    client.force_login(shop.tenant.user)
    assert _queries(client, "/portal/orders/?per_page=1") == _queries(client, "/portal/orders/?per_page=6")
    client.force_login(operator_admin)
    for url in ("/console/orders/", "/console/orders/queues/?queue=backordered"):
        sep = "&" if "?" in url else "?"
        assert _queries(client, f"{url}{sep}per_page=1") == _queries(client, f"{url}{sep}per_page=6"), url


def test_detail_query_count_does_not_grow_with_lines(client, shop):
    skus = [make_item(shop.tenant.client, f"ITEM-{n}").sku for n in range(5)]
    for sku in skus:
        stock(shop.tenant.client, shop.node, Item.objects.get(sku=sku), 3, location=shop.node.bins[2])
    one = place(shop.tenant.client, "ONE", [(skus[0], 1)])
    many = place(shop.tenant.client, "MANY", [(sku, 2) for sku in skus])
    services.order_hold(actor=SYSTEM, order=many, kind=HoldKind.CLIENT, reason="x")
    services.order_hold(actor=SYSTEM, order=one, kind=HoldKind.CLIENT, reason="x")
    for order in (one, many):
        services.order_release(actor=SYSTEM, order=order)
        allocation.allocate(actor=SYSTEM, order=order)
    assert Order.objects.get(pk=many.pk).status == OrderStatus.ALLOCATED
    client.force_login(shop.tenant.user)
    assert _queries(client, f"/portal/orders/{one.pk}/") == _queries(client, f"/portal/orders/{many.pk}/")
