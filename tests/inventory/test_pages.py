"""The inventory pages: portal (items, stock, ledger, ASNs), warehouse floor (dock, receiving,
putaway, counts) and console. Who may see what, what each form writes (through the services),
and that every list page's query count does not grow with its page size."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import Actor
from accounts.enums import Role
from inventory import services
from inventory.enums import ASNStatus, CountStatus, LocationType, MoveReason
from inventory.models import ASN, Balance, CycleCount, Item, Location, Move, Receipt
from tests.accounts.factories import UserFactory, WarehouseFactory

SYSTEM = Actor.system("tests")


@dataclass
class Site:
    """Tenant A at its node: a dock, a quarantine bin, pick bins, one item and a submitted ASN."""

    tenant: object
    warehouse: object
    dock: Location
    bins: list[Location]
    item: Item
    asn: ASN


def make_locations(warehouse) -> tuple[Location, list[Location]]:
    dock = services.location_create(
        actor=SYSTEM, warehouse=warehouse, code="DOCK-1", type=LocationType.RECEIVING
    )
    services.location_create(actor=SYSTEM, warehouse=warehouse, code="QC-1", type=LocationType.QUARANTINE)
    bins = services.locations_bulk_create(
        actor=SYSTEM, warehouse=warehouse, zone="A", aisles="01", bays="01-03", levels="1", type="pick"
    ).created
    return dock, list(bins)


def make_asn(client, warehouse, lines: list[tuple[Item, int]], **header) -> ASN:
    return services.asn_create(
        actor=SYSTEM,
        client=client,
        warehouse=warehouse,
        lines=[{"item": item, "expected_quantity": qty} for item, qty in lines],
        submit=True,
        **header,
    )


@pytest.fixture
def site(tenant_a) -> Site:
    warehouse = tenant_a.warehouse
    dock, bins = make_locations(warehouse)
    item = services.item_create(
        actor=SYSTEM,
        client=tenant_a.client,
        sku="MUG-01",
        name="Stoneware mug",
        barcodes=[{"code": "012345678905", "kind": "upc"}],
    )
    asn = make_asn(tenant_a.client, warehouse, [(item, 10)], reference="PO-1001")
    return Site(tenant_a, warehouse, dock, bins, item, asn)


@pytest.fixture
def operator(warehouse_operator, site):
    warehouse_operator.warehouses.add(site.warehouse)
    return warehouse_operator


@pytest.fixture
def arrived(site) -> ASN:
    return services.asn_arrive(actor=SYSTEM, asn=site.asn)


def html(response) -> str:
    return response.content.decode()


# --- who sees what -----------------------------------------------------------------------------

PORTAL_PAGES = [
    "/portal/items/",
    "/portal/items/new/",
    "/portal/items/import/",
    "/portal/items/{item}/",
    "/portal/inventory/",
    "/portal/inventory/?view=totals",
    "/portal/ledger/",
    "/portal/asns/",
    "/portal/asns/new/",
    "/portal/asns/import/",
    "/portal/asns/{asn}/",
]
FLOOR_PAGES = [
    "/floor/dock/",
    "/floor/receiving/",
    "/floor/putaway/",
    "/floor/counts/",
    "/floor/asns/{asn}/receive/",
    "/floor/asns/{asn}/putaway/",
]
CONSOLE_PAGES = [
    "/console/inbound/",
    "/console/discrepancies/",
    "/console/asns/{asn}/",
    "/console/clients/{client}/inventory/",
]


def urls(paths, site) -> list[str]:
    return [p.format(item=site.item.pk, asn=site.asn.pk, client=site.tenant.client.pk) for p in paths]


@pytest.mark.parametrize("who", ["admin", "user"])
def test_portal_pages_render_for_the_clients_users(client, site, who):
    client.force_login(getattr(site.tenant, who))
    for url in urls(PORTAL_PAGES, site):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "MUG-01" in html(client.get("/portal/items/"))
    assert "PO-1001" in html(client.get("/portal/asns/"))


@pytest.mark.parametrize("role", [Role.OPERATOR_ADMIN, Role.ACCOUNT_MANAGER, Role.WAREHOUSE_OPERATOR])
def test_portal_pages_are_forbidden_to_staff(client, site, role):
    client.force_login(UserFactory(role=role, client=None))
    for url in urls(PORTAL_PAGES, site):
        assert client.get(url).status_code == 403, url


def test_pages_send_the_signed_out_to_sign_in(client, site):
    for url in urls(PORTAL_PAGES + FLOOR_PAGES + CONSOLE_PAGES, site):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url, url


def test_another_clients_item_and_asn_are_404(client, site, tenant_b):
    client.force_login(tenant_b.admin)
    assert client.get(f"/portal/items/{site.item.pk}/").status_code == 404
    assert client.get(f"/portal/asns/{site.asn.pk}/").status_code == 404
    assert client.post(f"/portal/asns/{site.asn.pk}/cancel/").status_code == 404
    assert "MUG-01" not in html(client.get("/portal/items/?q=MUG"))
    assert "PO-1001" not in html(client.get("/portal/asns/"))
    site.asn.refresh_from_db()
    assert site.asn.status == ASNStatus.SUBMITTED


def test_floor_pages_render_for_an_operator_of_the_node(client, operator, site):
    client.force_login(operator)
    for url in urls(FLOOR_PAGES, site):
        assert client.get(url).status_code == 200, url
    assert site.asn.number in html(client.get("/floor/dock/"))


def test_floor_pages_render_for_an_operator_admin(client, operator_admin, site):
    client.force_login(operator_admin)
    for url in urls(FLOOR_PAGES, site):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("who", ["client_admin", "account_manager"])
def test_floor_pages_are_forbidden_to_clients_and_account_managers(client, site, account_manager, who):
    client.force_login(site.tenant.admin if who == "client_admin" else account_manager)
    for url in urls(FLOOR_PAGES, site):
        assert client.get(url).status_code == 403, url


def test_an_operator_of_another_node_gets_404_for_this_nodes_asn(client, site, warehouse_operator):
    elsewhere = WarehouseFactory()
    site.tenant.client.warehouses.add(elsewhere)  # the client is served there too
    warehouse_operator.warehouses.add(elsewhere)
    client.force_login(warehouse_operator)
    assert client.get(f"/floor/asns/{site.asn.pk}/receive/").status_code == 404
    assert client.post(f"/floor/asns/{site.asn.pk}/arrive/").status_code == 404
    assert site.asn.number not in html(client.get("/floor/dock/"))


def test_console_pages_render_for_the_clients_account_manager(client, site, account_manager):
    site.tenant.client.account_managers.add(account_manager)
    client.force_login(account_manager)
    for url in urls(CONSOLE_PAGES, site):
        assert client.get(url).status_code == 200, url
    assert site.asn.number in html(client.get("/console/inbound/"))
    assert "Inventory and inbound" in html(client.get(f"/console/clients/{site.tenant.client.pk}/"))


def test_console_pages_hide_clients_the_manager_does_not_manage(client, site, account_manager):
    client.force_login(account_manager)
    assert client.get(f"/console/clients/{site.tenant.client.pk}/inventory/").status_code == 404
    assert client.get(f"/console/asns/{site.asn.pk}/").status_code == 404
    assert site.asn.number not in html(client.get("/console/inbound/"))


def test_console_pages_are_forbidden_to_client_users(client, site):
    client.force_login(site.tenant.user)
    for url in urls(CONSOLE_PAGES, site):
        assert client.get(url).status_code == 403, url


def test_navigation_shows_the_inventory_pages_for_each_role(client, site, operator, account_manager):
    client.force_login(site.tenant.user)
    nav = html(client.get("/portal/"))
    for label in ("Items", "Inventory", "Ledger", "ASNs"):
        assert f">{label}</a>" in nav
    client.force_login(operator)
    nav = html(client.get("/console/"))
    for label in ("Dock", "Receiving", "Putaway", "Counts", "Inbound", "Discrepancies"):
        assert f">{label}</a>" in nav
    client.force_login(account_manager)
    nav = html(client.get("/console/"))
    assert ">Inbound</a>" in nav and ">Dock</a>" not in nav


# --- portal: items -----------------------------------------------------------------------------


def test_item_form_creates_an_item_with_barcodes(client, site):
    client.force_login(site.tenant.user)
    response = client.post(
        "/portal/items/new/",
        {"sku": "TEA-20", "name": "Green tea", "upc": "012345678912, 012345678929", "reorder_point": "5"},
    )
    item = Item.objects.get(client=site.tenant.client, sku="TEA-20")
    assert response.status_code == 302 and response.url == f"/portal/items/{item.pk}/"
    assert sorted(item.barcodes.values_list("code", flat=True)) == ["012345678912", "012345678929"]
    assert item.reorder_point == 5


def test_item_form_shows_a_taken_barcode_next_to_its_field(client, site):
    client.force_login(site.tenant.user)
    response = client.post(
        "/portal/items/new/", {"sku": "TEA-20", "name": "Green tea", "ean": "012345678905"}
    )
    assert response.status_code == 200
    page = html(response)
    assert re.search(r'has-error">\s*<label for="id_ean">', page)
    assert "already identifies MUG-01" in page
    assert not Item.objects.filter(sku="TEA-20").exists()


def test_item_detail_shows_stock_by_node_barcodes_and_kit_components(client, site, arrived):
    line = site.asn.lines.get()
    services.asn_receive(actor=SYSTEM, asn=site.asn, line=line, quantity=4)
    services.asn_putaway(actor=SYSTEM, asn=site.asn, line=line, to_location=site.bins[0], quantity=4)
    kit = services.item_create(
        actor=SYSTEM,
        client=site.tenant.client,
        sku="GIFT-BOX",
        name="Gift box",
        is_kit=True,
        components=[{"sku": "MUG-01", "quantity": 2}],
    )
    client.force_login(site.tenant.user)
    page = html(client.get(f"/portal/items/{site.item.pk}/"))
    assert "012345678905" in page
    node_row = re.search(rf'<tr data-node="{site.warehouse.code}">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', node_row) == ["4", "0", "4"]
    assert "GIFT-BOX" in page  # used in kits
    kit_page = html(client.get(f"/portal/items/{kit.pk}/"))
    assert "2 \u00d7 " in kit_page and "MUG-01" in kit_page
    kit_row = re.search(rf'<tr data-node="{site.warehouse.code}">(.*?)</tr>', kit_page, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', kit_row) == ["2"]


def test_items_filter_by_sku_or_name_and_status_and_htmx_gets_rows_only(client, site):
    services.item_create(
        actor=SYSTEM, client=site.tenant.client, sku="TEA-20", name="Green tea", active=False
    )
    client.force_login(site.tenant.user)
    rows = html(client.get("/portal/items/?q=tea", HTTP_HX_REQUEST="true"))
    assert "TEA-20" in rows and "MUG-01" not in rows and "<html" not in rows
    active = html(client.get("/portal/items/?active=true"))
    assert "MUG-01" in active and "TEA-20" not in active


ITEMS_CSV_WITH_A_BAD_ROW = (
    b"sku,name,upc,weight_lb\nTEA-20,Green tea,012345678912,0.2\nTEA-21,,012345678905,heavy\n"
)


def test_item_csv_with_a_bad_row_shows_row_column_reason_and_writes_nothing(client, site):
    client.force_login(site.tenant.admin)
    before = Item.objects.count()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("items.csv", ITEMS_CSV_WITH_A_BAD_ROW, content_type="text/csv")
    response = client.post("/portal/items/import/", {"file": upload})  # "Validate only" unticked
    assert response.status_code == 200
    page = html(response)
    assert "nothing was imported" in page
    table = re.search(r'aria-label="Problems in the file">(.*?)</table>', page, re.S).group(1)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table)]
    assert ["3", "<code>name</code>", "This field cannot be blank."] in rows
    assert ["3", "<code>upc</code>", "Barcode 012345678905 already identifies another item."] in rows
    assert ["3", "<code>weight_lb</code>", "“heavy” is not a number."] in rows
    assert Item.objects.count() == before


def test_item_csv_validates_then_imports_the_kept_file(client, site):
    client.force_login(site.tenant.admin)
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = b"sku,name,upc\nTEA-20,Green tea,012345678912\nTEA-21,Black tea,\n"
    upload = SimpleUploadedFile("items.csv", csv, content_type="text/csv")
    checked = html(client.post("/portal/items/import/", {"file": upload, "dry_run": "on"}))
    assert "All 2 rows are valid" in checked
    assert not Item.objects.filter(sku__startswith="TEA").exists()
    kept = re.search(r'<textarea name="content" hidden>(.*?)</textarea>', checked, re.S).group(1)
    response = client.post("/portal/items/import/", {"content": kept})
    assert response.status_code == 302 and response.url == "/portal/items/"
    assert sorted(Item.objects.filter(sku__startswith="TEA").values_list("sku", flat=True)) == [
        "TEA-20",
        "TEA-21",
    ]


def test_item_pages_that_write_are_forbidden_without_item_manage(client, site, operator_admin):
    # Client users may manage items; the portal is closed to staff altogether.
    client.force_login(operator_admin)
    assert client.post("/portal/items/new/", {"sku": "X-1", "name": "X"}).status_code == 403
    assert not Item.objects.filter(sku="X-1").exists()


# --- portal: stock and the ledger --------------------------------------------------------------


@pytest.fixture
def stocked(site, arrived):
    line = site.asn.lines.get()
    services.asn_receive(actor=SYSTEM, asn=site.asn, line=line, quantity=10)
    services.asn_putaway(actor=SYSTEM, asn=site.asn, line=line, to_location=site.bins[0], quantity=6)
    return site


def test_inventory_lists_balances_and_totals_with_filters(client, stocked):
    client.force_login(stocked.tenant.user)
    page = html(client.get("/portal/inventory/"))
    assert "DOCK-1" in page and stocked.bins[0].code in page
    sellable = html(client.get("/portal/inventory/?location_type=pick&available=on"))
    assert stocked.bins[0].code in sellable and "DOCK-1" not in sellable
    totals = html(client.get("/portal/inventory/?view=totals"))
    row = re.search(r'aria-label="Totals per item per node">.*?<tbody>\s*<tr>(.*?)</tr>', totals, re.S).group(
        1
    )
    assert re.findall(r'class="num">(\d+)<', row) == ["10", "0", "10"]
    assert "No stock matches" in html(client.get("/portal/inventory/?sku=NOPE"))


def test_ledger_shows_reason_signed_quantity_document_and_who(client, stocked):
    client.force_login(stocked.tenant.user)
    page = html(client.get("/portal/ledger/?reason=putaway"))
    assert page.count("data-move=") == 2
    assert '<td class="num minus">-6</td>' in page and '<td class="num plus">+6</td>' in page
    assert stocked.asn.number in page and "system: tests" in page
    assert html(client.get("/portal/ledger/?reason=receipt")).count("data-move=") == 1
    assert html(client.get("/portal/ledger/?until=2000-01-01")).count("data-move=") == 0
    assert html(client.get("/portal/ledger/?sku=mug-01")).count("data-move=") == 3


# --- portal: ASNs ------------------------------------------------------------------------------


def asn_post(warehouse, lines: list[dict], **header) -> dict:
    data = {
        "warehouse": warehouse.pk,
        "reference": "PO-2002",
        "submit": "on",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "500",
        **header,
    }
    for i, line in enumerate(lines):
        for key, value in line.items():
            data[f"lines-{i}-{key}"] = value
    return data


def test_asn_form_creates_a_submitted_asn_with_its_lines(client, site):
    services.item_create(actor=SYSTEM, client=site.tenant.client, sku="TEA-20", name="Green tea")
    client.force_login(site.tenant.user)
    lines = [
        {"sku": "MUG-01", "expected_quantity": "24", "lot_code": "", "expiry_date": ""},
        {"sku": "", "expected_quantity": "", "lot_code": "", "expiry_date": ""},  # a blank row
        {"sku": "TEA-20", "expected_quantity": "100", "lot_code": "L-7", "expiry_date": "2031-01-31"},
    ]
    response = client.post("/portal/asns/new/", asn_post(site.warehouse, lines, carrier="UPS"))
    asn = ASN.objects.get(client=site.tenant.client, reference="PO-2002")
    assert response.status_code == 302 and response.url == f"/portal/asns/{asn.pk}/"
    assert asn.status == ASNStatus.SUBMITTED and asn.carrier == "UPS"
    got = list(asn.lines.order_by("pk").values_list("item__sku", "expected_quantity", "lot_code"))
    assert got == [("MUG-01", 24, ""), ("TEA-20", 100, "L-7")]


def test_asn_form_puts_an_unknown_sku_next_to_its_line_and_writes_nothing(client, site):
    client.force_login(site.tenant.user)
    lines = [
        {"sku": "MUG-01", "expected_quantity": "24"},
        {"sku": "NOPE-9", "expected_quantity": "3"},
    ]
    response = client.post("/portal/asns/new/", asn_post(site.warehouse, lines))
    assert response.status_code == 200
    page = html(response)
    assert re.search(
        r'<td class="has-error"><input[^>]*name="lines-1-sku"[^>]*>\s*<small class="error"', page
    )
    assert "No item with SKU or barcode “NOPE-9”" in page
    assert not ASN.objects.filter(reference="PO-2002").exists()


def test_asn_form_add_line_returns_one_more_row(client, site):
    client.force_login(site.tenant.user)
    row = html(client.get("/portal/asns/new/line/?index=3", HTTP_HX_REQUEST="true"))
    assert 'name="lines-3-sku"' in row and "<html" not in row


def test_asn_detail_shows_lines_timeline_receipts_and_submit_cancel(client, site):
    draft = services.asn_create(
        actor=SYSTEM,
        client=site.tenant.client,
        warehouse=site.warehouse,
        lines=[{"item": site.item, "expected_quantity": 5}],
        reference="PO-DRAFT",
    )
    client.force_login(site.tenant.user)
    page = html(client.get(f"/portal/asns/{draft.pk}/"))
    assert "Submit to" in page and "Cancel ASN" in page
    assert client.post(f"/portal/asns/{draft.pk}/submit/").status_code == 302
    draft.refresh_from_db()
    assert draft.status == ASNStatus.SUBMITTED
    page = html(client.get(f"/portal/asns/{draft.pk}/"))
    assert "Draft → Submitted" in page and "Submit to" not in page
    client.post(f"/portal/asns/{draft.pk}/cancel/", {"reason": "Supplier delay"})
    draft.refresh_from_db()
    assert draft.status == ASNStatus.CANCELLED
    assert "Supplier delay" in html(client.get(f"/portal/asns/{draft.pk}/"))
    # A second cancel is refused by the state machine and shown as a message, not a crash.
    response = client.post(f"/portal/asns/{draft.pk}/cancel/", follow=True)
    assert "cannot become cancelled" in html(response)


def test_asn_list_filters_by_status_and_shows_progress(client, stocked):
    client.force_login(stocked.tenant.user)
    page = html(client.get("/portal/asns/?status=receiving"))
    assert stocked.asn.number in page and "10 / 10 received · 6 put away" in page
    assert stocked.asn.number not in html(client.get("/portal/asns/?status=draft"))


def test_asn_csv_with_a_bad_row_shows_the_table_and_writes_nothing(client, site):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(site.tenant.admin)
    csv = (
        f"reference,warehouse,sku,expected_quantity\n"
        f"PO-3,{site.warehouse.code},MUG-01,12\n"
        f"PO-3,{site.warehouse.code},NOPE-1,2\n"
        f"PO-4,ZZZ,MUG-01,0\n"
    ).encode()
    response = client.post("/portal/asns/import/", {"file": SimpleUploadedFile("asns.csv", csv)})
    page = html(response)
    assert "3 problems" in page and "nothing was imported" in page
    assert "“NOPE-1”" in page and "“ZZZ” is not a node this client uses." in page
    assert not ASN.objects.filter(reference__in=["PO-3", "PO-4"]).exists()
    good = f"reference,warehouse,sku,expected_quantity\nPO-3,{site.warehouse.code},MUG-01,12\n".encode()
    response = client.post("/portal/asns/import/", {"file": SimpleUploadedFile("asns.csv", good)})
    assert response.status_code == 302
    assert ASN.objects.get(reference="PO-3").status == ASNStatus.SUBMITTED


# --- the floor: dock, receiving, putaway -------------------------------------------------------


def test_dock_checks_in_a_scanned_asn_number(client, operator, site):
    client.force_login(operator)
    response = client.post("/floor/dock/", {"code": site.asn.number.lower()})
    assert response.status_code == 302
    site.asn.refresh_from_db()
    assert site.asn.status == ASNStatus.ARRIVED and site.asn.arrived_at and site.asn.dock_to_stock_deadline


def test_dock_checks_in_by_reference_and_says_when_nothing_matches(client, operator, site):
    client.force_login(operator)
    page = html(client.post("/floor/dock/", {"code": "NO-SUCH-PO"}))
    assert "No ASN matches “NO-SUCH-PO”." in page
    client.post("/floor/dock/", {"code": "po-1001"})
    site.asn.refresh_from_db()
    assert site.asn.status == ASNStatus.ARRIVED


def receive(client, asn, code, **extra):
    data = {
        "code": code,
        "quantity": "1",
        "condition": "good",
        "lot_code": "",
        "expiry_date": "",
        "session": "dock 2",
    }
    return client.post(f"/floor/asns/{asn.pk}/receive/", {**data, **extra}, HTTP_HX_REQUEST="true")


def test_receiving_a_known_barcode_records_a_receipt_and_updates_the_lines(client, operator, arrived, site):
    client.force_login(operator)
    response = receive(client, arrived, "012345678905", quantity="3")
    assert response.status_code == 200
    panel = html(response)
    assert "<html" not in panel and 'id="receive-panel"' in panel
    assert 'class="feedback ok"' in panel and "Received 3 x MUG-01" in panel
    assert re.search(r'<td class="num received">3</td>', panel)
    receipt = Receipt.objects.get(asn=arrived)
    assert (receipt.quantity, receipt.session, receipt.location_id) == (3, "dock 2", site.dock.pk)
    arrived.refresh_from_db()
    assert arrived.status == ASNStatus.RECEIVING


def test_receiving_an_unknown_barcode_shows_a_red_error_and_writes_nothing(client, operator, arrived):
    client.force_login(operator)
    moves_before = Move.objects.count()
    panel = html(receive(client, arrived, "999999999999"))
    assert 'class="feedback error"' in panel and 'role="alert"' in panel
    assert "No item with SKU or barcode “999999999999”." in panel
    assert not Receipt.objects.filter(asn=arrived).exists()
    assert Move.objects.count() == moves_before
    arrived.refresh_from_db()
    assert arrived.status == ASNStatus.ARRIVED and arrived.lines.count() == 1


def test_over_receipt_and_unexpected_items_are_amber_warnings(client, operator, arrived, site):
    services.item_create(
        actor=SYSTEM, client=site.tenant.client, sku="TEA-20", name="Tea", barcodes=[{"code": "555"}]
    )
    client.force_login(operator)
    over = html(receive(client, arrived, "MUG-01", quantity="12"))
    assert 'class="feedback warn"' in over and "Received 12 x MUG-01" in over
    assert "Over-receipt: 12 counted against 10 expected." in over
    unexpected = html(receive(client, arrived, "555"))
    assert 'class="feedback warn"' in unexpected and "TEA-20 is not on this ASN" in unexpected
    assert Receipt.objects.filter(asn=arrived).count() == 2


def test_receiving_damaged_units_goes_to_quarantine(client, operator, arrived):
    client.force_login(operator)
    panel = html(receive(client, arrived, "MUG-01", quantity="2", condition="damaged"))
    assert "Received 2 x MUG-01 damaged" in panel
    assert Receipt.objects.get(asn=arrived).location.type == LocationType.QUARANTINE
    assert arrived.lines.get().damaged_quantity == 2


def test_receiving_before_check_in_is_refused(client, operator, site):
    client.force_login(operator)
    panel = html(receive(client, site.asn, "MUG-01"))
    assert 'class="feedback error"' in panel and "cannot be received against" in panel
    assert not Receipt.objects.exists()


def test_finish_receiving_then_close(client, operator, arrived):
    client.force_login(operator)
    receive(client, arrived, "MUG-01", quantity="8")
    response = client.post(f"/floor/asns/{arrived.pk}/finish/")
    assert response.status_code == 302 and response.url == f"/floor/asns/{arrived.pk}/putaway/"
    arrived.refresh_from_db()
    assert arrived.status == ASNStatus.RECEIVED and arrived.received_at
    client.post(f"/floor/asns/{arrived.pk}/close/")
    arrived.refresh_from_db()
    assert arrived.status == ASNStatus.CLOSED


def putaway(client, asn, line, **data):
    prefix = f"line-{line.pk}"
    body = {"line": line.pk, f"{prefix}-location": "", f"{prefix}-quantity": "1"}
    body.update({(k if k in ("pick",) else f"{prefix}-{k}"): v for k, v in data.items()})
    return client.post(f"/floor/asns/{asn.pk}/putaway/", body)


def test_putaway_beyond_waiting_units_shows_the_error_and_writes_nothing(client, operator, arrived, site):
    line = arrived.lines.get()
    services.asn_receive(actor=SYSTEM, asn=arrived, line=line, quantity=4)
    client.force_login(operator)
    moves_before = Move.objects.count()
    response = putaway(client, arrived, line, location=site.bins[0].code, quantity="5")
    assert response.status_code == 200
    page = html(response)
    assert re.search(r'has-error">\s*<label for="id_line-\d+-quantity">', page)
    assert "Only 4 received units of this line wait for putaway." in page
    assert Move.objects.count() == moves_before
    assert line.__class__.objects.get(pk=line.pk).putaway_quantity == 0


def test_putaway_to_an_unknown_or_unsellable_bin_is_refused(client, operator, arrived, site):
    line = arrived.lines.get()
    services.asn_receive(actor=SYSTEM, asn=arrived, line=line, quantity=4)
    client.force_login(operator)
    assert "No location “Z-99” at" in html(putaway(client, arrived, line, location="Z-99"))
    assert "is not a sellable (pick or reserve) bin" in html(putaway(client, arrived, line, location="QC-1"))
    assert not Move.objects.filter(reason=MoveReason.PUTAWAY).exists()


def test_putaway_into_a_suggested_bin_stocks_the_asn(client, operator, arrived, site):
    line = arrived.lines.get()
    services.asn_receive(actor=SYSTEM, asn=arrived, line=line, quantity=10)
    services.asn_complete_receiving(actor=SYSTEM, asn=arrived)
    client.force_login(operator)
    page = html(client.get(f"/floor/asns/{arrived.pk}/putaway/"))
    suggested = re.findall(r'name="pick" value="([^"]+)"', page)
    assert suggested[:3] == [b.code for b in site.bins]
    response = putaway(client, arrived, line, pick=suggested[0], quantity="10")
    assert response.status_code == 302
    arrived.refresh_from_db()
    assert arrived.stocked_at is not None
    balance = Balance.objects.get(item=site.item, location=site.bins[0])
    assert balance.on_hand == 10
    assert 'id="stocked"' in html(client.get(f"/floor/asns/{arrived.pk}/putaway/"))


def test_putaway_by_scanned_location_code_is_case_insensitive(client, operator, arrived, site):
    line = arrived.lines.get()
    services.asn_receive(actor=SYSTEM, asn=arrived, line=line, quantity=3)
    client.force_login(operator)
    putaway(client, arrived, line, location=site.bins[1].code.lower(), quantity="2")
    assert Balance.objects.get(item=site.item, location=site.bins[1]).on_hand == 2


# --- the floor: cycle counts -------------------------------------------------------------------

SYSTEM_QUANTITY = 4321  # distinctive: it must never appear on the blind count page


@pytest.fixture
def count(site, arrived) -> CycleCount:
    line = arrived.lines.get()
    services.asn_receive(actor=SYSTEM, asn=arrived, line=line, quantity=SYSTEM_QUANTITY)
    services.asn_putaway(
        actor=SYSTEM, asn=arrived, line=line, to_location=site.bins[0], quantity=SYSTEM_QUANTITY
    )
    return services.count_create(
        actor=SYSTEM, warehouse=site.warehouse, locations=[site.bins[0]], reason="weekly"
    )


def test_the_blind_count_page_never_shows_the_system_quantity(client, operator, count, site):
    client.force_login(operator)
    page = html(client.get(f"/floor/counts/{count.pk}/"))
    assert site.bins[0].code in page and "MUG-01" in page
    assert str(SYSTEM_QUANTITY) not in page and "System" not in page
    line = count.lines.get()
    response = client.post(
        f"/floor/counts/{count.pk}/lines/{line.pk}/",
        {f"line-{line.pk}-counted_quantity": "4320"},
        HTTP_HX_REQUEST="true",
    )
    row = html(response)
    assert "Saved" in row and "<html" not in row and str(SYSTEM_QUANTITY) not in row
    line.refresh_from_db()
    assert (line.counted_quantity, line.system_quantity) == (4320, SYSTEM_QUANTITY)
    page = html(client.get(f"/floor/counts/{count.pk}/"))
    assert str(SYSTEM_QUANTITY) not in page  # still open: still blind
    assert "Approve" not in page  # and no approval for a warehouse operator


def test_found_item_gets_a_line_and_submit_shows_variances_to_approve(
    client, operator, operator_admin, count, site
):
    client.force_login(operator)
    line = count.lines.get()
    client.post(f"/floor/counts/{count.pk}/lines/{line.pk}/", {f"line-{line.pk}-counted_quantity": "4320"})
    response = client.post(
        f"/floor/counts/{count.pk}/found/",
        {"location": site.bins[0].code, "code": "NOPE", "counted_quantity": "1", "lot_code": ""},
    )
    assert "No item with SKU or barcode “NOPE”." in html(response)
    client.post(
        f"/floor/counts/{count.pk}/found/",
        {"location": site.bins[1].code, "code": "012345678905", "counted_quantity": "2", "lot_code": ""},
    )
    assert count.lines.count() == 2
    client.post(f"/floor/counts/{count.pk}/submit/")
    count.refresh_from_db()
    assert count.status == CountStatus.SUBMITTED
    page = html(client.get(f"/floor/counts/{count.pk}/"))
    assert str(SYSTEM_QUANTITY) in page and ">-1</span>" in page and ">+2</span>" in page
    assert "Approve and post variances" not in page
    client.force_login(operator_admin)
    assert "Approve and post variances" in html(client.get(f"/floor/counts/{count.pk}/"))
    client.post(f"/floor/counts/{count.pk}/approve/")
    count.refresh_from_db()
    assert count.status == CountStatus.APPROVED
    assert Move.objects.filter(reason=MoveReason.COUNT_CORRECTION).count() == 2


def test_submitting_a_count_with_uncounted_lines_is_refused_with_a_message(client, operator, count):
    client.force_login(operator)
    page = html(client.post(f"/floor/counts/{count.pk}/submit/", follow=True))
    assert "1 line not counted yet." in page
    count.refresh_from_db()
    assert count.status == CountStatus.OPEN


# --- console -----------------------------------------------------------------------------------


def test_console_client_inventory_and_discrepancies(client, stocked, account_manager):
    stocked.tenant.client.account_managers.add(account_manager)
    services.asn_complete_receiving(actor=SYSTEM, asn=stocked.asn)
    short = make_asn(stocked.tenant.client, stocked.warehouse, [(stocked.item, 5)], reference="PO-SHORT")
    services.asn_arrive(actor=SYSTEM, asn=short)
    services.asn_receive(actor=SYSTEM, asn=short, line=short.lines.get(), quantity=3)
    services.asn_complete_receiving(actor=SYSTEM, asn=short)
    client.force_login(account_manager)
    page = html(client.get(f"/console/clients/{stocked.tenant.client.pk}/inventory/"))
    row = re.search(r'<tr data-sku="MUG-01">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', row) == ["13", "0", "13"]
    assert short.number in page
    discrepancies = html(client.get("/console/discrepancies/"))
    assert short.number in discrepancies and "short by 2" in discrepancies
    assert stocked.asn.number not in discrepancies  # received exactly as expected


# --- query counts ------------------------------------------------------------------------------


@pytest.fixture
def busy(site, operator):
    """Several rows on every list: items, ASNs in each state, balances, moves, counts, discrepancies."""
    client_ = site.tenant.client
    items = [site.item] + [
        services.item_create(
            actor=SYSTEM, client=client_, sku=f"SKU-{n}", name=f"Item {n}", barcodes=[{"code": f"BC-{n}"}]
        )
        for n in range(5)
    ]
    services.item_create(
        actor=SYSTEM,
        client=client_,
        sku="KIT-1",
        name="Kit",
        is_kit=True,
        components=[{"sku": "SKU-0", "quantity": 2}],
    )
    for n, item in enumerate(items):
        asn = make_asn(client_, site.warehouse, [(item, 10), (items[0], 1)] if n else [(item, 10)])
        make_asn(client_, site.warehouse, [(item, 3)])  # stays submitted
        services.asn_arrive(actor=SYSTEM, asn=asn)
        line = asn.lines.order_by("pk").first()
        services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=7)
        services.asn_putaway(
            actor=SYSTEM, asn=asn, line=line, to_location=site.bins[n % len(site.bins)], quantity=3
        )
        if n % 2:
            services.asn_complete_receiving(actor=SYSTEM, asn=asn)
        arrived = make_asn(client_, site.warehouse, [(item, 2)])
        services.asn_arrive(actor=SYSTEM, asn=arrived)
    for location in site.bins:
        services.count_create(actor=SYSTEM, warehouse=site.warehouse, locations=[location])
    return site


LIST_PAGES = {
    "client_user": [
        "/portal/items/",
        "/portal/inventory/",
        "/portal/inventory/?view=totals",
        "/portal/ledger/",
        "/portal/asns/",
    ],
    "operator": ["/floor/dock/", "/floor/receiving/", "/floor/putaway/", "/floor/counts/"],
    "account_manager": [
        "/console/inbound/",
        "/console/discrepancies/",
        "/console/clients/{client}/inventory/",
    ],
}


def queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), html(response)


@pytest.mark.parametrize("who", sorted(LIST_PAGES))
def test_list_pages_query_count_does_not_grow_with_page_size(client, busy, operator, account_manager, who):
    busy.tenant.client.account_managers.add(account_manager)
    user = {"client_user": busy.tenant.user, "operator": operator, "account_manager": account_manager}[who]
    client.force_login(user)
    for path in LIST_PAGES[who]:
        url = path.format(client=busy.tenant.client.pk)
        joiner = "&" if "?" in url else "?"
        small, small_page = queries(client, f"{url}{joiner}per_page=1")
        large, large_page = queries(client, f"{url}{joiner}per_page=100")
        assert "Next →" in small_page, f"{url}: the small page should not hold every row"
        assert len(large_page) > len(small_page), url
        assert small == large, f"{url}: {small} queries for 1 row, {large} for a full page"


def test_count_page_query_count_does_not_grow_with_its_lines(client, busy, operator):
    client.force_login(operator)
    one = services.count_create(actor=SYSTEM, warehouse=busy.warehouse, locations=[busy.bins[0]])
    many = services.count_create(
        actor=SYSTEM, warehouse=busy.warehouse, items=list(Item.objects.filter(is_kit=False))
    )
    assert many.lines.count() > one.lines.count() >= 1
    small, _ = queries(client, f"/floor/counts/{one.pk}/")
    large, _ = queries(client, f"/floor/counts/{many.pk}/")
    assert small == large
