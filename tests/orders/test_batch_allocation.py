"""The batch path of allocation (``allocate_many``, ``allocate_waiting`` and their tasks): each order
decided exactly as ``allocate`` would decide it one by one, in the same priority order, from the
same stock; a constant number of queries whatever the batch's size; the sweep's choice of orders
(idle, not held, not locked by anyone); and, on PostgreSQL with real threads, batch sweepers, batch
allocators and single-order tasks side by side over scarce stock: never an oversold unit, never a
deadlock."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from inventory import services as inventory
from inventory.models import Balance, Item
from orders import allocation, services, tasks
from orders.enums import HoldKind, OrderStatus
from orders.models import Allocation, Order, OrderLine
from shipments.models import Event
from tests.inventory.factories import SYSTEM, make_item, stock
from tests.orders.factories import SHIP_TO_CA, SHIP_TO_NJ, SHIP_TO_TX, World, make_order, make_world
from tests.orders.test_allocation_concurrency import assert_stock_consistent, run_concurrently

RECEIVED_AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, after the cutoff


@pytest.fixture
def received_orders(monkeypatch):
    """Intake without its after-commit allocation task: the paths under test do the allocating."""
    monkeypatch.setattr(services, "_enqueue_allocation", lambda order: None)


def order_at(world: World, lines, minutes: int = 0, **header) -> Order:
    return make_order(world.client, lines, received_at=RECEIVED_AT + timedelta(minutes=minutes), **header)


def put_in(world: World, node, item, quantity: int, bin_index: int = 0, **lot) -> None:
    inventory.stock_adjust(
        actor=SYSTEM,
        client=world.client,
        item=item,
        location=node.bins[bin_index],
        quantity=quantity,
        code="found",
        note="test stock",
        **lot,
    )


# --- scenarios: each builds the same stock and orders in any world --------------------------------


def whole_at_the_nearest_node(world):
    a = make_item(world.client, "A")
    for node in world.nodes:
        stock(world.client, node, a, 5)
    return [order_at(world, [(a, 2)], ship_to=SHIP_TO_CA), order_at(world, [(a, 1)], 1, ship_to=SHIP_TO_TX)]


def a_farther_node_that_fills_the_whole_order(world):
    a, b = make_item(world.client, "A"), make_item(world.client, "B")
    stock(world.client, world.nj, a, 10)
    stock(world.client, world.tx, a, 10)
    stock(world.client, world.tx, b, 10)
    return [order_at(world, [(a, 3), (b, 1)]), order_at(world, [(a, 8)], 1)]


def split_when_the_client_allows_it(world):
    world.client.allow_split_shipments = True
    world.client.save()
    a, b = make_item(world.client, "A"), make_item(world.client, "B")
    stock(world.client, world.nj, a, 4)
    stock(world.client, world.ca, b, 4)
    stock(world.client, world.tx, a, 1)
    return [order_at(world, [(a, 5), (b, 2)]), order_at(world, [(b, 2)], 1), order_at(world, [(a, 1)], 2)]


def backorder_naming_the_shortfall(world):
    a, b = make_item(world.client, "A"), make_item(world.client, "B")
    stock(world.client, world.nj, a, 4)
    stock(world.client, world.ca, b, 4)
    return [
        order_at(world, [(a, 1), (b, 1)]),  # no single node, no splits
        order_at(world, [(a, 5)], 1),  # short
        order_at(world, [(b, 4)], 2),  # fits
    ]


def kits_take_their_components(world):
    a, b = make_item(world.client, "A"), make_item(world.client, "B")
    kit = make_item(
        world.client, "KIT", is_kit=True, components=[{"item": a, "quantity": 2}, {"item": b, "quantity": 1}]
    )
    stock(world.client, world.nj, a, 7)
    stock(world.client, world.nj, b, 3)
    return [order_at(world, [(kit, 3)]), order_at(world, [(kit, 1), (a, 1)], 1), order_at(world, [(b, 1)], 2)]


def holds_and_unknown_skus_are_left_alone(world):
    a = make_item(world.client, "A")
    stock(world.client, world.nj, a, 5)
    held = order_at(world, [(a, 2)])
    services.order_hold(actor=SYSTEM, order=held, kind=HoldKind.OPERATOR, reason="check the address")
    unknown = order_at(world, [(a, 1), ("NO-SUCH-SKU", 1)], 1)
    return [held, unknown, order_at(world, [(a, 4)], 2)]


def fefo_then_fifo_then_the_pick_path(world):
    a = make_item(world.client, "A", lot_tracked=True, expiry_tracked=True)
    put_in(world, world.nj, a, 5, 0, lot_code="LATE", expiry_date=date(2027, 9, 1))
    put_in(world, world.nj, a, 5, 1, lot_code="SOON", expiry_date=date(2027, 1, 1))
    put_in(world, world.nj, a, 5, 2, lot_code="MID", expiry_date=date(2027, 5, 1))
    b = make_item(world.client, "B")
    put_in(world, world.nj, b, 4, 3)
    put_in(world, world.nj, b, 4, 0)
    return [
        order_at(world, [(a, 4), (b, 5)]),
        order_at(world, [(a, 4)], 1),
        order_at(world, [(a, 6), (b, 3)], 2),
    ]


def scarce_stock_goes_to_the_most_urgent(world):
    a = make_item(world.client, "A")
    stock(world.client, world.nj, a, 5)
    stock(world.client, world.tx, a, 2)
    return [
        order_at(world, [(a, 3)], 5),
        order_at(world, [(a, 3)], 0),
        order_at(world, [(a, 2)], 60 * 24 * 3, service_level="overnight"),  # received last, expedited
        order_at(world, [(a, 2)], 1, ship_to=SHIP_TO_TX),
        order_at(world, [(a, 1)], 2),
    ]


def backorders_released_when_stock_arrives(world):
    a, b = make_item(world.client, "A"), make_item(world.client, "B")
    stock(world.client, world.nj, b, 1)
    waiting = [order_at(world, [(a, 2)]), order_at(world, [(a, 2), (b, 1)], 1), order_at(world, [(a, 1)], 2)]
    for order in waiting:
        assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.BACKORDERED
    stock(world.client, world.tx, a, 4)
    return waiting


SCENARIOS = [
    whole_at_the_nearest_node,
    a_farther_node_that_fills_the_whole_order,
    split_when_the_client_allows_it,
    backorder_naming_the_shortfall,
    kits_take_their_components,
    holds_and_unknown_skus_are_left_alone,
    fefo_then_fifo_then_the_pick_path,
    scarce_stock_goes_to_the_most_urgent,
    backorders_released_when_stock_arrives,
]


def outcome(world: World, orders: list[Order], was: dict[int, Order]) -> list[tuple]:
    """What was decided for each order, in terms that do not depend on the world's ids: status,
    node (by region), reservations (line SKU, item SKU, region, bin, lot, units), status events
    (reasons with node codes turned into regions) and outbox events."""
    region = {
        node.warehouse.pk: name for name, node in (("nj", world.nj), ("tx", world.tx), ("ca", world.ca))
    }
    code = {
        node.warehouse.code: name for name, node in (("nj", world.nj), ("tx", world.tx), ("ca", world.ca))
    }
    result = []
    for before in orders:
        order = Order.objects.get(pk=before.pk)
        reservations = sorted(
            (a.line.sku, a.item.sku, region[a.warehouse_id], a.location.code, a.lot_code, a.quantity)
            for a in Allocation.objects.filter(order=order, released_at__isnull=True).select_related(
                "line", "item", "location"
            )
        )
        events = []
        for event in order.events.filter(created_at__gte=was[order.pk].updated_at).order_by("pk"):
            reason = event.reason
            for warehouse_code, name in code.items():
                reason = reason.replace(warehouse_code, name)
            events.append((event.from_status, event.to_status, reason))
        outbox = [
            (e.type, e.payload["status"], e.payload["warehouse"] and code[e.payload["warehouse"]])
            for e in Event.objects.filter(
                client=world.client, payload__order_id=order.pk, created_at__gte=was[order.pk].updated_at
            )
            .exclude(type="order.created")
            .order_by("pk")
        ]
        result.append(
            (
                order.status,
                region.get(order.warehouse_id),
                order.ever_backordered,
                order.ship_by if order.released_at == was[order.pk].released_at else "restarted",
                order.allocated_at is not None,
                reservations,
                events,
                outbox,
            )
        )
    return result


@pytest.mark.django_db
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_a_batch_decides_every_order_as_allocate_would_one_by_one(scenario, received_orders):
    one_by_one, batch = make_world(), make_world()
    singles, batched = scenario(one_by_one), scenario(batch)
    was = {o.pk: Order.objects.get(pk=o.pk) for o in singles + batched}

    for order in sorted(singles, key=lambda o: allocation.priority(was[o.pk])):
        allocation.allocate(actor=SYSTEM, order=order)
    statuses = allocation.allocate_many(actor=SYSTEM, order_ids=[o.pk for o in reversed(batched)])

    expected = outcome(one_by_one, singles, was)
    assert outcome(batch, batched, was) == expected
    assert any(status in (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED) for status, *_ in expected)
    waiting = [o.pk for o in batched if was[o.pk].status in allocation.WAITING_STATUSES]
    assert sorted(statuses) == sorted(waiting)  # orders on hold are not taken at all
    for world in (one_by_one, batch):
        assert_stock_consistent(list(Item.objects.filter(client=world.client)))


@pytest.mark.django_db
def test_a_batch_is_idempotent(received_orders):
    world = make_world()
    orders = scarce_stock_goes_to_the_most_urgent(world)
    first = allocation.allocate_many(actor=SYSTEM, order_ids=[o.pk for o in orders])
    reservations = list(Allocation.objects.order_by("pk").values_list("pk", "quantity"))
    events = Event.objects.filter(client=world.client).count()
    second = allocation.allocate_many(actor=SYSTEM, order_ids=[o.pk for o in orders])
    assert set(second) == {pk for pk, status in first.items() if status == OrderStatus.BACKORDERED}
    assert set(second.values()) == {OrderStatus.BACKORDERED}
    assert list(Allocation.objects.order_by("pk").values_list("pk", "quantity")) == reservations
    assert Event.objects.filter(client=world.client).count() == events  # no second event


@pytest.mark.django_db
def test_the_queries_of_a_batch_do_not_grow_with_its_orders(received_orders):
    def queries_for(count: int) -> int:
        worlds = [make_world(), make_world(allow_split_shipments=True)]
        ids = []
        for world in worlds:
            items = [make_item(world.client) for _ in range(3)]
            kit = make_item(world.client, is_kit=True, components=[{"item": items[0], "quantity": 1}])
            for item in items:
                stock(world.client, world.nj, item, 2 * count)
            for n in range(count):
                ids.append(order_at(world, [(items[n % 3], 1), (items[(n + 1) % 3], 1), (kit, 1)], n).pk)
            ids.append(order_at(world, [(items[0], 10 * count)], count).pk)  # backordered
        with CaptureQueriesContext(connection) as captured:
            statuses = allocation.allocate_many(actor=SYSTEM, order_ids=ids)
        assert Counter(statuses.values()) == {OrderStatus.ALLOCATED: 2 * count, OrderStatus.BACKORDERED: 2}
        return len(captured.captured_queries)

    few, many = queries_for(2), queries_for(12)
    assert few == many
    assert many <= 17  # 15 statements (reads, locks, five writes) and the savepoint pair


# --- the sweep ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_takes_idle_unheld_orders_most_urgent_first(received_orders):
    world = make_world()
    a = make_item(world.client)
    stock(world.client, world.nj, a, 100)
    later = order_at(world, [(a, 1)], 30)
    sooner = order_at(world, [(a, 1)], 0)
    held = order_at(world, [(a, 1)], 1)
    services.order_hold(actor=SYSTEM, order=held, kind=HoldKind.CLIENT, reason="wait")
    unknown = order_at(world, [("NOPE", 1)], 2)
    lost_item = order_at(world, [(a, 1)], 3)  # received, but a line has no item (never allocatable)
    OrderLine.objects.filter(order=lost_item).update(item=None)
    Order.objects.filter(pk__in=[later.pk, sooner.pk, held.pk, unknown.pk, lost_item.pk]).update(
        updated_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    fresh = order_at(world, [(a, 1)], -60)  # the most urgent, but its own task still has its chance

    assert allocation.allocate_waiting(actor=SYSTEM, limit=1, idle_for=timedelta(minutes=1)) == {
        sooner.pk: OrderStatus.ALLOCATED
    }
    assert allocation.allocate_waiting(actor=SYSTEM, idle_for=timedelta(minutes=1)) == {
        later.pk: OrderStatus.ALLOCATED
    }
    assert allocation.allocate_waiting(actor=SYSTEM, idle_for=timedelta(minutes=1)) == {}
    assert Order.objects.get(pk=fresh.pk).status == OrderStatus.RECEIVED
    assert allocation.allocate_waiting(actor=SYSTEM) == {fresh.pk: OrderStatus.ALLOCATED}
    assert [Order.objects.get(pk=o.pk).status for o in (held, unknown)] == [OrderStatus.ON_HOLD] * 2
    assert allocation.allocate(actor=SYSTEM, order=lost_item) == OrderStatus.RECEIVED
    assert allocation.allocate_many(actor=SYSTEM, order_ids=[lost_item.pk]) == {
        lost_item.pk: OrderStatus.RECEIVED
    }
    assert not Allocation.objects.filter(order=lost_item).exists()


@pytest.mark.django_db
def test_the_drain_task_allocates_the_whole_backlog_batch_by_batch(received_orders):
    world = make_world()
    a, b = make_item(world.client), make_item(world.client)
    stock(world.client, world.nj, a, 20)
    stock(world.client, world.nj, b, 3)  # for three of the six orders that want one
    orders = [order_at(world, [(a, 1), (b, 1)] if n % 4 == 0 else [(a, 1)], n) for n in range(23)]
    assert tasks.allocate_waiting(batch_size=5, idle_seconds=0) == {"allocated": 20, "backordered": 3}
    assert tasks.allocate_waiting(batch_size=5, idle_seconds=0) == {}
    assert Counter(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) == {
        OrderStatus.ALLOCATED: 20,
        OrderStatus.BACKORDERED: 3,
    }
    assert_stock_consistent([a, b])


@pytest.mark.django_db
def test_the_batch_task_allocates_given_orders(received_orders):
    world = make_world()
    a = make_item(world.client)
    stock(world.client, world.nj, a, 2)
    orders = [order_at(world, [(a, 1)], n) for n in range(3)]
    assert tasks.allocate_orders([o.pk for o in orders]) == {"allocated": 2, "backordered": 1}


def test_beat_sweeps_the_waiting_orders_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["allocate-waiting"]
    assert entry["task"] == tasks.allocate_waiting.name and entry["schedule"] == 60


# --- concurrency, on PostgreSQL -------------------------------------------------------------------


def sweep_job() -> Callable[[], object]:
    def run():
        outcome = tasks.allocate_waiting.apply(kwargs={"batch_size": 4, "idle_seconds": 0})
        if outcome.failed():
            raise outcome.result
        return outcome.result

    return run


def many_job(ids: list[int]) -> Callable[[], object]:
    return lambda: allocation.allocate_many(actor=SYSTEM, order_ids=ids)


def single_job(order: Order) -> Callable[[], object]:
    def run():
        outcome = tasks.allocate_order.apply(args=(order.pk, order.client_id))
        if outcome.failed():
            raise outcome.result
        return outcome.result

    return run


@pytest.mark.django_db(transaction=True)
def test_batch_and_single_allocators_side_by_side_never_oversell(received_orders):
    rng = random.Random(20261122)
    worlds = [make_world(), make_world(allow_split_shipments=True)]
    items, demand, orders = [], {}, []
    for world in worlds:
        mine = [make_item(world.client) for _ in range(4)]
        items += mine
        for node in world.nodes:
            for item in rng.sample(mine, 3):
                stock(world.client, node, item, rng.randint(2, 6))
        for n in range(24):
            lines = [(item, rng.randint(1, 3)) for item in rng.sample(mine, rng.randint(1, 3))]
            order = order_at(world, lines, n, ship_to=rng.choice([SHIP_TO_NJ, SHIP_TO_TX, SHIP_TO_CA]))
            orders.append(order)
            demand[order.pk] = Counter({item.pk: quantity for item, quantity in lines})
    supply = Balance.objects.filter(item__in=items).aggregate(n=Sum("on_hand"))["n"]
    assert sum(sum(d.values()) for d in demand.values()) > supply
    ids = [o.pk for o in orders]

    jobs = [sweep_job(), sweep_job(), many_job(ids[::2]), many_job(ids[::-3])]
    jobs += [single_job(o) for o in rng.sample(orders, 10)]
    rng.shuffle(jobs)
    results = run_concurrently(jobs)

    unexpected = [r for r in results if isinstance(r, Exception)]
    assert not unexpected, unexpected  # a deadlock would show up here
    statuses = Counter()
    for order in Order.objects.filter(pk__in=demand):
        statuses[order.status] += 1
        reserved: dict[int, int] = defaultdict(int)
        for a in Allocation.objects.filter(order=order, released_at__isnull=True):
            reserved[a.item_id] += a.quantity
        if order.status == OrderStatus.ALLOCATED:
            assert reserved == demand[order.pk]  # covered in full, never beyond
            assert order.events.filter(to_status=OrderStatus.ALLOCATED).count() == 1
        else:
            assert order.status == OrderStatus.BACKORDERED, order.status
            assert not reserved
    assert statuses[OrderStatus.ALLOCATED] and statuses[OrderStatus.BACKORDERED]
    assert_stock_consistent(items)


@pytest.mark.django_db(transaction=True)
def test_the_sweep_skips_an_order_another_transaction_holds(received_orders):
    world = make_world()
    a = make_item(world.client)
    stock(world.client, world.nj, a, 10)
    busy, free = order_at(world, [(a, 1)]), order_at(world, [(a, 1)], 1)
    holding, done = threading.Event(), threading.Event()

    def hold_the_first():
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=busy.pk)
            holding.set()
            done.wait(20)
        return "held"

    def sweep():
        holding.wait(10)
        try:
            return allocation.allocate_waiting(actor=SYSTEM)
        finally:
            done.set()

    results = run_concurrently([hold_the_first, sweep])
    assert results == ["held", {free.pk: OrderStatus.ALLOCATED}]
    assert Order.objects.get(pk=busy.pk).status == OrderStatus.RECEIVED
