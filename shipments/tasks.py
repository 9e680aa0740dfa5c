"""Thin Celery tasks of the shipments app: they receive ids, open the scope and call a service.

Every task is idempotent and acknowledged late: a worker that dies mid-task leaves the message to
be run again, and running it again does no harm (see ``shipments.webhooks.deliver``).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def fan_out_event(event_id: int, client_id: int) -> int:
    """Create the deliveries of one event to the client's subscriptions and send them."""
    from .webhooks import fan_out

    return fan_out(event_id=event_id, client_id=client_id)


@shared_task(acks_late=True)
def fan_out_events(pairs: list[list[int]]) -> int:
    """``fan_out_event`` for a chunk of ``(event_id, client_id)`` pairs (events emitted in bulk)."""
    from .webhooks import fan_out

    return sum(fan_out(event_id=event_id, client_id=client_id) for event_id, client_id in pairs)


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int, client_id: int) -> str:
    """One attempt of one delivery (skipped when it is not due, done, or locked by another worker)."""
    from .webhooks import deliver

    return deliver(delivery_id=delivery_id, client_id=client_id)


@shared_task(acks_late=True)
def deliver_due_webhooks() -> int:
    """Every minute (beat): retries further out than a countdown, and deliveries whose task was lost."""
    from .webhooks import deliver_due

    return deliver_due()


@shared_task(acks_late=True)
def check_low_stock(client_id: int, item_ids: list[int]) -> int:
    """After allocations and moves in sellable bins: emit ``inventory.low_stock`` on a crossing."""
    from .webhooks import check_low_stock as check

    return check(client_id=client_id, item_ids=item_ids)


@shared_task(acks_late=True)
def low_stock_sweep() -> int:
    """Hourly backstop of the low-stock check, for changes no hook saw."""
    from .webhooks import low_stock_sweep as sweep

    return sweep()
