"""The inventory API end to end: catalog, bins, balances and the ledger, stock changes, transfers,
ASNs from notice to close, cycle counts, and query counts that do not grow with the page size.

Brands use their bearer key (``tenant_a.api``); staff use the session (operator admin) or work at the
node (a warehouse operator assigned to it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.enums import Role
from inventory import services
from inventory.enums import MoveReason
from inventory.models import (
    ASN,
    ASNEvent,
    ASNLine,
    Balance,
    Item,
    ItemBarcode,
    KitComponent,
    Location,
    Move,
    Receipt,
    Transfer,
)
from tests.accounts.factories import UserFactory, WarehouseFactory
from tests.conftest import bearer
from tests.inventory.factories import SYSTEM, make_asn, make_item, make_node, stock

ITEMS = "/api/v1/items/"
LOCATIONS = "/api/v1/locations/"
BALANCES = "/api/v1/inventory/"
TOTALS = "/api/v1/inventory/totals/"
MOVES = "/api/v1/inventory/moves/"
ADJUSTMENTS = "/api/v1/inventory/adjustments/"
RELOCATIONS = "/api/v1/inventory/relocations/"
TRANSFERS = "/api/v1/inventory/transfers/"
COUNTS = "/api/v1/cycle-counts/"
ASNS = "/api/v1/asns/"


def fields_of(response) -> dict:
    return response.json()["error"]["fields"]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    return response.json()["results"]


@pytest.fixture
def node(tenant_a):
    return make_node(tenant_a.warehouse)


@pytest.fixture
def staff(operator_admin, session_api):
    return session_api(operator_admin)


@pytest.fixture
def floor(tenant_a, session_api):
    """A warehouse operator who works at tenant A's node."""
    operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    operator.warehouses.add(tenant_a.warehouse)
    return session_api(operator)


def ledger_state(client) -> tuple:
    """What a rejected request must leave as it was: moves, balances, ASN lines and receipts."""
    return (
        sorted(Move.objects.filter(client=client).values_list("pk", flat=True)),
        sorted(Balance.objects.filter(client=client).values_list("pk", "on_hand", "allocated")),
        sorted(
            ASNLine.objects.filter(client=client).values_list(
                "pk", "received_quantity", "damaged_quantity", "putaway_quantity"
            )
        ),
        Receipt.objects.filter(client=client).count(),
    )


# --- items and kits ----------------------------------------------------------------------------


def test_brand_creates_an_item_with_barcodes_and_finds_it_by_each(tenant_a):
    body = {
        "sku": "TEE-RED-M",
        "name": "Red tee, M",
        "barcodes": [{"code": "012345678905", "kind": "upc"}, {"code": "4006381333931", "kind": "ean"}],
        "weight_lb": "0.350",
        "case_quantity": 24,
        "lot_tracked": True,
        "country_of_origin": "PT",
        "reorder_point": 10,
    }
    response = tenant_a.api.post(ITEMS, body, format="json")
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["client"] == tenant_a.client.pk
    assert {b["code"] for b in item["barcodes"]} == {"012345678905", "4006381333931"}
    assert item["on_hand"] == item["available"] == 0
    for query in ({"sku": "TEE-RED-M"}, {"barcode": "4006381333931"}, {"q": "red tee"}):
        assert [i["id"] for i in results(tenant_a.api.get(ITEMS, query))] == [item["id"]]
    assert results(tenant_a.api.get(ITEMS, {"barcode": "999"})) == []
    assert tenant_a.api.get(f"{ITEMS}{item['id']}/").json()["lot_tracked"] is True


