"""Floor test data, made through the wave, pick and pack services (so the ledger, the reservations
and the statuses are exactly what the floor leaves behind), and the stock consistency check."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django_scopes import scope

from accounts.actors import Actor
from accounts.models import Warehouse
from inventory.selectors import ledger_differences
from orders import allocation
from orders.enums import OrderStatus
from orders.models import Order
from shipments.demo_carriers import box_type
from shipments.enums import PickStatus
from shipments.models import BoxType, PickTask, Shipment, Wave
from shipments.services import packing, picking, waves
from tests.inventory.factories import Node

SYSTEM = Actor.system("tests")


def make_boxes(warehouse: Warehouse) -> dict[str, BoxType]:
    """A small mailer, a medium and a large carton at ``warehouse`` (inner inches, lb)."""
    specs = {
        "S": ("Small mailer", "8", "6", "4", "10", "0.2"),
        "M": ("Medium carton", "12", "10", "8", "30", "0.6"),
        "L": ("Large carton", "20", "16", "14", "50", "1.2"),
    }
    boxes = BoxType.objects.bulk_create([box_type(warehouse, code, *spec) for code, spec in specs.items()])
    return {box.code: box for box in boxes}


def _node_warehouse(node: Node | Warehouse) -> Warehouse:
    return node.warehouse if isinstance(node, Node) else node


def pick_all(wave: Wave, *, actor: Actor = SYSTEM) -> None:
    """Confirm every open pick of a released wave with the right scans (new picks that a short
    added are picked too)."""
    while True:
        with scope(client=None):
            pick = (
                PickTask.objects.filter(wave=wave, status=PickStatus.OPEN)
                .select_related("location", "item")
                .order_by("sequence", "pk")
                .first()
            )
        if pick is None:
            return
        picking.pick_confirm(
            actor=actor,
            pick=pick,
            location=pick.location.code,
            item=pick.item.sku,
            quantity=pick.quantity - pick.picked_quantity,
        )


def wave_and_pick(
    order_or_orders: Order | Iterable[Order], node: Node | Warehouse, *, actor: Actor = SYSTEM
) -> Wave:
    """A wave of exactly these orders at ``node``, released and fully picked into staging."""
    orders = [order_or_orders] if isinstance(order_or_orders, Order) else list(order_or_orders)
    wave = waves.wave_create(actor=actor, warehouse=_node_warehouse(node), order_ids=[o.pk for o in orders])
    waves.wave_release(actor=actor, wave=wave)
    pick_all(wave, actor=actor)
    wave.refresh_from_db()
    return wave


def pack_order(
    order: Order,
    node: Node | Warehouse,
    *,
    box: BoxType | None = None,
    weight: str = "2.5",
    actor: Actor = SYSTEM,
) -> Shipment:
    """Pack what was picked for ``order`` at ``node`` into one package (``box``, else the box the
    station proposes, else 12x10x8 custom dims) and complete packing: a PACKING shipment with
    ``packed_at`` set, ready for its label (allocates and picks the order first when that is still to do)."""
    warehouse = _node_warehouse(node)
    order.refresh_from_db()
    if order.status in (OrderStatus.RECEIVED, OrderStatus.BACKORDERED):
        allocation.allocate(actor=actor, order=order)
    if not packing.staged_allocations(order.pk, warehouse.pk).exists() or packing.ready_to_pack(
        order.pk, warehouse.pk
    ):
        wave_and_pick(order, node, actor=actor)
    shipment = packing.pack_start(actor=actor, order=order, warehouse=warehouse)
    with scope(client=order.client_id):
        units = packing.shipment_units(shipment)
    for unit in units:
        if unit.left:
            packing.pack_scan(actor=actor, shipment=shipment, code=unit.item.sku, quantity=unit.left)
    with scope(client=order.client_id):
        package = shipment.packages.get(closed_at__isnull=True)
        if box is None:
            from shipments.selectors import pack_proposal

            proposal = pack_proposal(shipment)
            box = proposal.first.box if proposal.first else None
    dims = {} if box else {"length_in": "12", "width_in": "10", "height_in": "8"}
    packing.package_close(actor=actor, package=package, box_type=box, weight_lb=weight, **dims)
    shipment = packing.pack_complete(actor=actor, shipment=shipment)
    shipment.refresh_from_db()
    return shipment


def assert_stock_consistent() -> None:
    """The ledger audit is clean and every balance's ``allocated`` equals the sum of its active
    reservations (one query each, over the whole database)."""
    assert ledger_differences() == []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT b.id, b.allocated, COALESCE(a.total, 0)
            FROM inventory_balance b
            LEFT JOIN (SELECT balance_id, SUM(quantity) AS total FROM orders_allocation
                       WHERE released_at IS NULL GROUP BY balance_id) a ON a.balance_id = b.id
            WHERE b.allocated <> COALESCE(a.total, 0)
            ORDER BY b.id
            """
        )
        assert cursor.fetchall() == []
