"""Reads of the fleet view (the console home) and the client dashboard.

Each column of the fleet view is one grouped query over every visible client (conditional
aggregates by client, and by client and node for the order queues), so the page costs the same
number of queries for two clients or two hundred. Late and at risk are ``orders.selectors``'s
definitions; every KPI number comes from ``reporting.kpis`` (the fleet's on-time rates are one
grouped query over the same rule, checked against ``kpi_report`` client by client in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, IntegerField, Max, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Client, Warehouse
from inventory.enums import ASNStatus
from inventory.models import ASN
from orders.enums import OrderStatus
from orders.models import Order
from orders.selectors import at_risk_q, late_q

from . import charts, kpis
from .enums import Granularity, Severity
from .kpis import KPIValue
from .models import Alert

SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}
ON_TIME = "on_time_ship_rate"
EXPECTED_ASN_STATUSES = (ASNStatus.SUBMITTED, ASNStatus.IN_TRANSIT)  # not at the dock yet
NOT_CANCELLED_STATUSES = tuple(s for s in OrderStatus.values if s != OrderStatus.CANCELLED)


# --- local days --------------------------------------------------------------------------------


def local_today(time_zone: str, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(time_zone)).date()


def local_day_range(time_zone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """[midnight starting ``first``, midnight after ``last``) in ``time_zone``, as aware datetimes."""
    zone = ZoneInfo(time_zone)
    return datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone)


def _zones() -> list[str]:
    """Every time zone a node is in (one small query; nodes are operator-wide, not tenant data)."""
    return sorted(set(Warehouse.objects.values_list("time_zone", flat=True)))


def _due_today_q(zones: list[str], now: datetime) -> Q:
    """ship_by within the local today of the order's node (of its client while not routed)."""
    q = Q(pk__in=[])
    for tz in zones:
        start, end = local_day_range(tz, local_today(tz, now), local_today(tz, now))
        here = Q(warehouse__time_zone=tz) | Q(warehouse__isnull=True, client__time_zone=tz)
        q |= here & Q(ship_by__gte=start, ship_by__lt=end)
    return q & ~Q(status=OrderStatus.CANCELLED)


def _due_today_bounds(zones: list[str], now: datetime) -> Q:
    """Every order ``_due_today_q`` can match, and a few more (a node's today is not its client's),
    as a ship-by range and a status list that an index can read: the fleet's queues read these
    rows, not every order, and count each queue exactly."""
    if not zones:
        return Q(pk__in=[])
    starts, ends = zip(
        *(local_day_range(tz, local_today(tz, now), local_today(tz, now)) for tz in zones), strict=True
    )
    return Q(ship_by__gte=min(starts), ship_by__lt=max(ends), status__in=NOT_CANCELLED_STATUSES)


def _eta_q(zones: list[str], now: datetime, days_ahead: int) -> Q:
    """Expected ASNs whose ETA is the node's local today (+ ``days_ahead``)."""
    q = Q(pk__in=[])
    for tz in zones:
        q |= Q(warehouse__time_zone=tz, eta=local_today(tz, now) + timedelta(days=days_ahead))
    return q & Q(status__in=EXPECTED_ASN_STATUSES)


def _visible_orders(actor: Actor) -> QuerySet[Order]:
    """As the order pages: a warehouse operator sees the orders of their nodes (and unrouted ones)."""
    orders = Order.objects.filter(actor.client_q("client"))
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        mine = Warehouse.objects.filter(operators=actor.user).values("pk")
        orders = orders.filter(Q(warehouse__isnull=True) | Q(warehouse__in=mine))
    return orders


ARRIVED_NOT_STOCKED_Q = Q(arrived_at__isnull=False, stocked_at__isnull=True) & ~Q(status=ASNStatus.CANCELLED)


# --- the fleet view ----------------------------------------------------------------------------


@dataclass
class NodeQueues:
    code: str  # "" for orders not routed to a node yet
    due_today: int = 0
    due_open: int = 0  # due today and not shipped yet
    at_risk: int = 0
    late: int = 0


