"""``orders.allocation_queue``: single orders' allocations leave a process in batch tasks, soon after
their commit; every order requested is sent exactly once; a failed publish is left to the sweep."""

from __future__ import annotations

import threading
import time

import pytest

from orders import allocation_queue, tasks
from orders.enums import OrderStatus
from orders.models import Order
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def not_eager():
    """Celery as with a broker: tasks are sent, not run at once."""
    from fulfillment.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def sent(not_eager, monkeypatch):
    """The batch tasks recorded instead of published."""
    batches: list[list[int]] = []
    monkeypatch.setattr(tasks.allocate_orders, "delay", lambda ids: batches.append(list(ids)))
    monkeypatch.setattr(allocation_queue, "_pending", allocation_queue._Pending())
    yield batches
    allocation_queue.flush()


def test_ids_requested_together_leave_in_one_task_after_a_moment(sent):
    for order_id in (11, 12, 13):
        allocation_queue.request_allocation(order_id, 1)
    assert sent == []  # not one task per order
    deadline = time.monotonic() + 2
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == [[11, 12, 13]]
    allocation_queue.request_allocation(14, 1)
    allocation_queue.flush()
    assert sent == [[11, 12, 13], [14]]


def test_a_full_batch_leaves_at_once(sent, monkeypatch):
    monkeypatch.setattr(allocation_queue, "MAX_BATCH", 3)
    for order_id in range(1, 8):
        allocation_queue.request_allocation(order_id, 1)
    assert sent == [[1, 2, 3], [4, 5, 6]]
    allocation_queue.flush()
    assert sent == [[1, 2, 3], [4, 5, 6], [7]]


def test_ids_from_many_threads_are_each_sent_once(sent):
    def post(start: int) -> None:
        for order_id in range(start, start + 200):
            allocation_queue.request_allocation(order_id, 1)

    threads = [threading.Thread(target=post, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    allocation_queue.flush()
    ids = [order_id for batch in sent for order_id in batch]
    assert sorted(ids) == sorted(n * 1000 + i for n in range(4) for i in range(200))


def test_a_failed_publish_is_logged_not_raised(not_eager, monkeypatch, caplog):
    def broker_down(ids):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.allocate_orders, "delay", broker_down)
    monkeypatch.setattr(allocation_queue, "_pending", allocation_queue._Pending())
    allocation_queue.request_allocation(1, 1)
    allocation_queue.flush()
    assert "Could not queue the allocation of 1 orders" in caplog.text


def test_a_forked_child_starts_with_nothing_pending(sent):
    allocation_queue.request_allocation(1, 1)
    parent = allocation_queue._pending
    allocation_queue._reset_after_fork()
    assert allocation_queue._pending is not parent and allocation_queue._pending.ids == []
    parent.flush()
    assert sent == [[1]]


def test_an_order_posted_alone_is_allocated_by_its_batch(sent, django_capture_on_commit_callbacks):
    world = make_world()
    tee = make_item(world.client, "TEE")
    stock(world.client, world.nj, tee, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(world.client, [(tee, 2)])
    allocation_queue.flush()
    assert sent == [[order.pk]]
    tasks.allocate_orders(sent[0])  # what the worker runs
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ALLOCATED
