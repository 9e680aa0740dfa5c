from inventory.models import Balance
from orders import allocation, services
from orders.enums import OrderStatus
from orders.models import Allocation
from tests.inventory.factories import SYSTEM, make_item, make_node, stock

SHIP_TO = {
    "ship_to_name": "Ann Buyer",
    "ship_to_address1": "1 Main St",
    "ship_to_city": "Hoboken",
    "ship_to_state": "NJ",
    "ship_to_zip": "07030",
}


def test_an_order_is_allocated_and_a_short_one_backordered(tenant_a, django_capture_on_commit_callbacks):
    node = make_node(tenant_a.warehouse)
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_create(
            actor=SYSTEM,
            client=tenant_a.client,
            external_reference="A-1",
            lines=[{"sku": item.sku, "quantity": 3}],
            ship_to=SHIP_TO,
        )
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and order.warehouse == tenant_a.warehouse
    assert Balance.objects.get(item=item, location=node.bins[0]).allocated == 3
    short = services.order_create(
        actor=SYSTEM,
        client=tenant_a.client,
        external_reference="A-2",
        lines=[{"sku": item.sku, "quantity": 3}],
        ship_to=SHIP_TO,
    )
    assert allocation.allocate(actor=SYSTEM, order=short) == OrderStatus.BACKORDERED
    services.order_cancel(actor=SYSTEM, order=order)
    assert Balance.objects.get(item=item, location=node.bins[0]).allocated == 0
    assert not Allocation.objects.filter(released_at__isnull=True).exists()
    assert allocation.allocate(actor=SYSTEM, order=short) == OrderStatus.ALLOCATED
