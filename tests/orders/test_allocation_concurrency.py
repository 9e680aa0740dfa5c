"""Allocation under concurrency, on PostgreSQL with real threads and transactions: scarce stock of
several SKUs, orders allocated in a random order at the same moment, never an oversold unit,
every order allocated in full or backordered, and the ledger audit clean afterwards."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable

import pytest
from django.db.models import Sum
from django_scopes import scopes_disabled

from inventory import selectors
from inventory.models import Balance
from orders import services, tasks
from orders.enums import OrderStatus
from orders.models import Allocation, Order
from tests.inventory.factories import SYSTEM, make_item, stock
from tests.orders.factories import SHIP_TO_CA, SHIP_TO_NJ, SHIP_TO_TX, make_order, make_world

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(jobs: list[Callable[[], object]]) -> list[object]:
    """Start every job at the same moment, each in its own thread and database connection.
    Returns each job's result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def worker(index: int, job: Callable[[], object]) -> None:
        from django.db import connection

        try:
            with scopes_disabled():
                barrier.wait()
                results[index] = job()
        except Exception as exc:  # collected and inspected by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    return results


def allocate_job(order: Order) -> Callable[[], object]:
    """The Celery task as a worker runs it (eagerly here): a deadlock or lock timeout is retried."""

    def run():
        # ``.result`` rather than ``.get()``: Celery refuses ``get()`` when it believes it is inside a
        # task, which an earlier eager task in the same test process can leave it believing.
        outcome = tasks.allocate_order.apply(args=(order.pk, order.client_id))
        if outcome.failed():
            raise outcome.result
        return outcome.result

    return run


@pytest.fixture
def received_orders(monkeypatch):
    """Intake without its after-commit allocation, so that the threads race for it."""
    monkeypatch.setattr(services, "_enqueue_allocation", lambda order: None)


def assert_stock_consistent(items) -> None:
    for balance in Balance.objects.filter(item__in=items):
        assert 0 <= balance.allocated <= balance.on_hand, balance
        reserved = Allocation.objects.filter(balance=balance, released_at__isnull=True).aggregate(
            n=Sum("quantity")
        )["n"]
        assert balance.allocated == (reserved or 0), balance
    assert selectors.ledger_differences() == []


def test_allocation_never_oversells_under_concurrency(received_orders):
    rng = random.Random(20261122)
    world = make_world(allow_split_shipments=False)
    items = [make_item(world.client) for _ in range(4)]
    supply = {  # (node, item index): units; far less than the demand below
        ("nj", 0): 9,
        ("nj", 1): 6,
        ("nj", 2): 5,
        ("tx", 0): 4,
        ("tx", 1): 5,
        ("tx", 3): 7,
        ("ca", 2): 6,
        ("ca", 3): 3,
    }
    for (region, index), units in supply.items():
        stock(world.client, getattr(world, region), items[index], units)
    orders, demand = [], {}
    for _ in range(24):
        chosen = rng.sample(items, rng.randint(2, 4))
        lines = [(item, rng.randint(1, 3)) for item in chosen]
        order = make_order(world.client, lines, ship_to=rng.choice([SHIP_TO_NJ, SHIP_TO_TX, SHIP_TO_CA]))
        orders.append(order)
        demand[order.pk] = Counter({item.pk: quantity for item, quantity in lines})
    total_demand = sum(sum(d.values()) for d in demand.values())
    assert total_demand > sum(supply.values())
    rng.shuffle(orders)

    results = run_concurrently([allocate_job(order) for order in orders])

    unexpected = [r for r in results if isinstance(r, Exception)]
    assert not unexpected, unexpected  # an unhandled deadlock would show up here
    assert set(results) <= {OrderStatus.ALLOCATED, OrderStatus.BACKORDERED}
    statuses = Counter()
    for order in Order.objects.filter(pk__in=demand):
        assert order.status in (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED), order.status
        statuses[order.status] += 1
        reserved = defaultdict(int)
        nodes = set()
        for a in Allocation.objects.filter(order=order, released_at__isnull=True):
            reserved[a.item_id] += a.quantity
            nodes.add(a.warehouse_id)
        if order.status == OrderStatus.ALLOCATED:
            assert reserved == demand[order.pk]  # covered in full
            assert nodes == {order.warehouse_id}  # one node: this client does not split
        else:
            assert not reserved
    assert statuses[OrderStatus.ALLOCATED] and statuses[OrderStatus.BACKORDERED]
    assert_stock_consistent(items)
    for (region, index), units in supply.items():
        node = getattr(world, region).warehouse
        on_hand = Balance.objects.filter(item=items[index], warehouse=node).aggregate(n=Sum("on_hand"))["n"]
        assert on_hand == units

    # Running the task again changes nothing (idempotent).
    before = list(Allocation.objects.order_by("pk").values_list("pk", "quantity", "released_at"))
    assert [allocate_job(o)() for o in orders[:5]] == results[:5]
    assert list(Allocation.objects.order_by("pk").values_list("pk", "quantity", "released_at")) == before


