"""The KPI engine: every KPI of DOMAIN.md for a set of clients and a period of local days.

How a number is made:
- Each client's period is a range of local days in the client's time zone; a client set sums each
  client's own local days.
- Additive KPIs are numerators and denominators counted per client per local day
  (``daily_counters``): set-based grouped queries, one per source table, whatever the number of
  days. The nightly rollup (``reporting.rollup``) stores exactly those counters in ``DailyKPI``;
  ``kpi_report`` reads the rollup for the complete days that have a row and counts the others (today,
  days never rolled up) live with the same function, so both paths give the same numbers.
- Percentiles (click-to-ship, dock-to-stock, transit p90) are not additive: they are read from the
  source rows for the whole period (PostgreSQL ``percentile_cont``; SQLite, which only the demo uses,
  fetches that one KPI's values and interpolates the same way in Python).
- "Now" KPIs (days of supply, aged inventory) describe the stock as it is, not a period: they are in
  the totals, not in the series.

Readings of DOMAIN.md's table where it leaves a choice (also in the README):
- Units are base units: a kit line counts as its components (``quantity x`` the kit's component
  quantities), which is what packing scans into packages, so "complete" and fill rates compare like
  with like.
- An order is *closed* when it is fully shipped (``Order.shipped_at``, delivery does not re-close it)
  or, never shipped, cancelled (``cancelled_at``); fill rates count orders closed in P.
- Same-day: the order's routed node's calendar and local time (the client's calendar when not routed
  yet), the client's cutoff (the expedited cutoff for expedited service levels, as the ship-by clock
  does); cancelled orders are not eligible (they were never meant to ship). Counted on the day the
  order was received (client time zone).
- Carrier on-time compares the delivery's local date at the shipping node with the estimated
  delivery date (as the late-shipment alert does); it is counted on the client-local delivery day.
- Shipping cost per order: the cost of the shipments of the orders shipped in P / those orders (a
  split order's earlier shipment is counted with the order), so carrier/service/zone rows add up.
- Inventory turns over P are not annualised: units shipped in P / mean end-of-day units on hand over
  P's days up to today (today's "end of day" is the on hand now).
- Days of supply: available (sellable) units now / (units shipped in the 28 complete local days
  before today / 28).

``kpi_report`` trusts ``client_ids``: the caller (API, page, task) has checked the actor may see them.
It reads with scopes disabled (operator-wide reporting, README: tenancy) on the reporting replica.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Abs, Coalesce, Trunc, TruncDate, TruncTime
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Client, Warehouse
from fulfillment.calendar import BusinessCalendar
from fulfillment.db import reporting_alias, reporting_reads
from inventory.enums import SELLABLE_LOCATION_TYPES, ASNStatus, CountStatus
from inventory.models import ASN, ASNLine, Balance, CycleCountLine, InventorySnapshot, Item, KitComponent
from orders.enums import EXPEDITED_LEVELS, OrderStatus
from orders.models import Order, OrderLine
from shipments.models import PackageLine, Shipment

from .enums import Granularity
from .models import DailyItemShipped, DailyKPI, DailyShipping, OrderError

# --- the catalogue ------------------------------------------------------------------------------

PERCENT, HOURS, DAYS, USD, ORDERS, UNITS, TURNS = "%", "hours", "days", "USD", "orders", "units", "turns"


# The stock KPIs, in the order the dashboard and the QBR show them.
INVENTORY_KPIS = (
    "units_on_hand",
    "days_of_supply",
    "inventory_turns",
    "aged_0_30",
    "aged_31_90",
    "aged_91_180",
    "aged_over_180",
)


@dataclass(frozen=True)
class KPIDef:
    key: str
    label: str
    unit: str
    target_field: str | None = None  # Client field holding the target, in percent
    now: bool = False  # describes the stock now, not the period: totals only


KPI_DEFS: tuple[KPIDef, ...] = (
    KPIDef("orders_received", "Orders received", ORDERS),
    KPIDef("orders_shipped", "Orders shipped", ORDERS),
    KPIDef("units_shipped", "Units shipped", UNITS),
    KPIDef("on_time_ship_rate", "On-time ship rate", PERCENT, "target_on_time_ship"),
    KPIDef("same_day_ship_rate", "Same-day ship rate", PERCENT),
    KPIDef("click_to_ship_median_hours", "Click-to-ship (median)", HOURS),
    KPIDef("click_to_ship_p90_hours", "Click-to-ship (p90)", HOURS),
    KPIDef("dock_to_stock_median_hours", "Dock-to-stock (median)", HOURS),
    KPIDef("dock_to_stock_in_time_rate", "Dock-to-stock within deadline", PERCENT, "target_dock_to_stock"),
    KPIDef("receiving_accuracy", "Receiving accuracy", PERCENT, "target_receiving_accuracy"),
    KPIDef("order_accuracy", "Order accuracy", PERCENT, "target_order_accuracy"),
    KPIDef("inventory_accuracy", "Inventory accuracy", PERCENT, "target_inventory_accuracy"),
    KPIDef("inventory_unit_accuracy", "Inventory unit accuracy", PERCENT),
    KPIDef("unit_fill_rate", "Unit fill rate", PERCENT),
    KPIDef("line_fill_rate", "Line fill rate", PERCENT),
    KPIDef("backorder_rate", "Backorder rate", PERCENT),
    KPIDef("perfect_order_rate", "Perfect order rate", PERCENT),
    KPIDef("shipping_cost_per_order", "Shipping cost per order", USD),
    KPIDef("carrier_on_time_delivery", "Carrier on-time delivery", PERCENT, "target_carrier_on_time"),
    KPIDef("transit_days_mean", "Transit time (mean)", DAYS),
    KPIDef("transit_days_p90", "Transit time (p90)", DAYS),
    KPIDef("days_of_supply", "Days of supply", DAYS, now=True),
    KPIDef("inventory_turns", "Inventory turns", TURNS),
    KPIDef("units_on_hand", "Units on hand", UNITS),
    KPIDef("aged_0_30", "On hand 0-30 days", UNITS, now=True),
    KPIDef("aged_31_90", "On hand 31-90 days", UNITS, now=True),
    KPIDef("aged_91_180", "On hand 91-180 days", UNITS, now=True),
    KPIDef("aged_over_180", "On hand over 180 days", UNITS, now=True),
)
KPI_BY_KEY = {d.key: d for d in KPI_DEFS}
# Lower is better for these (a target, when one exists, is a ceiling). None have targets today.
LOWER_IS_BETTER = frozenset({"backorder_rate"})

# The DailyKPI counters (numerators and denominators of one client's local day).
COUNTERS: tuple[str, ...] = tuple(
    f.name for f in DailyKPI._meta.concrete_fields if f.name not in {"id", "client", "day", "computed_at"}
)
TRAILING_SUPPLY_DAYS = 28
AGE_BUCKETS = (
    ("aged_0_30", 0, 30),
    ("aged_31_90", 31, 90),
    ("aged_91_180", 91, 180),
    ("aged_over_180", 181, None),
)


def kpi_keys() -> list[tuple[str, str, str]]:
    """(key, label, unit) in display order."""
    return [(d.key, d.label, d.unit) for d in KPI_DEFS]


# --- values ---------------------------------------------------------------------------------------

TWO = Decimal("0.01")


@dataclass(frozen=True)
class KPIValue:
    """One KPI for one client set and period. ``value`` None is "n/a" (an empty denominator)."""

    key: str
    label: str
    value: Decimal | None
    numerator: Decimal | int | None
    denominator: Decimal | int | None
    unit: str
    target: Decimal | None = None

    @property
    def display(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == PERCENT:
            return f"{self.value:.2f}%"
        if self.unit == HOURS:
            return f"{self.value:.1f} h"
        if self.unit == DAYS:
            return f"{self.value:.1f} d"
        if self.unit == USD:
            return f"${self.value:,.2f}"
        if self.unit == TURNS:
            return f"{self.value:.2f}"
        return f"{int(self.value):,}"

    @property
    def meets_target(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        if self.key in LOWER_IS_BETTER:
            return self.value <= self.target
        return self.value >= self.target


@dataclass(frozen=True)
class KPIReport:
    client_ids: list[int]
    start: date
    end: date  # inclusive local days (each client's own time zone)
    granularity: str | None
    totals: dict[str, KPIValue]
    # one entry per day / week (its Monday) / month (its 1st) when a granularity is given
    series: list[tuple[date, dict[str, KPIValue]]] = field(default_factory=list)
    # "shipping_by_carrier" / "shipping_by_service" / "shipping_by_zone"
    breakdowns: dict[str, list[dict]] = field(default_factory=dict)


def _q2(value: Decimal) -> Decimal:
    return value.quantize(TWO, rounding=ROUND_HALF_UP)


def _rate(numerator, denominator) -> Decimal | None:
    """A percentage to two decimals; None for an empty denominator."""
    if not denominator:
        return None
    return _q2(Decimal(numerator) * 100 / Decimal(denominator))


def _ratio(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return _q2(Decimal(numerator) / Decimal(denominator))


def _dec(value: float | Decimal | None) -> Decimal | None:
    return None if value is None else _q2(Decimal(str(value)))


# --- local days -----------------------------------------------------------------------------------


def _zone(client: Client) -> ZoneInfo:
    return ZoneInfo(client.time_zone)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight starting ``day`` (built from the date, so DST never shifts it)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _window(field_name: str, client: Client, first: date, last: date) -> Q:
    """``field_name`` in the client's local days [first, last]. A field of a related order
    (``package__shipment__order__shipped_at``) names the order's client too: the same client (it
    is copied onto every row), said so that PostgreSQL starts from the orders' index (the client's
    orders shipped in the period) instead of joining every row of the client's year."""
    zone = _zone(client)
    related = field_name.rpartition("__")[0]
    return Q(
        **{
            f"{field_name}__gte": _day_start(first, zone),
            f"{field_name}__lt": _day_start(last + timedelta(days=1), zone),
            **({f"{related}__client": client.pk} if related.rpartition("__")[2] == "order" else {}),
        }
    )


