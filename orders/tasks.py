"""Thin tasks: ids in, the tenant scope opened by the service, idempotent, safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from accounts.actors import Actor
from orders import allocation, services
from orders.models import Order


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def allocate_order(order_id: int, client_id: int) -> str:
    """Route and allocate one order (a deadlock or lock timeout is retried with backoff)."""
    from django_scopes import scope

    with scope(client=client_id):
        order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "missing"
    return allocation.allocate(actor=Actor.system("allocation"), order=order)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def allocate_backorders(client_id: int, item_ids: list[int]) -> int:
    """Stock became sellable: allocate the backorders waiting for it, most urgent first."""
    return services.allocate_backorders(client_id=client_id, item_ids=item_ids)
