"""Routing and allocation: the nearest node that fills the whole order, splits, backorders, FEFO,
FIFO and the pick path, sellable bins only, kits, automatic backorder allocation when stock
arrives, and the releases and re-allocations that cancelling, editing and holding cause."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from inventory import services as inventory
from inventory.models import Balance
from orders import allocation, services
from orders.enums import HoldKind, OrderStatus
from orders.models import Allocation, Order
from tests.inventory.factories import SYSTEM, make_asn, make_item, stock
from tests.orders.factories import SHIP_TO_CA, SHIP_TO_IL, SHIP_TO_NJ, SHIP_TO_TX, make_order, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def allocate(order: Order) -> Order:
    allocation.allocate(actor=SYSTEM, order=order)
    order.refresh_from_db()
    return order


def active(order: Order):
    return Allocation.objects.filter(order=order, released_at__isnull=True)


def allocated_by_node(order: Order) -> dict[str, dict[str, int]]:
    """{node code: {sku: units}} of the order's active allocations."""
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for a in active(order).select_related("warehouse", "item"):
        result[a.warehouse.code][a.item.sku] = result[a.warehouse.code].get(a.item.sku, 0) + a.quantity
    return dict(result)


def allocated_units(item) -> int:
    return Balance.objects.filter(item=item).aggregate(n=Sum("allocated"))["n"] or 0


def adjust_in(world, node, item, quantity, location=None, **lot):
    return inventory.stock_adjust(
        actor=SYSTEM,
        client=world.client,
        item=item,
        location=location or node.bins[0],
        quantity=quantity,
        code="found",
        note="test stock",
        **lot,
    )


# --- which node ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "region"),
    [(SHIP_TO_NJ, "nj"), (SHIP_TO_TX, "tx"), (SHIP_TO_CA, "ca"), (SHIP_TO_IL, "nj")],
)
def test_the_nearest_node_that_can_fill_the_order_wins(world, destination, region):
    item = make_item(world.client)
    for node in world.nodes:
        stock(world.client, node, item, 5)
    order = allocate(make_order(world.client, [(item, 2)], ship_to=destination))
    node = getattr(world, region)
    assert order.status == OrderStatus.ALLOCATED
    assert order.warehouse == node.warehouse
    assert allocated_by_node(order) == {node.warehouse.code: {item.sku: 2}}


def test_a_farther_node_that_fills_every_line_beats_a_nearer_partial_one(world):
    a, b = make_item(world.client), make_item(world.client)
    stock(world.client, world.nj, a, 10)  # nearest to New Jersey, but has no B
    stock(world.client, world.tx, a, 10)
    stock(world.client, world.tx, b, 10)
    order = allocate(make_order(world.client, [(a, 3), (b, 1)], ship_to=SHIP_TO_NJ))
    assert order.warehouse == world.tx.warehouse
    assert allocated_by_node(order) == {world.tx.warehouse.code: {a.sku: 3, b.sku: 1}}


def test_a_nearer_node_with_too_few_units_loses_to_one_with_enough(world):
    a = make_item(world.client)
    stock(world.client, world.nj, a, 2)
    stock(world.client, world.ca, a, 5)
    order = allocate(make_order(world.client, [(a, 3)], ship_to=SHIP_TO_NJ))
    assert allocated_by_node(order) == {world.ca.warehouse.code: {a.sku: 3}}


def test_no_single_node_splits_when_the_client_allows_it(world):
    world.client.allow_split_shipments = True
    world.client.save()
    a, b = make_item(world.client), make_item(world.client)
    stock(world.client, world.nj, a, 4)
    stock(world.client, world.ca, b, 4)
    stock(world.client, world.tx, a, 1)
    order = allocate(make_order(world.client, [(a, 5), (b, 2)], ship_to=SHIP_TO_NJ))
    assert order.status == OrderStatus.ALLOCATED
    assert order.warehouse == world.nj.warehouse  # the nearest node it ships from
    assert allocated_by_node(order) == {
        world.nj.warehouse.code: {a.sku: 4},
        world.tx.warehouse.code: {a.sku: 1},
        world.ca.warehouse.code: {b.sku: 2},
    }


