"""The outbox: ``emit`` writes one ``Event`` row in the caller's transaction; after commit a Celery
task fans it out to the client's webhook subscriptions (``shipments.webhooks``). The pull feed
(``GET /api/v1/events/``) reads the same rows, so an integration can reconcile what it missed.

Payload builders live here so a webhook, the feed and a replay always carry the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from . import subscription_cache
from .models import Event


def emit(*, client_id: int, type: str, data: dict[str, Any]) -> Event:
    """Record one event for one client (in the current transaction) and deliver it after commit."""
    with scope(client=client_id):
        event = Event.objects.create(client_id=client_id, type=type, payload=data)
    event_id = event.pk
    transaction.on_commit(lambda: _fan_out(event_id, client_id))
    return event


def _fan_out(event_id: int, client_id: int) -> None:
    from .tasks import fan_out_event

    fan_out_event.delay(event_id, client_id)


FAN_OUT_CHUNK = 500


def emit_many(events: Iterable[tuple[int, str, dict[str, Any]]], *, before: Sequence = ()) -> list[Event]:
    """Record many ``(client_id, type, data)`` events with one INSERT (a sweep, a batch) in the
    current transaction. After commit, the events of clients with an active webhook subscription are
    fanned out, a chunk of events per task; every event is in the pull feed either way.

    ``before``: the caller's statements that return nothing (``orders.bulk.insert_statement``), sent
    with the INSERT in one round trip (PostgreSQL only)."""
    given = list(events)
    if connection.vendor == "postgresql":
        rows = _insert(given, before)  # (no events: only the statements before, if any)
    elif any(before):
        raise NotImplementedError("statements sent together need PostgreSQL here")
    else:
        rows = [Event(client_id=client_id, type=type, payload=data) for client_id, type, data in given]
        with scopes_disabled():
            Event.objects.bulk_create(rows)
    fan_out_after_commit([(e.pk, e.client_id) for e in rows])
    return rows


def _insert(given: list[tuple[int, str, dict[str, Any]]], before: Sequence = ()) -> list[Event]:
    """One ``INSERT ... RETURNING id`` from plain values (``orders.bulk``: a column every event
    shares, such as the client, the type and the time, is sent once), each payload as its JSON
    text: Django would prepare every value of every row through its field, which at a batch
    intake's thousands of events costs more than the database's work. The events are built from
    the ids returned, as they were written."""
    from orders import bulk

    now = timezone.now()
    encoder = Event._meta.get_field("payload").encoder
    texts = [json.dumps(data, cls=encoder) for _c, _t, data in given]
    ids = bulk.insert_returning(
        Event,
        ("client_id", "type", "payload", "created_at"),
        [(client_id, type, text, now) for (client_id, type, _d), text in zip(given, texts, strict=True)],
        before=before,
    )
    db = connection.alias
    return [
        bulk.instance(
            Event,
            (("id", pk), ("client_id", client_id), ("type", type), ("payload", data), ("created_at", now)),
            db=db,
        )
        for (client_id, type, data), (pk,) in zip(given, ids, strict=True)
    ]


def fan_out_after_commit(events: list[tuple[int, int]]) -> None:
    """After commit, deliver the just-written ``(event id, client id)`` events of clients with an
    active webhook subscription, a chunk of events per task (those clients from the cache, or one
    query for the clients it does not hold: ``subscription_cache``)."""
    if not events:
        return
    subscribed = subscription_cache.subscribed_clients({c for _e, c in events})
    due = [(e, c) for e, c in events if c in subscribed]
    if due:
        transaction.on_commit(lambda: _fan_out_chunks(due))


def _fan_out_chunks(pairs: list[tuple[int, int]]) -> None:
    from .tasks import fan_out_events

    for start in range(0, len(pairs), FAN_OUT_CHUNK):
        fan_out_events.delay(pairs[start : start + FAN_OUT_CHUNK])


def envelope(event: Event) -> dict[str, Any]:
    """What a subscriber receives and what the feed lists: the same object, byte for byte."""
    return {
        "id": event.webhook_id,
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "client": event.client_id,
        "data": event.payload,
    }


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_data(order) -> dict[str, Any]:
    return {
        "order_id": order.pk,
        "number": order.number,
        "external_reference": order.external_reference,
        "channel": order.channel,
        "status": order.status,
        "service_level": order.service_level,
        "warehouse": order.warehouse.code if order.warehouse_id else None,
        "received_at": _iso(order.received_at),
        "ship_by": _iso(order.ship_by),
        "shipped_at": _iso(order.shipped_at),
        "delivered_at": _iso(order.delivered_at),
        "cancelled_at": _iso(order.cancelled_at),
    }


def shipment_data(shipment) -> dict[str, Any]:
    return {
        "shipment_id": shipment.pk,
        "number": shipment.number,
        "order_id": shipment.order_id,
        "order_external_reference": shipment.order.external_reference,
        "status": shipment.status,
        "warehouse": shipment.warehouse.code,
        "carrier": shipment.carrier.code if shipment.carrier_id else None,
        "service": shipment.service.code if shipment.service_id else None,
        "tracking_number": shipment.tracking_number or None,
        "shipped_at": _iso(shipment.shipped_at),
        "estimated_delivery_date": (
            shipment.estimated_delivery_date.isoformat() if shipment.estimated_delivery_date else None
        ),
        "delivered_at": _iso(shipment.delivered_at),
        "exception_reason": shipment.exception_reason or None,
    }


def asn_data(asn) -> dict[str, Any]:
    return {
        "asn_id": asn.pk,
        "number": asn.number,
        "reference": asn.reference,
        "po_reference": asn.po_reference,
        "status": asn.status,
        "warehouse": asn.warehouse.code,
        "arrived_at": _iso(asn.arrived_at),
        "received_at": _iso(asn.received_at),
        "stocked_at": _iso(asn.stocked_at),
    }
