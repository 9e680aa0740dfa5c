"""Intake in volume: bulk creation (a result per order), CSV import (dry run, every bad row reported,
nothing half-imported), and one Idempotency-Key under 20 concurrent POSTs."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from orders.enums import Channel, HoldKind, OrderStatus
from orders.models import Order, OrderHold, OrderLine
from tests.conftest import bearer
from tests.inventory.factories import make_item
from tests.orders.test_api import SHIP_TO, body, make_order, order_rows

ORDERS_URL = "/api/v1/orders/"
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
    for bad in ([body("Z-1"), "not an order"], [body("Z-2"), ["a", "list"]], [None]):
        response = tenant_a.api.post(BULK, {"orders": bad}, format="json")
        assert response.status_code == 400, response.content
        assert any(name.startswith("orders") for name in response.json()["error"]["fields"])
    assert not Order.objects.filter(client=tenant_a.client).exists()


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


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite, the embedded default, takes one writer at a time"
)
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


# --- one code path for one order and for a batch -------------------------------------------------


def _outcome(outcome) -> tuple:
    """What a caller can see of an outcome: created (with its status), duplicate (of which
    reference), or invalid (with the messages)."""
    from orders import services

    if isinstance(outcome, services.DuplicateOrder):
        return ("duplicate", outcome.existing.external_reference)
    if isinstance(outcome, Exception):
        return ("invalid", outcome.message_dict)
    return ("created", outcome.order.status)


def _one_by_one(client, orders: list[dict]) -> list:
    """The reference semantics: ``order_create`` for each order in turn, each in a savepoint."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from orders import services
    from tests.inventory.factories import SYSTEM

    outcomes = []
    for kwargs in orders:
        try:
            with transaction.atomic():
                order = services.order_create(actor=SYSTEM, client=client, **kwargs)
        except (services.DuplicateOrder, ValidationError) as exc:
            outcomes.append(exc)
        else:
            outcomes.append(services.Created(order, [], [], []))
    return outcomes