def test_no_single_node_backorders_when_the_client_does_not_split(world):
    assert not world.client.allow_split_shipments
    a, b = make_item(world.client), make_item(world.client)
    stock(world.client, world.nj, a, 4)
    stock(world.client, world.ca, b, 4)
    order = allocate(make_order(world.client, [(a, 1), (b, 1)], ship_to=SHIP_TO_NJ))
    assert order.status == OrderStatus.BACKORDERED and order.ever_backordered
    assert not active(order).exists()
    assert allocated_units(a) == allocated_units(b) == 0
    assert "splits not allowed" in order.events.get(to_status=OrderStatus.BACKORDERED).reason


def test_a_short_order_is_backordered_naming_the_sku_and_reserves_nothing(world):
    world.client.allow_split_shipments = True
    world.client.save()
    a, b = make_item(world.client), make_item(world.client)
    stock(world.client, world.nj, a, 5)
    stock(world.client, world.tx, b, 1)
    order = allocate(make_order(world.client, [(a, 2), (b, 2)]))
    assert order.status == OrderStatus.BACKORDERED
    assert order.events.get(to_status=OrderStatus.BACKORDERED).reason == f"short: {b.sku}"
    assert allocated_units(a) == allocated_units(b) == 0
    assert allocate(order).status == OrderStatus.BACKORDERED  # idempotent: no second event
    assert order.events.filter(to_status=OrderStatus.BACKORDERED).count() == 1


def test_an_order_for_a_client_without_nodes_is_backordered():
    from tests.accounts.factories import ClientFactory

    client = ClientFactory()
    order = allocate(make_order(client, [(make_item(client), 1)]))
    assert order.status == OrderStatus.BACKORDERED


# --- which units within a node -------------------------------------------------------------------


def test_fefo_takes_the_earliest_expiry_first_whatever_was_received_first(world):
    item = make_item(world.client, lot_tracked=True, expiry_tracked=True)
    bins = world.nj.bins
    adjust_in(world, world.nj, item, 5, bins[0], lot_code="LATE", expiry_date=date(2027, 9, 1))
    adjust_in(world, world.nj, item, 5, bins[1], lot_code="SOON", expiry_date=date(2027, 1, 1))
    adjust_in(world, world.nj, item, 5, bins[2], lot_code="MID", expiry_date=date(2027, 5, 1))
    order = allocate(make_order(world.client, [(item, 8)]))
    taken = {a.lot_code: a.quantity for a in active(order)}
    assert taken == {"SOON": 5, "MID": 3}


def test_fifo_then_the_pick_path_when_nothing_expires(world):
    item = make_item(world.client)
    bins = world.nj.bins
    adjust_in(world, world.nj, item, 4, bins[3])  # received first
    adjust_in(world, world.nj, item, 4, bins[0])
    adjust_in(world, world.nj, item, 4, bins[2])
    received = {b.location_id: b.received_at for b in Balance.objects.filter(item=item)}
    assert received[bins[3].pk] < received[bins[0].pk] < received[bins[2].pk]
    order = allocate(make_order(world.client, [(item, 6)]))
    assert {a.location_id: a.quantity for a in active(order)} == {bins[3].pk: 4, bins[0].pk: 2}

    # Received at the same moment: the pick path decides.
    same = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    other = make_item(world.client)
    for location in (bins[2], bins[1], bins[3]):
        adjust_in(world, world.nj, other, 3, location)
    Balance.objects.filter(item=other).update(received_at=same)
    order = allocate(make_order(world.client, [(other, 5)]))
    assert bins[1].pick_sequence < bins[2].pick_sequence < bins[3].pick_sequence
    assert {a.location_id: a.quantity for a in active(order)} == {bins[1].pk: 3, bins[2].pk: 2}


def test_lots_without_expiry_come_after_lots_with_one(world):
    item = make_item(world.client, lot_tracked=True)
    adjust_in(world, world.nj, item, 3, world.nj.bins[0], lot_code="PLAIN")
    adjust_in(world, world.nj, item, 3, world.nj.bins[1], lot_code="DATED", expiry_date=date(2027, 1, 1))
    order = allocate(make_order(world.client, [(item, 4)]))
    assert {a.lot_code: a.quantity for a in active(order)} == {"DATED": 3, "PLAIN": 1}