@dataclass
class FleetRow:
    client: Client
    on_time_today: KPIValue | None = None
    on_time_7d: KPIValue | None = None
    nodes: list[NodeQueues] = field(default_factory=list)
    alerts_open: int = 0
    alerts_worst: str = ""
    asns_today: int = 0
    asns_tomorrow: int = 0
    asns_waiting: int = 0  # arrived, not stocked yet

    @property
    def due_today(self) -> int:
        return sum(n.due_today for n in self.nodes)

    @property
    def due_open(self) -> int:
        return sum(n.due_open for n in self.nodes)

    @property
    def at_risk(self) -> int:
        return sum(n.at_risk for n in self.nodes)

    @property
    def late(self) -> int:
        return sum(n.late for n in self.nodes)


def _rate(kpi) -> tuple:
    """Sort key of a rate: n/a sorts after every number whichever the direction."""
    value = getattr(kpi, "value", None)
    return (value is None, value or 0)


# ``?sort=`` keys: the value a column sorts by. Ties fall back to the client's name, then its id.
FLEET_SORTS = {
    "client": lambda r: (r.client.name.lower(),),
    "on_time_today": lambda r: _rate(r.on_time_today),
    "on_time_7d": lambda r: _rate(r.on_time_7d),
    "due_today": lambda r: (r.due_today,),
    "at_risk": lambda r: (r.at_risk,),
    "late": lambda r: (r.late,),
    "alerts": lambda r: (SEVERITY_RANK.get(r.alerts_worst, 0), r.alerts_open),
    "asns": lambda r: (r.asns_today + r.asns_tomorrow,),
    "asns_waiting": lambda r: (r.asns_waiting,),
}
DEFAULT_FLEET_SORT = "-late"


def parse_sort(sort: str | None) -> tuple[str, bool]:
    """``"-late"`` -> ("late", descending); an unknown key falls back to the default."""
    sort = (sort or "").strip()
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    if key not in FLEET_SORTS:
        return parse_sort(DEFAULT_FLEET_SORT)
    return key, descending


def sort_fleet(rows: list[FleetRow], sort: str | None) -> list[FleetRow]:
    """Stable: the column's value (n/a last either way), then the name, then the id."""
    key, descending = parse_sort(sort)
    by_value = FLEET_SORTS[key]
    rows = sorted(rows, key=lambda r: (r.client.name.lower(), r.client.pk))
    if key in ("on_time_today", "on_time_7d"):
        missing = [r for r in rows if by_value(r)[0]]
        present = sorted((r for r in rows if not by_value(r)[0]), key=by_value, reverse=descending)
        return present + missing
    return sorted(rows, key=by_value, reverse=descending)


def fleet_clients(*, actor: Actor) -> QuerySet[Client]:
    return Client.objects.filter(actor.client_q("pk")).order_by("name", "pk")


