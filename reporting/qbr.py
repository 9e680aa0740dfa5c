"""The quarterly business review of one client: a quarter (the client's local days) and the
previous quarter for comparison, assembled from the KPI engine (``reporting.kpis``), the alerts,
shipment exceptions and order errors, with the account manager's notes and action items.

The page, the PDF and the API all render this one ``QBR``, so they show the same numbers. A fixed
number of queries whatever the quarter holds: two KPI reports, the movers, and a few grouped
aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from accounts.models import Client

from . import kpis
from .enums import AlertRule, Severity
from .models import Alert, OrderError, QBRActionItem, QBRReport

MOVERS = 10


@dataclass(frozen=True)
class Quarter:
    year: int
    quarter: int

    def __post_init__(self):
        if not 1 <= self.quarter <= 4:
            raise ValueError("A quarter is 1 to 4.")
        if not 2000 <= self.year <= 2100:
            raise ValueError("Year out of range.")

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        """The last day (inclusive)."""
        nxt = self.next
        return date(nxt.year, 3 * nxt.quarter - 2, 1) - timedelta(days=1)

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.quarter == 1 else Quarter(self.year, self.quarter - 1)

    @property
    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.quarter == 4 else Quarter(self.year, self.quarter + 1)

    @property
    def label(self) -> str:
        return f"Q{self.quarter} {self.year}"

    @property
    def span(self) -> str:
        return f"{self.start:%b %-d} to {self.end:%b %-d, %Y}"

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def window(self, client: Client) -> tuple[datetime, datetime]:
        """[start, end) of the quarter's local days in the client's time zone, as aware datetimes."""
        zone = ZoneInfo(client.time_zone)
        return (
            datetime.combine(self.start, time(0), tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=zone),
        )


def client_today(client: Client) -> date:
    return timezone.now().astimezone(ZoneInfo(client.time_zone)).date()


def recent_quarters(client: Client, count: int = 8) -> list[Quarter]:
    """The current quarter (client's time zone) and the ones before it, newest first."""
    quarter, out = Quarter.containing(client_today(client)), []
    for _ in range(count):
        out.append(quarter)
        quarter = quarter.previous
    return out


# --- comparisons ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One KPI this quarter and last. ``change`` is in the KPI's unit (percentage points for a
    rate); None when either side is "n/a". ``now``: the KPI describes the stock today, not the
    quarter, so there is nothing to compare."""

    key: str
    label: str
    unit: str
    current: kpis.KPIValue
    previous: kpis.KPIValue | None
    change: Decimal | None
    better: bool | None
    now: bool = False

    @property
    def value(self) -> str:
        return self.current.display

    @property
    def previous_display(self) -> str:
        return self.previous.display if self.previous is not None else "—"

    @property
    def change_display(self) -> str:
        if self.change is None:
            return "—"
        sign = "+" if self.change > 0 else ("-" if self.change < 0 else "")
        size = abs(self.change)
        if self.unit == kpis.PERCENT:
            return f"{sign}{size:.2f} pts"
        if self.unit == kpis.USD:
            return f"{sign}${size:,.2f}"
        if self.unit in (kpis.HOURS, kpis.DAYS):
            return f"{sign}{size:.1f} {'h' if self.unit == kpis.HOURS else 'd'}"
        if self.unit == kpis.TURNS:
            return f"{sign}{size:.2f}"
        return f"{sign}{int(size):,}"

    @property
    def target_display(self) -> str:
        t = self.current.target
        return "" if t is None else f"{t:.2f}%"

    @property
    def meets_target(self) -> bool | None:
        return self.current.meets_target


# Lower is better for these: a rise is shown as worse.
LOWER_IS_BETTER = kpis.LOWER_IS_BETTER | {
    "click_to_ship_median_hours",
    "click_to_ship_p90_hours",
    "dock_to_stock_median_hours",
    "shipping_cost_per_order",
    "transit_days_mean",
    "transit_days_p90",
    "aged_91_180",
    "aged_over_180",
}
NEUTRAL = {
    "orders_received",
    "orders_shipped",
    "units_shipped",
    "units_on_hand",
    "days_of_supply",
    "aged_0_30",
    "aged_31_90",
}

SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("volumes", "Volumes", ("orders_received", "orders_shipped", "units_shipped")),
    (
        "service",
        "Service levels",
        (
            "on_time_ship_rate",
            "same_day_ship_rate",
            "click_to_ship_median_hours",
            "click_to_ship_p90_hours",
            "dock_to_stock_median_hours",
            "dock_to_stock_in_time_rate",
        ),
    ),
    (
        "accuracy",
        "Accuracy",
        (
            "receiving_accuracy",
            "order_accuracy",
            "inventory_accuracy",
            "inventory_unit_accuracy",
            "perfect_order_rate",
        ),
    ),
    ("fill", "Fill and backorders", ("unit_fill_rate", "line_fill_rate", "backorder_rate")),
    (
        "inventory",
        "Inventory",
        kpis.INVENTORY_KPIS,
    ),
    (
        "shipping",
        "Shipping",
        ("shipping_cost_per_order", "carrier_on_time_delivery", "transit_days_mean", "transit_days_p90"),
    ),
)


def compare(current: kpis.KPIValue, previous: kpis.KPIValue) -> Comparison:
    definition = kpis.KPI_BY_KEY[current.key]
    if definition.now:
        return Comparison(current.key, current.label, current.unit, current, None, None, None, now=True)
    change = None
    if current.value is not None and previous.value is not None:
        change = current.value - previous.value
    better = None
    if change and current.key not in NEUTRAL:
        better = change < 0 if current.key in LOWER_IS_BETTER else change > 0
    return Comparison(current.key, current.label, current.unit, current, previous, change, better)


# --- alerts and exceptions ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSummary:
    rows: list[dict]  # rule, rule label, severity, count
    total: int
    resolved: int
    mean_hours_to_resolve: Decimal | None
    shipment_exceptions: int
    order_errors: list[dict]  # kind, label, count

    @property
    def mttr_display(self) -> str:
        return "n/a" if self.mean_hours_to_resolve is None else f"{self.mean_hours_to_resolve:.1f} h"

    @property
    def order_error_total(self) -> int:
        return sum(r["count"] for r in self.order_errors)


def alert_summary(client: Client, quarter: Quarter) -> AlertSummary:
    """Alerts opened in the quarter by rule and severity, the mean time to resolve those resolved,
    shipments that reported a carrier exception and order errors recorded in it (4 queries)."""
    from shipments.enums import TrackingStatus
    from shipments.models import TrackingEvent

    start, end = quarter.window(client)
    opened = Alert.objects.filter(client=client, opened_at__gte=start, opened_at__lt=end)
    rule_labels, severity_order = (
        dict(AlertRule.choices),
        {s: i for i, s in enumerate(reversed(Severity.values))},
    )
    rows = [
        {
            "rule": r["rule"],
            "label": rule_labels.get(r["rule"], r["rule"]),
            "severity": r["severity"],
            "count": r["n"],
        }
        for r in opened.order_by().values("rule", "severity").annotate(n=Count("pk"))
    ]
    rows.sort(key=lambda r: (severity_order.get(r["severity"], 9), -r["count"], r["rule"]))
    agg = opened.aggregate(
        total=Count("pk"),
        resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
        mttr=Avg(
            ExpressionWrapper(F("resolved_at") - F("opened_at"), output_field=DurationField()),
            filter=Q(resolved_at__isnull=False),
        ),
    )
    mttr = agg["mttr"]
    exceptions = (
        TrackingEvent.objects.filter(
            client=client, status=TrackingStatus.EXCEPTION, occurred_at__gte=start, occurred_at__lt=end
        )
        .values("shipment")
        .distinct()
        .count()
    )
    from .enums import OrderErrorKind

    kinds = dict(OrderErrorKind.choices)
    errors = [
        {"kind": r["kind"], "label": kinds.get(r["kind"], r["kind"]), "count": r["n"]}
        for r in OrderError.objects.filter(client=client, created_at__gte=start, created_at__lt=end)
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
        .order_by("-n", "kind")
    ]
    return AlertSummary(
        rows=rows,
        total=agg["total"],
        resolved=agg["resolved"],
        mean_hours_to_resolve=(
            None if mttr is None else (Decimal(mttr.total_seconds()) / 3600).quantize(Decimal("0.1"))
        ),
        shipment_exceptions=exceptions,
        order_errors=errors,
    )


# --- the report -----------------------------------------------------------------------------------


@dataclass
class QBR:
    client: Client
    quarter: Quarter
    report: KPIReportPair
    sections: list[tuple[str, str, list[Comparison]]]
    weeks: list[dict]  # week (Monday), orders received / shipped, units shipped, on-time
    top_movers: list[dict]
    slow_movers: list[dict]
    shipping: dict[str, list[dict]]
    alerts: AlertSummary
    previous_alerts: AlertSummary
    notes: QBRReport | None
    action_items: list[QBRActionItem] = field(default_factory=list)

    def comparison(self, key: str) -> Comparison:
        for _slug, _title, rows in self.sections:
            for row in rows:
                if row.key == key:
                    return row
        raise KeyError(key)

    @property
    def on_time_target(self) -> Decimal | None:
        return self.report.current.totals["on_time_ship_rate"].target


@dataclass(frozen=True)
class KPIReportPair:
    current: kpis.KPIReport
    previous: kpis.KPIReport


def qbr_report_row(client: Client, quarter: Quarter) -> QBRReport | None:
    return QBRReport.objects.filter(client=client, year=quarter.year, quarter=quarter.quarter).first()


def build_qbr(*, client: Client, quarter: Quarter) -> QBR:
    """Everything the QBR shows for ``client`` (whom the caller has checked the actor sees)."""
    current = kpis.kpi_report(
        client_ids=[client.pk], start=quarter.start, end=quarter.end, granularity="week"
    )
    prev_q = quarter.previous
    # Only compared with: its breakdowns and today's stock would repeat work the page never shows.
    previous = kpis.kpi_report(
        client_ids=[client.pk], start=prev_q.start, end=prev_q.end, breakdowns=False, stock=False
    )
    sections = [
        (slug, title, [compare(current.totals[key], previous.totals[key]) for key in keys])
        for slug, title, keys in SECTIONS
    ]
    weeks = [
        {
            "week": week,
            "orders_received": int(values["orders_received"].value or 0),
            "orders_shipped": int(values["orders_shipped"].value or 0),
            "units_shipped": int(values["units_shipped"].value or 0),
            "on_time": values["on_time_ship_rate"],
        }
        for week, values in current.series
    ]
    notes = qbr_report_row(client, quarter)
    items = list(notes.action_items.all()) if notes else []
    top, slow = kpis.movers(client_ids=[client.pk], start=quarter.start, end=quarter.end, limit=MOVERS)
    return QBR(
        client=client,
        quarter=quarter,
        report=KPIReportPair(current, previous),
        sections=sections,
        weeks=weeks,
        top_movers=top,
        slow_movers=slow,
        shipping=current.breakdowns,
        alerts=alert_summary(client, quarter),
        previous_alerts=alert_summary(client, prev_q),
        notes=notes,
        action_items=items,
    )


def week_label(week: date) -> str:
    return f"{week:%b} {week.day}"


def qbr_as_dict(qbr: QBR) -> dict:
    """The QBR as JSON-ready data (the API's ``content``): the page's numbers and displays."""

    def num(value):
        return None if value is None else str(value)

    return {
        "client": qbr.client.pk,
        "year": qbr.quarter.year,
        "quarter": qbr.quarter.quarter,
        "from": qbr.quarter.start.isoformat(),
        "to": qbr.quarter.end.isoformat(),
        "sections": [
            {
                "key": slug,
                "title": title,
                "kpis": [
                    {
                        "key": c.key,
                        "label": c.label,
                        "unit": c.unit,
                        "value": num(c.current.value),
                        "display": c.value,
                        "previous": num(c.previous.value) if c.previous else None,
                        "previous_display": c.previous_display,
                        "change": num(c.change),
                        "change_display": c.change_display,
                        "target": num(c.current.target),
                        "meets_target": c.meets_target,
                        "as_of_today": c.now,
                    }
                    for c in rows
                ],
            }
            for slug, title, rows in qbr.sections
        ],
        "weeks": [
            {
                "week": w["week"].isoformat(),
                "orders_received": w["orders_received"],
                "orders_shipped": w["orders_shipped"],
                "units_shipped": w["units_shipped"],
                "on_time_ship_rate": num(w["on_time"].value),
            }
            for w in qbr.weeks
        ],
        "top_movers": [
            {k: m[k] for k in ("sku", "name", "units_shipped", "on_hand")} for m in qbr.top_movers
        ],
        "slow_movers": [
            {k: m[k] for k in ("sku", "name", "units_shipped", "on_hand")} for m in qbr.slow_movers
        ],
        "shipping": {
            name: [{k: (num(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows]
            for name, rows in qbr.shipping.items()
        },
        "alerts": {
            "opened": qbr.alerts.total,
            "opened_previous": qbr.previous_alerts.total,
            "resolved": qbr.alerts.resolved,
            "mean_hours_to_resolve": num(qbr.alerts.mean_hours_to_resolve),
            "mean_hours_to_resolve_previous": num(qbr.previous_alerts.mean_hours_to_resolve),
            "by_rule": qbr.alerts.rows,
            "shipment_exceptions": qbr.alerts.shipment_exceptions,
            "shipment_exceptions_previous": qbr.previous_alerts.shipment_exceptions,
            "order_errors": qbr.alerts.order_errors,
        },
    }
