"""The reads of the order pages (portal and console), filtered for the actor, with a constant number
of queries per page: counts and the SLA state are annotations, the detail's rows are prefetched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.actors import Actor
from accounts.enums import Role

from .enums import OrderStatus
from .models import Allocation, Order, OrderEvent, OrderHold, OrderLine
from .selectors import at_risk_q, late_q  # one definition of late and at risk

SLA_LATE, SLA_AT_RISK = "late", "at_risk"


def _sum(qs: QuerySet, field: str, agg) -> Coalesce:
    sub = qs.order_by().values("order").annotate(n=agg(field)).values("n")
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def order_list(*, actor: Actor, now: datetime | None = None) -> QuerySet[Order]:
    """The orders the actor may see, with line and unit counts and ``sla`` ("late", "at_risk", "")."""
    now = now or timezone.now()
    lines = OrderLine.objects.filter(order=OuterRef("pk"))
    qs = Order.objects.filter(actor.client_q("client"))
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        # Orders of the clients served at their nodes, routed to their nodes or not routed yet.
        qs = qs.filter(Q(warehouse__isnull=True) | Q(warehouse__operators=actor.user))
    return qs.select_related("client", "warehouse").annotate(
        line_count=_sum(lines, "pk", Count),
        units=_sum(lines, "quantity", Sum),
        sla=Case(
            When(late_q(now), then=Value(SLA_LATE)),
            When(at_risk_q(now), then=Value(SLA_AT_RISK)),
            default=Value(""),
            output_field=CharField(),
        ),
    )


@dataclass
class OrderFilters:
    status: str = ""
    channel: str = ""
    q: str = ""
    client_id: int | None = None
    received_from: date | None = None
    received_to: date | None = None  # inclusive
    time_zone: str = "UTC"  # of the date range


def order_filter(orders: QuerySet[Order], filters: OrderFilters) -> QuerySet[Order]:
    """Status, channel, client, a reference or SKU search, and a received date range (local days)."""
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.channel:
        orders = orders.filter(channel=filters.channel)
    if filters.client_id:
        orders = orders.filter(client_id=filters.client_id)
    if q := filters.q.strip():
        has_sku = OrderLine.objects.filter(order=OuterRef("pk"), sku__iexact=q)
        number = q.upper().removeprefix("ORD-")
        match = Q(external_reference__icontains=q) | Q(po_number__iexact=q) | Exists(has_sku)
        if number.isdigit():
            match |= Q(pk=int(number))
        orders = orders.filter(match)
    tz = ZoneInfo(filters.time_zone)
    if filters.received_from:
        orders = orders.filter(received_at__gte=datetime.combine(filters.received_from, time.min, tz))
    if filters.received_to:
        end = filters.received_to + timedelta(days=1)
        orders = orders.filter(received_at__lt=datetime.combine(end, time.min, tz))
    return orders


def order_get(*, actor: Actor, pk) -> Order:
    """One order with everything its detail page shows, in a fixed number of queries."""
    allocations = Allocation.objects.filter(released_at__isnull=True).select_related(
        "item", "warehouse", "location"
    )
    lines = OrderLine.objects.select_related("item").prefetch_related(
        Prefetch("allocations", queryset=allocations.order_by("pk"), to_attr="active_allocations")
    )
    qs = order_list(actor=actor).prefetch_related(
        Prefetch("lines", queryset=lines.order_by("pk")),
        Prefetch("holds", queryset=OrderHold.objects.order_by("placed_at", "pk")),
        Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
    )
    return get_object_or_404(qs, pk=pk)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    title: str
    who: str
    reason: str
    kind: str  # "status", "hold", "release"


def order_timeline(order: Order) -> list[TimelineEntry]:
    """Status events and holds placed and released, oldest first (from the prefetched rows)."""
    entries = []
    for e in order.events.all():
        title = (
            f"{e.get_from_status_display()} → {e.get_to_status_display()}"
            if e.from_status
            else e.get_to_status_display()
        )
        entries.append(TimelineEntry(e.created_at, title, e.actor_label, e.reason, "status"))
    for h in order.holds.all():
        entries.append(
            TimelineEntry(h.placed_at, f"{h.get_kind_display()} placed", h.actor_label, h.reason, "hold")
        )
        if h.released_at:
            entries.append(
                TimelineEntry(h.released_at, f"{h.get_kind_display()} released", h.released_by, "", "release")
            )
    return sorted(entries, key=lambda x: x.at)


QUEUES = (
    ("on_hold", "On hold"),
    ("backordered", "Backordered"),
    ("at_risk", "At risk"),
    ("late", "Late"),
)


def order_queue(orders: QuerySet[Order], name: str, now: datetime | None = None) -> QuerySet[Order]:
    now = now or timezone.now()
    if name == "on_hold":
        return orders.filter(status=OrderStatus.ON_HOLD).order_by("received_at", "pk")
    if name == "backordered":
        return orders.filter(status=OrderStatus.BACKORDERED).order_by("ship_by", "received_at", "pk")
    if name == "at_risk":
        return orders.filter(at_risk_q(now)).order_by("ship_by", "pk")
    if name == "late":
        return orders.filter(late_q(now)).order_by("ship_by", "pk")
    raise KeyError(name)


def order_queue_counts(*, actor: Actor, now: datetime | None = None) -> dict[str, int]:
    """The size of each console queue, in one query."""
    now = now or timezone.now()
    qs = Order.objects.filter(actor.client_q("client"))
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        qs = qs.filter(Q(warehouse__isnull=True) | Q(warehouse__operators=actor.user))
    return qs.aggregate(
        on_hold=Count("pk", filter=Q(status=OrderStatus.ON_HOLD)),
        backordered=Count("pk", filter=Q(status=OrderStatus.BACKORDERED)),
        at_risk=Count("pk", filter=at_risk_q(now)),
        late=Count("pk", filter=late_q(now)),
    )
