"""Every read of the orders app, filtered for the actor, with constant query counts per page."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Warehouse

from .enums import OrderStatus
from .models import Allocation, Order, OrderLine, ShopifyConnection

AT_RISK_WINDOW = timedelta(hours=2)  # DOMAIN.md: not packed and ship_by within 2 hours
NOT_YET_SHIPPED_EXCLUDED = (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)
PACKED_OR_LATER = (OrderStatus.PACKED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)


# The same sets named by what they hold: ``status IN (...)`` lets PostgreSQL read the (status,
# ship_by) index, where ``NOT status IN (...)`` would read every order ever shipped.
OPEN_STATUSES = tuple(s for s in OrderStatus.values if s not in NOT_YET_SHIPPED_EXCLUDED)
NOT_PACKED_STATUSES = tuple(s for s in OrderStatus.values if s not in PACKED_OR_LATER)


def late_q(now: datetime | None = None) -> Q:
    """Not shipped (nor cancelled) and the ship-by deadline has passed."""
    now = now or timezone.now()
    return Q(ship_by__lt=now, status__in=OPEN_STATUSES)


def at_risk_q(now: datetime | None = None) -> Q:
    """Not packed yet and due within the next two hours (a passed deadline is late, not at risk)."""
    now = now or timezone.now()
    return Q(ship_by__gte=now, ship_by__lte=now + AT_RISK_WINDOW, status__in=NOT_PACKED_STATUSES)


def _visible(actor: Actor) -> Q:
    """Clients see their orders (the scope does that); a warehouse operator sees the orders routed
    to the nodes they work at, and those not routed yet of the clients served there."""
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        return Q(warehouse__in=Warehouse.objects.filter(operators=actor.user)) | Q(warehouse__isnull=True)
    return Q()


def order_rows(*, actor: Actor) -> QuerySet[Order]:
    """The order list's rows: orders with their node, line count and units.

    The two counts are correlated subqueries, so PostgreSQL computes them for the rows of the page
    only (after the LIMIT), and the list's count leaves them out. Filters on lines use EXISTS, never
    a join (a join repeats an order per line and would need DISTINCT over every matching order)."""
    lines = OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
    return (
        Order.objects.filter(actor.client_q())
        .filter(_visible(actor))
        .select_related("warehouse")
        .annotate(
            line_count=Coalesce(
                Subquery(lines.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
            ),
            units=Coalesce(
                Subquery(lines.annotate(n=Sum("quantity")).values("n"), output_field=IntegerField()), 0
            ),
        )
    )


def order_list(*, actor: Actor) -> QuerySet[Order]:
    """``order_rows`` with each order's client (exports and lookups show its name and time zone)."""
    return order_rows(actor=actor).select_related("client")


def order_detail_prefetch(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Lines with their items, allocations with node and bin, holds and the event timeline: four
    queries whatever the number of lines."""
    return queryset.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("item")),
        Prefetch(
            "allocations",
            queryset=Allocation.objects.select_related("warehouse", "location", "item"),
        ),
        "holds",
        "events",
    )


def order_get(*, actor: Actor, pk) -> Order:
    return get_object_or_404(order_detail_prefetch(order_list(actor=actor)), pk=pk)


def shopify_connection_list(*, actor: Actor) -> QuerySet[ShopifyConnection]:
    return ShopifyConnection.objects.filter(actor.client_q()).select_related("client").order_by("pk")


# --- backorders and the ASNs that will fill them ---------------------------------------------------

OPEN_ASN_STATUSES = ("submitted", "in_transit", "arrived", "receiving")


def needed_item_ids(order: Order) -> set[int]:
    """The stocked items an order needs: its plain items and its kits' components."""
    from inventory.models import KitComponent

    items = {line.item_id for line in order.lines.all() if line.item_id}
    kits = KitComponent.objects.filter(kit_id__in=items).values_list("kit_id", "component_id")
    kit_ids = {kit for kit, _ in kits}
    return (items - kit_ids) | {component for _, component in kits}


def incoming_asns(*, order: Order):
    """Open ASNs of the order's client bringing any item it needs (for a backordered order:
    what will fill it), soonest ETA first."""
    from inventory.models import ASN

    if order.status != OrderStatus.BACKORDERED:
        return ASN.objects.none()
    return (
        ASN.objects.filter(
            client_id=order.client_id, status__in=OPEN_ASN_STATUSES, lines__item__in=needed_item_ids(order)
        )
        .distinct()
        .select_related("warehouse")
        .order_by("eta", "pk")
    )