def test_only_active_pick_and_reserve_bins_allocate(world):
    item = make_item(world.client)
    node = world.nj
    # At the dock (received, not put away) and in quarantine: never sellable.
    asn = make_asn(world.client, node.warehouse, [(item, 10)])
    inventory.asn_arrive(actor=SYSTEM, asn=asn)
    inventory.asn_receive(actor=SYSTEM, asn=asn, line=asn.lines.get(), quantity=10)
    adjust_in(world, node, item, 10, node.quarantine)
    # In a pick bin that is then switched off.
    adjust_in(world, node, item, 10, node.bins[3])
    inventory.location_update(actor=SYSTEM, location=node.bins[3], active=False)
    # Sellable: a pick bin and a reserve bin.
    adjust_in(world, node, item, 2, node.bins[0])
    adjust_in(world, node, item, 3, node.reserve[0])

    too_many = allocate(make_order(world.client, [(item, 6)]))
    assert too_many.status == OrderStatus.BACKORDERED
    order = allocate(make_order(world.client, [(item, 5)]))
    assert order.status == OrderStatus.ALLOCATED
    assert {a.location_id: a.quantity for a in active(order)} == {node.bins[0].pk: 2, node.reserve[0].pk: 3}
    for location in (node.dock, node.quarantine, node.bins[3]):
        assert Balance.objects.get(item=item, location=location).allocated == 0


def test_a_kit_allocates_its_components(world):
    a, b = make_item(world.client), make_item(world.client)
    kit = make_item(
        world.client, is_kit=True, components=[{"item": a, "quantity": 2}, {"item": b, "quantity": 1}]
    )
    stock(world.client, world.nj, a, 7)
    stock(world.client, world.nj, b, 3)
    order = allocate(make_order(world.client, [(kit, 3)]))
    assert order.status == OrderStatus.ALLOCATED
    rows = list(active(order))
    assert {r.item_id: r.quantity for r in rows} == {a.pk: 6, b.pk: 3}
    assert {r.line.sku for r in rows} == {kit.sku}
    assert (allocated_units(a), allocated_units(b)) == (6, 3)

    short = allocate(make_order(world.client, [(kit, 1), (a, 1)]))  # needs 3 of A; 1 left
    assert short.status == OrderStatus.BACKORDERED
    assert short.events.get(to_status=OrderStatus.BACKORDERED).reason == f"short: {kit.sku}, {a.sku}"


# --- backorders ----------------------------------------------------------------------------------


def test_stock_put_away_allocates_backorders_expedited_first_then_by_ship_by(
    world, django_capture_on_commit_callbacks
):
    item = make_item(world.client)
    long_ago = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    later = make_order(world.client, [(item, 2)], received_at=long_ago + timedelta(days=3))
    earlier = make_order(world.client, [(item, 2)], received_at=long_ago)
    rush = make_order(
        world.client, [(item, 2)], received_at=long_ago + timedelta(days=7), service_level="overnight"
    )
    for order in (later, earlier, rush):
        assert allocate(order).status == OrderStatus.BACKORDERED
    assert earlier.ship_by < later.ship_by < rush.ship_by

    with django_capture_on_commit_callbacks(execute=True):
        stock(world.client, world.nj, item, 2)  # the putaway's after-commit hook
    assert [Order.objects.get(pk=o.pk).status for o in (rush, earlier, later)] == [
        OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED,
        OrderStatus.BACKORDERED,
    ]
    with django_capture_on_commit_callbacks(execute=True):
        stock(world.client, world.tx, item, 3)
    assert [Order.objects.get(pk=o.pk).status for o in (earlier, later)] == [
        OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED,
    ]
    assert Order.objects.get(pk=earlier.pk).warehouse == world.tx.warehouse


def test_a_kit_backorder_is_allocated_when_a_component_arrives(world, django_capture_on_commit_callbacks):
    a, b = make_item(world.client), make_item(world.client)
    kit = make_item(
        world.client, is_kit=True, components=[{"item": a, "quantity": 2}, {"item": b, "quantity": 1}]
    )
    stock(world.client, world.nj, b, 1)
    order = allocate(make_order(world.client, [(kit, 1)]))
    assert order.status == OrderStatus.BACKORDERED
    with django_capture_on_commit_callbacks(execute=True):
        stock(world.client, world.nj, a, 2)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ALLOCATED


def test_an_order_is_allocated_after_intake_commits(world, django_capture_on_commit_callbacks):
    item = make_item(world.client)
    stock(world.client, world.nj, item, 1)
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(world.client, [(item, 1)])
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ALLOCATED