def test_a_batch_has_the_outcomes_of_creating_each_order_in_turn(tenant_a, tenant_b):
    from orders import services
    from tests.inventory.factories import SYSTEM
    from tests.orders.test_api import SERVICE_SHIP_TO

    def order(reference: str, *skus: str, **changes) -> dict:
        ship_to = {**SERVICE_SHIP_TO, **changes.pop("ship_to", {})}
        lines = [{"sku": sku, "quantity": 2, "unit_price": "3.50"} for sku in skus or ("TEE",)]
        return {"external_reference": reference, "lines": lines, "ship_to": ship_to, **changes}

    batch = [
        order("A-1"),
        order("OLD-1"),  # exists: found by the unique constraint on insert
        order("A-2", ship_to={"ship_to_name": ""}),  # invalid address
        order("A-1", "MUG"),  # a repeat of this batch's first order
        order("A-3", service_level="teleport"),  # invalid before the duplicate check
        order("OLD-1", ship_to={"ship_to_name": ""}),  # a duplicate wins over a later check
        order("A-4", ship_to={"ship_to_zip": ""}),  # invalid first ...
        order("A-4"),  # ... so this one is created
        order("A-5", "GHOST", ship_to={"ship_to_state": "ZZ"}),  # held twice over
        order("A-6", channel=Channel.PORTAL, tags=["vip"], notes="ring twice"),
        order("A-7", "TEE", "MUG", "TEE"),
    ]
    outcomes = {}
    for tenant in (tenant_a, tenant_b):
        make_item(tenant.client, "TEE")
        make_item(tenant.client, "MUG")
        make_order(tenant.client, "OLD-1", [("TEE", 1)])
    outcomes["batch"] = services.order_create_many(actor=SYSTEM, client=tenant_a.client, orders=batch)
    outcomes["one_by_one"] = _one_by_one(tenant_b.client, batch)
    assert [_outcome(o) for o in outcomes["batch"]] == [_outcome(o) for o in outcomes["one_by_one"]]
    assert [_outcome(o)[0] for o in outcomes["batch"]] == [
        "created",
        "duplicate",
        "invalid",
        "duplicate",
        "invalid",
        "duplicate",
        "invalid",
        "created",
        "created",
        "created",
        "created",
    ]
    assert outcomes["batch"][3].existing.pk == outcomes["batch"][0].order.pk

    def rows(client) -> list:
        """Every row written, as the brand's integration would see it (ids and times aside)."""
        orders = Order.objects.filter(client=client).order_by("external_reference", "channel")
        return [
            (
                o.external_reference,
                o.channel,
                o.status,
                o.tags,
                o.notes,
                o.released_at == o.received_at if o.released_at else None,
                o.ship_by is not None,
                sorted(
                    (line.sku, line.quantity, str(line.unit_price), line.item_id is not None)
                    for line in o.lines.all()
                ),
                [(e.from_status, e.to_status, e.reason, e.actor_label) for e in o.events.all()],
                sorted((h.kind, h.reason) for h in o.holds.all()),
            )
            for o in orders
        ]

    assert rows(tenant_a.client) == rows(tenant_b.client)
    from orders import clock

    for o in Order.objects.filter(client=tenant_a.client, status=OrderStatus.RECEIVED):
        nearest = clock.nodes_by_distance(tenant_a.client, o.ship_to_zip)[0]
        assert o.ship_by == clock.ship_by(
            client=tenant_a.client,
            warehouse=nearest,
            released_at=o.released_at,
            service_level=o.service_level,
        )
    from shipments.models import Event

    created = Event.objects.filter(type="order.created")
    assert created.filter(client=tenant_a.client).count() == created.filter(client=tenant_b.client).count()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="on SQLite Django 5.2 sends at most 999 parameters per statement: a batch is several there",
)
def test_intake_queries_do_not_grow_with_the_batch(tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_item(tenant_a.client, "TEE")
    make_item(tenant_a.client, "MUG")
    tenant_a.api.get(ORDERS_URL)  # the key's first use of the minute is noted (one more query)
    # Whether the client subscribes to webhooks is read once, then cached (shipments.subscription_cache).
    tenant_a.api.post(BULK, {"orders": [body("WARM-1")]}, format="json")
    counts = []
    for size in (2, 40):
        orders = [body(f"Q{size}-{i}", ("TEE", 1), ("MUG", 2)) for i in range(size)]
        orders[0]["ship_to"]["state"] = "ZZ"  # one held order in each batch
        with CaptureQueriesContext(connection) as queries:
            response = tenant_a.api.post(BULK, {"orders": orders}, format="json")
        assert response.status_code == 200 and response.json()["created"] == size, response.content
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_one_order_through_the_api_takes_a_dozen_queries(tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_item(tenant_a.client, "TEE")
    from django.core.cache import cache

    cache.delete(f"client-nodes:{tenant_a.client.pk}")  # the setup's changes are a minute old
    tenant_a.api.post(ORDERS_URL, body("WARM-1"), format="json")
    with CaptureQueriesContext(connection) as queries:
        response = tenant_a.api.post(ORDERS_URL, body("Q-1"), format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    assert response.status_code == 201, response.content
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # The idempotency claim (the key was read by the first request and is cached); the items; the
    # order, its lines, its status event with its outbox event (on PostgreSQL two statements sent
    # together, one round trip); the stored answer. The nodes with their closures (on PostgreSQL)
    # and whether the client subscribes to webhooks were read by the first request and are cached
    # (accounts.node_cache, shipments.subscription_cache). No savepoint of intake's own (the one
    # here is the Idempotency-Key's transaction, inside the test's): a taken reference does not
    # raise.
    together = ["INSERT"] if connection.vendor == "postgresql" else ["INSERT", "INSERT"]
    nodes = [] if connection.vendor == "postgresql" else ["SELECT", "SELECT"]
    assert [s for s in statements if s not in ("SAVEPOINT", "RELEASE")] == [
        "INSERT",
        "SELECT",
        *nodes,
        "INSERT",
        "INSERT",
        *together,
        "UPDATE",
    ]
    if connection.vendor == "postgresql":
        [sent_together] = [q["sql"] for q in queries.captured_queries if "shipments_event" in q["sql"]]
        assert sent_together.startswith('INSERT INTO "orders_orderevent"'), sent_together
        assert '; INSERT INTO "shipments_event"' in sent_together


@pytest.mark.parametrize(
    "request_body",
    [
        body(
            "MEM-1",
            ("TEE", 2),
            ("MUG", 1),
            tags=["vip", "gift"],
            notes="leave at door",
            po_number="PO-9",
            retailer="Shop",
            ship_window_start="2030-05-01",
            ship_window_end="2030-05-03",
            must_arrive_by="2030-05-04",
            service_level="expedited",
            currency="EUR",
            gift_message="Enjoy",
        ),
        body("MEM-2", ("TEE", 1), ("GHOST", 3), ship_to={**SHIP_TO, "state": "ZZ"}),
    ],
    ids=["released", "held"],
)
def test_the_create_response_is_the_order_as_read_back(tenant_a, request_body):
    make_item(tenant_a.client, "TEE")
    make_item(tenant_a.client, "MUG")
    for key in (None, "mem"):  # committed at once, or inside the Idempotency-Key's transaction
        posted = dict(request_body, external_reference=f"{request_body['external_reference']}-{key}")
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        created = tenant_a.api.post(ORDERS_URL, posted, format="json", **headers)
        assert created.status_code == 201, created.content
        detail = tenant_a.api.get(f"{ORDERS_URL}{created.json()['id']}/")
        assert created.json() == detail.json()


def test_kept_create_serializers_still_narrow_client_to_each_actor(
    tenant_a, tenant_b, account_manager, session_api
):
    make_item(tenant_a.client, "TEE")
    make_item(tenant_b.client, "TEE")
    assert (
        tenant_a.api.post(ORDERS_URL, body("N-1", client=tenant_a.client.pk), format="json").status_code
        == 201
    )
    # Another brand's key, on the same thread: A is not a client it may name.
    response = tenant_b.api.post(ORDERS_URL, body("N-2", client=tenant_a.client.pk), format="json")
    assert response.status_code == 400 and "client" in response.json()["error"]["fields"]
    bulk = tenant_b.api.post(BULK, {"orders": [body("N-3")], "client": tenant_a.client.pk}, format="json")
    assert bulk.status_code == 400 and "client" in bulk.json()["error"]["fields"]
    account_manager.managed_clients.add(tenant_b.client)
    manager = session_api(account_manager)
    response = manager.post(ORDERS_URL, body("N-4", client=tenant_a.client.pk), format="json")
    assert response.status_code == 400 and "client" in response.json()["error"]["fields"]
    response = manager.post(ORDERS_URL, body("N-5", client=tenant_b.client.pk), format="json")
    assert response.status_code == 201 and response.json()["client"] == tenant_b.client.pk


def test_csv_import_reports_the_first_order_the_service_refuses_and_writes_nothing(tenant_a):
    make_item(tenant_a.client, "TEE")
    # An e-mail with an "@" passes the file's checks; the order's own validation refuses it.
    text = HEADER + (
        "OK-1,Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,,,TEE,1,,,\n"
        "MAIL-1,Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,ann@,,TEE,1,,,\n"
        "MAIL-2,Bob Buyer,,1 Main St,,Hoboken,NJ,07030,US,,bob@,,TEE,1,,,\n"
    )
    before = order_rows(tenant_a.client)
    response = tenant_a.api.post(IMPORT, {"file": upload(text)}, format="multipart")
    assert response.status_code == 400, response.content
    assert [(r["row"], r["column"]) for r in response.json()["error"]["rows"]] == [(3, "ship_to_email")]
    assert order_rows(tenant_a.client) == before


def test_csv_import_written_in_chunks_is_still_all_or_nothing(tenant_a, monkeypatch):
    from orders import imports

    monkeypatch.setattr(imports, "WRITE_CHUNK", 2)
    make_item(tenant_a.client, "TEE")
    rows = "".join(f"CH-{i},Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,,,TEE,1,,,\n" for i in range(5))
    response = tenant_a.api.post(IMPORT, {"file": upload(HEADER + rows)}, format="multipart")
    assert response.status_code == 201 and response.json()["created"] == 5, response.content
    assert Order.objects.filter(client=tenant_a.client, channel=Channel.CSV).count() == 5

    # The fifth order (in the third chunk) is refused: the four before it are not kept either.
    bad = "".join(f"CK-{i},Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,,,TEE,1,,,\n" for i in range(4))
    bad += "CK-4,Ann Buyer,,1 Main St,,Hoboken,NJ,07030,US,,ann@,,TEE,1,,,\n"
    before = order_rows(tenant_a.client)
    response = tenant_a.api.post(IMPORT, {"file": upload(HEADER + bad)}, format="multipart")
    assert response.status_code == 400, response.content
    assert [(r["row"], r["column"]) for r in response.json()["error"]["rows"]] == [(6, "ship_to_email")]
    assert order_rows(tenant_a.client) == before


def test_the_kept_answer_serializer_gives_the_detail_of_any_order(
    tenant_a, django_capture_on_commit_callbacks
):
    """``fulfillment.api.serializers.represent`` (the one-pass answer of intake, nested lists
    planned too) is DRF's own ``OrderSerializer`` body, for an allocated order as for others."""
    from rest_framework.test import APIRequestFactory

    from accounts.actors import Actor
    from fulfillment.api.serializers import represent
    from orders import selectors
    from orders.api.serializers import OrderSerializer
    from tests.inventory.factories import make_node, stock

    node = make_node(tenant_a.warehouse)
    stock(tenant_a.client, node, make_item(tenant_a.client, "TEE"), 5)
    with django_capture_on_commit_callbacks(execute=True):
        created = tenant_a.api.post(ORDERS_URL, body("REP-1", ("TEE", 2), ("GHOST", 1)), format="json")
        tenant_a.api.post(ORDERS_URL, body("REP-2", ("TEE", 2)), format="json")
    assert created.status_code == 201, created.content
    request = APIRequestFactory().get("/")
    request.actor = Actor.for_api_key(tenant_a.key)
    kept = OrderSerializer(context={})
    for order in selectors.order_detail_prefetch(selectors.order_list(actor=request.actor)):
        context = {"request": request, "now": timezone.now()}
        kept._context = context
        assert represent(kept, order) == OrderSerializer(order, context=context).data
    assert {o.status for o in Order.objects.filter(client=tenant_a.client)} == {"allocated", "on_hold"}
