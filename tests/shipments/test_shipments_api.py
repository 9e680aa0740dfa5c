"""The shipments and manifests API: actions, filters, downloads, tenancy and query counts."""

from __future__ import annotations

import pytest

from accounts.enums import Role
from shipments.enums import ShipmentStatus
from shipments.models import Shipment
from shipments.services.shipping import buy_label, ship_out
from tests.accounts.factories import UserFactory
from tests.conftest import bearer
from tests.inventory.factories import make_item, make_node, stock
from tests.orders.factories import SHIP_TO_NJ, make_order
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tenant_a, tenant_b, operator_admin, session_api):
    make_carriers()
    node = make_node(tenant_a.warehouse)
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 50)

    def packed(**header):
        order = make_order(tenant_a.client, [(item, 1)], ship_to=SHIP_TO_NJ, **header)
        return packed_shipment(order, node)

    staff = session_api(operator_admin)
    return {"a": tenant_a, "b": tenant_b, "staff": staff, "packed": packed, "node": node}


def test_staff_buy_ship_and_track_through_the_api(setup):
    staff, shipment = setup["staff"], setup["packed"]()
    response = staff.post(f"/api/v1/shipments/{shipment.pk}/buy-label/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "label_created" and body["tracking_number"]
    assert len(body["quotes"]) == 3 and sum(q["chosen"] for q in body["quotes"]) == 1
    assert body["packages"][0]["contents"][0]["quantity"] == 1
    again = staff.post(f"/api/v1/shipments/{shipment.pk}/buy-label/")
    assert again.status_code == 400 and "status" in again.json()["error"]["fields"]

    label = staff.get(f"/api/v1/shipments/{shipment.pk}/label/?format=pdf")
    assert label.status_code == 200 and label["Content-Type"] == "application/pdf"
    assert b"".join(label.streaming_content if label.streaming else [label.content])[:4] == b"%PDF"
    zpl = staff.get(f"/api/v1/shipments/{shipment.pk}/label/?format=zpl")
    assert zpl.status_code == 200 and b"^XA" in zpl.content
    assert staff.get(f"/api/v1/shipments/{shipment.pk}/label/?format=gif").status_code == 400

    shipped = staff.post(f"/api/v1/shipments/{shipment.pk}/ship/")
    assert shipped.status_code == 200 and shipped.json()["status"] == "in_transit"

    event = {"status": "delivered", "occurred_at": "2099-01-05T15:00:00Z", "external_id": "d-1"}
    created = staff.post(f"/api/v1/shipments/{shipment.pk}/events/", event, format="json")
    assert created.status_code == 201, created.content
    replay = staff.post(f"/api/v1/shipments/{shipment.pk}/events/", event, format="json")
    assert replay.status_code == 200 and replay.json()["id"] == created.json()["id"]
    timeline = staff.get(f"/api/v1/shipments/{shipment.pk}/events/").json()
    assert [e["status"] for e in timeline] == ["label_created", "in_transit", "delivered"]
    bad = staff.post(f"/api/v1/shipments/{shipment.pk}/events/", {"status": "nope"}, format="json")
    assert bad.status_code == 400 and {"status", "occurred_at"} <= set(bad.json()["error"]["fields"])


def test_void_through_the_api(setup):
    staff, shipment = setup["staff"], setup["packed"]()
    staff.post(f"/api/v1/shipments/{shipment.pk}/buy-label/")
    response = staff.post(f"/api/v1/shipments/{shipment.pk}/void/", {"reason": "re-box"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "packing"
    assert response.json()["voided_labels"][0]["reason"] == "re-box"


def test_a_client_sees_its_own_shipments_and_never_anothers(setup):
    a, b, shipment = setup["a"], setup["b"], setup["packed"]()
    buy_label(actor=SYSTEM, shipment=shipment)
    assert a.api.get(f"/api/v1/shipments/{shipment.pk}/").status_code == 200
    assert a.api.get(f"/api/v1/shipments/{shipment.pk}/slip/").status_code == 200
    assert b.api.get(f"/api/v1/shipments/{shipment.pk}/").status_code == 404
    assert b.api.get(f"/api/v1/shipments/{shipment.pk}/label/").status_code == 404
    assert b.api.get("/api/v1/shipments/").json()["count"] == 0
    # Brands read; they do not buy labels, ship or record tracking.
    assert a.api.post(f"/api/v1/shipments/{shipment.pk}/ship/").status_code == 403
    event = {"status": "in_transit", "occurred_at": "2099-01-05T15:00:00Z"}
    assert a.api.post(f"/api/v1/shipments/{shipment.pk}/events/", event, format="json").status_code == 403
    assert a.api.get("/api/v1/manifests/").status_code == 403


def test_filters(setup):
    staff, packed = setup["staff"], setup["packed"]
    ups = buy_label(actor=SYSTEM, shipment=packed(carrier_service="ups:ground"))
    usps = buy_label(actor=SYSTEM, shipment=packed())
    ship_out(actor=SYSTEM, shipment=usps)
    waiting = packed()

    def ids(query):
        response = staff.get(f"/api/v1/shipments/?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("carrier=ups") == {ups.pk}
    assert ids("service=priority") == {usps.pk}
    assert ids("status=packing") == {waiting.pk}
    assert ids("status=in_transit&status=label_created") == {ups.pk, usps.pk}
    assert ids(f"tracking_number={ups.tracking_number}") == {ups.pk}
    assert ids(f"warehouse={setup['node'].warehouse.code}") == {ups.pk, usps.pk, waiting.pk}
    assert ids("shipped_after=2000-01-01T00:00:00Z") == {usps.pk}
    assert ids(f"order={waiting.order_id}") == {waiting.pk}
    assert ids("exception=true") == set()
    assert ids("late=true") == set() and ids("stalled=true") == set()
    Shipment.objects.filter(pk=usps.pk).update(estimated_delivery_date="2000-01-03")
    assert ids("late=true") == {usps.pk}


@pytest.mark.parametrize("size", [2, 8])
def test_list_query_count_does_not_grow_with_page_size(setup, size, django_assert_max_num_queries):
    staff, packed = setup["staff"], setup["packed"]
    for _ in range(8):
        buy_label(actor=SYSTEM, shipment=packed())
    with django_assert_max_num_queries(14):
        response = staff.get(f"/api/v1/shipments/?page_size={size}")
    assert response.status_code == 200 and len(response.json()["results"]) == size
    shipment = Shipment.objects.first()
    with django_assert_max_num_queries(16):
        assert staff.get(f"/api/v1/shipments/{shipment.pk}/").status_code == 200


def test_manifests_api_closes_and_lists(setup, django_assert_max_num_queries):
    staff, packed, node = setup["staff"], setup["packed"], setup["node"]
    for _ in range(2):
        buy_label(actor=SYSTEM, shipment=packed(carrier_service="ups:ground"))
    created = staff.post(
        "/api/v1/manifests/", {"warehouse": node.warehouse.code, "carrier": "ups"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["shipment_count"] == 2
    empty = staff.post(
        "/api/v1/manifests/", {"warehouse": node.warehouse.code, "carrier": "ups"}, format="json"
    )
    assert empty.status_code == 400 and "carrier" in empty.json()["error"]["fields"]
    with django_assert_max_num_queries(8):
        listed = staff.get("/api/v1/manifests/")
    assert listed.json()["count"] == 1


def test_a_warehouse_operator_closes_manifests_only_at_their_nodes(setup, session_api):
    operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    api = session_api(operator)
    node = setup["node"]
    response = api.post(
        "/api/v1/manifests/", {"warehouse": node.warehouse.code, "carrier": "ups"}, format="json"
    )
    # Another node answers like a missing one.
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"warehouse": ["No such node."]}


def test_bearer_of_another_tenant_cannot_post_events(setup):
    shipment = setup["packed"]()
    buy_label(actor=SYSTEM, shipment=shipment)
    b = bearer(setup["b"].secret)
    event = {"status": "in_transit", "occurred_at": "2099-01-05T15:00:00Z"}
    assert b.post(f"/api/v1/shipments/{shipment.pk}/events/", event, format="json").status_code in (403, 404)
    assert shipment.tracking_events.count() == 1
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.LABEL_CREATED
