"""Intake in volume: bulk creation (a result per order), CSV import (dry run, every bad row reported,
nothing half-imported), and one Idempotency-Key under 20 concurrent POSTs."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.enums import Channel, HoldKind, OrderStatus
from orders.models import Order, OrderHold, OrderLine
from tests.conftest import bearer
from tests.inventory.factories import make_item
from tests.orders.test_api import SHIP_TO, body, make_order, order_rows

BULK = "/api/v1/orders/bulk/"
IMPORT = "/api/v1/orders/import/"


# --- bulk ----------------------------------------------------------------------------------------


def test_bulk_reports_created_duplicate_and_invalid_in_input_order(tenant_a):
    make_item(tenant_a.client, "TEE")
    existing = make_order(tenant_a.client, "OLD-1", [("TEE", 1)])
    bad_zip = body("B-4")
    del bad_zip["ship_to"]["zip"]
    orders = [
        body("B-1"),
        body("OLD-1"),
        {"external_reference": "B-3", "ship_to": SHIP_TO, "lines": [{"sku": "TEE", "quantity": 0}]},
        bad_zip,
        body("B-5", ("GHOST", 1)),
        body("B-1"),  # repeats the first of this very request
    ]
    response = tenant_a.api.post(BULK, {"orders": orders}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    statuses = [(r["index"], r["status"]) for r in data["results"]]
    assert statuses == [
        (0, "created"),
        (1, "duplicate"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "created"),
        (5, "duplicate"),
    ]
    results = data["results"]
    assert results[1]["existing_id"] == existing.pk
    assert results[5]["existing_id"] == results[0]["id"]
    assert list(results[2]["errors"]) == ["lines.0.quantity"]
    assert list(results[3]["errors"]) == ["ship_to.zip"]
    assert (data["created"], data["duplicates"], data["invalid"]) == (2, 2, 2)
    created = Order.objects.filter(client=tenant_a.client).exclude(pk=existing.pk)
    assert sorted(created.values_list("external_reference", flat=True)) == ["B-1", "B-5"]
    assert Order.objects.get(pk=results[4]["id"]).status == OrderStatus.ON_HOLD


def test_bulk_refuses_more_than_500_orders_naming_orders(tenant_a):
    response = tenant_a.api.post(BULK, {"orders": [body(f"X-{i}") for i in range(501)]}, format="json")
    assert response.status_code == 400
    assert "orders" in response.json()["error"]["fields"]
    assert not Order.objects.filter(client=tenant_a.client).exists()
    missing = tenant_a.api.post(BULK, {}, format="json")
    assert missing.status_code == 400 and "orders" in missing.json()["error"]["fields"]


def test_bulk_of_500_is_accepted(tenant_a):
    make_item(tenant_a.client, "TEE")
    response = tenant_a.api.post(BULK, {"orders": [body(f"Y-{i}") for i in range(500)]}, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 500
    assert Order.objects.filter(client=tenant_a.client).count() == 500


# --- CSV -----------------------------------------------------------------------------------------

HEADER = (
    "external_reference,ship_to_name,ship_to_company,ship_to_address1,ship_to_address2,ship_to_city,"
    "ship_to_state,ship_to_zip,ship_to_country,ship_to_phone,ship_to_email,service_level,sku,quantity,"
    "unit_price,notes,gift_message\n"
)
GOOD = HEADER + (
    "CSV-1,Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,ann@example.test,standard,TEE,2,9.99,leave at door,\n"
    "CSV-1,,,,,,,,,,,,MUG,1,4.00,,\n"
    "CSV-2,Bob Buyer,Bob Inc,5 Elm St,Suite 1,Hoboken,NJ,07030,US,555,,expedited,GHOST,3,,,Enjoy\n"
)


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("orders.csv", text.encode(), content_type="text/csv")


def test_csv_dry_run_previews_and_writes_nothing_then_imports(tenant_a):
    make_item(tenant_a.client, "TEE")
    make_item(tenant_a.client, "MUG")
    preview = tenant_a.api.post(IMPORT, {"file": upload(GOOD), "dry_run": "true"}, format="multipart")
    assert preview.status_code == 200, preview.content
    data = preview.json()
    assert (data["valid"], data["rows"], data["orders"], data["created"]) == (True, 3, 2, 0)
    assert [(p["external_reference"], p["lines"], p["units"], p["holds"]) for p in data["preview"]] == [
        ("CSV-1", 2, 3, []),
        ("CSV-2", 1, 3, ["Unknown SKU: GHOST"]),
    ]
    assert not Order.objects.filter(client=tenant_a.client).exists()

    response = tenant_a.api.post(IMPORT, {"file": upload(GOOD)}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2
    first = Order.objects.get(client=tenant_a.client, external_reference="CSV-1")
    assert first.channel == Channel.CSV and first.notes == "leave at door"
    assert sorted(first.lines.values_list("sku", "quantity")) == [("MUG", 1), ("TEE", 2)]
    second = Order.objects.get(client=tenant_a.client, external_reference="CSV-2")
    assert second.service_level == "expedited" and second.gift_message == "Enjoy"
    assert second.ship_to_company == "Bob Inc"
    assert OrderHold.objects.get(order=second).kind == HoldKind.EXCEPTION

    # The same file again: every order is a duplicate, reported by row; nothing more is written.
    again = tenant_a.api.post(IMPORT, {"file": upload(GOOD)}, format="multipart")
    assert again.status_code == 400
    rows = again.json()["error"]["rows"]
    assert {(r["row"], r["column"]) for r in rows} == {
        (2, "external_reference"),
        (3, "external_reference"),
        (4, "external_reference"),
    }
    assert Order.objects.filter(client=tenant_a.client).count() == 2


def test_csv_bad_rows_are_each_reported_and_nothing_is_imported(tenant_a):
    make_item(tenant_a.client, "TEE")
    text = HEADER + (
        "OK-1,Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,,,TEE,1,,,\n"
        "BAD-1,Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,,,TEE,zero,,,\n"
        "BAD-2,,,1 Main St,,Hoboken,NJ,07030,US,,,teleport,TEE,1,-3,,\n"
        "BAD-2,Other Name,,1 Main St,,Hoboken,NJ,07030,US,,,,,1,,,\n"  # the name, given once
        ",Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,,,TEE,1,,,\n"
        "BAD-3,Ann Buyer,,1 Main St,,Hoboken,NJ,07030,USA,,not-mail,,TEE,1,,,\n"
    )
    before = order_rows(tenant_a.client)
    response = tenant_a.api.post(IMPORT, {"file": upload(text)}, format="multipart")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    reported = {(r["row"], r["column"]) for r in error["rows"]}
    assert reported == {
        (3, "quantity"),
        (4, "service_level"),
        (4, "unit_price"),
        (5, "sku"),
        (6, "external_reference"),
        (7, "ship_to_country"),
        (7, "ship_to_email"),
    }, error["rows"]
    assert order_rows(tenant_a.client) == before
    assert not OrderLine.objects.filter(client=tenant_a.client).exists()


def test_csv_with_a_missing_column_or_unknown_one_is_refused(tenant_a):
    response = tenant_a.api.post(
        IMPORT, {"file": upload("external_reference,sku,colour\nA,B,red\n")}, format="multipart"
    )
    assert response.status_code == 400
    assert {(r["column"], r["message"]) for r in response.json()["error"]["rows"]} == {
        ("quantity", "Required column is missing."),
        ("colour", "Unknown column."),
    }


def test_staff_import_for_a_named_client(tenant_a, operator_admin, session_api):
    make_item(tenant_a.client, "TEE")
    make_item(tenant_a.client, "MUG")
    staff = session_api(operator_admin)
    missing = staff.post(IMPORT, {"file": upload(GOOD)}, format="multipart")
    assert missing.status_code == 400 and "client" in missing.json()["error"]["fields"]
    response = staff.post(IMPORT, {"file": upload(GOOD), "client": tenant_a.client.pk}, format="multipart")
    assert response.status_code == 201, response.content
    assert Order.objects.filter(client=tenant_a.client, channel=Channel.CSV).count() == 2


# --- Idempotency-Key under concurrency ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_with_one_idempotency_key_create_one_order():
    from tests.conftest import make_tenant

    tenant = make_tenant("I")
    make_item(tenant.client, "TEE")
    barrier = threading.Barrier(20)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def worker():
        from django.db import connection as thread_connection

        try:
            api = bearer(tenant.secret)
            barrier.wait()
            response = api.post(
                "/api/v1/orders/", body("IDEM-1"), format="json", HTTP_IDEMPOTENCY_KEY="order-key"
            )
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(code for code, _ in results)
    assert len(results) == 20
    assert set(statuses) <= {201, 409}, statuses
    created = {data["id"] for code, data in results if code == 201}
    assert len(created) == 1, results
    # A 409 here is "still in flight", never a duplicate order: the key kept the second one out.
    assert all(data["error"]["code"] == "idempotency_key_in_flight" for code, data in results if code == 409)
    assert Order.objects.filter(client=tenant.client).count() == 1
    # Once done, the key replays the first answer.
    replay = bearer(tenant.secret).post(
        "/api/v1/orders/", body("IDEM-1"), format="json", HTTP_IDEMPOTENCY_KEY="order-key"
    )
    assert replay.status_code == 201 and replay.json()["id"] in created
    assert replay["Idempotent-Replayed"] == "true"
