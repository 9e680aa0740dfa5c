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
from collections.abc import Callable
from typing import TypeVar

from celery import shared_task
from django.db import OperationalError, transaction

from accounts.actors import Actor
from orders import allocation, services
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