# --- releases and re-allocations -----------------------------------------------------------------


def test_cancel_releases_the_reservations_and_the_units_serve_a_backorder(
    world, django_capture_on_commit_callbacks
):
    item = make_item(world.client)
    stock(world.client, world.nj, item, 3)
    first = allocate(make_order(world.client, [(item, 3)]))
    waiting = allocate(make_order(world.client, [(item, 2)]))
    assert (first.status, waiting.status) == (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED)
    rows = list(active(first))
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(actor=SYSTEM, order=first, reason="customer changed their mind")
    first.refresh_from_db()
    assert first.status == OrderStatus.CANCELLED and first.cancelled_at is not None
    assert all(Allocation.objects.get(pk=r.pk).released_at is not None for r in rows)
    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.ALLOCATED
    balance = Balance.objects.get(item=item, location=world.nj.bins[0])
    assert balance.allocated == 2 == sum(a.quantity for a in active(waiting))


def test_update_lines_reallocates_in_the_same_transaction(world):
    a, b = make_item(world.client), make_item(world.client)
    stock(world.client, world.nj, a, 5)
    stock(world.client, world.nj, b, 1)
    order = allocate(make_order(world.client, [(a, 2)]))
    order = services.order_update_lines(
        actor=SYSTEM, order=order, lines=[{"sku": a.sku, "quantity": 4}, {"sku": b.sku, "quantity": 1}]
    )
    assert order.status == OrderStatus.ALLOCATED
    assert allocated_by_node(order) == {world.nj.warehouse.code: {a.sku: 4, b.sku: 1}}
    assert (allocated_units(a), allocated_units(b)) == (4, 1)

    order = services.order_update_lines(actor=SYSTEM, order=order, lines=[{"sku": a.sku, "quantity": 6}])
    assert order.status == OrderStatus.BACKORDERED
    assert allocated_units(a) == allocated_units(b) == 0 and not active(order).exists()

    before = timezone.now()
    order = services.order_update_lines(actor=SYSTEM, order=order, lines=[{"sku": a.sku, "quantity": 5}])
    assert order.status == OrderStatus.ALLOCATED and allocated_units(a) == 5
    assert order.released_at >= before  # released from backorder


def test_update_address_reroutes_in_the_same_transaction(world):
    item = make_item(world.client)
    stock(world.client, world.nj, item, 5)
    stock(world.client, world.ca, item, 5)
    order = allocate(make_order(world.client, [(item, 2)], ship_to=SHIP_TO_NJ))
    assert order.warehouse == world.nj.warehouse
    order = services.order_update_address(
        actor=SYSTEM, order=order, **{k: v for k, v in SHIP_TO_CA.items() if k != "ship_to_name"}
    )
    assert order.status == OrderStatus.ALLOCATED and order.warehouse == world.ca.warehouse
    assert allocated_by_node(order) == {world.ca.warehouse.code: {item.sku: 2}}
    assert Balance.objects.get(item=item, location=world.nj.bins[0]).allocated == 0
    assert Balance.objects.get(item=item, location=world.ca.bins[0]).allocated == 2


def test_a_hold_releases_the_reservations_and_the_release_allocates_again(
    world, django_capture_on_commit_callbacks
):
    item = make_item(world.client)
    stock(world.client, world.nj, item, 2)
    order = allocate(make_order(world.client, [(item, 2)]))
    order = services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR, reason="check")
    assert order.status == OrderStatus.ON_HOLD and order.warehouse is None
    assert allocated_units(item) == 0 and not active(order).exists()
    assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.ON_HOLD
    with django_capture_on_commit_callbacks(execute=True):
        services.order_release(actor=SYSTEM, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and allocated_units(item) == 2


def test_an_unknown_sku_is_held_naming_it_and_never_allocated(world, django_capture_on_commit_callbacks):
    item = make_item(world.client)
    stock(world.client, world.nj, item, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(world.client, [(item, 1), ("NO-SUCH-SKU", 2)])
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    hold = order.holds.get(released_at__isnull=True)
    assert hold.kind == HoldKind.EXCEPTION and "NO-SUCH-SKU" in hold.reason
    assert order.lines.get(sku="NO-SUCH-SKU").item is None
    assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.ON_HOLD
    assert not Allocation.objects.filter(order=order).exists() and allocated_units(item) == 0
