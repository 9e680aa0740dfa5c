"""Thin tasks: ids in, the tenant scope opened by the service, idempotent, safe to run twice.

A deadlock, serialization failure or lock timeout that PostgreSQL reports rolls back only the
transaction that lost; allocation is idempotent, so it is simply run again, here in the task (a
few quick attempts), and after that by Celery's retry with backoff. The in-task attempts matter:
Celery's retry does not re-run an eagerly executed task (celery/celery#8056), which is how tasks
run in tests and without a broker.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from celery import shared_task
from django.db import OperationalError, transaction

from accounts.actors import Actor
from orders import allocation, services
from orders.enums import OrderStatus
from orders.models import Order

T = TypeVar("T")

# SQLSTATEs of a transaction that lost a race and may simply be run again.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})  # deadlock, serialization, lock timeout
IN_TASK_ATTEMPTS = 4


def is_transient(exc: BaseException) -> bool:
    cause = exc.__cause__
    return (getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)) in TRANSIENT_SQLSTATES


def run_again_if_transient(work: Callable[[], T]) -> T:
    """Run ``work`` (its own transaction), again after a short random pause if PostgreSQL made it
    lose a race. Inside a caller's transaction nothing can be re-run: the error propagates."""
    for attempt in range(1, IN_TASK_ATTEMPTS + 1):
        try:
            return work()
        except OperationalError as exc:
            if (
                attempt == IN_TASK_ATTEMPTS
                or not is_transient(exc)
                or transaction.get_connection().in_atomic_block
            ):
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def allocate_order(order_id: int, client_id: int) -> str:
    """Route and allocate one order (a deadlock or lock timeout is retried)."""
    from django_scopes import scope

    with scope(client=client_id):
        order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "missing"
    return run_again_if_transient(lambda: allocation.allocate(actor=Actor.system("allocation"), order=order))


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def allocate_backorders(client_id: int, item_ids: list[int]) -> int:
    """Stock became sellable: allocate the backorders waiting for it, most urgent first."""
    return run_again_if_transient(
        lambda: services.allocate_backorders(client_id=client_id, item_ids=item_ids)
    )


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def allocate_orders(order_ids: list[int]) -> dict[str, int]:
    """Allocate many orders at once (e.g. a bulk intake's), a batch per transaction; orders someone
    else is already working on are skipped (their own task or a sweep has them)."""
    actor = Actor.system("batch allocation")
    totals: Counter[str] = Counter()
    size = allocation.BATCH_SIZE
    for start in range(0, len(order_ids), size):
        chunk = order_ids[start : start + size]
        statuses = run_again_if_transient(
            lambda chunk=chunk: allocation.allocate_many(actor=actor, order_ids=chunk, skip_locked=True)
        )
        totals.update(str(status) for status in statuses.values())
    return dict(totals)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def allocate_waiting(
    batch_size: int = allocation.BATCH_SIZE, idle_seconds: float = 60, max_seconds: float = 50
) -> dict[str, int]:
    """Drain the received orders that nothing has touched for ``idle_seconds`` (their own task
    failed or was lost; a peak backlog), the most urgent first, a batch per transaction, until none
    is left or ``max_seconds`` have passed (the next run goes on). Several run side by side without
    waiting on each other. Beat runs it every minute. Returns the orders by status afterwards."""
    actor = Actor.system("batch allocation")
    idle_for = timedelta(seconds=idle_seconds)
    deadline = time.monotonic() + max_seconds
    totals: Counter[str] = Counter()
    while time.monotonic() < deadline:
        statuses = run_again_if_transient(
            lambda: allocation.allocate_waiting(actor=actor, limit=batch_size, idle_for=idle_for)
        )
        totals.update(str(status) for status in statuses.values())
        # Stop when nothing is left, or (a safety net) when a batch moved no order at all.
        if not any(s in (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED) for s in statuses.values()):
            break
    return dict(totals)
