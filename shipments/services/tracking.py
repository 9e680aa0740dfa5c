"""Tracking events from carriers and integrations (DOMAIN.md's tracking statuses).

Carriers redeliver and reorder events, so:
- an event with an ``external_id`` is recorded once per shipment (a redelivery returns the event
  recorded the first time, and changes nothing);
- every event is recorded, but only the newest one (by ``occurred_at``) moves the shipment, and
  only as the transition table allows: an ``in_transit`` scan older than ``delivered`` is history,
  and a late ``in_transit`` after ``delivered`` does not un-deliver the parcel;
- the carrier's first moving scan of a parcel never scanned out at the dock is its pickup: the
  parcel ships then (the same stock moves as a scan-out).
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django_scopes import scope

from accounts.actors import Actor
from accounts.roles import Perm

from ..enums import SHIPMENT_TRANSITIONS, SHIPPED_STATUSES, ShipmentStatus, TrackingSource, TrackingStatus
from ..models import Shipment, TrackingEvent
from .shipping import lock_shipment, require_node_access, ship_locked
from .status import shipment_transition

MOVING = frozenset(SHIPPED_STATUSES)


def _validate(status: str, occurred_at: datetime, source: str) -> None:
    errors = {}
    if status not in TrackingStatus.values:
        errors["status"] = [f"“{status}” is not a tracking status ({', '.join(TrackingStatus.values)})."]
    if not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None:
        errors["occurred_at"] = ["Give the time with its offset (ISO 8601, e.g. 2026-03-02T14:05:00Z)."]
    if source not in TrackingSource.values:
        errors["source"] = [f"“{source}” is not a tracking source."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def record_tracking_event(
    *,
    actor: Actor,
    shipment: Shipment,
    status: str,
    occurred_at: datetime,
    location: str = "",
    description: str = "",
    estimated_delivery_date: date | None = None,
    source: str,
    external_id: str = "",
) -> TrackingEvent:
    """Record one tracking event and let the shipment (and its order) follow when it is news."""
    actor.require(Perm.TRACKING_RECORD, client_id=shipment.client_id)
    require_node_access(actor, shipment.warehouse_id)
    _validate(status, occurred_at, source)
    external_id = (external_id or "").strip()[:100]
    shipment = lock_shipment(shipment)
    with scope(client=shipment.client_id):
        if external_id:
            existing = TrackingEvent.objects.filter(shipment=shipment, external_id=external_id).first()
            if existing is not None:
                return existing
        if shipment.status == ShipmentStatus.PACKING:
            raise ValidationError(
                {"status": [f"{shipment.number} has no label yet: there is nothing to track."]}
            )
        # The newest carrier-side event decides (the label's own event is the platform's clock).
        newest = (
            not TrackingEvent.objects.filter(shipment=shipment, occurred_at__gt=occurred_at)
            .exclude(status=TrackingStatus.LABEL_CREATED)
            .exists()
        )
        event = TrackingEvent.objects.create(
            client_id=shipment.client_id,
            shipment=shipment,
            status=status,
            occurred_at=occurred_at,
            location=(location or "")[:200],
            description=(description or "")[:300],
            estimated_delivery_date=estimated_delivery_date,
            source=source,
            external_id=external_id,
        )
        if shipment.status == ShipmentStatus.LABEL_CREATED and status in MOVING:
            # The carrier's first scan is the pickup; the event just recorded is its record.
            ship_locked(actor=actor, shipment=shipment, at=occurred_at, source=source, description="")
        moves = newest and status in MOVING and status != shipment.status
        if moves and status in SHIPMENT_TRANSITIONS[shipment.status]:
            reason = (description or "Carrier exception") if status == ShipmentStatus.EXCEPTION else ""
            shipment_transition(actor=actor, shipment=shipment, to=status, at=occurred_at, reason=reason)
        updates = []
        if newest and estimated_delivery_date and shipment.estimated_delivery_date != estimated_delivery_date:
            shipment.estimated_delivery_date = estimated_delivery_date
            updates.append("estimated_delivery_date")
        if shipment.last_event_at is None or shipment.last_event_at < occurred_at:
            shipment.last_event_at = occurred_at
            updates.append("last_event_at")
        if updates:
            Shipment.objects.filter(pk=shipment.pk).update(**{f: getattr(shipment, f) for f in updates})
    return event


def refresh_tracking(*, actor: Actor, shipment: Shipment) -> list[TrackingEvent]:
    """Ask the carrier's adapter for the parcel's events and record them (redeliveries are
    ignored by their ids)."""
    from ..carriers import adapter_for

    if not shipment.carrier_id or shipment.status == ShipmentStatus.PACKING:
        return []
    recorded = []
    for update in adapter_for(shipment.carrier).track(shipment=shipment):
        recorded.append(
            record_tracking_event(
                actor=actor,
                shipment=shipment,
                status=update.status,
                occurred_at=update.occurred_at,
                location=getattr(update, "location", "") or "",
                description=getattr(update, "description", "") or "",
                estimated_delivery_date=getattr(update, "estimated_delivery_date", None),
                source=TrackingSource.CARRIER,
                external_id=getattr(update, "external_id", "") or "",
            )
        )
    return recorded
