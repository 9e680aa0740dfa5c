"""The orders API: create, read, filter (late and at risk included), the actions, and query counts
that do not grow with the page size or the number of lines.

Brands use their bearer key (``tenant_a.api``); staff use the session (operator admin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.actors import Actor
from inventory.models import Balance
from orders import services
from orders.enums import HoldKind, OrderStatus
from orders.models import Allocation, Order, OrderEvent, OrderHold, OrderLine
from tests.inventory.factories import SYSTEM, make_item, make_node, stock

ORDERS = "/api/v1/orders/"
SHIP_TO = {
    "name": "Ann Buyer",
    "company": "Buyer & Co",
    "address1": "1 Main St",
    "address2": "Apt 2",
    "city": "Hoboken",
    "state": "NJ",
    "zip": "07030",
    "country": "US",
    "phone": "+1 201 555 0100",
    "email": "ann@example.test",
}
SERVICE_SHIP_TO = {f"ship_to_{k}": v for k, v in SHIP_TO.items()}


def fields_of(response) -> dict:
    return response.json()["error"]["fields"]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    return response.json()["results"]


def body(reference: str = "WEB-1001", *lines: tuple[str, int], **extra) -> dict:
    return {
        "external_reference": reference,
        "ship_to": dict(SHIP_TO),
        "lines": [{"sku": sku, "quantity": qty, "unit_price": "12.50"} for sku, qty in lines or [("TEE", 1)]],
        **extra,
    }


def make_order(client, reference: str, lines: list[tuple[str, int]], **extra) -> Order:
    return services.order_create(
        actor=SYSTEM,
        client=client,
        external_reference=reference,
        lines=[{"sku": sku, "quantity": qty} for sku, qty in lines],
        ship_to=SERVICE_SHIP_TO,
        **extra,
    )


def order_rows(client) -> tuple:
    return (
        Order.objects.filter(client=client).count(),
        OrderLine.objects.filter(client=client).count(),
        OrderHold.objects.filter(client=client).count(),
        OrderEvent.objects.filter(client=client).count(),
    )


@pytest.fixture
def node(tenant_a):
    return make_node(tenant_a.warehouse)


@pytest.fixture
def tee(tenant_a):
    return make_item(tenant_a.client, "TEE")


@pytest.fixture
def staff(operator_admin, session_api):
    return session_api(operator_admin)


# --- create and read -----------------------------------------------------------------------------


def test_brand_creates_an_order_that_is_allocated_and_shows_lines_allocations_and_timeline(
    tenant_a, node, tee, django_capture_on_commit_callbacks
):
    stock(tenant_a.client, node, tee, 5)
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.api.post(
            ORDERS,
            body(
                "WEB-1001", ("TEE", 2), gift_message="Happy birthday", tags=["vip"], service_level="two_day"
            ),
            format="json",
        )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["client"] == tenant_a.client.pk and created["channel"] == "api"
    assert created["ship_to"] == SHIP_TO
    assert created["service_level"] == "two_day" and created["tags"] == ["vip"]
    assert created["ship_by"] is not None

    detail = tenant_a.api.get(f"{ORDERS}{created['id']}/").json()
    assert detail["status"] == OrderStatus.ALLOCATED
    assert detail["warehouse"] == tenant_a.warehouse.pk
    assert [
        (line["sku"], line["item_sku"], line["quantity"], line["unit_price"]) for line in detail["lines"]
    ] == [("TEE", "TEE", 2, "12.5000")]
    assert [(a["sku"], a["location_code"], a["quantity"]) for a in detail["allocations"]] == [
        ("TEE", node.bins[0].code, 2)
    ]
    assert [e["to_status"] for e in detail["events"]] == ["received", "allocated"]
    assert detail["holds"] == []
    assert Balance.objects.get(item=tee, location=node.bins[0]).allocated == 2


def test_staff_name_the_client_and_a_brand_cannot(tenant_a, tenant_b, staff, tee):
    response = staff.post(ORDERS, body("STAFF-1"), format="json")
    assert response.status_code == 400 and "client" in fields_of(response)
    response = staff.post(ORDERS, body("STAFF-1", client=tenant_a.client.pk), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["client"] == tenant_a.client.pk
    # A brand's key always creates for its own client, whatever `client` says.
    response = tenant_b.api.post(ORDERS, body("B-1", client=tenant_b.client.pk), format="json")
    assert response.status_code == 201 and response.json()["client"] == tenant_b.client.pk


def test_duplicate_reference_is_a_409_carrying_the_existing_id(tenant_a, tee):
    first = tenant_a.api.post(ORDERS, body("DUP-1"), format="json")
    assert first.status_code == 201
    before = order_rows(tenant_a.client)
    again = tenant_a.api.post(ORDERS, body("DUP-1", ("OTHER", 3)), format="json")
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "duplicate_order"
    assert error["existing_id"] == first.json()["id"]
    assert order_rows(tenant_a.client) == before
    # The same reference in another channel is another order.
    assert tenant_a.api.post(ORDERS, body("DUP-1", channel="portal"), format="json").status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("external_reference"), "external_reference"),
        (lambda b: b["ship_to"].pop("zip"), "ship_to.zip"),
        (lambda b: b["ship_to"].update(name=""), "ship_to.name"),
        (lambda b: b["ship_to"].update(country="USA"), "ship_to.country"),
        (lambda b: b["ship_to"].update(email="not-an-email"), "ship_to.email"),
        (lambda b: b.update(lines=[]), "lines"),
        (lambda b: b["lines"][0].update(quantity=0), "lines.0.quantity"),
        (lambda b: b["lines"][0].update(sku=""), "lines.0.sku"),
        (lambda b: b["lines"][0].update(unit_price="-1"), "lines.0.unit_price"),
        (lambda b: b.update(service_level="teleport"), "service_level"),
        (lambda b: b.update(order_type="barter"), "order_type"),
        (lambda b: b.update(ship_window_start="2030-05-02", ship_window_end="2030-05-01"), "ship_window_end"),
    ],
)
def test_malformed_order_is_a_400_naming_the_field_and_writes_nothing(tenant_a, change, field):
    request = body("BAD-1")
    change(request)
    before = order_rows(tenant_a.client)
    response = tenant_a.api.post(ORDERS, request, format="json")
    assert response.status_code == 400, response.content
    assert field in fields_of(response), fields_of(response)
    assert order_rows(tenant_a.client) == before


def test_unknown_sku_is_accepted_on_an_exception_hold_naming_it(tenant_a, tee):
    response = tenant_a.api.post(ORDERS, body("UNK-1", ("TEE", 1), ("GHOST-9", 2)), format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == OrderStatus.ON_HOLD
    assert [(h["kind"], h["reason"]) for h in order["holds"]] == [
        (HoldKind.EXCEPTION, "Unknown SKU: GHOST-9")
    ]
    assert {line["sku"]: line["item_sku"] for line in order["lines"]} == {"TEE": "TEE", "GHOST-9": None}


@pytest.mark.parametrize(
    ("address", "reason"),
    [({"state": "ZZ"}, "“ZZ” is not a US state code"), ({"zip": "0703"}, "“0703” is not a US ZIP code")],
)
def test_bad_us_state_or_zip_puts_the_order_on_an_address_hold(tenant_a, tee, address, reason):
    request = body("ADDR-1")
    request["ship_to"].update(address)
    response = tenant_a.api.post(ORDERS, request, format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == OrderStatus.ON_HOLD
    assert [h["kind"] for h in order["holds"]] == [HoldKind.ADDRESS]
    assert reason in order["holds"][0]["reason"]
    assert order["ship_by"] is None


# --- list and filters ----------------------------------------------------------------------------


def test_list_filters(tenant_a, staff, tee, node, tenant_b):
    make_item(tenant_a.client, "MUG")
    now = timezone.now()
    a1 = make_order(tenant_a.client, "F-1", [("TEE", 1)])
    a2 = make_order(tenant_a.client, "F-2", [("MUG", 1)], service_level="overnight")
    a3 = make_order(tenant_a.client, "F-3", [("TEE", 1), ("MUG", 2)], channel="csv")
    a4 = make_order(tenant_a.client, "F-4", [("GHOST", 1)])  # on hold: unknown SKU
    b1 = make_order(tenant_b.client, "F-1", [("TEE", 1)])
    Order.objects.filter(pk=a1.pk).update(ship_by=now - timedelta(hours=1))  # late
    Order.objects.filter(pk=a2.pk).update(ship_by=now + timedelta(minutes=90))  # at risk
    Order.objects.filter(pk=a3.pk).update(
        ship_by=now + timedelta(days=2), received_at=now - timedelta(days=3), warehouse=tenant_a.warehouse
    )
    services.order_cancel(actor=SYSTEM, order=Order.objects.get(pk=a4.pk))
    Order.objects.filter(pk=a4.pk).update(ship_by=now - timedelta(hours=5))  # cancelled: never late

    def ids(query, api=tenant_a.api) -> set[int]:
        return {o["id"] for o in results(api.get(ORDERS, query))}

    assert ids({}) == {a1.pk, a2.pk, a3.pk, a4.pk}
    assert ids({"late": "true"}) == {a1.pk}
    assert ids({"late": "false"}) == {a2.pk, a3.pk, a4.pk}
    assert ids({"at_risk": "true"}) == {a2.pk}
    listed = {o["id"]: (o["late"], o["at_risk"]) for o in results(tenant_a.api.get(ORDERS))}
    assert listed[a1.pk] == (True, False) and listed[a2.pk] == (False, True)
    assert ids({"status": ["cancelled", "received"]}) == {a1.pk, a2.pk, a3.pk, a4.pk}
    assert ids({"status": "cancelled"}) == {a4.pk}
    assert ids({"channel": "csv"}) == {a3.pk}
    assert ids({"sku": "MUG"}) == {a2.pk, a3.pk}
    assert ids({"sku": "GHOST"}) == {a4.pk}
    assert ids({"external_reference": "F-2"}) == {a2.pk}
    assert ids({"warehouse": tenant_a.warehouse.pk}) == {a3.pk}
    assert ids({"received_before": (now - timedelta(days=1)).isoformat()}) == {a3.pk}
    assert ids({"received_after": (now - timedelta(days=1)).isoformat()}) == {a1.pk, a2.pk, a4.pk}
    assert ids(
        {"ship_by_after": now.isoformat(), "ship_by_before": (now + timedelta(hours=3)).isoformat()}
    ) == {a2.pk}
    assert ids({"order_type": "wholesale"}) == set()
    # Staff see every client and narrow to one; a brand never sees another's.
    assert ids({"external_reference": "F-1"}, staff) == {a1.pk, b1.pk}
    assert ids({"external_reference": "F-1", "client": tenant_b.client.pk}, staff) == {b1.pk}
    assert ids({"client": tenant_b.client.pk}) == set()
    assert tenant_a.api.get(f"{ORDERS}{b1.pk}/").status_code == 404
    bad = tenant_a.api.get(ORDERS, {"status": "lost"})
    assert bad.status_code == 400 and "status" in fields_of(bad)


# --- actions -------------------------------------------------------------------------------------


def test_cancel_releases_the_allocation_and_a_second_cancel_is_a_400_naming_status(
    tenant_a, node, tee, django_capture_on_commit_callbacks
):
    stock(tenant_a.client, node, tee, 3)
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(tenant_a.client, "C-1", [("TEE", 3)])
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ALLOCATED
    response = tenant_a.api.post(
        f"{ORDERS}{order.pk}/cancel/", {"reason": "customer changed mind"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == OrderStatus.CANCELLED
    assert response.json()["events"][-1]["reason"] == "customer changed mind"
    assert Balance.objects.get(item=tee, location=node.bins[0]).allocated == 0
    assert not Allocation.objects.filter(order=order, released_at__isnull=True).exists()
    again = tenant_a.api.post(f"{ORDERS}{order.pk}/cancel/", {}, format="json")
    assert again.status_code == 400 and "status" in fields_of(again)
    held = tenant_a.api.post(f"{ORDERS}{order.pk}/hold/", {"reason": "wait"}, format="json")
    assert held.status_code == 400 and "status" in fields_of(held)


def test_hold_and_release(tenant_a, staff, tee, django_capture_on_commit_callbacks):
    order = make_order(tenant_a.client, "H-1", [("TEE", 1)])
    url = f"{ORDERS}{order.pk}/"
    response = tenant_a.api.post(f"{url}hold/", {"kind": "client", "reason": "Check the size"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == OrderStatus.ON_HOLD
    # A brand may not place the operator's holds, nor release them.
    forbidden = tenant_a.api.post(f"{url}hold/", {"kind": "operator", "reason": "x"}, format="json")
    assert forbidden.status_code == 403
    assert (
        staff.post(f"{url}hold/", {"kind": "operator", "reason": "Fraud check"}, format="json").status_code
        == 200
    )
    assert tenant_a.api.post(f"{url}release/", {"kind": "operator"}, format="json").status_code == 403
    response = tenant_a.api.post(f"{url}release/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == OrderStatus.ON_HOLD  # the operator's hold is still open
    missing = tenant_a.api.post(f"{url}release/", {"kind": "client"}, format="json")
    assert missing.status_code == 400 and "kind" in fields_of(missing)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"{url}release/", {"kind": "operator"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == OrderStatus.RECEIVED  # released; routed once committed
    assert Order.objects.get(pk=order.pk).status == OrderStatus.BACKORDERED  # no stock
    no_reason = tenant_a.api.post(f"{url}hold/", {"kind": "client"}, format="json")
    assert no_reason.status_code == 400 and "reason" in fields_of(no_reason)


def test_update_address_fixes_an_address_hold(tenant_a, tee):
    request = body("ADDR-2")
    request["ship_to"]["zip"] = "999"
    order = tenant_a.api.post(ORDERS, request, format="json").json()
    assert order["status"] == OrderStatus.ON_HOLD
    url = f"{ORDERS}{order['id']}/update-address/"
    blank = tenant_a.api.post(url, {"city": ""}, format="json")
    assert blank.status_code == 400 and "city" in fields_of(blank)
    response = tenant_a.api.post(url, {"zip": "07030", "address2": ""}, format="json")
    assert response.status_code == 200, response.content
    fixed = response.json()
    assert fixed["status"] == OrderStatus.RECEIVED
    assert fixed["ship_to"]["zip"] == "07030" and fixed["ship_to"]["address2"] == ""
    assert fixed["holds"][0]["released_at"] is not None
    assert fixed["ship_by"] is not None


def test_update_lines_with_an_unknown_sku_holds_and_a_fix_releases(tenant_a, tee):
    order = make_order(tenant_a.client, "L-1", [("TEE", 1)])
    url = f"{ORDERS}{order.pk}/update-lines/"
    response = tenant_a.api.post(url, {"lines": [{"sku": "NOPE", "quantity": 2}]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == OrderStatus.ON_HOLD
    assert "NOPE" in response.json()["holds"][-1]["reason"]
    response = tenant_a.api.post(url, {"lines": [{"sku": "TEE", "quantity": 4}]}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == OrderStatus.RECEIVED
    assert [(line["sku"], line["quantity"]) for line in response.json()["lines"]] == [("TEE", 4)]
    bad = tenant_a.api.post(url, {"lines": [{"sku": "TEE", "quantity": -1}]}, format="json")
    assert bad.status_code == 400 and "lines.0.quantity" in fields_of(bad)


def test_only_staff_reallocate(tenant_a, staff, node, tee, session_api, django_capture_on_commit_callbacks):
    order = make_order(tenant_a.client, "R-1", [("TEE", 2)])
    url = f"{ORDERS}{order.pk}/reallocate/"
    assert tenant_a.api.post(url, format="json").status_code == 403
    assert session_api(tenant_a.admin).post(url, format="json").status_code == 403
    stock(tenant_a.client, node, tee, 2)
    response = staff.post(url, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == OrderStatus.ALLOCATED


def test_read_only_key_reads_but_cannot_act(tenant_a, tee):
    from tests.conftest import bearer

    order = make_order(tenant_a.client, "RO-1", [("TEE", 1)])
    ro = bearer(tenant_a.ro_secret)
    assert ro.get(f"{ORDERS}{order.pk}/").status_code == 200
    assert ro.post(f"{ORDERS}{order.pk}/cancel/", {}, format="json").status_code == 403
    assert ro.post(ORDERS, body("RO-2"), format="json").status_code == 403


# --- query counts --------------------------------------------------------------------------------


def _queries(api, url, query=None) -> int:
    api.get(url, query or {})  # warm up: the first request of a key also records its use
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url, query or {})
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def test_order_list_query_count_does_not_grow_with_the_page_size(tenant_a, tee, node):
    for i in range(24):
        order = make_order(tenant_a.client, f"Q-{i}", [("TEE", 1), ("GHOST", 1)])
        if i % 3 == 0:
            Order.objects.filter(pk=order.pk).update(warehouse=tenant_a.warehouse)
    small = _queries(tenant_a.api, ORDERS, {"page_size": 2})
    large = _queries(tenant_a.api, ORDERS, {"page_size": 24})
    assert small == large, (small, large)
    assert large <= 6


def test_order_detail_query_count_does_not_grow_with_the_lines(
    tenant_a, node, django_capture_on_commit_callbacks
):
    items = [make_item(tenant_a.client, f"D-{i}") for i in range(10)]
    for item in items:
        stock(tenant_a.client, node, item, 2)
    with django_capture_on_commit_callbacks(execute=True):
        one = make_order(tenant_a.client, "D-ONE", [(items[0].sku, 1)])
        ten = make_order(tenant_a.client, "D-TEN", [(i.sku, 1) for i in items])
    assert Order.objects.get(pk=ten.pk).status == OrderStatus.ALLOCATED
    assert len(ten.lines.all()) == 10
    assert _queries(tenant_a.api, f"{ORDERS}{one.pk}/") == _queries(tenant_a.api, f"{ORDERS}{ten.pk}/")


def test_actor_for_system_places_holds_that_brands_see(tenant_a):
    """An operator hold placed by the system shows on the brand's detail with its label."""
    order = make_order(tenant_a.client, "S-1", [("GHOST", 1)])
    services.order_hold(
        actor=Actor.system("fraud check"), order=order, kind=HoldKind.OPERATOR, reason="Review"
    )
    holds = tenant_a.api.get(f"{ORDERS}{order.pk}/").json()["holds"]
    assert [(h["kind"], h["actor_label"]) for h in holds][-1] == (HoldKind.OPERATOR, "system: fraud check")