def test_concurrent_cancel_and_allocate_of_one_order_stay_consistent(received_orders):
    world = make_world(regions=("nj",))
    items = [make_item(world.client) for _ in range(2)]
    for item in items:
        stock(world.client, world.nj, item, 10)
    orders = [make_order(world.client, [(items[0], 2), (items[1], 1)]) for _ in range(8)]

    jobs = []
    for order in orders:
        jobs.append(allocate_job(order))
        jobs.append(
            lambda order=order: services.order_cancel(actor=SYSTEM, order=order, reason="race").status
        )
    order_of_jobs = list(range(len(jobs)))
    random.Random(7).shuffle(order_of_jobs)
    results = run_concurrently([jobs[i] for i in order_of_jobs])

    unexpected = [r for r in results if isinstance(r, Exception)]
    assert not unexpected, unexpected
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        assert order.status == OrderStatus.CANCELLED
        assert not Allocation.objects.filter(order=order, released_at__isnull=True).exists()
        # Whichever came first, the cancellation is the last event and it happened once.
        assert order.events.filter(to_status=OrderStatus.CANCELLED).count() == 1
        assert order.events.order_by("-created_at", "-pk").first().to_status == OrderStatus.CANCELLED
    assert Balance.objects.filter(item__in=items).aggregate(n=Sum("allocated"))["n"] == 0
    assert_stock_consistent(items)


def _deadlocks() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_deadlock_reported_by_postgresql_leaves_the_order_allocated(received_orders):
    """A real deadlock: another transaction holds a balance the allocation needs and then waits for
    the order row the allocation holds. PostgreSQL aborts one of the two: when it picks the
    allocation, the task's retry allocates the order once the other transaction is done; either way
    the order ends allocated and the stock consistent."""
    import time

    from django.db import connection, transaction

    world = make_world(regions=("nj",))
    item = make_item(world.client)
    stock(world.client, world.nj, item, 3)
    order = make_order(world.client, [(item, 2)])
    balance = Balance.objects.get(item=item, location=world.nj.bins[0])
    deadlocks = _deadlocks()
    holding = threading.Event()

    def other_transaction():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '3s'")  # the allocation detects it
            Balance.objects.select_for_update().get(pk=balance.pk)
            holding.set()
            # Wait until the allocation holds the order row and waits for this balance (no sleep:
            # a loaded machine must not turn the deadlock into a plain wait).
            deadline = time.monotonic() + 20
            with connection.cursor() as cursor:
                while time.monotonic() < deadline:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.02)
            Order.objects.select_for_update().get(pk=order.pk)
        return "done"

    def allocate_after_the_lock():
        holding.wait(10)
        return allocate_job(order)()

    results = run_concurrently([other_transaction, allocate_after_the_lock])
    assert results[1] == OrderStatus.ALLOCATED
    assert results[0] == "done" or "deadlock detected" in str(results[0])
    for _ in range(20):  # statistics reach the view a moment after the backend reports them
        if _deadlocks() > deadlocks:
            break
        time.sleep(0.1)
    assert _deadlocks() > deadlocks
    assert_stock_consistent([item])
