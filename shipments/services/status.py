"""The one place a shipment's status changes, and how an order's status follows its shipments.

``shipment_transition`` locks nothing itself: the caller holds the shipment's row lock (every
service locks it first). ``sync_order`` locks the order and derives its status from its
shipments and its remaining reservations:
- shipped when no reservation is left (every unit left the building) and no shipment is still
  being packed or waiting for pickup; ``shipped_at`` is the last shipment's;
- partially shipped when one shipment left and units or shipments remain (a split order);
- delivered when it is shipped and every shipment that left has been delivered.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from fulfillment.calendar import BusinessCalendar
from orders.enums import OrderStatus
from orders.models import Allocation, Order
from orders.services import transition as order_transition

from ..enums import SHIPMENT_TRANSITIONS, SHIPPED_STATUSES, EventType, ShipmentStatus
from ..events import emit, shipment_data
from ..models import Shipment


def shipment_transition(
    *, actor: Actor, shipment: Shipment, to: str, at: datetime | None = None, reason: str = ""
) -> Shipment:
    """Check the table, stamp the times the new status implies, save, and let the order follow."""
    if to not in ShipmentStatus.values:
        raise ValidationError({"status": [f"“{to}” is not a shipment status."]})
    if to not in SHIPMENT_TRANSITIONS[shipment.status]:
        raise ValidationError(
            {
                "status": [
                    f"A shipment that is {shipment.get_status_display().lower()} cannot become "
                    f"{ShipmentStatus(to).label.lower()}."
                ]
            }
        )
    at = at or timezone.now()
    was = shipment.status
    shipment.status = to
    if to in SHIPPED_STATUSES and shipment.shipped_at is None:
        shipment.shipped_at = at
    if to == ShipmentStatus.DELIVERED:
        shipment.delivered_at = at
        if shipment.shipped_at:
            calendar = BusinessCalendar(shipment.warehouse.time_zone)
            shipment.transit_days = calendar.business_days_between(shipment.shipped_at, at)
    if to == ShipmentStatus.EXCEPTION:
        shipment.exception_reason = reason[:300]
    elif was == ShipmentStatus.EXCEPTION:
        shipment.exception_reason = ""
    shipment.save()
    if to == ShipmentStatus.EXCEPTION:
        emit(client_id=shipment.client_id, type=EventType.SHIPMENT_EXCEPTION, data=shipment_data(shipment))
    if to in SHIPPED_STATUSES or was in SHIPPED_STATUSES:
        sync_order(actor=actor, order_id=shipment.order_id, client_id=shipment.client_id)
    return shipment


def sync_order(*, actor: Actor, order_id: int, client_id: int) -> Order:
    """Move the order to shipped, partially shipped or delivered as its shipments say."""
    with scope(client=client_id):
        order = Order.objects.select_for_update(of=("self",)).select_related("warehouse").get(pk=order_id)
        shipments = list(
            Shipment.objects.filter(order=order).values_list("status", "shipped_at", "delivered_at")
        )
        left = [s for s in shipments if s[0] in SHIPPED_STATUSES]
        if not left:
            return order
        waiting = any(s[0] in (ShipmentStatus.PACKING, ShipmentStatus.LABEL_CREATED) for s in shipments)
        reserved = Allocation.objects.filter(order=order, released_at__isnull=True).exists()
        complete = not waiting and not reserved
        target = order.status
        if complete:
            moving = [s for s in left if s[0] != ShipmentStatus.RETURNED_TO_SENDER]
            delivered = bool(moving) and all(s[0] == ShipmentStatus.DELIVERED for s in moving)
            target = OrderStatus.DELIVERED if delivered else OrderStatus.SHIPPED
        elif order.status not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            target = OrderStatus.PARTIALLY_SHIPPED
        if target == order.status:
            return order
        if target in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) and order.status != OrderStatus.SHIPPED:
            order.shipped_at = max(s[1] for s in left)
            if order.status != OrderStatus.DELIVERED:
                _step(actor, order, OrderStatus.SHIPPED)
        if target == OrderStatus.DELIVERED:
            order.delivered_at = Shipment.objects.filter(order=order).aggregate(last=Max("delivered_at"))[
                "last"
            ]
            _step(actor, order, OrderStatus.DELIVERED)
        elif target == OrderStatus.PARTIALLY_SHIPPED:
            _step(actor, order, OrderStatus.PARTIALLY_SHIPPED)
        return order


def _step(actor: Actor, order: Order, to: str) -> None:
    """One order transition (``orders.services.transition`` writes the event and emits the
    ``order.shipped`` / ``order.delivered`` webhook event)."""
    if order.status != to:
        order_transition(actor=actor, order=order, to=to)