def local_today(client: Client, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(_zone(client)).date()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def bucket_start(day: date, granularity: str | None) -> date:
    if granularity == Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity == Granularity.MONTH:
        return day.replace(day=1)
    return day


def _is_postgres() -> bool:
    return connections[reporting_alias()].vendor == "postgresql"


# --- the nodes' calendars ---------------------------------------------------------------------------


@dataclass
class _Nodes:
    """Every node with its calendar, and one alias name per time zone (local dates are per zone)."""

    calendars: dict[int, BusinessCalendar]
    zone_alias: dict[str, int]  # time zone -> alias index

    @classmethod
    def load(cls) -> _Nodes:
        calendars = {
            w.pk: BusinessCalendar(w.time_zone, frozenset(c.date for c in w.closures.all()))
            for w in Warehouse.objects.prefetch_related("closures").order_by("pk")
        }
        zones = sorted({c.time_zone for c in calendars.values()})
        return cls(calendars, {z: i for i, z in enumerate(zones)})

    def local_date_aliases(self, prefix: str, field_name: str) -> dict:
        return {f"{prefix}{i}": TruncDate(field_name, tzinfo=ZoneInfo(z)) for z, i in self.zone_alias.items()}

    def local_time_aliases(self, prefix: str, field_name: str) -> dict:
        return {f"{prefix}{i}": TruncTime(field_name, tzinfo=ZoneInfo(z)) for z, i in self.zone_alias.items()}

    def alias_of(self, node_id: int, prefix: str) -> str:
        return f"{prefix}{self.zone_alias[self.calendars[node_id].time_zone]}"


def _cutoff_q(client: Client, time_alias: str) -> Q:
    """Received before the client's cutoff (the expedited one for expedited service levels)."""
    regular = Q(**{f"{time_alias}__lt": client.order_cutoff})
    if not client.expedited_cutoff:
        return regular
    expedited = Q(service_level__in=EXPEDITED_LEVELS)
    return (expedited & Q(**{f"{time_alias}__lt": client.expedited_cutoff})) | (~expedited & regular)


def _same_day_qs(client: Client, nodes: _Nodes, first: date, last: date) -> tuple[dict, Q, Q]:
    """Aliases and the Q of orders eligible for same-day shipping and of those shipped that day.
    A node-local date may differ by one from the client-local one: business days are listed one
    day beyond the period on each side."""
    span = _days(first - timedelta(days=1), last + timedelta(days=1))
    aliases = {
        **nodes.local_date_aliases("rd", "received_at"),
        **nodes.local_time_aliases("rt", "received_at"),
        **nodes.local_date_aliases("sd", "shipped_at"),
    }
    eligible, same_day = Q(pk__in=[]), Q(pk__in=[])
    for node_id, calendar in nodes.calendars.items():
        rd, rt, sd = (nodes.alias_of(node_id, p) for p in ("rd", "rt", "sd"))
        node_q = (
            Q(warehouse_id=node_id)
            & Q(**{f"{rd}__in": [d for d in span if calendar.is_business_day(d)]})
            & _cutoff_q(client, rt)
        )
        eligible |= node_q
        same_day |= node_q & Q(**{sd: F(rd)})
    # Not routed yet: the client's own calendar (as the ship-by clock does).
    own = BusinessCalendar(client.time_zone)
    zone = ZoneInfo(client.time_zone)
    aliases |= {
        "rd_own": TruncDate("received_at", tzinfo=zone),
        "rt_own": TruncTime("received_at", tzinfo=zone),
        "sd_own": TruncDate("shipped_at", tzinfo=zone),
    }
    unrouted = (
        Q(warehouse__isnull=True)
        & Q(rd_own__in=[d for d in span if own.is_business_day(d)])
        & _cutoff_q(client, "rt_own")
    )
    eligible |= unrouted
    same_day |= unrouted & Q(sd_own=F("rd_own"))
    not_cancelled = Q(cancelled_at__isnull=True) & ~Q(status=OrderStatus.CANCELLED)
    return aliases, eligible & not_cancelled, same_day & not_cancelled


def _delivered_by_estimate_q(nodes: _Nodes) -> tuple[dict, Q]:
    aliases = nodes.local_date_aliases("dd", "delivered_at")
    q = Q(pk__in=[])
    for node_id in nodes.calendars:
        q |= Q(
            warehouse_id=node_id, **{f"{nodes.alias_of(node_id, 'dd')}__lte": F("estimated_delivery_date")}
        )
    return aliases, Q(estimated_delivery_date__isnull=False) & q


# --- units ----------------------------------------------------------------------------------------

SHIPPED_PACKAGE = Q(package__shipment__shipped_at__isnull=False)


def _kit_factor() -> Subquery:
    """Base units per unit of an order line's item: a kit's component quantities summed."""
    return Subquery(
        KitComponent.objects.filter(kit=OuterRef("item"))
        .order_by()
        .values("kit")
        .annotate(n=Sum("quantity"))
        .values("n"),
        output_field=IntegerField(),
    )


def _line_units():
    return ExpressionWrapper(F("quantity") * Coalesce(_kit_factor(), 1), output_field=IntegerField())


def _line_shipped_units() -> Coalesce:
    return Coalesce(
        Subquery(
            PackageLine.objects.filter(SHIPPED_PACKAGE, line=OuterRef("pk"))
            .order_by()
            .values("line")
            .annotate(n=Sum("quantity"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def _order_units_ordered() -> Coalesce:
    return Coalesce(
        Subquery(
            OrderLine.objects.filter(order=OuterRef("pk"))
            .order_by()
            .values("order")
            .annotate(n=Sum(_line_units()))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def _order_units_shipped() -> Coalesce:
    return Coalesce(
        Subquery(
            PackageLine.objects.filter(SHIPPED_PACKAGE, package__shipment__order=OuterRef("pk"))
            .order_by()
            .values("package__shipment__order")
            .annotate(n=Sum("quantity"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


# --- per-day counters -----------------------------------------------------------------------------


def _grouped(qs, day_expr, **aggregates) -> Iterable[dict]:
    return qs.annotate(day=day_expr).values("day").annotate(**aggregates).order_by()


def daily_counters(
    *, client: Client, first: date, last: date, now: datetime | None = None, nodes: _Nodes | None = None
) -> dict[date, dict[str, int | Decimal]]:
    """Every DailyKPI counter of one client for each local day in [first, last], counted in the
    database (a fixed number of grouped queries, whatever the number of days or orders)."""
    now = now or timezone.now()
    nodes = nodes or _Nodes.load()
    zone = _zone(client)
    out: dict[date, dict] = {d: dict.fromkeys(COUNTERS, 0) for d in _days(first, last)}
    out_cost = {d: Decimal(0) for d in out}

    def put(rows: Iterable[dict]) -> None:
        for row in rows:
            day = row.pop("day")
            if day in out:
                for key, value in row.items():
                    out[day][key] += value or 0

    def local(field_name: str) -> TruncDate:
        return TruncDate(field_name, tzinfo=zone)

    with scopes_disabled():
        orders = Order.objects.filter(client=client)
        # Received: volume, backorders, same-day eligibility.
        aliases, eligible, same_day = _same_day_qs(client, nodes, first, last)
        put(
            _grouped(
                orders.filter(_window("received_at", client, first, last)).alias(**aliases),
                local("received_at"),
                orders_received=Count("pk"),
                received_ever_backordered=Count("pk", filter=Q(ever_backordered=True)),
                same_day_eligible=Count("pk", filter=eligible),
                same_day_shipped=Count("pk", filter=same_day),
            )
        )
        # Due: on-time ship. An order due later today and not shipped yet is in neither count.
        put(
            _grouped(
                orders.filter(_window("ship_by", client, first, last), cancelled_at__isnull=True).exclude(
                    status=OrderStatus.CANCELLED
                ),
                local("ship_by"),
                orders_due=Count("pk"),
                due_measured=Count("pk", filter=Q(shipped_at__isnull=False) | Q(ship_by__lt=now)),
                due_on_time=Count("pk", filter=Q(shipped_at__lte=F("ship_by"))),
            )
        )
        # Shipped: accuracy and perfect orders.
        errors = OrderError.objects.filter(order=OuterRef("pk"))
        perfect = Q(shipped_at__lte=F("ship_by"), has_error=False, units_out=F("units_in"))
        put(
            _grouped(
                orders.filter(_window("shipped_at", client, first, last)).alias(
                    has_error=Exists(errors),
                    units_out=_order_units_shipped(),
                    units_in=_order_units_ordered(),
                ),
                local("shipped_at"),
                orders_shipped=Count("pk"),
                shipped_with_error=Count("pk", filter=Q(has_error=True)),
                perfect_orders=Count("pk", filter=perfect),
            )
        )
        put(
            _grouped(
                PackageLine.objects.filter(
                    SHIPPED_PACKAGE,
                    _window("package__shipment__order__shipped_at", client, first, last),
                    client=client,
                ),
                local("package__shipment__order__shipped_at"),
                units_shipped=Sum("quantity"),
            )
        )
        for row in _grouped(
            Shipment.objects.filter(
                _window("order__shipped_at", client, first, last), client=client, shipped_at__isnull=False
            ),
            local("order__shipped_at"),
            shipments_shipped=Count("pk"),
            cost=Sum("cost"),
        ):
            if row["day"] in out:
                out[row["day"]]["shipments_shipped"] += row["shipments_shipped"]
                out_cost[row["day"]] += row["cost"] or 0
        # Closed (shipped, or cancelled unshipped): fill rates, by line.
        closed_at = Coalesce("order__shipped_at", "order__cancelled_at")
        closed = _window("order__shipped_at", client, first, last) | (
            Q(order__shipped_at__isnull=True) & _window("order__cancelled_at", client, first, last)
        )
        put(
            _grouped(
                OrderLine.objects.filter(closed, client=client).alias(
                    required=_line_units(), shipped=_line_shipped_units()
                ),
                TruncDate(closed_at, tzinfo=zone),
                orders_closed=Count("order", distinct=True),
                lines_closed=Count("pk"),
                lines_filled_closed=Count("pk", filter=Q(shipped__gte=F("required"))),
                units_ordered_closed=Sum("required"),
                units_shipped_closed=Sum("shipped"),
            )
        )
        # Inbound.
        put(
            _grouped(
                ASN.objects.filter(_window("stocked_at", client, first, last), client=client),
                local("stocked_at"),
                asns_stocked=Count("pk"),
                asns_stocked_in_time=Count(
                    "pk",
                    filter=Q(
                        dock_to_stock_deadline__isnull=False, stocked_at__lte=F("dock_to_stock_deadline")
                    ),
                ),
            )
        )
        put(
            _grouped(
                ASNLine.objects.filter(
                    _window("asn__received_at", client, first, last), client=client
                ).exclude(asn__status=ASNStatus.CANCELLED),
                local("asn__received_at"),
                receiving_lines=Count("pk"),
                receiving_lines_clean=Count(
                    "pk",
                    filter=Q(unexpected=False, damaged_quantity=0, received_quantity=F("expected_quantity")),
                ),
            )
        )
        # Cycle counts approved.
        put(
            _grouped(
                CycleCountLine.objects.filter(
                    _window("count__approved_at", client, first, last),
                    client=client,
                    count__status=CountStatus.APPROVED,
                    counted_quantity__isnull=False,
                    system_quantity__isnull=False,
                ),
                local("count__approved_at"),
                count_lines=Count("pk"),
                count_lines_exact=Count("pk", filter=Q(counted_quantity=F("system_quantity"))),
                count_system_units=Sum("system_quantity"),
                count_abs_variance=Sum(
                    Abs(
                        ExpressionWrapper(
                            F("counted_quantity") - F("system_quantity"), output_field=IntegerField()
                        )
                    )
                ),
            )
        )
        # Delivered: carrier on-time and transit.
        dd_aliases, by_estimate = _delivered_by_estimate_q(nodes)
        put(
            _grouped(
                Shipment.objects.filter(_window("delivered_at", client, first, last), client=client).alias(
                    **dd_aliases
                ),
                local("delivered_at"),
                shipments_delivered=Count("pk"),
                delivered_by_estimate=Count("pk", filter=by_estimate),
                transit_days_total=Sum("transit_days"),
            )
        )
        # End-of-day units on hand: the snapshots; today (not over yet) is the on hand now.
        for row in (
            InventorySnapshot.objects.filter(client=client, date__gte=first, date__lte=last)
            .values("date")
            .annotate(n=Sum("on_hand"))
            .order_by()
        ):
            out[row["date"]]["units_on_hand"] = row["n"] or 0
        today = local_today(client, now)
        if first <= today <= last:
            on_hand = Balance.objects.filter(client=client).aggregate(n=Sum("on_hand"))["n"] or 0
            out[today]["units_on_hand"] = on_hand
    for day, cost in out_cost.items():
        out[day]["shipping_cost"] = cost
    return out


# --- percentiles ----------------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)`` (continuous: interpolated)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The same interpolation as PostgreSQL's ``percentile_cont`` (SQLite has none)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class _Scope:
    """The clients of a report with their period windows; one Q over every client's own days."""

    clients: list[Client]
    start: date
    end: date

    def window(self, field_name: str, first: date | None = None, last: date | None = None) -> Q:
        q = Q(pk__in=[])
        for client in self.clients:
            q |= Q(client_id=client.pk) & _window(field_name, client, first or self.start, last or self.end)
        return q

    def local_date(self, field_name: str) -> Case:
        """The client-local date of ``field_name`` (each row in its own client's time zone)."""
        return Case(
            *[When(client_id=c.pk, then=TruncDate(field_name, tzinfo=_zone(c))) for c in self.clients],
            output_field=DateField(),
        )

    def bucket(self, field_name: str, granularity: str) -> Case:
        kind = {Granularity.DAY: "day", Granularity.WEEK: "week", Granularity.MONTH: "month"}[granularity]
        return Case(
            *[
                When(client_id=c.pk, then=Trunc(field_name, kind, output_field=DateField(), tzinfo=_zone(c)))
                for c in self.clients
            ],
            output_field=DateField(),
        )

    def zone_of(self, client_id: int) -> ZoneInfo:
        return next(_zone(c) for c in self.clients if c.pk == client_id)


def _percentiles(
    qs,
    *,
    value,
    fractions: tuple[float, ...],
    scale: float,
    scope: _Scope,
    date_field: str,
    granularity: str | None,
    group: str | None = None,
) -> dict:
    """Percentiles of ``value`` over ``qs``: {None: (p...)} for the whole period, plus
    {bucket: (p...)} when a granularity is given, or {group value: (p...)} when ``group`` is.
    ``scale`` turns the database value (seconds for durations) into the unit."""
    result: dict = {}

    def convert(raw) -> float | None:
        if raw is None:
            return None
        if isinstance(raw, timedelta):
            raw = raw.total_seconds()
        return float(raw) / scale

    if _is_postgres():
        aggs = {f"p{i}": PercentileCont(value, f) for i, f in enumerate(fractions)}
        total = qs.aggregate(**aggs)
        if group is None:
            result[None] = tuple(convert(total[f"p{i}"]) for i in range(len(fractions)))
        keys = []
        if granularity:
            keys.append(("bucket", scope.bucket(date_field, granularity)))
        if group:
            keys = [("bucket", F(group))]
        for _name, expr in keys:
            for row in qs.annotate(bucket=expr).values("bucket").annotate(**aggs).order_by():
                bucket = row["bucket"]
                if isinstance(bucket, datetime):  # CASE over Trunc hands back a datetime
                    bucket = bucket.date()
                result[bucket] = tuple(convert(row[f"p{i}"]) for i in range(len(fractions)))
        return result
    # SQLite: fetch this KPI's values and interpolate in Python.
    rows = list(qs.annotate(v=value).values_list("client_id", date_field, "v", *([group] if group else [])))
    groups: dict = defaultdict(list)
    for row in rows:
        client_id, moment, raw = row[0], row[1], row[2]
        v = convert(raw)
        if v is None:
            continue
        if group:
            groups[row[3]].append(v)
            continue
        groups[None].append(v)
        if granularity:
            groups[bucket_start(moment.astimezone(scope.zone_of(client_id)).date(), granularity)].append(v)
    if not group:
        groups.setdefault(None, [])
    for key, values in groups.items():
        result[key] = tuple(percentile_cont(values, f) for f in fractions)
    return result


# --- the report -----------------------------------------------------------------------------------


def _load_counters(
    clients: list[Client], start: date, end: date, now: datetime
) -> dict[int, dict[date, dict]]:
    """Counters per client per local day: the rollup for complete days that have a row, counted live
    for today, future days and any day without a row (one live pass over the span they cover)."""
    by_client: dict[int, dict[date, dict]] = {c.pk: {} for c in clients}
    with scopes_disabled():
        for row in DailyKPI.objects.filter(
            client__in=[c.pk for c in clients], day__gte=start, day__lte=end
        ).values("client_id", "day", *COUNTERS):
            client_id, day = row.pop("client_id"), row.pop("day")
            by_client[client_id][day] = row
    nodes = None
    for client in clients:
        today = local_today(client, now)
        rolled = by_client[client.pk]
        for day in [d for d in rolled if d >= today]:
            del rolled[day]  # a day not over yet is always counted live
        missing = [d for d in _days(start, end) if d not in rolled]
        if missing:
            nodes = nodes or _Nodes.load()
            live = daily_counters(client=client, first=min(missing), last=max(missing), now=now, nodes=nodes)
            for day in missing:
                rolled[day] = live[day]
    return by_client


def _sum(rows: Iterable[dict]) -> dict:
    total = dict.fromkeys(COUNTERS, 0)
    total["shipping_cost"] = Decimal(0)
    for row in rows:
        for key in COUNTERS:
            total[key] += row[key] or 0
    return total


def _values(
    counters: dict,
    *,
    on_hand_end: int | None,
    on_hand_mean: Decimal | None,
    percentiles: dict[str, float | None],
    targets: dict[str, Decimal] | None,
    extra: dict[str, KPIValue] | None = None,
) -> dict[str, KPIValue]:
    c = counters

    def v(key, value, numerator=None, denominator=None) -> KPIValue:
        d = KPI_BY_KEY[key]
        target = targets.get(d.target_field) if targets and d.target_field else None
        return KPIValue(d.key, d.label, value, numerator, denominator, d.unit, target)

    def count(key, n) -> KPIValue:
        return v(key, Decimal(n), n, None)

    def rate(key, num, den) -> KPIValue:
        return v(key, _rate(num, den), num, den)

    def pct(key) -> KPIValue:
        return v(key, _dec(percentiles.get(key)))

    cost = Decimal(c["shipping_cost"])
    values = [
        count("orders_received", c["orders_received"]),
        count("orders_shipped", c["orders_shipped"]),
        count("units_shipped", c["units_shipped"]),
        rate("on_time_ship_rate", c["due_on_time"], c["due_measured"]),
        rate("same_day_ship_rate", c["same_day_shipped"], c["same_day_eligible"]),
        pct("click_to_ship_median_hours"),
        pct("click_to_ship_p90_hours"),
        pct("dock_to_stock_median_hours"),
        rate("dock_to_stock_in_time_rate", c["asns_stocked_in_time"], c["asns_stocked"]),
        rate("receiving_accuracy", c["receiving_lines_clean"], c["receiving_lines"]),
        rate("order_accuracy", c["orders_shipped"] - c["shipped_with_error"], c["orders_shipped"]),
        rate("inventory_accuracy", c["count_lines_exact"], c["count_lines"]),
        rate(
            "inventory_unit_accuracy",
            c["count_system_units"] - c["count_abs_variance"],
            c["count_system_units"],
        ),
        rate("unit_fill_rate", c["units_shipped_closed"], c["units_ordered_closed"]),
        rate("line_fill_rate", c["lines_filled_closed"], c["lines_closed"]),
        rate("backorder_rate", c["received_ever_backordered"], c["orders_received"]),
        rate("perfect_order_rate", c["perfect_orders"], c["orders_shipped"]),
        v("shipping_cost_per_order", _ratio(cost, c["orders_shipped"]), _q2(cost), c["orders_shipped"]),
        rate("carrier_on_time_delivery", c["delivered_by_estimate"], c["shipments_delivered"]),
        v(
            "transit_days_mean",
            _ratio(c["transit_days_total"], c["shipments_delivered"]),
            c["transit_days_total"],
            c["shipments_delivered"],
        ),
        pct("transit_days_p90"),
        v("inventory_turns", _ratio(c["units_shipped"], on_hand_mean), c["units_shipped"], on_hand_mean),
        v("units_on_hand", None if on_hand_end is None else Decimal(on_hand_end), on_hand_end, None),
    ]
    out = {x.key: x for x in values}
    out |= extra or {}
    return {d.key: out[d.key] for d in KPI_DEFS if d.key in out}


def _on_hand(by_client: dict[int, dict[date, dict]], clients: list[Client], days: list[date], now: datetime):
    """(units on hand at the end of the last day not in the future, mean end-of-day units on hand
    over the days not in the future), each client over its own local days, summed."""
    end_total, mean_total, any_day = 0, Decimal(0), False
    for client in clients:
        today = local_today(client, now)
        past = [d for d in days if d <= today]
        if not past:
            continue
        any_day = True
        rows = by_client[client.pk]
        end_total += rows[max(past)]["units_on_hand"]
        mean_total += Decimal(sum(rows[d]["units_on_hand"] for d in past)) / len(past)
    return (end_total, _q2(mean_total)) if any_day else (None, None)


def _trailing_units_shipped(clients: list[Client], now: datetime) -> int:
    """Units shipped over each client's trailing ``TRAILING_SUPPLY_DAYS`` complete local days: the
    rollup's ``units_shipped`` (the same package lines, by the local day their order shipped), and
    one live count of the days without a row (none once the nightly rollup has run)."""
    if not clients:
        return 0
    windows = {
        c.pk: (local_today(c, now) - timedelta(days=TRAILING_SUPPLY_DAYS), local_today(c, now))
        for c in clients
    }
    rolled: dict[int, dict[date, int]] = defaultdict(dict)
    rows = DailyKPI.objects.filter(
        client__in=list(windows),
        day__gte=min(first for first, _ in windows.values()),
        day__lt=max(today for _, today in windows.values()),
    ).values_list("client_id", "day", "units_shipped")
    for client_id, day, units in rows:
        first, today = windows[client_id]
        if first <= day < today:
            rolled[client_id][day] = units
    missing = []  # each client's runs of consecutive days without a row
    for c in clients:
        first, today = windows[c.pk]
        days = [d for d in _days(first, today - timedelta(days=1)) if d not in rolled[c.pk]]
        for _, run in itertools.groupby(enumerate(days), key=lambda pair: pair[1] - timedelta(days=pair[0])):
            run = [d for _, d in run]
            missing.append(
                Q(client_id=c.pk) & _window("package__shipment__order__shipped_at", c, run[0], run[-1])
            )
    live = 0
    if missing:
        live = PackageLine.objects.filter(SHIPPED_PACKAGE, reduce(operator.or_, missing)).aggregate(
            n=Coalesce(Sum("quantity"), 0)
        )["n"]
    return live + sum(units or 0 for days in rolled.values() for units in days.values())


def _stock_now(scope: _Scope, now: datetime) -> dict[str, KPIValue]:
    """Days of supply and aged inventory, from the balances as they are now."""
    clients = scope.clients
    with scopes_disabled():
        balances = Balance.objects.filter(client__in=[c.pk for c in clients])
        aged_q = {}
        for key, low, high in AGE_BUCKETS:
            q = Q(pk__in=[])
            for c in clients:
                today = local_today(c, now)
                # age = today - local date of receipt, in days
                bounds = Q(client_id=c.pk)
                if low:
                    bounds &= Q(received_at__lt=_day_start(today - timedelta(days=low - 1), _zone(c)))
                if high is not None:
                    bounds &= Q(received_at__gte=_day_start(today - timedelta(days=high), _zone(c)))
                q |= bounds
            if high is None:
                q |= Q(received_at__isnull=True)  # receipt unknown: counted as the oldest
            aged_q[key] = Coalesce(Sum("on_hand", filter=q), 0)
        stock = balances.filter(on_hand__gt=0).aggregate(
            available=Coalesce(
                Sum(F("on_hand") - F("allocated"), filter=Q(location__type__in=SELLABLE_LOCATION_TYPES)), 0
            ),
            **aged_q,
        )
        shipped = _trailing_units_shipped(clients, now)
    out = {}
    d = KPI_BY_KEY["days_of_supply"]
    daily = Decimal(shipped) / TRAILING_SUPPLY_DAYS
    out[d.key] = KPIValue(
        d.key,
        d.label,
        _ratio(stock["available"], daily) if shipped else None,
        stock["available"],
        _q2(daily),
        d.unit,
    )
    for key, _low, _high in AGE_BUCKETS:
        d = KPI_BY_KEY[key]
        out[key] = KPIValue(key, d.label, Decimal(stock[key]), stock[key], None, d.unit)
    return out


def _click_to_ship_value():
    return ExpressionWrapper(F("shipped_at") - F("received_at"), output_field=DurationField())


def _period_percentiles(scope: _Scope, granularity: str | None) -> dict:
    """{bucket or None: {kpi key: value}} for the non-additive KPIs read from the source rows
    (transit p90 comes from the shipping histograms: ``_transit_p90``)."""
    out: dict = defaultdict(dict)
    with scopes_disabled():
        orders = Order.objects.filter(scope.window("shipped_at"))
        for bucket, (p50, p90) in _percentiles(
            orders,
            value=_click_to_ship_value(),
            fractions=(0.5, 0.9),
            scale=3600,
            scope=scope,
            date_field="shipped_at",
            granularity=granularity,
        ).items():
            out[bucket] |= {"click_to_ship_median_hours": p50, "click_to_ship_p90_hours": p90}
        asns = ASN.objects.filter(scope.window("stocked_at"), arrived_at__isnull=False)
        for bucket, (p50,) in _percentiles(
            asns,
            value=ExpressionWrapper(F("stocked_at") - F("arrived_at"), output_field=DurationField()),
            fractions=(0.5,),
            scale=3600,
            scope=scope,
            date_field="stocked_at",
            granularity=granularity,
        ).items():
            out[bucket]["dock_to_stock_median_hours"] = p50
    return out


BREAKDOWNS = {
    "shipping_by_carrier": ("carrier_id", "carrier__name"),
    "shipping_by_service": ("service_id", "service__name"),
    "shipping_by_zone": ("zone", "zone"),
}


# The breakdowns' keys: the service is grouped with its shipments' carrier (its label names both).
_SHIPPING_KEYS = {
    "shipping_by_carrier": ("carrier_id",),
    "shipping_by_service": ("service_id", "carrier_id"),
    "shipping_by_zone": ("zone",),
}
_KEY_FIELDS = ("carrier_id", "service_id", "zone")


def daily_shipping(
    scope: _Scope, nodes: _Nodes, first: date | None = None, last: date | None = None
) -> dict[tuple[int, date, str, tuple], dict]:
    """(client, local day, breakdown, key) -> the ``DailyShipping`` measures, counted live over
    [first, last] (default: the scope's period): per breakdown one grouped query over the shipments
    of the orders shipped on those days, one over the shipments delivered on them (grouped by
    transit days too, which gives the histogram)."""
    dd_aliases, by_estimate = _delivered_by_estimate_q(nodes)
    rows: dict[tuple[int, date, str, tuple], dict] = {}

    def row(client_id, day, name, key) -> dict:
        return rows.setdefault(
            (client_id, day, name, key),
            {
                "shipments": 0,
                "orders": 0,
                "cost": Decimal(0),
                "delivered": 0,
                "delivered_on_time": 0,
                "transit_histogram": {},
            },
        )

    with scopes_disabled():
        shipped = Shipment.objects.filter(
            scope.window("order__shipped_at", first, last), shipped_at__isnull=False
        ).annotate(b_day=scope.local_date("order__shipped_at"))
        delivered = (
            Shipment.objects.filter(scope.window("delivered_at", first, last))
            .alias(**dd_aliases)
            .annotate(b_day=scope.local_date("delivered_at"))
        )
        money = DecimalField(max_digits=19, decimal_places=4)
        for name, keys in _SHIPPING_KEYS.items():
            for r in (
                shipped.values("client_id", "b_day", *keys)
                .annotate(
                    n=Count("pk"),
                    orders=Count("order_id", distinct=True),
                    cost=Coalesce(Sum("cost"), Decimal(0), output_field=money),
                )
                .order_by()
            ):
                target = row(r["client_id"], r["b_day"], name, tuple(r[k] for k in keys))
                target |= {"shipments": r["n"], "orders": r["orders"], "cost": r["cost"]}
            for r in (
                delivered.values("client_id", "b_day", *keys, "transit_days")
                .annotate(n=Count("pk"), on_time=Count("pk", filter=by_estimate))
                .order_by()
            ):
                target = row(r["client_id"], r["b_day"], name, tuple(r[k] for k in keys))
                target["delivered"] += r["n"]
                target["delivered_on_time"] += r["on_time"]
                if r["transit_days"] is not None:
                    target["transit_histogram"][str(r["transit_days"])] = r["n"]
    return rows


def _rolled_days(clients: list[Client], start: date, end: date, now: datetime):
    """({client: complete days of [start, end] whose rollup wrote the shipping and item rows},
    the (client, day) pairs of [start, end] that must be counted live)."""
    rolled_days: dict[int, set[date]] = {c.pk: set() for c in clients}
    for client_id, day in DailyKPI.objects.filter(
        client__in=[c.pk for c in clients], day__gte=start, day__lte=end, shipping_rolled_up=True
    ).values_list("client_id", "day"):
        rolled_days[client_id].add(day)
    missing: set[tuple[int, date]] = set()
    for client in clients:
        today = local_today(client, now)
        rolled_days[client.pk] = {d for d in rolled_days[client.pk] if d < today}
        missing |= {(client.pk, d) for d in _days(start, end) if d not in rolled_days[client.pk]}
    return rolled_days, missing


def _rolled_q(rolled_days: dict[int, set[date]]) -> Q:
    """The rollup rows of the rolled-up days."""
    q = Q(pk__in=[])
    for client_id, days in rolled_days.items():
        if days:
            q |= Q(client_id=client_id, day__in=sorted(days))
    return q


def _rolled_shipping(clients: list[Client], start: date, end: date, now: datetime):
    """The stored ``DailyShipping`` rows of the complete days whose rollup wrote them, and the
    (client, day) pairs of [start, end] that must be counted live."""
    rolled_days, missing = _rolled_days(clients, start, end, now)
    stored = []
    if any(rolled_days.values()):
        stored = list(
            DailyShipping.objects.filter(_rolled_q(rolled_days)).values(
                "client_id", "day", "breakdown", *_KEY_FIELDS, *SHIPPING_MEASURES
            )
        )
    return stored, missing


SHIPPING_MEASURES = ("shipments", "orders", "cost", "delivered", "delivered_on_time", "transit_histogram")


def _histogram_percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """``percentile_cont`` over the values a histogram (value -> count) describes."""
    n = sum(histogram.values())
    if not n:
        return None
    position = fraction * (n - 1)
    low, high = math.floor(position), math.ceil(position)
    at: dict[int, float] = {}
    seen = 0
    for value in sorted(histogram):
        count = histogram[value]
        for index in (low, high):
            if seen <= index < seen + count:
                at[index] = float(value)
        seen += count
    return at[low] + (at[high] - at[low]) * (position - low)


def _shipping_parts(scope: _Scope, now: datetime, nodes: _Nodes | None = None) -> list[tuple]:
    """(client, local day, breakdown, key, measures) of the period: the rollup's ``DailyShipping``
    rows for the days it covers, the others counted live (one pass over the span they cover)."""
    stored, missing = _rolled_shipping(scope.clients, scope.start, scope.end, now)
    parts = [
        (r["client_id"], r["day"], r["breakdown"], tuple(r[k] for k in _SHIPPING_KEYS[r["breakdown"]]), r)
        for r in stored
    ]
    if missing:
        days = [d for _c, d in missing]
        clients = [c for c in scope.clients if any(m[0] == c.pk for m in missing)]
        live = daily_shipping(_Scope(clients, min(days), max(days)), nodes or _Nodes.load())
        parts += [(c, d, name, key, r) for (c, d, name, key), r in live.items() if (c, d) in missing]
    return parts


def _merge_histogram(into: dict[int, int], histogram: dict) -> None:
    for value, count in histogram.items():
        into[int(value)] = into.get(int(value), 0) + count


def _transit_p90(parts: list[tuple], granularity: str | None) -> dict:
    """{None: p90 over the period, bucket: p90}: the carrier breakdown's histograms hold every
    shipment delivered in the period with its transit days, once."""
    histograms: dict = defaultdict(dict)
    for _client, day, name, _key, r in parts:
        if name != "shipping_by_carrier" or not r["transit_histogram"]:
            continue
        _merge_histogram(histograms[None], r["transit_histogram"])
        if granularity:
            _merge_histogram(histograms[bucket_start(day, granularity)], r["transit_histogram"])
    return {bucket: _histogram_percentile(h, 0.9) for bucket, h in histograms.items()}


def shipping_breakdowns(scope: _Scope, nodes: _Nodes | None = None, now: datetime | None = None) -> dict:
    """Shipments, orders, cost and cost per order of the orders shipped in the period, and transit
    and carrier on-time of the shipments delivered in it, by carrier, service and zone. Complete
    days come from the nightly rollup (``DailyShipping``), the others are counted live: the same
    numbers either way (transit p90 from the merged histograms is PostgreSQL's percentile_cont)."""
    with scopes_disabled():
        parts = _shipping_parts(scope, now or timezone.now(), nodes)
    return _breakdowns(parts)


def _breakdowns(parts: list[tuple]) -> dict[str, list[dict]]:
    from shipments.models import Carrier, CarrierService

    with scopes_disabled():
        carriers = dict(Carrier.objects.values_list("pk", "name"))
        services = dict(CarrierService.objects.values_list("pk", "name"))
    totals: dict[tuple[str, tuple], dict] = {}
    for _client, _day, name, key, r in parts:
        t = totals.setdefault((name, key), dict.fromkeys(SHIPPING_MEASURES, 0) | {"transit_histogram": {}})
        for m in SHIPPING_MEASURES[:-1]:
            t[m] += r[m]
        _merge_histogram(t["transit_histogram"], r["transit_histogram"])

    def label(name: str, key: tuple) -> str:
        if name == "shipping_by_carrier":
            return _breakdown_label(name, {"carrier__name": carriers.get(key[0])}, "carrier__name")
        if name == "shipping_by_service":
            r = {"service__name": services.get(key[0]), "carrier__name": carriers.get(key[1])}
            return _breakdown_label(name, r, "service__name")
        return _breakdown_label(name, {"zone": key[0]}, "zone")

    out: dict[str, list[dict]] = {name: [] for name in BREAKDOWNS}
    for (name, key), t in totals.items():
        histogram = t["transit_histogram"]
        transit_n = sum(histogram.values())
        out[name].append(
            {
                "key": key[0],
                "label": label(name, key),
                "shipments": t["shipments"],
                "orders": t["orders"],
                "cost": _q2(t["cost"]),
                "cost_per_order": _ratio(t["cost"], t["orders"]),
                "shipments_delivered": t["delivered"],
                "transit_days_mean": _ratio(sum(v * n for v, n in histogram.items()), transit_n),
                "transit_days_p90": _dec(_histogram_percentile(histogram, 0.9)),
                "carrier_on_time_delivery": _rate(t["delivered_on_time"], t["delivered"]),
            }
        )
    return {name: sorted(rows, key=lambda r: (r["key"] is None, r["label"])) for name, rows in out.items()}


def _breakdown_label(name: str, row: dict, label: str) -> str:
    if row.get(label) is None:
        return "(none)"
    if name == "shipping_by_zone":
        return f"Zone {row[label]}"
    if name == "shipping_by_service":
        return f"{row['carrier__name']} {row[label]}"
    return str(row[label])


def kpi_report(
    *,
    client_ids: list[int],
    start: date,
    end: date,
    granularity: str | None = None,
    now: datetime | None = None,
    breakdowns: bool = True,
    stock: bool = True,
) -> KPIReport:
    """Every KPI for the clients over [start, end] (inclusive local days), with a series by
    day / week / month when asked and the shipping breakdowns.

    A report read only to compare its period's numbers with another's (the QBR's previous quarter)
    leaves out the ``breakdowns`` and the ``stock`` KPIs (``KPIDef.now``: the stock as it is today,
    the same for any period): those come back empty and n/a."""
    if start > end:
        raise ValueError("start is after end")
    if granularity is not None and granularity not in Granularity.values:
        raise ValueError(f"unknown granularity {granularity!r}")
    now = now or timezone.now()
    with reporting_reads(), scopes_disabled():
        clients = list(Client.objects.filter(pk__in=client_ids).order_by("pk"))
        scope = _Scope(clients, start, end)
        by_client = _load_counters(clients, start, end, now)
        days = _days(start, end)
        targets = None
        if len(clients) == 1:
            targets = {
                d.target_field: getattr(clients[0], d.target_field) for d in KPI_DEFS if d.target_field
            }
        percentiles = _period_percentiles(scope, granularity)
        parts = _shipping_parts(scope, now) if clients else []
        for bucket, p90 in _transit_p90(parts, granularity).items():
            percentiles[bucket]["transit_days_p90"] = p90
        totals_counters = _sum(row for rows in by_client.values() for row in rows.values())
        end_on_hand, mean_on_hand = _on_hand(by_client, clients, days, now)
        stock_now = _stock_now(scope, now) if clients and stock else {}
        totals = _values(
            totals_counters,
            on_hand_end=end_on_hand,
            on_hand_mean=mean_on_hand,
            percentiles=percentiles.get(None, {}),
            targets=targets,
            extra=stock_now,
        )
        if not stock_now:
            totals |= {
                k: KPIValue(k, d.label, None, None, None, d.unit) for k, d in KPI_BY_KEY.items() if d.now
            }
            totals = {d.key: totals[d.key] for d in KPI_DEFS}
        series = []
        if granularity:
            buckets: dict[date, list[date]] = defaultdict(list)
            for day in days:
                buckets[bucket_start(day, granularity)].append(day)
            for bucket, bucket_days in buckets.items():
                counters = _sum(by_client[c.pk][d] for c in clients for d in bucket_days)
                b_end, b_mean = _on_hand(by_client, clients, bucket_days, now)
                series.append(
                    (
                        bucket,
                        _values(
                            counters,
                            on_hand_end=b_end,
                            on_hand_mean=b_mean,
                            percentiles=percentiles.get(bucket, {}),
                            targets=targets,
                        ),
                    )
                )
        by = _breakdowns(parts) if clients and breakdowns else {k: [] for k in BREAKDOWNS}
    return KPIReport(
        client_ids=[c.pk for c in clients],
        start=start,
        end=end,
        granularity=granularity,
        totals=totals,
        series=series,
        breakdowns=by,
    )


# --- inventory helpers for the dashboard and the QBR ---------------------------------------------


def _trailing_window(clients: list[Client], now: datetime, field_name: str) -> Q:
    q = Q(pk__in=[])
    for c in clients:
        today = local_today(c, now)
        q |= Q(client_id=c.pk) & _window(
            field_name, c, today - timedelta(days=TRAILING_SUPPLY_DAYS), today - timedelta(days=1)
        )
    return q


def inventory_health(
    *, client_ids: list[int], today: date | None = None, now: datetime | None = None
) -> list[dict]:
    """Per item and node: on hand, allocated, available (sellable), reorder point, a low flag
    (available below the reorder point) and days of supply from the trailing 28 local days' units
    shipped from that node. ``today`` pins the trailing window (a client-local date)."""
    now = now or timezone.now()
    if today is not None:
        now = datetime.combine(today, time(12), tzinfo=UTC)
    with reporting_reads(), scopes_disabled():
        clients = list(Client.objects.filter(pk__in=client_ids))
        rows = (
            Balance.objects.filter(client__in=[c.pk for c in clients])
            .values(
                "client_id",
                "item_id",
                "item__sku",
                "item__name",
                "item__reorder_point",
                "warehouse_id",
                "warehouse__code",
            )
            .annotate(
                on_hand_total=Sum("on_hand"),
                allocated_total=Sum("allocated"),
                available=Coalesce(
                    Sum(F("on_hand") - F("allocated"), filter=Q(location__type__in=SELLABLE_LOCATION_TYPES)),
                    0,
                ),
            )
            .order_by("client_id", "item__sku", "warehouse__code")
        )
        shipped = {
            (r["item_id"], r["package__shipment__warehouse_id"]): r["n"]
            for r in PackageLine.objects.filter(
                SHIPPED_PACKAGE, _trailing_window(clients, now, "package__shipment__order__shipped_at")
            )
            .values("item_id", "package__shipment__warehouse_id")
            .annotate(n=Sum("quantity"))
            .order_by()
        }
    out = []
    for r in rows:
        units = shipped.get((r["item_id"], r["warehouse_id"]), 0)
        daily = Decimal(units) / TRAILING_SUPPLY_DAYS
        out.append(
            {
                "client_id": r["client_id"],
                "item_id": r["item_id"],
                "sku": r["item__sku"],
                "name": r["item__name"],
                "warehouse_id": r["warehouse_id"],
                "warehouse_code": r["warehouse__code"],
                "on_hand": r["on_hand_total"],
                "allocated": r["allocated_total"],
                "available": r["available"],
                "reorder_point": r["item__reorder_point"],
                "low": r["available"] < r["item__reorder_point"],
                "units_shipped_28d": units,
                "days_of_supply": _ratio(r["available"], daily) if units else None,
            }
        )
    return out


def daily_item_units(
    scope: _Scope, first: date | None = None, last: date | None = None
) -> dict[tuple[int, date, int], int]:
    """(client, local day, item) -> units in the shipped packages of the orders shipped that day,
    counted live over [first, last] (default: the scope's period): one grouped pass."""
    day = scope.local_date("package__shipment__order__shipped_at")
    with scopes_disabled():
        rows = (
            PackageLine.objects.filter(
                SHIPPED_PACKAGE, scope.window("package__shipment__order__shipped_at", first, last)
            )
            .annotate(b_day=day)
            .order_by()
            .values("client_id", "b_day", "item")
            .annotate(n=Sum("quantity"))
        )
        return {(r["client_id"], r["b_day"], r["item"]): r["n"] for r in rows}


def _shipped_units_by_item(clients: list[Client], start: date, end: date, now: datetime) -> dict[int, int]:
    """Units shipped per item in the period (orders shipped in it): the rollup's
    ``DailyItemShipped`` for the days it covers (one grouped read), the others counted live."""
    rolled_days, missing = _rolled_days(clients, start, end, now)
    units: dict[int, int] = defaultdict(int)
    if any(rolled_days.values()):
        for item_id, n in (
            DailyItemShipped.objects.filter(_rolled_q(rolled_days))
            .order_by()
            .values("item_id")
            .annotate(n=Sum("units"))
            .values_list("item_id", "n")
        ):
            units[item_id] += n
    if missing:
        days = [d for _c, d in missing]
        live_clients = [c for c in clients if any(m[0] == c.pk for m in missing)]
        for (client_id, day, item_id), n in daily_item_units(
            _Scope(live_clients, min(days), max(days))
        ).items():
            if (client_id, day) in missing:
                units[item_id] += n
    return dict(units)


def movers(
    *, client_ids: list[int], start: date, end: date, limit: int = 10
) -> tuple[list[dict], list[dict]]:
    """(top movers, slow movers): items by units shipped in the period (orders shipped in it),
    the most first; and items on hand now with the fewest. Two grouped reads (units shipped per
    item, units on hand per item with the item's name) ranked in Python: a subquery per item would
    read each item's whole history."""
    with reporting_reads(), scopes_disabled():
        clients = list(Client.objects.filter(pk__in=client_ids))
        ids = [c.pk for c in clients]
        shipped = _shipped_units_by_item(clients, start, end, timezone.now())
        fields = ("client_id", "sku", "name")
        items = {
            r["item"]: {"pk": r["item"], **{f: r[f"item__{f}"] for f in fields}, "on_hand": r["on_hand"] or 0}
            for r in Balance.objects.filter(client__in=ids, item__is_kit=False)
            .order_by()
            .values("item", *(f"item__{f}" for f in fields))
            .annotate(on_hand=Sum("on_hand"))
        }
        never_stocked = [item for item, units in shipped.items() if units > 0 and item not in items]
        for r in Item.objects.filter(client__in=ids, is_kit=False, pk__in=never_stocked).values(
            "pk", *fields
        ):
            items[r["pk"]] = r | {"on_hand": 0}
    rows = [
        {k: r[k] for k in ("pk", *fields)}
        | {"units_shipped": shipped.get(r["pk"], 0), "on_hand": r["on_hand"]}
        for r in items.values()
    ]
    top = sorted((r for r in rows if r["units_shipped"] > 0), key=lambda r: (-r["units_shipped"], r["sku"]))
    slow = sorted(
        (r for r in rows if r["on_hand"] > 0), key=lambda r: (r["units_shipped"], -r["on_hand"], r["sku"])
    )
    return top[:limit], slow[:limit]


def top_movers(*, client_ids: list[int], start: date, end: date, limit: int = 10) -> list[dict]:
    """Items by units shipped in the period (orders shipped in it), most first."""
    return movers(client_ids=client_ids, start=start, end=end, limit=limit)[0]


def slow_movers(*, client_ids: list[int], start: date, end: date, limit: int = 10) -> list[dict]:
    """Items on hand now with the fewest units shipped in the period."""
    return movers(client_ids=client_ids, start=start, end=end, limit=limit)[1]


__all__ = [
    "KPIReport",
    "KPIValue",
    "daily_counters",
    "inventory_health",
    "kpi_keys",
    "kpi_report",
    "movers",
    "slow_movers",
    "top_movers",
]
