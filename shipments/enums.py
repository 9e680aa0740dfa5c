"""Statuses of waves, picks and shipments with their allowed transitions; tracking statuses,
service promises and the events a brand can subscribe to."""

from django.db import models


class WaveStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RELEASED = "released", "Released"
    PICKING = "picking", "Picking"
    PICKED = "picked", "Picked"
    CANCELLED = "cancelled", "Cancelled"


WAVE_TRANSITIONS: dict[str, frozenset[str]] = {
    WaveStatus.PLANNED: frozenset({WaveStatus.RELEASED, WaveStatus.CANCELLED}),
    WaveStatus.RELEASED: frozenset({WaveStatus.PICKING, WaveStatus.PICKED, WaveStatus.CANCELLED}),
    WaveStatus.PICKING: frozenset({WaveStatus.PICKED}),
    WaveStatus.PICKED: frozenset(),
    WaveStatus.CANCELLED: frozenset(),
}


class WaveUnits(models.TextChoices):
    """Single-unit orders are picked in batches and packed without sorting; multi-unit orders are not."""

    ANY = "any", "Any"
    SINGLE = "single", "Single-unit orders"
    MULTI = "multi", "Multi-unit orders"


class PickStatus(models.TextChoices):
    OPEN = "open", "To pick"
    PICKED = "picked", "Picked"
    SHORT = "short", "Short"
    CANCELLED = "cancelled", "Cancelled"


class ShipmentStatus(models.TextChoices):
    PACKING = "packing", "Packing"
    LABEL_CREATED = "label_created", "Label created"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"


_MOVING = {
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERED,
    ShipmentStatus.EXCEPTION,
    ShipmentStatus.RETURNED_TO_SENDER,
}
SHIPMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    ShipmentStatus.PACKING: frozenset({ShipmentStatus.LABEL_CREATED}),
    # a label can be voided before pickup: the shipment goes back to packing
    ShipmentStatus.LABEL_CREATED: frozenset({ShipmentStatus.PACKING} | _MOVING),
    ShipmentStatus.IN_TRANSIT: frozenset(_MOVING - {ShipmentStatus.IN_TRANSIT}),
    ShipmentStatus.OUT_FOR_DELIVERY: frozenset(_MOVING - {ShipmentStatus.OUT_FOR_DELIVERY}),
    ShipmentStatus.EXCEPTION: frozenset(_MOVING - {ShipmentStatus.EXCEPTION}),
    ShipmentStatus.DELIVERED: frozenset(),
    ShipmentStatus.RETURNED_TO_SENDER: frozenset(),
}
# Statuses in which the parcel has left the node (``shipped_at`` is set).
SHIPPED_STATUSES = frozenset(_MOVING)


class TrackingStatus(models.TextChoices):
    """DOMAIN.md's tracking statuses."""

    LABEL_CREATED = "label_created", "Label created"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"


class TrackingSource(models.TextChoices):
    SYSTEM = "system", "Platform"
    CARRIER = "carrier", "Carrier webhook"
    API = "api", "API"
    FLOOR = "floor", "Warehouse scan"


class CarrierAdapterKind(models.TextChoices):
    RATE_CARD = "rate_card", "Built-in rate card"


class TrackingFormat(models.TextChoices):
    """How a carrier writes its tracking numbers (the built-in carrier issues them in this format)."""

    UPS = "ups", "UPS (1Z…)"
    FEDEX = "fedex", "FedEx (12 digits)"
    USPS = "usps", "USPS (22 digits, 92…)"
    GENERIC = "generic", "Generic"


# The delivery promise of each order service level, in business days after shipping (rate
# shopping picks the cheapest service whose transit to the order's zone is within it).
SERVICE_PROMISE_DAYS: dict[str, int] = {
    "standard": 5,
    "expedited": 3,
    "two_day": 2,
    "overnight": 1,
}


class EventType(models.TextChoices):
    ORDER_CREATED = "order.created", "Order created"
    ORDER_ALLOCATED = "order.allocated", "Order allocated"
    ORDER_BACKORDERED = "order.backordered", "Order backordered"
    ORDER_SHIPPED = "order.shipped", "Order shipped"
    ORDER_DELIVERED = "order.delivered", "Order delivered"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"
    ASN_ARRIVED = "asn.arrived", "ASN arrived"
    ASN_RECEIVED = "asn.received", "ASN received"
    INVENTORY_LOW_STOCK = "inventory.low_stock", "Low stock"
    SHIPMENT_EXCEPTION = "shipment.exception", "Shipment exception"
    ALERT_OPENED = "alert.opened", "Alert opened"
    ALERT_RESOLVED = "alert.resolved", "Alert resolved"
    WEBHOOK_TEST = "webhook.test", "Test event"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"
