"""A backordered order shows the open ASNs that will fill it; ASNs order by the orders waiting on them."""

from orders import allocation
from orders.enums import OrderStatus
from tests.inventory.factories import SYSTEM, make_asn, make_item, make_node
from tests.orders.factories import make_order


def test_backordered_order_lists_the_asns_bringing_its_items(tenant_a, session_api):
    node = make_node(tenant_a.warehouse)
    tee, mug, other = (make_item(tenant_a.client) for _ in range(3))
    order = make_order(tenant_a.client, [(tee, 2)])
    assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.BACKORDERED
    bringing = make_asn(tenant_a.client, node.warehouse, [(tee, 10), (mug, 1)], eta="2026-12-01")
    make_asn(tenant_a.client, node.warehouse, [(other, 10)])  # brings nothing the order needs
    body = tenant_a.api.get(f"/api/v1/orders/{order.pk}/").json()
    assert [a["id"] for a in body["incoming_asns"]] == [bringing.pk]
    page = session_api(tenant_a.admin).get(f"/portal/orders/{order.pk}/").content.decode()
    assert bringing.number in page


def test_asns_can_be_ordered_by_the_orders_waiting_on_them(tenant_a):
    node = make_node(tenant_a.warehouse)
    tee, mug = make_item(tenant_a.client), make_item(tenant_a.client)
    for quantity in (1, 2, 3):
        order = make_order(tenant_a.client, [(tee, quantity)])
        allocation.allocate(actor=SYSTEM, order=order)
    order = make_order(tenant_a.client, [(mug, 1)])
    allocation.allocate(actor=SYSTEM, order=order)
    mug_asn = make_asn(tenant_a.client, node.warehouse, [(mug, 5)])
    tee_asn = make_asn(tenant_a.client, node.warehouse, [(tee, 5)])
    rows = tenant_a.api.get("/api/v1/asns/?ordering=-waiting_orders").json()["results"]
    assert [(r["id"], r["waiting_orders"]) for r in rows] == [(tee_asn.pk, 3), (mug_asn.pk, 1)]


def test_the_portal_asn_list_sorts_by_orders_waiting(tenant_a, session_api):
    node = make_node(tenant_a.warehouse)
    tee, mug = make_item(tenant_a.client), make_item(tenant_a.client)
    for item in (tee, tee, mug):
        allocation.allocate(actor=SYSTEM, order=make_order(tenant_a.client, [(item, 1)]))
    tee_asn = make_asn(tenant_a.client, node.warehouse, [(tee, 5)])  # older, two orders waiting
    mug_asn = make_asn(tenant_a.client, node.warehouse, [(mug, 5)])  # newer, one order waiting
    api = session_api(tenant_a.admin)
    newest_first = api.get("/portal/asns/").content.decode()
    assert newest_first.index(mug_asn.number) < newest_first.index(tee_asn.number)
    most_waiting = api.get("/portal/asns/?sort=waiting").content.decode()
    assert most_waiting.index(tee_asn.number) < most_waiting.index(mug_asn.number)
