"""The floor API: waves, picks by scan, pack sessions and packages; who sees what; constant query
counts at two page sizes."""

from __future__ import annotations

import pytest

from accounts.enums import Role
from orders import allocation
from shipments.models import PickTask
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world
from tests.shipments.factories import SYSTEM, make_boxes, pack_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = make_world(regions=("nj",))
    w.item = make_item(
        w.client, "API-1", barcode="333333333333", weight_lb=1, length_in=4, width_in=4, height_in=2
    )
    stock(w.client, w.nj, w.item, 200)
    make_boxes(w.nj.warehouse)
    w.operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    w.operator.warehouses.add(w.nj.warehouse)
    return w


def allocated(world, n=1):
    orders = []
    for _ in range(n):
        order = make_order(world.client, [(world.item, 1)])
        allocation.allocate(actor=SYSTEM, order=order)
        orders.append(order)
    return orders


def test_wave_pick_and_pack_through_the_api(world, session_api):
    api = session_api(world.operator)
    (order,) = allocated(world)
    r = api.post("/api/v1/waves/", {"warehouse": world.nj.warehouse.pk}, format="json")
    assert r.status_code == 201, r.content
    wave = r.json()
    assert wave["status"] == "planned" and wave["progress"]["picks_total"] == 1
    assert api.post(f"/api/v1/waves/{wave['id']}/release/").json()["status"] == "released"
    r = api.post("/api/v1/waves/", {"warehouse": world.nj.warehouse.pk}, format="json")
    assert r.status_code == 400  # nothing left to wave
    pick = api.get("/api/v1/picks/", {"wave": wave["id"]}).json()["results"][0]
    r = api.post(
        f"/api/v1/picks/{pick['id']}/confirm/",
        {"location": pick["location_code"], "item": "NOPE"},
        format="json",
    )
    assert r.status_code == 400 and "item" in r.json()["error"]["fields"]
    r = api.post(
        f"/api/v1/picks/{pick['id']}/confirm/", {"location": "X-1", "item": "333333333333"}, format="json"
    )
    assert r.status_code == 400 and "location" in r.json()["error"]["fields"]
    r = api.post(
        f"/api/v1/picks/{pick['id']}/confirm/",
        {"location": pick["location_code"], "item": "333333333333"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pick-1",
    )
    assert r.status_code == 200 and r.json()["status"] == "picked"
    again = api.post(
        f"/api/v1/picks/{pick['id']}/confirm/",
        {"location": pick["location_code"], "item": "333333333333"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pick-1",
    )
    assert again.status_code == 200 and again.json() == r.json()  # replayed, not picked twice
    r = api.post(
        "/api/v1/pack-sessions/", {"order": order.pk, "warehouse": world.nj.warehouse.pk}, format="json"
    )
    assert r.status_code == 201, r.content
    session = r.json()
    assert session["units"][0]["picked"] == 1 and session["proposal"][0]["box_code"] == "S"
    sid = session["id"]
    r = api.post(f"/api/v1/pack-sessions/{sid}/scan/", {"code": "API-2"}, format="json")
    assert r.status_code == 400 and "code" in r.json()["error"]["fields"]
    assert (
        api.post(f"/api/v1/pack-sessions/{sid}/scan/", {"code": "333333333333"}, format="json").status_code
        == 200
    )
    r = api.post(f"/api/v1/pack-sessions/{sid}/complete/")
    assert r.status_code == 400 and "packages" in r.json()["error"]["fields"]
    box = session["proposal"][0]["box_type"]
    r = api.post(
        f"/api/v1/pack-sessions/{sid}/close-package/", {"box_type": box, "weight_lb": "1.4"}, format="json"
    )
    assert r.status_code == 200 and r.json()["packages"][0]["billable_weight_lb"] == "2.000"
    r = api.post(f"/api/v1/pack-sessions/{sid}/complete/")
    assert r.status_code == 200 and r.json()["packed_at"]
    packages = api.get("/api/v1/packages/", {"order": order.pk}).json()["results"]
    assert [p["lines"][0]["sku"] for p in packages] == ["API-1"]


def test_clients_see_their_packages_but_not_waves(world, tenant_a):
    (order,) = allocated(world)
    pack_order(order, world.nj)
    from tests.accounts.factories import make_api_key
    from tests.conftest import bearer

    _key, secret = make_api_key(client=world.client, name="brand key")
    api = bearer(secret)
    assert api.get("/api/v1/waves/").status_code == 403
    assert api.get("/api/v1/picks/").status_code == 403
    assert len(api.get("/api/v1/packages/").json()["results"]) == 1
    assert tenant_a.api.get("/api/v1/packages/").json()["results"] == []


def test_an_operator_of_another_node_sees_no_wave(world, session_api):
    allocated(world)
    pack_order(allocated(world)[0], world.nj)
    elsewhere = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    api = session_api(elsewhere)
    assert api.get("/api/v1/waves/").json()["results"] == []
    r = api.post("/api/v1/waves/", {"warehouse": world.nj.warehouse.pk}, format="json")
    assert r.status_code == 400 and "warehouse" in r.json()["error"]["fields"]


@pytest.mark.parametrize(
    "path", ["/api/v1/waves/", "/api/v1/picks/", "/api/v1/pack-sessions/", "/api/v1/packages/"]
)
def test_list_query_counts_do_not_grow_with_the_page(world, session_api, django_assert_max_num_queries, path):
    admin = UserFactory(role=Role.OPERATOR_ADMIN, client=None)
    api = session_api(admin)
    for _ in range(5):
        (order,) = allocated(world)
        pack_order(order, world.nj)
    for order in allocated(world, 3):  # picked, being packed
        from shipments.services import packing
        from tests.shipments.factories import wave_and_pick

        wave_and_pick(order, world.nj)
        session = packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse)
        packing.pack_scan(actor=SYSTEM, shipment=session, code="API-1")
    counts = []
    for size in (2, 8):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            r = api.get(path, {"page_size": size})
        assert r.status_code == 200 and len(r.json()["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(counts[1]):
        api.get(path, {"page_size": 8})
    assert PickTask.objects.count() >= 8