def fleet_rows(*, actor: Actor, now: datetime | None = None) -> list[FleetRow]:
    """One row per visible client; six queries whatever the number of clients."""
    now = now or timezone.now()
    clients = list(fleet_clients(actor=actor))
    rows = {c.pk: FleetRow(client=c) for c in clients}
    if not rows:
        return []
    zones = _zones()

    due = _due_today_q(zones, now)
    late, at_risk = late_q(now), at_risk_q(now)
    open_q = ~Q(status__in=(OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED))
    queues = (
        _visible_orders(actor)
        .filter(_due_today_bounds(zones, now) | late | at_risk)
        .values("client_id", "warehouse__code")
        .annotate(
            due_today=Count("pk", filter=due),
            due_open=Count("pk", filter=due & open_q),
            at_risk=Count("pk", filter=at_risk),
            late=Count("pk", filter=late),
        )
        .order_by("client_id", "warehouse__code")
    )
    for q in queues:
        if not any(q[k] for k in ("due_today", "at_risk", "late")):
            continue  # read for the index's bounds only: due on another node's today
        rows[q["client_id"]].nodes.append(
            NodeQueues(q["warehouse__code"] or "", q["due_today"], q["due_open"], q["at_risk"], q["late"])
        )

    severity = Case(
        *(When(severity=s, then=Value(rank)) for s, rank in SEVERITY_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    alerts = (
        Alert.objects.filter(actor.client_q("client"), resolved_at__isnull=True)
        .values("client_id")
        .annotate(n=Count("pk"), worst=Max(severity))
        .order_by()
    )
    rank_to_severity = {rank: s for s, rank in SEVERITY_RANK.items()}
    for a in alerts:
        rows[a["client_id"]].alerts_open = a["n"]
        rows[a["client_id"]].alerts_worst = rank_to_severity.get(a["worst"], "")

    today_q, tomorrow_q = _eta_q(zones, now, 0), _eta_q(zones, now, 1)
    asns = (
        ASN.objects.filter(actor.client_q("client"))
        .filter(today_q | tomorrow_q | ARRIVED_NOT_STOCKED_Q)
        .values("client_id")
        .annotate(
            today=Count("pk", filter=today_q),
            tomorrow=Count("pk", filter=tomorrow_q),
            waiting=Count("pk", filter=ARRIVED_NOT_STOCKED_Q),
        )
        .order_by()
    )
    for a in asns:
        row = rows[a["client_id"]]
        row.asns_today, row.asns_tomorrow, row.asns_waiting = a["today"], a["tomorrow"], a["waiting"]

    for client_id, (today, week) in fleet_on_time(clients=clients, now=now).items():
        rows[client_id].on_time_today, rows[client_id].on_time_7d = today, week
    return list(rows.values())


def fleet_on_time(*, clients: list[Client], now: datetime) -> dict[int, tuple[KPIValue, KPIValue]]:
    """Each client's on-time ship rate today and over the trailing 7 days (its local days), in one
    grouped query.

    ``kpi_report`` sums a client set into one number, and per client it costs a query pass each;
    this is DOMAIN.md's rule (``kpis.daily_counters``'s "due" counters) over every client at once:
    due = ship_by in the period, not cancelled; measured = shipped or past ship_by; on time =
    shipped at or before ship_by. ``tests/reporting/test_fleet.py`` checks it equals
    ``kpi_report(client_ids=[client])`` for each client.
    """
    by_zone: dict[str, list[int]] = {}
    for c in clients:
        by_zone.setdefault(c.time_zone, []).append(c.pk)
    today_q, week_q = Q(pk__in=[]), Q(pk__in=[])
    for tz, ids in by_zone.items():
        today = local_today(tz, now)
        start, end = local_day_range(tz, today, today)
        today_q |= Q(client_id__in=ids, ship_by__gte=start, ship_by__lt=end)
        start, end = local_day_range(tz, today - timedelta(days=6), today)
        week_q |= Q(client_id__in=ids, ship_by__gte=start, ship_by__lt=end)
    measured = Q(shipped_at__isnull=False) | Q(ship_by__lt=now)
    on_time = Q(shipped_at__lte=F("ship_by"))
    # The clients' weeks together as one ship-by range and a status list: what an index reads.
    firsts, lasts = zip(
        *(
            local_day_range(tz, local_today(tz, now) - timedelta(days=6), local_today(tz, now))
            for tz in by_zone
        ),
        strict=True,
    )
    bounds = Q(ship_by__gte=min(firsts), ship_by__lt=max(lasts), status__in=NOT_CANCELLED_STATUSES)
    counts = {
        r["client_id"]: r
        for r in Order.objects.filter(client__in=[c.pk for c in clients], cancelled_at__isnull=True)
        .filter(bounds)
        .filter(week_q)
        .values("client_id")
        .annotate(
            today_measured=Count("pk", filter=today_q & measured),
            today_on_time=Count("pk", filter=today_q & on_time),
            week_measured=Count("pk", filter=measured),
            week_on_time=Count("pk", filter=on_time),
        )
        .order_by()
    }
    out = {}
    for c in clients:
        r = counts.get(c.pk, {})
        out[c.pk] = (
            _on_time_value(c, r.get("today_on_time", 0), r.get("today_measured", 0)),
            _on_time_value(c, r.get("week_on_time", 0), r.get("week_measured", 0)),
        )
    return out


def _on_time_value(client: Client, on_time: int, measured: int) -> KPIValue:
    d = kpis.KPI_BY_KEY[ON_TIME]
    value = kpis._rate(on_time, measured)  # the engine's own rounding and "n/a"
    return KPIValue(d.key, d.label, value, on_time, measured, d.unit, getattr(client, d.target_field))


# --- the client dashboard ----------------------------------------------------------------------


def client_queues(*, actor: Actor, client: Client, now: datetime | None = None) -> dict[str, int]:
    """Today's queues of one client, in one query: due today (and still to ship), at risk, late,
    on hold, backordered."""
    now = now or timezone.now()
    due = _due_today_q(_zones(), now)
    open_q = ~Q(status__in=(OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED))
    return (
        _visible_orders(actor)
        .filter(client=client)
        .aggregate(
            due_today=Count("pk", filter=due),
            due_open=Count("pk", filter=due & open_q),
            at_risk=Count("pk", filter=at_risk_q(now)),
            late=Count("pk", filter=late_q(now)),
            on_hold=Count("pk", filter=Q(status=OrderStatus.ON_HOLD)),
            backordered=Count("pk", filter=Q(status=OrderStatus.BACKORDERED)),
        )
    )


def client_inbound(*, actor: Actor, client: Client, now: datetime | None = None) -> dict[str, int]:
    """The client's inbound at a glance, in one query: expected (and of those, due by today at
    their node), arrived and waiting at the dock, being received, and arrived but not stocked."""
    now = now or timezone.now()
    due = Q(pk__in=[])
    for tz in _zones():
        due |= Q(warehouse__time_zone=tz, eta__lte=local_today(tz, now))
    expected = Q(status__in=EXPECTED_ASN_STATUSES)
    return ASN.objects.filter(actor.client_q("client"), client=client).aggregate(
        expected=Count("pk", filter=expected),
        due=Count("pk", filter=expected & due),
        arrived=Count("pk", filter=Q(status=ASNStatus.ARRIVED)),
        receiving=Count("pk", filter=Q(status=ASNStatus.RECEIVING)),
        not_stocked=Count("pk", filter=ARRIVED_NOT_STOCKED_Q),
    )


# --- the dashboard's period --------------------------------------------------------------------

CUSTOM = "custom"
DEFAULT_PERIOD = "30d"
PERIOD_CHOICES = (
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("qtd", "Quarter to date"),
    (CUSTOM, "Custom"),
)
PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90}


@dataclass(frozen=True)
class Period:
    """Local days ``start`` to ``end`` (both included) in the client's time zone, read ``by``
    day, week or month."""

    preset: str
    start: date
    end: date
    granularity: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        return dict(PERIOD_CHOICES).get(self.preset, "")

    def bucket_label(self, day: date) -> str:
        if self.granularity == Granularity.MONTH:
            return day.strftime("%b %Y")
        if self.granularity == Granularity.WEEK:
            return f"Week of {day.strftime('%b')} {day.day}"
        return f"{day.strftime('%b')} {day.day}"


def auto_granularity(days: int) -> str:
    """Few enough points to read: days up to a month, weeks up to a quarter and a bit, then months."""
    if days <= 31:
        return Granularity.DAY
    if days <= 120:
        return Granularity.WEEK
    return Granularity.MONTH


def resolve_period(
    preset: str,
    *,
    today: date,
    start: date | None = None,
    end: date | None = None,
    granularity: str | None = None,
) -> Period:
    """A preset ending today (the last N days include today; the quarter starts on its first day),
    or a custom range."""
    if preset == CUSTOM and start and end:
        first, last = start, end
    elif preset == "qtd":
        first, last = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    else:
        preset = preset if preset in PRESET_DAYS else DEFAULT_PERIOD
        first, last = today - timedelta(days=PRESET_DAYS[preset] - 1), today
    days = (last - first).days + 1
    return Period(preset, first, last, granularity or auto_granularity(days))


# --- the dashboard's numbers -------------------------------------------------------------------

# Tiles, by section; every value is ``kpi_report``'s (the page, the API and the export agree).
TILE_SECTIONS = (
    (
        "Service",
        (
            "on_time_ship_rate",
            "same_day_ship_rate",
            "click_to_ship_median_hours",
            "click_to_ship_p90_hours",
            "orders_received",
            "orders_shipped",
            "units_shipped",
        ),
    ),
    (
        "Quality",
        (
            "order_accuracy",
            "perfect_order_rate",
            "unit_fill_rate",
            "backorder_rate",
            "receiving_accuracy",
            "inventory_accuracy",
        ),
    ),
)
INBOUND_KPIS = ("dock_to_stock_median_hours", "dock_to_stock_in_time_rate", "receiving_accuracy")
INVENTORY_KPIS = kpis.INVENTORY_KPIS
SHIPPING_KPIS = (
    "shipping_cost_per_order",
    "carrier_on_time_delivery",
    "transit_days_mean",
    "transit_days_p90",
)
TREND_KPIS = ("on_time_ship_rate", "order_accuracy", "dock_to_stock_in_time_rate")
BREAKDOWN_TITLES = (
    ("shipping_by_carrier", "By carrier"),
    ("shipping_by_service", "By service"),
    ("shipping_by_zone", "By zone"),
)
LOW_STOCK_SHOWN = 10


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    display: str
    target_display: str  # "" without a target
    status: str  # "ok", "off" or "" (no target, or n/a)
    detail: str  # numerator of denominator, when it helps


def _target_display(kpi: KPIValue) -> str:
    if kpi.target is None:
        return ""
    return KPIValue(kpi.key, kpi.label, kpi.target, None, None, kpi.unit).display


def tile(kpi: KPIValue) -> Tile:
    status = {True: "ok", False: "off"}.get(kpi.meets_target, "")
    detail = ""
    if kpi.unit == kpis.PERCENT and kpi.denominator:
        detail = f"{kpi.numerator:,} of {kpi.denominator:,}"
    return Tile(kpi.key, kpi.label, kpi.display, _target_display(kpi), status, detail)


def trend_charts(report: kpis.KPIReport, period: Period) -> list[charts.Chart]:
    """Line charts of the trend KPIs against their targets, and received against shipped."""
    labels = [period.bucket_label(bucket) for bucket, _ in report.series]
    out = []
    for key in TREND_KPIS:
        total = report.totals[key]
        values = [row[key] for _, row in report.series]
        out.append(
            charts.kpi_line_chart(
                key=key,
                title=total.label,
                labels=labels,
                values=[v.value for v in values],
                displays=[v.display for v in values],
                target=total.target,
                target_display=_target_display(total),
            )
        )
    out.append(
        charts.volume_bar_chart(
            key="volumes",
            title="Orders received and shipped",
            labels=labels,
            series=[
                ("Received", [int(row["orders_received"].value) for _, row in report.series]),
                ("Shipped", [int(row["orders_shipped"].value) for _, row in report.series]),
            ],
        )
    )
    return out


def dashboard_data(*, actor: Actor, client: Client, period: Period, now: datetime | None = None) -> dict:
    """Everything the client dashboard shows, in a number of queries that does not depend on the
    period's length (``kpi_report`` counts days in grouped queries)."""
    now = now or timezone.now()
    report = kpis.kpi_report(
        client_ids=[client.pk], start=period.start, end=period.end, granularity=period.granularity, now=now
    )
    totals = report.totals
    health = kpis.inventory_health(client_ids=[client.pk], now=now)
    low = [row for row in health if row["low"]]
    return {
        "report": report,
        "sections": [(title, [tile(totals[k]) for k in keys]) for title, keys in TILE_SECTIONS],
        "charts": trend_charts(report, period),
        "queues": client_queues(actor=actor, client=client, now=now),
        "inbound": client_inbound(actor=actor, client=client, now=now),
        "inbound_tiles": [tile(totals[k]) for k in INBOUND_KPIS],
        "inventory_tiles": [tile(totals[k]) for k in INVENTORY_KPIS],
        "low_stock": low[:LOW_STOCK_SHOWN],
        "low_stock_count": len(low),
        "shipping_tiles": [tile(totals[k]) for k in SHIPPING_KPIS],
        "breakdowns": [(title, report.breakdowns.get(name, [])) for name, title in BREAKDOWN_TITLES],
    }
