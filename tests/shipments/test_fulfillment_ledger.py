"""The ledger stays clean through waves of picks, shorts, packing and shipping, a split order
picked at two nodes included: every balance equals its moves and its ``allocated`` equals its
active reservations."""

from __future__ import annotations

import random

import pytest

from inventory.enums import MoveReason
from inventory.models import Balance, Move
from orders import allocation
from orders.enums import OrderStatus
from orders.models import Allocation
from shipments.enums import PickStatus
from shipments.models import PickTask
from shipments.services import picking, waves
from shipments.services.shipping import buy_label, ship_out
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, SHIP_TO_TX, make_order, make_world
from tests.shipments.factories import SYSTEM, assert_stock_consistent, make_boxes, pack_order, pick_all
from tests.shipments.shipping_support import make_carriers

pytestmark = pytest.mark.django_db


def test_waves_of_picks_with_shorts_and_a_split_order_leave_the_ledger_clean():
    rng = random.Random(5)
    world = make_world(regions=("nj", "tx"), allow_split_shipments=True)
    items = [
        make_item(world.client, f"L-{i}", weight_lb=1, length_in=4, width_in=4, height_in=4) for i in range(4)
    ]
    for node in (world.nj, world.tx):
        make_boxes(node.warehouse)
        for i, item in enumerate(items):
            stock(world.client, node, item, 12, location=node.bins[i])
            stock(world.client, node, item, 6, location=node.reserve[i % 2])
    make_carriers()
    orders = []
    for _ in range(8):
        lines = [(item, rng.randint(1, 3)) for item in rng.sample(items, 2)]
        order = make_order(world.client, lines, ship_to=rng.choice([SHIP_TO_NJ, SHIP_TO_TX]))
        allocation.allocate(actor=SYSTEM, order=order)
        orders.append(order)
    # a split order: more of L-0 than either node holds free
    split = make_order(world.client, [(items[3], 20)], ship_to=SHIP_TO_NJ)
    allocation.allocate(actor=SYSTEM, order=split)
    split.refresh_from_db()
    assert split.status == OrderStatus.ALLOCATED
    assert set(Allocation.objects.filter(order=split).values_list("warehouse_id", flat=True)) == {
        world.nj.warehouse.pk,
        world.tx.warehouse.pk,
    }
    assert_stock_consistent()

    for node in (world.nj, world.tx):
        wave = waves.wave_create(actor=SYSTEM, warehouse=node.warehouse)
        waves.wave_release(actor=SYSTEM, wave=wave)
        shorted = 0
        for pick in PickTask.objects.filter(wave=wave).order_by("sequence"):
            pick.refresh_from_db()
            if pick.status != PickStatus.OPEN:
                continue
            if shorted < 2 and pick.quantity > 1:
                picking.pick_short(actor=SYSTEM, pick=pick, found=pick.quantity - 1)
                shorted += 1
            else:
                picking.pick_confirm(
                    actor=SYSTEM,
                    pick=pick,
                    location=pick.location.code,
                    item=pick.item.sku,
                    quantity=pick.quantity,
                )
            assert_stock_consistent()
        pick_all(wave)
        assert_stock_consistent()

    # parts re-allocated to the other node by a short are picked in a later wave there
    for node in (world.nj, world.tx):
        if waves.wave_candidates(actor=SYSTEM, warehouse=node.warehouse).exists():
            wave = waves.wave_create(actor=SYSTEM, warehouse=node.warehouse)
            waves.wave_release(actor=SYSTEM, wave=wave)
            pick_all(wave)
    assert_stock_consistent()
    assert (
        not Allocation.objects.filter(released_at__isnull=True, location__type__in=["pick", "reserve"])
        .filter(order__status=OrderStatus.PICKING)
        .exists()
    )

    # pack, label and ship every part; the split order leaves from both nodes
    for order in [*orders, split]:
        order.refresh_from_db()
        nodes = set(
            Allocation.objects.filter(order=order, released_at__isnull=True).values_list(
                "warehouse_id", flat=True
            )
        )
        for node in (world.nj, world.tx):
            if node.warehouse.pk in nodes:
                shipment = pack_order(order, node)
                ship_out(actor=SYSTEM, shipment=buy_label(actor=SYSTEM, shipment=shipment))
                assert_stock_consistent()
        order.refresh_from_db()
        assert order.status == OrderStatus.SHIPPED, (order.number, order.status)
    split.refresh_from_db()
    assert split.shipments.count() == 2
    shipped = Move.objects.filter(reason=MoveReason.SHIP, document_type="shipment")
    ordered = sum(line.quantity for o in [*orders, split] for line in o.lines.all())
    assert -sum(shipped.values_list("quantity", flat=True)) == ordered
    split_docs = [str(pk) for pk in split.shipments.values_list("pk", flat=True)]
    assert -sum(shipped.filter(document_id__in=split_docs).values_list("quantity", flat=True)) == 20
    assert not Balance.objects.filter(location__type="staging", on_hand__gt=0).exists()
    assert_stock_consistent()