def test_patch_replaces_barcodes_and_deactivates(tenant_a):
    item = make_item(tenant_a.client, "MUG-1", barcode="111")
    response = tenant_a.api.patch(
        f"{ITEMS}{item.pk}/",
        {"barcodes": [{"code": "222", "kind": "scancode"}], "active": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["barcodes"] == [{"code": "222", "kind": "scancode"}]
    assert list(ItemBarcode.objects.filter(item=item).values_list("code", flat=True)) == ["222"]
    assert [i["sku"] for i in results(tenant_a.api.get(ITEMS, {"active": "false"}))] == ["MUG-1"]
    # The SKU, the client and kit-ness are fixed once created.
    tenant_a.api.patch(f"{ITEMS}{item.pk}/", {"sku": "OTHER"}, format="json")
    item.refresh_from_db()
    assert item.sku == "MUG-1"


def test_kit_available_is_the_minimum_over_its_components(tenant_a, node):
    shirt = make_item(tenant_a.client, "SHIRT")
    cap = make_item(tenant_a.client, "CAP")
    response = tenant_a.api.post(
        ITEMS,
        {
            "sku": "GIFT-BOX",
            "name": "Gift box",
            "is_kit": True,
            "components": [{"sku": "SHIRT", "quantity": 2}, {"sku": "CAP", "quantity": 1}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    kit = response.json()
    assert kit["is_kit"] is True
    assert sorted(kit["components"], key=lambda c: c["sku"]) == [
        {"sku": "CAP", "quantity": 1},
        {"sku": "SHIRT", "quantity": 2},
    ]
    stock(tenant_a.client, node, shirt, 9)  # 4 kits' worth
    stock(tenant_a.client, node, cap, 6, location=node.bins[1])
    rows = tenant_a.api.get(f"{ITEMS}{kit['id']}/stock/").json()
    assert [(r["warehouse_id"], r["available"]) for r in rows] == [(tenant_a.warehouse.pk, 4)]
    shirt_rows = tenant_a.api.get(f"{ITEMS}{shirt.pk}/stock/").json()
    assert [(r["on_hand"], r["allocated"], r["available"]) for r in shirt_rows] == [(9, 0, 9)]
    # Units waiting at the dock are on hand but not sellable.
    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(cap, 5)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    services.asn_receive(actor=SYSTEM, asn=asn, line=asn.lines.get(), quantity=5)
    cap_rows = tenant_a.api.get(f"{ITEMS}{cap.pk}/stock/").json()
    assert [(r["on_hand"], r["available"]) for r in cap_rows] == [(11, 6)]
    listed = {i["sku"]: (i["on_hand"], i["available"]) for i in results(tenant_a.api.get(ITEMS))}
    assert listed["CAP"] == (11, 6) and listed["SHIRT"] == (9, 9)


def test_duplicate_sku_is_a_400_naming_sku_and_writes_nothing(tenant_a):
    make_item(tenant_a.client, "DUP-1")
    before = Item.objects.filter(client=tenant_a.client).count()
    response = tenant_a.api.post(
        ITEMS, {"sku": "DUP-1", "name": "Again", "barcodes": [{"code": "555"}]}, format="json"
    )
    assert response.status_code == 400
    assert "sku" in fields_of(response)
    assert Item.objects.filter(client=tenant_a.client).count() == before
    assert not ItemBarcode.objects.filter(client=tenant_a.client, code="555").exists()


def test_duplicate_barcode_is_a_400_naming_the_barcode_and_writes_nothing(tenant_a):
    make_item(tenant_a.client, "FIRST", barcode="0000111")
    response = tenant_a.api.post(
        ITEMS,
        {"sku": "SECOND", "name": "Second", "barcodes": [{"code": "9"}, {"code": "0000111"}]},
        format="json",
    )
    assert response.status_code == 400
    assert list(fields_of(response)) == ["barcodes.1.code"]
    assert not Item.objects.filter(client=tenant_a.client, sku="SECOND").exists()
    # Twice in one request is refused the same way.
    response = tenant_a.api.post(
        ITEMS, {"sku": "THIRD", "name": "Third", "barcodes": [{"code": "7"}, {"code": "7"}]}, format="json"
    )
    assert response.status_code == 400 and "barcodes.1.code" in fields_of(response)
    assert not Item.objects.filter(client=tenant_a.client, sku="THIRD").exists()


def test_another_brand_may_use_the_same_sku_and_barcode(tenant_a, tenant_b):
    make_item(tenant_a.client, "SHARED", barcode="123")
    response = tenant_b.api.post(
        ITEMS, {"sku": "SHARED", "name": "Shared", "barcodes": [{"code": "123"}]}, format="json"
    )
    assert response.status_code == 201, response.content


def test_unknown_component_is_a_400_naming_it_and_writes_nothing(tenant_a, tenant_b):
    make_item(tenant_a.client, "REAL")
    make_item(tenant_b.client, "OTHERS")  # another brand's SKU is as unknown as a made-up one
    before = (Item.objects.count(), KitComponent.objects.count())
    response = tenant_a.api.post(
        ITEMS,
        {
            "sku": "BUNDLE",
            "name": "Bundle",
            "is_kit": True,
            "components": [{"sku": "REAL", "quantity": 1}, {"sku": "NOPE", "quantity": 1}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(fields_of(response)) == ["components.1.sku"]
    response = tenant_a.api.post(
        ITEMS,
        {"sku": "BUNDLE", "name": "Bundle", "is_kit": True, "components": [{"sku": "OTHERS", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 400 and list(fields_of(response)) == ["components.0.sku"]
    response = tenant_a.api.post(ITEMS, {"sku": "BUNDLE", "name": "Bundle", "is_kit": True}, format="json")
    assert response.status_code == 400 and "components" in fields_of(response)
    assert (Item.objects.count(), KitComponent.objects.count()) == before


def test_staff_name_the_client_of_an_item(tenant_a, staff):
    response = staff.post(ITEMS, {"sku": "STAFF-1", "name": "By staff"}, format="json")
    assert response.status_code == 400 and "client" in fields_of(response)
    response = staff.post(ITEMS, {"client": tenant_a.client.pk, "sku": "STAFF-1", "name": "x"}, format="json")
    assert response.status_code == 201 and response.json()["client"] == tenant_a.client.pk


def test_read_only_key_reads_items_but_cannot_write(tenant_a):
    make_item(tenant_a.client, "RO-1")
    api = bearer(tenant_a.ro_secret)
    assert [i["sku"] for i in results(api.get(ITEMS))] == ["RO-1"]
    assert api.post(ITEMS, {"sku": "RO-2", "name": "x"}, format="json").status_code == 403


# --- locations ---------------------------------------------------------------------------------


def test_locations_are_for_staff_only(tenant_a, node):
    bin_ = node.bins[0]
    assert tenant_a.api.get(LOCATIONS).status_code == 403
    assert tenant_a.api.get(f"{LOCATIONS}{bin_.pk}/").status_code == 403
    body = {"warehouse": tenant_a.warehouse.pk, "code": "X-1", "type": "pick"}
    assert tenant_a.api.post(LOCATIONS, body, format="json").status_code == 403
    bulk = {"warehouse": tenant_a.warehouse.pk, "zone": "Z", "aisles": "1", "bays": "1", "levels": "1"}
    assert tenant_a.api.post(f"{LOCATIONS}bulk/", bulk | {"type": "pick"}, format="json").status_code == 403
    assert not Location.objects.filter(code__in=["X-1", "Z-1-1-1"]).exists()


def test_account_manager_sees_bins_but_does_not_manage_them(tenant_a, node, account_manager, session_api):
    api = session_api(account_manager)
    codes = {row["code"] for row in results(api.get(LOCATIONS, {"warehouse": tenant_a.warehouse.pk}))}
    assert {"DOCK-1", "QC-1", node.bins[0].code} <= codes
    body = {"warehouse": tenant_a.warehouse.pk, "code": "X-1", "type": "pick"}
    assert api.post(LOCATIONS, body, format="json").status_code == 403


def test_bulk_creation_of_a_range_of_bins_in_a_serpentine_path(tenant_a, staff):
    body = {
        "warehouse": tenant_a.warehouse.pk,
        "zone": "b",
        "aisles": "01-02",
        "bays": "01-03",
        "levels": "A-B",
        "type": "reserve",
        "start_sequence": 100,
    }
    response = staff.post(f"{LOCATIONS}bulk/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 12, "existing": []}
    rows = results(staff.get(LOCATIONS, {"zone": "B", "page_size": 50, "ordering": "pick_sequence"}))
    codes = [r["code"] for r in rows]
    assert codes[:6] == ["B-01-01-A", "B-01-01-B", "B-01-02-A", "B-01-02-B", "B-01-03-A", "B-01-03-B"]
    assert codes[6:8] == ["B-02-03-A", "B-02-03-B"]  # the second aisle walks back
    assert {r["type"] for r in rows} == {"reserve"}
    again = staff.post(f"{LOCATIONS}bulk/", body | {"levels": "A-C"}, format="json")
    assert again.json()["created"] == 6 and len(again.json()["existing"]) == 12
    bad = staff.post(f"{LOCATIONS}bulk/", body | {"bays": "9-1"}, format="json")
    assert bad.status_code == 400 and "bays" in fields_of(bad)


def test_location_create_update_and_duplicate_code(tenant_a, staff, node):
    body = {"warehouse": tenant_a.warehouse.pk, "code": "stage-1", "type": "staging", "pick_sequence": 5}
    response = staff.post(LOCATIONS, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["code"] == "STAGE-1" and response.json()["units"] == 0
    duplicate = staff.post(LOCATIONS, body, format="json")
    assert duplicate.status_code == 400 and "code" in fields_of(duplicate)
    patched = staff.patch(f"{LOCATIONS}{response.json()['id']}/", {"active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["active"] is False
    # A bin holding stock keeps its type.
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 3)
    refused = staff.patch(f"{LOCATIONS}{node.bins[0].pk}/", {"type": "staging"}, format="json")
    assert refused.status_code == 400 and "type" in fields_of(refused)
    assert staff.get(f"{LOCATIONS}{node.bins[0].pk}/").json()["units"] == 3


# --- balances and the ledger -------------------------------------------------------------------


@pytest.fixture
def stocked(tenant_a, node):
    """Two items at A's node: a plain one in two bins, a lot-tracked one in a reserve bin; plus a
    second node of A's with units of the plain item."""
    plain = make_item(tenant_a.client, "PLAIN", barcode="700")
    lotted = make_item(tenant_a.client, "LOTTED", lot_tracked=True)
    stock(tenant_a.client, node, plain, 7)
    stock(tenant_a.client, node, plain, 5, location=node.bins[1])
    asn = services.asn_create(
        actor=SYSTEM,
        client=tenant_a.client,
        warehouse=tenant_a.warehouse,
        lines=[{"item": lotted, "expected_quantity": 4, "lot_code": "L-1"}],
        submit=True,
    )
    services.asn_arrive(actor=SYSTEM, asn=asn)
    line = asn.lines.get()
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=4)
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.reserve[0], quantity=4)
    other = WarehouseFactory()
    tenant_a.client.warehouses.add(other)
    other_node = make_node(other)
    stock(tenant_a.client, other_node, plain, 2)
    return {"plain": plain, "lotted": lotted, "other": other_node, "lot_asn": asn}


def test_balances_filter_by_item_sku_node_location_lot_and_available(tenant_a, node, stocked):
    plain, lotted, other = stocked["plain"], stocked["lotted"], stocked["other"]

    def on_hand(query) -> list[tuple]:
        rows = results(tenant_a.api.get(BALANCES, {"page_size": 100, **query}))
        return sorted(
            (r["sku"], r["warehouse_code"], r["location_code"], r["lot_code"], r["on_hand"]) for r in rows
        )

    here, there = tenant_a.warehouse.code, other.warehouse.code
    assert ("PLAIN", here, "DOCK-1", "", 0) in on_hand({})  # emptied by putaway, still listed
    assert on_hand({"available": "true"}) == [
        ("LOTTED", here, node.reserve[0].code, "L-1", 4),
        ("PLAIN", here, node.bins[0].code, "", 7),
        ("PLAIN", here, node.bins[1].code, "", 5),
        ("PLAIN", there, other.bins[0].code, "", 2),
    ]
    assert {r[0] for r in on_hand({"item": lotted.pk})} == {"LOTTED"}
    assert {r[0] for r in on_hand({"sku": "PLAIN"})} == {"PLAIN"}
    assert on_hand({"warehouse": other.warehouse.pk, "available": "true"}) == [
        ("PLAIN", there, other.bins[0].code, "", 2)
    ]
    assert on_hand({"location": node.bins[1].pk}) == [("PLAIN", here, node.bins[1].code, "", 5)]
    assert on_hand({"lot_code": "L-1"}) == [
        ("LOTTED", here, "DOCK-1", "L-1", 0),
        ("LOTTED", here, node.reserve[0].code, "L-1", 4),
    ]
    assert on_hand({"lot_code": "L-1", "available": "true"}) == [
        ("LOTTED", here, node.reserve[0].code, "L-1", 4)
    ]
    row = results(tenant_a.api.get(BALANCES, {"location": node.bins[1].pk}))[0]
    assert (row["on_hand"], row["allocated"], row["available"]) == (5, 0, 5)
    assert tenant_a.api.get(f"{BALANCES}{row['id']}/").json()["sku"] == plain.sku


def test_totals_per_item_per_node(tenant_a, node, stocked):
    rows = results(tenant_a.api.get(TOTALS))
    totals = {(r["item__sku"], r["warehouse_id"]): (r["on_hand"], r["available"]) for r in rows}
    assert totals == {
        ("LOTTED", tenant_a.warehouse.pk): (4, 4),
        ("PLAIN", tenant_a.warehouse.pk): (12, 12),
        ("PLAIN", stocked["other"].warehouse.pk): (2, 2),
    }
    only_node = results(tenant_a.api.get(TOTALS, {"warehouse": tenant_a.warehouse.pk, "sku": "PLAIN"}))
    assert [(r["item__sku"], r["on_hand"]) for r in only_node] == [("PLAIN", 12)]


def test_the_ledger_filters_by_reason_document_and_time(tenant_a, node, stocked):
    lot_asn = stocked["lot_asn"]
    rows = results(tenant_a.api.get(MOVES, {"page_size": 100}))
    assert all(r["client"] == tenant_a.client.pk for r in rows)
    receipts = results(tenant_a.api.get(MOVES, {"reason": "receipt", "page_size": 100}))
    assert {r["reason"] for r in receipts} == {"receipt"} and len(receipts) == 4
    for_asn = results(tenant_a.api.get(MOVES, {"document_type": "asn", "document_id": lot_asn.pk}))
    assert sorted((r["reason"], r["quantity"]) for r in for_asn) == [
        ("putaway", -4),
        ("putaway", 4),
        ("receipt", 4),
    ]
    assert {r["document_ref"] for r in for_asn} == {lot_asn.number}
    newest = rows[0]["created_at"]
    later = (datetime.fromisoformat(newest) + timedelta(seconds=1)).isoformat()
    assert results(tenant_a.api.get(MOVES, {"since": later})) == []
    assert len(results(tenant_a.api.get(MOVES, {"until": later, "page_size": 100}))) == len(rows)
    earlier = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert results(tenant_a.api.get(MOVES, {"until": earlier})) == []
    bad = tenant_a.api.get(MOVES, {"reason": "teleport"})
    assert bad.status_code == 400 and "reason" in fields_of(bad)


def test_the_ledger_is_read_only(tenant_a, node, stocked, staff):
    move = Move.objects.filter(client=tenant_a.client).first()
    for api in (tenant_a.api, staff):
        for method in ("put", "patch", "delete"):
            response = getattr(api, method)(f"{MOVES}{move.pk}/", {"quantity": 100}, format="json")
            assert response.status_code == 405, (method, response.status_code)
        assert api.post(MOVES, {"quantity": 1}, format="json").status_code == 405
    assert Move.objects.get(pk=move.pk).quantity == move.quantity


# --- adjustments, relocations, transfers, reversals -------------------------------------------


def test_staff_adjust_with_a_reason_code_and_the_brand_sees_it(tenant_a, node, stocked, floor):
    body = {
        "client": tenant_a.client.pk,
        "sku": "700",  # a barcode names the item too
        "location": node.bins[0].pk,
        "quantity": -2,
        "code": "damaged",
        "note": "Crushed by a forklift",
    }
    response = floor.post(ADJUSTMENTS, body, format="json")
    assert response.status_code == 201, response.content
    move = response.json()
    assert (move["reason"], move["adjustment_code"], move["quantity"]) == ("adjustment", "damaged", -2)
    assert Balance.objects.get(item=stocked["plain"], location=node.bins[0]).on_hand == 5
    seen = results(tenant_a.api.get(MOVES, {"reason": "adjustment"}))
    assert [(m["id"], m["note"], m["adjustment_code"]) for m in seen] == [
        (move["id"], "Crushed by a forklift", "damaged")
    ]
    found = floor.post(
        ADJUSTMENTS, body | {"quantity": 3, "code": "found", "note": "Behind the rack"}, format="json"
    )
    assert found.status_code == 201
    assert Balance.objects.get(item=stocked["plain"], location=node.bins[0]).on_hand == 8


def test_a_client_key_cannot_adjust(tenant_a, node, stocked):
    before = ledger_state(tenant_a.client)
    body = {
        "client": tenant_a.client.pk,
        "sku": "PLAIN",
        "location": node.bins[0].pk,
        "quantity": 100,
        "code": "found",
        "note": "free stock",
    }
    response = tenant_a.api.post(ADJUSTMENTS, body, format="json")
    assert response.status_code == 403
    assert ledger_state(tenant_a.client) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": -8}, "quantity"),  # 7 on hand
        ({"quantity": 0}, "quantity"),
        ({"code": "stolen"}, "code"),
        ({"note": ""}, "note"),
        ({"sku": "NOPE"}, "sku"),
        ({"sku": "LOTTED", "quantity": 2}, "lot_code"),  # a lot-tracked item needs its lot
    ],
    ids=["beyond-on-hand", "zero", "unknown-code", "no-note", "unknown-sku", "lot-missing"],
)
def test_bad_adjustments_are_400s_naming_the_field_and_write_nothing(
    tenant_a, node, stocked, staff, change, field
):
    body = {
        "client": tenant_a.client.pk,
        "sku": "PLAIN",
        "location": node.bins[0].pk,
        "quantity": -1,
        "code": "lost",
        "note": "Inventory check",
    }
    before = ledger_state(tenant_a.client)
    response = staff.post(ADJUSTMENTS, body | change, format="json")
    assert response.status_code == 400, response.content
    assert field in fields_of(response)
    assert ledger_state(tenant_a.client) == before


def test_relocation_moves_units_between_bins_of_a_node(tenant_a, node, stocked, floor):
    balance = Balance.objects.get(item=stocked["plain"], location=node.bins[0])
    response = floor.post(
        RELOCATIONS,
        {"balance": balance.pk, "to_location": node.reserve[1].pk, "quantity": 3, "note": "Overflow"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["location"] == node.reserve[1].pk and response.json()["quantity"] == 3
    assert Balance.objects.get(pk=balance.pk).on_hand == 4
    assert Balance.objects.get(item=stocked["plain"], location=node.reserve[1]).on_hand == 3
    pair = Move.objects.filter(client=tenant_a.client, reason=MoveReason.RELOCATION)
    assert sorted(pair.values_list("quantity", flat=True)) == [-3, 3]
    before = ledger_state(tenant_a.client)
    too_many = floor.post(
        RELOCATIONS, {"balance": balance.pk, "to_location": node.bins[2].pk, "quantity": 5}, format="json"
    )
    assert too_many.status_code == 400 and "quantity" in fields_of(too_many)
    elsewhere = floor.post(
        RELOCATIONS,
        {"balance": balance.pk, "to_location": stocked["other"].bins[0].pk, "quantity": 1},
        format="json",
    )
    assert elsewhere.status_code == 400 and "to_location" in fields_of(elsewhere)
    unknown = floor.post(
        RELOCATIONS, {"balance": 999_999_999, "to_location": node.bins[2].pk, "quantity": 1}, format="json"
    )
    assert unknown.status_code == 400 and list(fields_of(unknown)) == ["balance"]
    assert ledger_state(tenant_a.client) == before
    assert (
        tenant_a.api.post(
            RELOCATIONS, {"balance": balance.pk, "to_location": node.bins[2].pk, "quantity": 1}, format="json"
        ).status_code
        == 403
    )


def test_transfer_between_nodes_out_in_transit_and_in(tenant_a, node, stocked, staff):
    other = stocked["other"]
    balance = Balance.objects.get(item=stocked["plain"], location=node.bins[0])
    response = staff.post(
        TRANSFERS,
        {"balance": balance.pk, "to_warehouse": other.warehouse.pk, "quantity": 4, "reference": "REB-7"},
        format="json",
    )
    assert response.status_code == 201, response.content
    transfer = response.json()
    assert (transfer["status"], transfer["quantity"], transfer["from_warehouse"]) == (
        "in_transit",
        4,
        tenant_a.warehouse.pk,
    )
    assert Balance.objects.get(pk=balance.pk).on_hand == 3
    out = results(tenant_a.api.get(MOVES, {"reason": "transfer_out"}))
    assert [(m["quantity"], m["document_type"], m["document_id"]) for m in out] == [
        (-4, "transfer", str(transfer["id"]))
    ]
    in_transit = results(tenant_a.api.get(TRANSFERS, {"status": "in_transit"}))
    assert [t["id"] for t in in_transit] == [transfer["id"]]
    received = staff.post(f"{TRANSFERS}{transfer['id']}/receive/", {}, format="json")
    assert received.status_code == 200, received.content
    assert received.json()["status"] == "received" and received.json()["to_location"] == other.dock.pk
    assert Balance.objects.get(item=stocked["plain"], location=other.dock).on_hand == 4
    again = staff.post(f"{TRANSFERS}{transfer['id']}/receive/", {}, format="json")
    assert again.status_code == 400 and "status" in fields_of(again)
    same_node = staff.post(
        TRANSFERS,
        {"balance": balance.pk, "to_warehouse": tenant_a.warehouse.pk, "quantity": 1},
        format="json",
    )
    assert same_node.status_code == 400 and "to_warehouse" in fields_of(same_node)
    stranger = WarehouseFactory()  # a node the brand does not use
    refused = staff.post(
        TRANSFERS, {"balance": balance.pk, "to_warehouse": stranger.pk, "quantity": 1}, format="json"
    )
    assert refused.status_code == 400 and "to_warehouse" in fields_of(refused)
    assert (
        tenant_a.api.post(
            TRANSFERS,
            {"balance": balance.pk, "to_warehouse": other.warehouse.pk, "quantity": 1},
            format="json",
        ).status_code
        == 403
    )
    assert Transfer.objects.filter(client=tenant_a.client).count() == 1


def test_a_move_is_corrected_by_a_reversing_move(tenant_a, node, stocked, staff):
    body = {
        "client": tenant_a.client.pk,
        "sku": "PLAIN",
        "location": node.bins[0].pk,
        "quantity": 6,
        "code": "found",
        "note": "Miscounted",
    }
    adjustment = staff.post(ADJUSTMENTS, body, format="json").json()
    assert Balance.objects.get(item=stocked["plain"], location=node.bins[0]).on_hand == 13
    assert staff.post(f"{MOVES}{adjustment['id']}/reverse/", {}, format="json").status_code == 400
    response = staff.post(f"{MOVES}{adjustment['id']}/reverse/", {"note": "Typed 6 for 0"}, format="json")
    assert response.status_code == 201, response.content
    reversal = response.json()
    assert (reversal["reason"], reversal["quantity"], reversal["reverses"]) == (
        "reversal",
        -6,
        adjustment["id"],
    )
    assert Balance.objects.get(item=stocked["plain"], location=node.bins[0]).on_hand == 7
    assert Move.objects.get(pk=adjustment["id"]).quantity == 6  # the original stays as it was
    twice = staff.post(f"{MOVES}{adjustment['id']}/reverse/", {"note": "again"}, format="json")
    assert twice.status_code == 400 and "move" in fields_of(twice)
    assert (
        tenant_a.api.post(f"{MOVES}{adjustment['id']}/reverse/", {"note": "x"}, format="json").status_code
        == 403
    )


# --- ASNs --------------------------------------------------------------------------------------


def asn_events(api, asn_id: int) -> list[tuple[str, str]]:
    return [(e["from_status"], e["to_status"]) for e in api.get(f"{ASNS}{asn_id}/").json()["events"]]


def test_the_asn_lifecycle_through_the_api(tenant_a, node, floor):
    shirt = make_item(tenant_a.client, "SHIRT", barcode="0001")
    cap = make_item(tenant_a.client, "CAP", barcode="0002")
    stray = make_item(tenant_a.client, "STRAY", barcode="0003")
    api = tenant_a.api
    created = api.post(
        ASNS,
        {
            "warehouse": tenant_a.warehouse.pk,
            "reference": "PO-1001",
            "po_reference": "4500012",
            "sender": "Porto Knitwear",
            "carrier": "Maersk",
            "container_number": "MSKU1234567",
            "eta": "2026-07-08",
            "cartons": 12,
            "lines": [{"sku": "SHIRT", "expected_quantity": 10}, {"sku": "0002", "expected_quantity": 5}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    asn = created.json()
    url = f"{ASNS}{asn['id']}/"
    assert asn["status"] == "draft" and asn["expected_units"] == 15
    assert [line["sku"] for line in asn["lines"]] == ["SHIRT", "CAP"]
    shirt_line, cap_line = (line["id"] for line in asn["lines"])

    # Wrong transitions are 400s naming the status.
    early = floor.post(f"{url}arrive/", {}, format="json")
    assert early.status_code == 400 and "status" in fields_of(early)

    assert api.post(f"{url}submit/", {}, format="json").json()["status"] == "submitted"
    again = api.post(f"{url}submit/", {}, format="json")
    assert again.status_code == 400 and "status" in fields_of(again)

    milestone = api.post(
        f"{url}milestones/",
        {
            "kind": "departed_origin",
            "occurred_at": "2026-06-20T08:00:00Z",
            "eta": "2026-07-10",
            "note": "Sailed",
        },
        format="json",
    )
    assert milestone.status_code == 201, milestone.content
    detail = api.get(url).json()
    assert detail["status"] == "in_transit" and detail["eta"] == "2026-07-10"
    assert [m["kind"] for m in detail["milestones"]] == ["departed_origin"]

    # The brand cannot do the node's work.
    assert api.post(f"{url}arrive/", {}, format="json").status_code == 403

    arrived = floor.post(f"{url}arrive/", {"arrived_at": "2026-07-10T15:00:00Z"}, format="json")
    assert arrived.status_code == 200, arrived.content
    arrived = arrived.json()
    assert arrived["status"] == "arrived" and arrived["arrived_at"] == "2026-07-10T15:00:00Z"
    # Friday 11:00 in New York + 2 business days: the end of Tuesday, New York time.
    assert arrived["dock_to_stock_deadline"] == "2026-07-15T03:59:59.999999Z"
    cancel = api.post(f"{url}cancel/", {"reason": "too late"}, format="json")
    assert cancel.status_code == 400 and "status" in fields_of(cancel)

    assert api.post(f"{url}receive/", {"code": "0001", "quantity": 1}, format="json").status_code == 403

    # Session 1: scanned barcodes.
    first = floor.post(f"{url}receive/", {"code": "0001", "quantity": 6, "session": "dock-1"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["line"]["id"] == shirt_line and first.json()["warnings"] == []
    assert api.get(url).json()["status"] == "receiving"
    damaged = floor.post(
        f"{url}receive/",
        {"code": "0002", "quantity": 1, "condition": "damaged", "session": "dock-1"},
        format="json",
    )
    assert damaged.status_code == 201
    assert damaged.json()["receipt"]["location"] == node.quarantine.pk
    # Session 2: the rest, two more than the notice said, and an item that was not on it.
    second = floor.post(
        f"{url}receive/", {"line": shirt_line, "quantity": 6, "session": "dock-2"}, format="json"
    )
    assert second.status_code == 201
    assert second.json()["over_quantity"] == 2
    assert any("Over-receipt" in w for w in second.json()["warnings"])
    surprise = floor.post(
        f"{url}receive/", {"code": "0003", "quantity": 2, "session": "dock-2"}, format="json"
    )
    assert surprise.status_code == 201
    assert surprise.json()["unexpected"] is True and surprise.json()["warnings"]
    floor.post(f"{url}receive/", {"code": "CAP", "quantity": 3, "session": "dock-2"}, format="json")

    lines = {line["sku"]: line for line in api.get(url).json()["lines"]}
    assert (lines["SHIRT"]["received_quantity"], lines["SHIRT"]["over_quantity"]) == (12, 2)
    assert (lines["CAP"]["received_quantity"], lines["CAP"]["damaged_quantity"]) == (3, 1)
    assert lines["CAP"]["short_quantity"] == 1 and set(lines["CAP"]["discrepancies"]) == {"short", "damaged"}
    assert lines["STRAY"]["unexpected"] is True and lines["STRAY"]["discrepancies"] == ["unexpected"]
    receipts = results(api.get(f"{url}receipts/"))
    assert [(r["sku"], r["quantity"], r["condition"], r["session"]) for r in receipts] == [
        ("SHIRT", 6, "good", "dock-1"),
        ("CAP", 1, "damaged", "dock-1"),
        ("SHIRT", 6, "good", "dock-2"),
        ("STRAY", 2, "good", "dock-2"),
        ("CAP", 3, "good", "dock-2"),
    ]
    assert Balance.objects.get(item=shirt, location=node.dock).on_hand == 12
    assert Balance.objects.get(item=cap, location=node.quarantine).on_hand == 1

    # Putaway: never more than waits at the dock for the line.
    before = ledger_state(tenant_a.client)
    too_many = floor.post(
        f"{url}putaway/", {"line": shirt_line, "to_location": node.bins[0].pk, "quantity": 13}, format="json"
    )
    assert too_many.status_code == 400 and list(fields_of(too_many)) == ["quantity"]
    not_sellable = floor.post(
        f"{url}putaway/",
        {"line": shirt_line, "to_location": node.quarantine.pk, "quantity": 1},
        format="json",
    )
    assert not_sellable.status_code == 400 and "to_location" in fields_of(not_sellable)
    assert ledger_state(tenant_a.client) == before
    assert (
        api.post(
            f"{url}putaway/",
            {"line": shirt_line, "to_location": node.bins[0].pk, "quantity": 1},
            format="json",
        ).status_code
        == 403
    )
    for line_id, bin_, quantity in ((shirt_line, node.bins[0], 8), (shirt_line, node.reserve[0], 4)):
        moved = floor.post(
            f"{url}putaway/", {"line": line_id, "to_location": bin_.pk, "quantity": quantity}, format="json"
        )
        assert moved.status_code == 201, moved.content
        assert moved.json()["reason"] == "putaway" and moved.json()["quantity"] == quantity
    floor.post(
        f"{url}putaway/", {"line": cap_line, "to_location": node.bins[1].pk, "quantity": 3}, format="json"
    )
    stray_line = lines["STRAY"]["id"]
    floor.post(
        f"{url}putaway/", {"line": stray_line, "to_location": node.bins[2].pk, "quantity": 2}, format="json"
    )
    assert Balance.objects.get(item=shirt, location=node.dock).on_hand == 0
    assert Balance.objects.get(item=shirt, location=node.bins[0]).on_hand == 8
    assert api.get(url).json()["putaway_units"] == 17

    completed = floor.post(f"{url}complete/", {}, format="json")
    assert completed.status_code == 200, completed.content
    assert completed.json()["status"] == "received" and completed.json()["received_at"]
    assert completed.json()["stocked_at"]  # every good unit was already put away

    closed = floor.post(
        f"{url}close/", {"notes": {str(cap_line): "One carton crushed; vendor credits 1"}}, format="json"
    )
    assert closed.status_code == 200, closed.content
    body = closed.json()
    assert body["status"] == "closed" and body["closed_at"]
    notes = {line["sku"]: line["discrepancy_note"] for line in body["lines"]}
    assert notes["CAP"] == "One carton crushed; vendor credits 1"
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "in_transit"),
        ("in_transit", "arrived"),
        ("arrived", "receiving"),
        ("receiving", "received"),
        ("received", "closed"),
    ]
    assert all(e["actor_label"] for e in body["events"])

    before = ledger_state(tenant_a.client)
    late = floor.post(f"{url}receive/", {"code": "0001", "quantity": 1}, format="json")
    assert late.status_code == 400 and "status" in fields_of(late)
    assert ledger_state(tenant_a.client) == before
    assert stray.pk in {line.item_id for line in ASNLine.objects.filter(asn_id=asn["id"])}


def test_asn_list_shows_progress_and_filters_by_status(tenant_a, node):
    item = make_item(tenant_a.client, "P-1")
    draft = make_asn(tenant_a.client, tenant_a.warehouse, [(item, 3)], submit=False, reference="D-1")
    done = stock(tenant_a.client, node, item, 4)
    rows = results(tenant_a.api.get(ASNS))
    progress = {
        r["id"]: (r["status"], r["expected_units"], r["received_units"], r["putaway_units"]) for r in rows
    }
    assert progress == {draft.pk: ("draft", 3, 0, 0), done.pk: ("received", 4, 4, 4)}
    assert [r["id"] for r in results(tenant_a.api.get(ASNS, {"status": "draft"}))] == [draft.pk]
    assert [r["id"] for r in results(tenant_a.api.get(ASNS, {"reference": "D-1"}))] == [draft.pk]


def test_asn_edits_while_draft_and_cancel(tenant_a, node):
    item = make_item(tenant_a.client, "E-1")
    other = make_item(tenant_a.client, "E-2")
    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(item, 3)], submit=False)
    url = f"{ASNS}{asn.pk}/"
    response = tenant_a.api.patch(
        url, {"sender": "New vendor", "lines": [{"sku": "E-2", "expected_quantity": 9}]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [(line["sku"], line["expected_quantity"]) for line in response.json()["lines"]] == [("E-2", 9)]
    assert ASNLine.objects.get(asn=asn).item == other
    cancelled = tenant_a.api.post(f"{url}cancel/", {"reason": "Order cancelled"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert asn_events(tenant_a.api, asn.pk)[-1] == ("draft", "cancelled")
    refused = tenant_a.api.patch(url, {"lines": [{"sku": "E-1", "expected_quantity": 1}]}, format="json")
    assert refused.status_code == 400 and "status" in fields_of(refused)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"sku": "NOPE", "expected_quantity": 1}], "lines.0.sku"),
        ([{"sku": "Q-1", "expected_quantity": 0}], "lines.0.expected_quantity"),
        ([{"sku": "Q-1", "expected_quantity": -3}], "lines.0.expected_quantity"),
        ([], "lines"),
    ],
    ids=["unknown-sku", "zero", "negative", "no-lines"],
)
def test_bad_asn_lines_are_400s_naming_the_field_and_write_nothing(tenant_a, lines, field):
    make_item(tenant_a.client, "Q-1")
    response = tenant_a.api.post(ASNS, {"warehouse": tenant_a.warehouse.pk, "lines": lines}, format="json")
    assert response.status_code == 400
    assert field in fields_of(response)
    assert not ASN.objects.filter(client=tenant_a.client).exists()


def test_duplicate_asn_reference_and_foreign_node_are_400s(tenant_a):
    item = make_item(tenant_a.client, "R-1")
    make_asn(tenant_a.client, tenant_a.warehouse, [(item, 1)], reference="SAME")
    body = {
        "warehouse": tenant_a.warehouse.pk,
        "reference": "SAME",
        "lines": [{"sku": "R-1", "expected_quantity": 1}],
    }
    response = tenant_a.api.post(ASNS, body, format="json")
    assert response.status_code == 400 and "reference" in fields_of(response)
    elsewhere = WarehouseFactory()
    response = tenant_a.api.post(ASNS, body | {"reference": "NEW", "warehouse": elsewhere.pk}, format="json")
    assert response.status_code == 400 and "warehouse" in fields_of(response)
    assert ASN.objects.filter(client=tenant_a.client).count() == 1


@pytest.fixture
def arrived(tenant_a, node):
    plain = make_item(tenant_a.client, "PLN", barcode="9001")
    lotted = make_item(tenant_a.client, "LOT", barcode="9002", lot_tracked=True)
    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(plain, 5), (lotted, 5)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    return asn


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "9001", "quantity": 0}, "quantity"),
        ({"code": "9001", "quantity": -2}, "quantity"),
        ({"code": "9002", "quantity": 1}, "lot_code"),
        ({"code": "0000", "quantity": 1}, "code"),
        ({"code": "9001", "quantity": 1, "condition": "soggy"}, "condition"),
    ],
    ids=["zero", "negative", "lot-missing", "unknown-barcode", "bad-condition"],
)
def test_bad_receipts_are_400s_naming_the_field_and_write_nothing(tenant_a, arrived, floor, body, field):
    before = ledger_state(tenant_a.client)
    response = floor.post(f"{ASNS}{arrived.pk}/receive/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in fields_of(response)
    assert ledger_state(tenant_a.client) == before
    assert ASN.objects.get(pk=arrived.pk).status == "arrived"


def test_a_line_of_another_asn_is_a_400_naming_line(tenant_a, arrived, floor, node):
    other = make_asn(tenant_a.client, tenant_a.warehouse, [(Item.objects.get(sku="PLN"), 1)])
    foreign_line = other.lines.get().pk
    before = ledger_state(tenant_a.client)
    received = floor.post(
        f"{ASNS}{arrived.pk}/receive/", {"line": foreign_line, "quantity": 1}, format="json"
    )
    assert received.status_code == 400 and list(fields_of(received)) == ["line"]
    put = floor.post(
        f"{ASNS}{arrived.pk}/putaway/",
        {"line": foreign_line, "to_location": node.bins[0].pk, "quantity": 1},
        format="json",
    )
    assert put.status_code == 400 and list(fields_of(put)) == ["line"]
    assert ledger_state(tenant_a.client) == before


def test_a_lot_tracked_item_is_received_with_its_lot(tenant_a, arrived, floor, node):
    response = floor.post(
        f"{ASNS}{arrived.pk}/receive/", {"code": "9002", "quantity": 2, "lot_code": "B7"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Balance.objects.get(item__sku="LOT", location=node.dock, lot_code="B7").on_hand == 2


@pytest.mark.parametrize("quantity", [0, -1])
def test_putaway_of_zero_or_negative_units_is_a_400(tenant_a, arrived, floor, node, quantity):
    line = arrived.lines.get(item__sku="PLN")
    floor.post(f"{ASNS}{arrived.pk}/receive/", {"line": line.pk, "quantity": 2}, format="json")
    before = ledger_state(tenant_a.client)
    response = floor.post(
        f"{ASNS}{arrived.pk}/putaway/",
        {"line": line.pk, "to_location": node.bins[0].pk, "quantity": quantity},
        format="json",
    )
    assert response.status_code == 400 and "quantity" in fields_of(response)
    assert ledger_state(tenant_a.client) == before


def test_a_warehouse_operator_works_only_at_their_nodes(tenant_a, arrived, session_api):
    elsewhere = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    elsewhere.warehouses.add(WarehouseFactory())
    api = session_api(elsewhere)
    response = api.post(f"{ASNS}{arrived.pk}/receive/", {"code": "9001", "quantity": 1}, format="json")
    assert response.status_code == 404
    assert not Receipt.objects.filter(asn=arrived).exists()


# --- cycle counts ------------------------------------------------------------------------------


def test_cycle_count_blind_entry_then_variance_on_approval(tenant_a, node, stocked, floor, staff):
    response = floor.post(
        COUNTS, {"warehouse": tenant_a.warehouse.pk, "locations": [node.bins[0].pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    count = response.json()
    assert (count["kind"], count["status"], count["line_count"]) == ("location", "open", 1)
    lines = results(floor.get(f"{COUNTS}{count['id']}/lines/"))
    assert [(line["sku"], line["system_quantity"]) for line in lines] == [("PLAIN", None)]  # blind
    entered = floor.post(
        f"{COUNTS}{count['id']}/enter/", {"line": lines[0]["id"], "counted_quantity": 6}, format="json"
    )
    assert entered.status_code == 200 and entered.json()["system_quantity"] is None
    assert floor.post(f"{COUNTS}{count['id']}/submit/", {}, format="json").json()["status"] == "submitted"
    line = results(floor.get(f"{COUNTS}{count['id']}/lines/"))[0]
    assert (line["system_quantity"], line["counted_quantity"], line["variance"]) == (7, 6, -1)
    assert floor.post(f"{COUNTS}{count['id']}/approve/", {}, format="json").status_code == 403
    approved = staff.post(f"{COUNTS}{count['id']}/approve/", {}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    corrections = results(tenant_a.api.get(MOVES, {"reason": "count_correction"}))
    assert [(m["quantity"], m["adjustment_code"]) for m in corrections] == [(-1, "count_correction")]
    assert Balance.objects.get(item=stocked["plain"], location=node.bins[0]).on_hand == 6
    assert tenant_a.api.get(COUNTS).status_code == 403


# --- query counts ------------------------------------------------------------------------------


@pytest.fixture
def busy(tenant_a, node):
    """Twelve of everything at A's node, so that a page of 10 and a page of 2 differ."""
    other = WarehouseFactory()
    tenant_a.client.warehouses.add(other)
    make_node(other)
    items = []
    for i in range(12):
        item = make_item(tenant_a.client, f"BUSY-{i:02d}", barcode=f"55{i:04d}")
        items.append(item)
        asn = stock(tenant_a.client, node, item, 5, location=node.bins[i % 4])
        services.asn_add_milestone(actor=SYSTEM, asn=asn, kind="delivered_to_dock")
        balance = Balance.objects.get(item=item, location=node.bins[i % 4])
        services.transfer_dispatch(actor=SYSTEM, balance=balance, to_warehouse=other, quantity=1)
    services.item_create(
        actor=SYSTEM,
        client=tenant_a.client,
        sku="BUSY-KIT",
        name="Kit",
        is_kit=True,
        components=[{"sku": items[0].sku, "quantity": 1}, {"sku": items[1].sku, "quantity": 2}],
    )
    for _ in range(12):
        services.count_create(actor=SYSTEM, warehouse=tenant_a.warehouse, locations=node.bins)
    big = make_asn(tenant_a.client, tenant_a.warehouse, [(item, 20) for item in items])
    services.asn_arrive(actor=SYSTEM, asn=big)
    for line in big.lines.all():
        services.asn_receive(actor=SYSTEM, asn=big, line=line, quantity=1)
    return {
        "big": big,
        "count": services.count_create(actor=SYSTEM, warehouse=tenant_a.warehouse, items=items),
    }


def list_paths(busy) -> list[str]:
    return [
        ITEMS,
        LOCATIONS,
        BALANCES,
        TOTALS,
        MOVES,
        TRANSFERS,
        COUNTS,
        ASNS,
        f"{ASNS}{busy['big'].pk}/receipts/",
        f"{COUNTS}{busy['count'].pk}/lines/",
    ]


@pytest.mark.parametrize(
    "path_index",
    range(10),
    ids=[
        "items",
        "locations",
        "inventory",
        "totals",
        "moves",
        "transfers",
        "cycle-counts",
        "asns",
        "asn-receipts",
        "count-lines",
    ],
)
def test_list_query_count_does_not_grow_with_page_size(operator_admin, session_api, busy, path_index):
    path = list_paths(busy)[path_index]
    api = session_api(operator_admin)
    api.get(path)
    counts = []
    for size in (2, 10):
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(path, {"page_size": size})
        assert len(results(response)) == size, path
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], f"{path}: {counts} queries at page sizes 2 and 10"
    assert counts[1] <= 8, f"{path}: {counts[1]} queries"


@pytest.mark.parametrize("path", [ITEMS, BALANCES, MOVES, ASNS, TRANSFERS])
def test_brand_list_query_count_does_not_grow_with_page_size(tenant_a, busy, path):
    api = tenant_a.api
    api.get(path)  # the key's first use records last_used_at
    counts = []
    for size in (2, 10):
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(path, {"page_size": size})
        assert len(results(response)) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], f"{path}: {counts} queries at page sizes 2 and 10"


def test_asn_detail_query_count_does_not_grow_with_lines(tenant_a, busy, django_assert_max_num_queries):
    api = tenant_a.api
    api.get(ASNS)
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(f"{ASNS}{busy['big'].pk}/").status_code == 200
    assert len(ctx.captured_queries) <= 12, len(ctx.captured_queries)
    assert ASNEvent.objects.filter(asn=busy["big"]).count() >= 3
