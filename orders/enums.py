"""Order statuses and their allowed transitions, holds, channels and service levels."""

from django.db import models


class OrderStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    ON_HOLD = "on_hold", "On hold"
    BACKORDERED = "backordered", "Backordered"
    ALLOCATED = "allocated", "Allocated"
    PICKING = "picking", "Picking"
    PACKED = "packed", "Packed"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    EXCEPTION = "exception", "Exception"


_OPEN = {OrderStatus.RECEIVED, OrderStatus.ON_HOLD, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED}
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.RECEIVED: frozenset(
        {OrderStatus.ON_HOLD, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED, OrderStatus.CANCELLED}
    ),
    OrderStatus.ON_HOLD: frozenset({OrderStatus.RECEIVED, OrderStatus.CANCELLED}),
    OrderStatus.BACKORDERED: frozenset(
        {OrderStatus.ALLOCATED, OrderStatus.ON_HOLD, OrderStatus.RECEIVED, OrderStatus.CANCELLED}
    ),
    OrderStatus.ALLOCATED: frozenset(
        {
            OrderStatus.PICKING,
            OrderStatus.ON_HOLD,
            OrderStatus.RECEIVED,
            OrderStatus.CANCELLED,
            OrderStatus.EXCEPTION,
        }
    ),
    # A split order ships from each node on its own: partially shipped until the last one leaves.
    # Back to allocated when its wave is cancelled before any unit was picked (shipments.waves).
    OrderStatus.PICKING: frozenset(
        {
            OrderStatus.ALLOCATED,
            OrderStatus.PACKED,
            OrderStatus.PARTIALLY_SHIPPED,
            OrderStatus.SHIPPED,
            OrderStatus.EXCEPTION,
        }
    ),
    OrderStatus.PACKED: frozenset(
        {OrderStatus.PICKING, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.EXCEPTION}
    ),
    OrderStatus.PARTIALLY_SHIPPED: frozenset({OrderStatus.SHIPPED, OrderStatus.EXCEPTION}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.EXCEPTION}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.EXCEPTION: frozenset({OrderStatus.RECEIVED, OrderStatus.CANCELLED}),
}
EDITABLE_STATUSES = frozenset(_OPEN)  # until picking starts
CANCELLABLE_STATUSES = frozenset(_OPEN | {OrderStatus.EXCEPTION})


class HoldKind(models.TextChoices):
    CLIENT = "client", "Client hold"
    OPERATOR = "operator", "Operator hold"
    ADDRESS = "address", "Address hold"
    EXCEPTION = "exception", "Exception (unknown SKU)"


# Holds the brand caused: releasing one restarts the SLA clock (DOMAIN.md: released_at).
CLIENT_CAUSED_HOLDS = frozenset({HoldKind.CLIENT, HoldKind.ADDRESS, HoldKind.EXCEPTION})


class Channel(models.TextChoices):
    API = "api", "API"
    CSV = "csv", "CSV upload"
    PORTAL = "portal", "Portal"
    SHOPIFY = "shopify", "Shopify"
    WHOLESALE = "wholesale", "Wholesale / EDI"


class OrderType(models.TextChoices):
    DTC = "dtc", "Direct to consumer"
    WHOLESALE = "wholesale", "Wholesale / retail"


class ServiceLevel(models.TextChoices):
    STANDARD = "standard", "Standard"
    EXPEDITED = "expedited", "Expedited"
    TWO_DAY = "two_day", "Two-day"
    OVERNIGHT = "overnight", "Overnight"


EXPEDITED_LEVELS = frozenset({ServiceLevel.EXPEDITED, ServiceLevel.TWO_DAY, ServiceLevel.OVERNIGHT})
