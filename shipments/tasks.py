"""Thin Celery tasks of the shipments app: they receive ids, open the scope and call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def fan_out_event(event_id: int, client_id: int) -> int:
    """Create the deliveries of one event to the client's subscriptions and send them."""
    from .webhooks import fan_out

    return fan_out(event_id=event_id, client_id=client_id)
