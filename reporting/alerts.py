"""The alert engine: DOMAIN.md's alert rules as set-based sweeps.

Each rule's sweep is ONE transaction, set-based whatever the number of matches:
1. one query reads the rule's per-client settings (``AlertRuleSetting``; absent: ``RULE_DEFAULTS``);
2. the rule's candidates across every client with the rule enabled (each client with its own
   threshold: clients are grouped by distinct threshold value, so the candidate query is a single
   SELECT with one OR-term per group, or per group and node where the rule is about the node's
   local day) go into a temporary hits table. The order rules, which match tens of thousands of
   orders on a peak day, are written there by one INSERT ... SELECT on PostgreSQL (titles and
   details formatted in SQL exactly as the Python builders do); the others are built in Python
   and written with one statement;
3. one query finds the open alerts whose object no longer matches ("condition cleared"); the hits
   that have an open alert already are set aside; one INSERT ... ON CONFLICT DO NOTHING opens the
   rest: the unique constraint (rule, object_type, object_id, occurrence) keeps ONE alert per
   occurrence whatever runs at once (two workers, two beat processes);
4. one UPDATE resolves the cleared alerts;
5. the alerts this sweep inserted are announced by it (inserted with ``notified_at`` set); any
   other unannounced open alert of the rule is claimed with a conditional UPDATE on rows locked
   first, so exactly one sweep announces each. The ``alert.opened`` / ``alert.resolved`` webhook
   events are written in the same transaction (the outbox, one INSERT ... SELECT), and the
   immediate e-mail of critical alerts is queued after commit.

A worker killed mid-sweep rolls the transaction back: nothing is lost (the next run opens the
same alerts) and nothing is duplicated (the constraint and the claim).

Occurrences: an order's ship-by, an ASN's ETA or dock-to-stock deadline, a shipment's last sign
of life (stalled), estimated delivery date (late) or exception time. For stock and KPI rules the
occurrence is the local date the condition was first seen; while the alert stays open the same
object keeps matching it (``by_object``), so a second day low does not open a second alert.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from string import Formatter
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Client, Warehouse
from fulfillment.calendar import BusinessCalendar

from .enums import RULE_DEFAULTS, AlertRule, Severity
from .models import Alert, AlertRuleSetting

CONDITION_CLEARED = "system: condition cleared"


# --- rules: defaults and per-client overrides --------------------------------------------------


@dataclass(frozen=True)
class EffectiveRule:
    """One rule as it applies to one client: DOMAIN.md's default, or the client's override."""

    client_id: int
    rule: str
    enabled: bool
    severity: str
    threshold: Decimal | None
    client_visible: bool
    overridden: bool
    updated_by: str = ""

    @property
    def label(self) -> str:
        return AlertRule(self.rule).label

    @property
    def unit(self) -> str:
        return RULE_DEFAULTS[self.rule].unit

    @property
    def default(self):
        return RULE_DEFAULTS[self.rule]

    @property
    def has_threshold(self) -> bool:
        return RULE_DEFAULTS[self.rule].threshold is not None


def default_rule(client_id: int, rule: str) -> EffectiveRule:
    d = RULE_DEFAULTS[rule]
    return EffectiveRule(client_id, rule, True, d.severity, d.threshold, d.client_visible, False)


def _from_setting(s: AlertRuleSetting) -> EffectiveRule:
    return EffectiveRule(
        client_id=s.client_id,
        rule=s.rule,
        enabled=s.enabled,
        severity=s.severity,
        threshold=s.threshold if s.threshold is not None else RULE_DEFAULTS[s.rule].threshold,
        client_visible=s.client_visible,
        overridden=True,
        updated_by=s.updated_by,
    )


def effective_rules(client_ids: Iterable[int]) -> dict[int, dict[str, EffectiveRule]]:
    """client -> rule -> the rule as it applies (defaults and overrides): one query. Callers
    pass client ids the actor may see; the settings are read across those clients at once."""
    ids = sorted(set(client_ids))
    table = {c: {r: default_rule(c, r) for r in AlertRule.values} for c in ids}
    with scopes_disabled():
        for s in AlertRuleSetting.objects.filter(client_id__in=ids).order_by():
            table[s.client_id][s.rule] = _from_setting(s)
    return table


@dataclass
class RuleScope:
    """Which clients a sweep covers and with what threshold, severity and visibility."""

    rule: str
    overrides: dict[int, EffectiveRule]

    @classmethod
    def load(cls, rule: str) -> RuleScope:
        rows = AlertRuleSetting.objects.filter(rule=rule).order_by()
        return cls(rule, {s.client_id: _from_setting(s) for s in rows})

    @property
    def default(self):
        return RULE_DEFAULTS[self.rule]

    def for_client(self, client_id: int) -> EffectiveRule:
        return self.overrides.get(client_id) or default_rule(client_id, self.rule)

    def enabled_q(self, field: str = "client_id") -> Q:
        disabled = sorted(c for c, s in self.overrides.items() if not s.enabled)
        return ~Q(**{f"{field}__in": disabled}) if disabled else Q()

    def groups(self, field: str = "client_id") -> list[tuple[Decimal | None, Q]]:
        """(threshold, clients with it): the default's group covers every client without a
        different threshold (and not disabled); each other value its listed clients."""
        by_value: dict[Decimal, list[int]] = {}
        off = [c for c, s in self.overrides.items() if not s.enabled]
        for c, s in self.overrides.items():
            if s.enabled and s.threshold is not None and s.threshold != self.default.threshold:
                by_value.setdefault(s.threshold, []).append(c)
        others = sorted(off + [c for ids in by_value.values() for c in ids])
        default_q = ~Q(**{f"{field}__in": others}) if others else Q()
        groups = [(self.default.threshold, default_q)]
        groups += [(value, Q(**{f"{field}__in": sorted(ids)})) for value, ids in sorted(by_value.items())]
        return groups


# --- candidates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One object that matches a rule now."""

    client_id: int
    object_type: str
    object_id: str
    occurrence: str
    title: str
    detail: dict = field(default_factory=dict, compare=False)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _local(moment: datetime | None, zone: str | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(zone or "UTC"))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _nodes() -> list[tuple[int, str]]:
    return list(Warehouse.objects.order_by("pk").values_list("pk", "time_zone"))


def _local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


ORDER_FIELDS = ("pk", "client_id", "external_reference", "status", "ship_by", "warehouse__code")


def _order_hit(row: dict, title: str, zone_field: str = "warehouse__time_zone") -> Hit:
    number = f"ORD-{row['pk']:07d}"
    return Hit(
        client_id=row["client_id"],
        object_type="order",
        object_id=str(row["pk"]),
        occurrence=row["ship_by"].isoformat(),
        title=title.format(
            number=number,
            ref=row["external_reference"],
            ship_by=_local(row["ship_by"], row.get(zone_field) or row.get("client__time_zone")),
        ),
        detail={
            "order_id": row["pk"],
            "number": number,
            "external_reference": row["external_reference"],
            "status": row["status"],
            "warehouse": row["warehouse__code"],
            "ship_by": _iso(row["ship_by"]),
        },
    )


def _orders(condition: Q) -> list[dict]:
    from orders.models import Order

    return list(
        Order.objects.filter(condition)
        .order_by()
        .values(*ORDER_FIELDS, "warehouse__time_zone", "client__time_zone")
    )


ORDER_AT_RISK_TITLE = "{number} ({ref}) at risk: not packed, ship by {ship_by}"
ORDER_LATE_TITLE = "{number} ({ref}) late: not shipped by {ship_by}"


def _at_risk_condition(now: datetime, rules: RuleScope) -> Q:
    """``orders.selectors.at_risk_q`` with each client's window (hours) instead of two: not packed
    yet and due within the window (a passed deadline is late, not at risk)."""
    from orders.selectors import AT_RISK_WINDOW, NOT_PACKED_STATUSES, at_risk_q

    condition = Q(pk__in=[])
    for hours, clients in rules.groups():
        window = timedelta(hours=float(hours))
        if window == AT_RISK_WINDOW:
            condition |= at_risk_q(now) & clients
        else:
            condition |= (
                Q(ship_by__gte=now, ship_by__lte=now + window, status__in=NOT_PACKED_STATUSES) & clients
            )
    return condition


def _late_condition(now: datetime, rules: RuleScope) -> Q:
    """``orders.selectors.late_q``: not shipped (nor cancelled) and the ship-by has passed."""
    from orders.selectors import late_q

    return late_q(now) & rules.enabled_q()


def orders_at_risk(now: datetime, rules: RuleScope) -> list[Hit]:
    return [_order_hit(r, ORDER_AT_RISK_TITLE) for r in _orders(_at_risk_condition(now, rules))]


def orders_late(now: datetime, rules: RuleScope) -> list[Hit]:
    return [_order_hit(r, ORDER_LATE_TITLE) for r in _orders(_late_condition(now, rules))]


def _asn_hit(row: dict, occurrence: str, title: str) -> Hit:
    number = f"ASN-{row['pk']:06d}"
    return Hit(
        client_id=row["client_id"],
        object_type="asn",
        object_id=str(row["pk"]),
        occurrence=occurrence,
        title=title.format(number=number, ref=row["reference"] or row["po_reference"] or "no reference"),
        detail={
            "asn_id": row["pk"],
            "number": number,
            "reference": row["reference"],
            "status": row["status"],
            "warehouse": row["warehouse__code"],
            "eta": _iso(row["eta"]),
            "arrived_at": _iso(row["arrived_at"]),
            "dock_to_stock_deadline": _iso(row["dock_to_stock_deadline"]),
        },
    )


ASN_FIELDS = (
    "pk",
    "client_id",
    "reference",
    "po_reference",
    "status",
    "warehouse__code",
    "warehouse__time_zone",
    "eta",
    "arrived_at",
    "dock_to_stock_deadline",
)


def asns_overdue(now: datetime, rules: RuleScope) -> list[Hit]:
    """Submitted or in transit, not arrived, and the node's local day ETA + N days has ended
    (N = the threshold, default 1: an ASN due Monday is overdue from Wednesday 00:00 node time)."""
    from inventory.enums import ASNStatus
    from inventory.models import ASN

    condition = Q(pk__in=[])
    for warehouse_id, zone in _nodes():
        today = _local_today(zone, now)
        for days, clients in rules.groups():
            last_day_ok = today - timedelta(days=int(days))
            condition |= Q(warehouse_id=warehouse_id, eta__lt=last_day_ok) & clients
    rows = (
        ASN.objects.filter(
            condition,
            status__in=(ASNStatus.SUBMITTED, ASNStatus.IN_TRANSIT),
            arrived_at__isnull=True,
            eta__isnull=False,
        )
        .order_by()
        .values(*ASN_FIELDS)
    )
    return [
        _asn_hit(
            r, r["eta"].isoformat(), f"{{number}} ({{ref}}) overdue: ETA {r['eta']:%Y-%m-%d}, not arrived"
        )
        for r in rows
    ]


def asns_dock_to_stock_late(now: datetime, rules: RuleScope) -> list[Hit]:
    """Arrived, not stocked, and its dock-to-stock deadline has passed."""
    from inventory.enums import ASNStatus
    from inventory.models import ASN

    rows = (
        ASN.objects.filter(
            rules.enabled_q(),
            status__in=(ASNStatus.ARRIVED, ASNStatus.RECEIVING, ASNStatus.RECEIVED),
            arrived_at__isnull=False,
            stocked_at__isnull=True,
            dock_to_stock_deadline__lt=now,
        )
        .order_by()
        .values(*ASN_FIELDS)
    )
    return [
        _asn_hit(
            r,
            r["dock_to_stock_deadline"].isoformat(),
            "{number} ({ref}) dock-to-stock late: not stocked by "
            + _local(r["dock_to_stock_deadline"], r["warehouse__time_zone"]),
        )
        for r in rows
    ]


def _stock_levels(condition: Q):
    """(client, item, node) -> available in sellable bins, at nodes where the item has a balance
    row: one grouped query."""
    from inventory.enums import SELLABLE_LOCATION_TYPES
    from inventory.models import Balance

    sellable = Q(location__type__in=SELLABLE_LOCATION_TYPES)
    return (
        Balance.objects.filter(condition)
        .values(
            "client_id",
            "item_id",
            "warehouse_id",
            "item__sku",
            "item__reorder_point",
            "warehouse__code",
            "warehouse__time_zone",
        )
        .annotate(available=Coalesce(Sum(F("on_hand") - F("allocated"), filter=sellable), 0))
        .order_by()
    )


def _stock_hit(row: dict, now: datetime, title: str) -> Hit:
    return Hit(
        client_id=row["client_id"],
        object_type="stock",
        object_id=f"{row['item_id']}:{row['warehouse_id']}",
        occurrence=_local_today(row["warehouse__time_zone"], now).isoformat(),
        title=title.format(sku=row["item__sku"], node=row["warehouse__code"]),
        detail={
            "item_id": row["item_id"],
            "sku": row["item__sku"],
            "warehouse": row["warehouse__code"],
            "available": row["available"],
            "reorder_point": row["item__reorder_point"],
        },
    )


def stock_low(now: datetime, rules: RuleScope) -> list[Hit]:
    """Available (sellable bins: on hand - allocated) below the item's reorder point at a node."""
    rows = _stock_levels(rules.enabled_q() & Q(item__reorder_point__gt=0)).filter(
        available__lt=F("item__reorder_point")
    )
    return [
        _stock_hit(
            r,
            now,
            f"{{sku}} low at {{node}}: {r['available']} available, reorder point {r['item__reorder_point']}",
        )
        for r in rows
    ]


def stock_out(now: datetime, rules: RuleScope) -> list[Hit]:
    """Nothing available at a node while orders want the item there: lines of backordered or
    not-yet-allocated orders (routed to that node or not routed yet) asking for the item itself
    or for a kit it is a component of."""
    from inventory.models import KitComponent
    from orders.enums import OrderStatus
    from orders.models import OrderLine

    waiting = Q(order__status__in=(OrderStatus.BACKORDERED, OrderStatus.RECEIVED)) & (
        Q(order__warehouse_id=OuterRef("warehouse_id")) | Q(order__warehouse__isnull=True)
    )
    direct = OrderLine.objects.filter(waiting, item_id=OuterRef("item_id"))
    kits = KitComponent.objects.filter(component_id=OuterRef(OuterRef("item_id"))).values("kit_id")
    via_kit = OrderLine.objects.filter(waiting, item_id__in=kits)
    rows = _stock_levels(rules.enabled_q() & (Exists(direct) | Exists(via_kit))).filter(available__lte=0)
    return [_stock_hit(r, now, "{sku} out of stock at {node} with orders waiting") for r in rows]


SHIPMENT_FIELDS = (
    "pk",
    "client_id",
    "order_id",
    "status",
    "tracking_number",
    "shipped_at",
    "estimated_delivery_date",
    "last_event_at",
    "exception_reason",
    "warehouse__code",
    "warehouse__time_zone",
    "carrier__name",
)


def _shipment_hit(row: dict, occurrence: str, title: str) -> Hit:
    number = f"SHP-{row['pk']:07d}"
    return Hit(
        client_id=row["client_id"],
        object_type="shipment",
        object_id=str(row["pk"]),
        occurrence=occurrence,
        title=title.format(number=number, tracking=row["tracking_number"] or "no tracking number"),
        detail={
            "shipment_id": row["pk"],
            "number": number,
            "order_id": row["order_id"],
            "status": row["status"],
            "carrier": row["carrier__name"],
            "tracking_number": row["tracking_number"],
            "warehouse": row["warehouse__code"],
            "shipped_at": _iso(row["shipped_at"]),
            "estimated_delivery_date": _iso(row["estimated_delivery_date"]),
            "last_event_at": _iso(row["last_event_at"]),
            "exception_reason": row["exception_reason"],
        },
    )


def _stalled_q(now: datetime, business_days: int) -> Q:
    """``shipments.shipment_selectors.stalled_q`` with another number of business days."""
    from shipments.shipment_selectors import STALLED_AFTER_BUSINESS_DAYS, UNDERWAY, stalled_q

    if business_days == STALLED_AFTER_BUSINESS_DAYS:
        return stalled_q(now)
    per_node = Q(pk__in=[])
    for warehouse in Warehouse.objects.prefetch_related("closures").order_by("pk"):
        calendar = BusinessCalendar(warehouse.time_zone, frozenset(c.date for c in warehouse.closures.all()))
        day = calendar.local(now).date()
        for _ in range(business_days + 1):
            day -= timedelta(days=1)
            while not calendar.is_business_day(day):
                day -= timedelta(days=1)
        threshold = datetime.combine(day + timedelta(days=1), time(0), tzinfo=calendar.zone)
        per_node |= Q(warehouse_id=warehouse.pk, shipped_at__lt=threshold) & (
            Q(last_event_at__isnull=True) | Q(last_event_at__lt=threshold)
        )
    return Q(status__in=UNDERWAY, shipped_at__isnull=False) & per_node


def _shipments(condition: Q, **annotations):
    from shipments.models import Shipment

    return (
        Shipment.all_objects.filter(condition)
        .annotate(**annotations)
        .order_by()
        .values(*SHIPMENT_FIELDS, *annotations)
    )


def shipments_stalled(now: datetime, rules: RuleScope) -> list[Hit]:
    """No tracking event for N business days (default 2). The occurrence is the last sign of life
    (last event, else shipping): a parcel that moves and stalls again is a new occurrence."""
    condition = Q(pk__in=[])
    for days, clients in rules.groups():
        condition |= _stalled_q(now, int(days)) & clients
    rows = _shipments(condition)
    hits = []
    for r in rows:
        since = r["last_event_at"] or r["shipped_at"]
        hits.append(
            _shipment_hit(
                r,
                since.isoformat(),
                "{number} ({tracking}) stalled: no scan since " + _local(since, r["warehouse__time_zone"]),
            )
        )
    return hits


def shipments_late(now: datetime, rules: RuleScope) -> list[Hit]:
    """``shipments.shipment_selectors.late_q``: not delivered by the end of its estimated day."""
    from shipments.shipment_selectors import late_q

    rows = _shipments(late_q(now) & rules.enabled_q())
    return [
        _shipment_hit(
            r,
            r["estimated_delivery_date"].isoformat(),
            f"{{number}} ({{tracking}}) late: not delivered by {r['estimated_delivery_date']:%Y-%m-%d}",
        )
        for r in rows
    ]


def shipments_in_exception(now: datetime, rules: RuleScope) -> list[Hit]:
    """In carrier exception; the occurrence is the time of the latest exception scan."""
    from shipments.enums import TrackingStatus
    from shipments.models import TrackingEvent
    from shipments.shipment_selectors import exception_q

    latest = (
        TrackingEvent.objects.filter(shipment=OuterRef("pk"), status=TrackingStatus.EXCEPTION)
        .order_by("-occurred_at", "-pk")
        .values("occurred_at")[:1]
    )
    rows = _shipments(
        exception_q() & rules.enabled_q(),
        exception_at=Coalesce(Subquery(latest), F("last_event_at"), F("shipped_at"), F("updated_at")),
    )
    return [
        _shipment_hit(
            r,
            r["exception_at"].isoformat(),
            "{number} ({tracking}) carrier exception"
            + (f": {r['exception_reason']}" if r["exception_reason"] else ""),
        )
        for r in rows
    ]


def kpi_under_target(now: datetime, rules: RuleScope) -> list[Hit]:
    """The trailing N-day (default 7) on-time ship rate of each client with the rule enabled,
    against its ``target_on_time_ship``; "n/a" (nothing due) never fires. The N days are the
    client's last N complete local days. One KPI report per client (the KPI engine computes a
    client's rate from its rollup), which is fine for a nightly rule."""
    from .kpis import kpi_report

    hits = []
    clients = Client.objects.filter(rules.enabled_q("pk"), active=True).order_by("pk")
    for client in clients:
        days = int(
            rules.for_client(client.pk).threshold or RULE_DEFAULTS[AlertRule.KPI_UNDER_TARGET].threshold
        )
        today = _local_today(client.time_zone, now)
        start, end = today - timedelta(days=days), today - timedelta(days=1)
        report = kpi_report(client_ids=[client.pk], start=start, end=end, now=now)
        rate = report.totals["on_time_ship_rate"].value
        target = client.target_on_time_ship
        if rate is None or rate >= target:
            continue
        hits.append(
            Hit(
                client_id=client.pk,
                object_type="client",
                object_id=f"{client.pk}:on_time_ship_rate",
                occurrence=today.isoformat(),
                title=f"{client.name}: on-time ship rate {rate:.2f}% over the last {days} days, "
                f"under the {target:.2f}% target",
                detail={
                    "kpi": "on_time_ship_rate",
                    "value": str(rate),
                    "target": str(target),
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                },
            )
        )
    return hits


# --- candidates in SQL (PostgreSQL) ------------------------------------------------------------
#
# The order rules match tens of thousands of orders on a peak day. On PostgreSQL their candidates
# are written into the sweep's hits table by one INSERT ... SELECT, with the very title, detail and
# occurrence the Python builders above give (``tests/reporting/test_alert_sql.py`` compares them):
# no row goes through Python.


def _sql_iso(column: str, utc_suffix: str = "+00:00") -> str:
    """SQL for Python's ``value.isoformat()`` of an aware UTC datetime column (microseconds only
    when there are any), with ``utc_suffix`` for the offset."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"mod(extract(microseconds FROM {column})::bigint, 1000000) <> 0 THEN to_char({utc}, '.US') ELSE '' END"
        f" || '{utc_suffix}')"
    )


def _sql_number(prefix: str, column: str, width: int) -> str:
    """SQL for ``f"{prefix}{pk:0{width}d}"``."""
    return f"('{prefix}' || lpad({column}::text, greatest({width}, length({column}::text)), '0'))"


def _sql_format(template: str, fields: dict[str, str]) -> tuple[str, list[str]]:
    """A ``str.format`` template as a SQL concatenation: literal text as parameters, each
    ``{field}`` as the SQL expression ``fields`` gives for it."""
    parts, params = [], []
    for literal, name, _spec, _conversion in Formatter().parse(template):
        if literal:
            parts.append("%s")
            params.append(literal)
        if name is not None:
            parts.append(fields[name])
    return "(" + " || ".join(parts) + ")", params


def _fill_order_hits(cursor, condition: Q, template: str) -> None:
    """The orders matching ``condition`` as hits: their rows go into a temporary table, the zone
    abbreviations of their ship-by times are named by Python (``_local``) for each distinct (zone,
    UTC offset), and one INSERT ... SELECT formats every hit."""
    from orders.models import Order

    with scopes_disabled():
        rows = (
            Order.objects.filter(condition)
            .order_by()
            .values(
                oid=F("pk"),
                cid=F("client_id"),
                ref=F("external_reference"),
                st=F("status"),
                sb=F("ship_by"),
                wh=F("warehouse__code"),
                zone=Coalesce("warehouse__time_zone", "client__time_zone", Value("UTC")),
            )
        )
        sql, params = rows.query.sql_with_params()
    cursor.execute("DROP TABLE IF EXISTS reporting_alert_orders")
    cursor.execute(f"CREATE TEMPORARY TABLE reporting_alert_orders AS {sql}", params)
    offset = "extract(epoch FROM (o.sb AT TIME ZONE o.zone) - (o.sb AT TIME ZONE 'UTC'))::integer"
    cursor.execute(f"SELECT o.zone, {offset}, min(o.sb) FROM reporting_alert_orders o GROUP BY 1, 2")
    zones, offsets, names = [], [], []
    for zone, seconds, sample in cursor.fetchall():
        zones.append(zone)
        offsets.append(seconds)
        names.append(_local(sample, zone).rsplit(" ", 1)[1])
    number = _sql_number("ORD-", "o.oid", 7)
    local = "(to_char(o.sb AT TIME ZONE o.zone, 'YYYY-MM-DD HH24:MI') || ' ' || z.name)"
    title, title_params = _sql_format(template, {"number": number, "ref": "o.ref", "ship_by": local})
    iso = _sql_iso("o.sb")
    cursor.execute(
        f"""
        INSERT INTO reporting_alert_hits (client_id, object_type, object_id, occurrence, title, detail)
        SELECT o.cid, 'order', o.oid::text, {iso}, {title},
               jsonb_build_object('order_id', o.oid, 'number', {number}, 'external_reference', o.ref,
                                  'status', o.st, 'warehouse', o.wh, 'ship_by', {iso})
        FROM reporting_alert_orders o
        JOIN unnest(%s::text[], %s::integer[], %s::text[]) AS z(zone, seconds, name)
          ON z.zone = o.zone AND z.seconds = {offset}
        ORDER BY o.oid
        """,
        [*title_params, zones, offsets, names],
    )
    cursor.execute("DROP TABLE reporting_alert_orders")


def fill_late_orders(cursor, now: datetime, rules: RuleScope) -> None:
    _fill_order_hits(cursor, _late_condition(now, rules), ORDER_LATE_TITLE)


def fill_orders_at_risk(cursor, now: datetime, rules: RuleScope) -> None:
    _fill_order_hits(cursor, _at_risk_condition(now, rules), ORDER_AT_RISK_TITLE)


@dataclass(frozen=True)
class RuleSpec:
    candidates: Callable[[datetime, RuleScope], list[Hit]]
    by_object: bool = False  # an open alert keeps matching its object whatever today's occurrence
    # On PostgreSQL, writes the same hits as ``candidates`` straight into the hits table.
    fill_sql: Callable[..., None] | None = None


RULES: dict[str, RuleSpec] = {
    AlertRule.ORDER_AT_RISK: RuleSpec(orders_at_risk, fill_sql=fill_orders_at_risk),
    AlertRule.ORDER_LATE: RuleSpec(orders_late, fill_sql=fill_late_orders),
    AlertRule.ASN_OVERDUE: RuleSpec(asns_overdue),
    AlertRule.DOCK_TO_STOCK_LATE: RuleSpec(asns_dock_to_stock_late),
    AlertRule.LOW_STOCK: RuleSpec(stock_low, by_object=True),
    AlertRule.OUT_OF_STOCK: RuleSpec(stock_out, by_object=True),
    AlertRule.SHIPMENT_STALLED: RuleSpec(shipments_stalled),
    AlertRule.SHIPMENT_LATE: RuleSpec(shipments_late),
    AlertRule.CARRIER_EXCEPTION: RuleSpec(shipments_in_exception),
    AlertRule.KPI_UNDER_TARGET: RuleSpec(kpi_under_target, by_object=True),
}

# What each beat entry sweeps (``reporting.alert_tasks``).
ORDER_RULES = (AlertRule.ORDER_AT_RISK, AlertRule.ORDER_LATE)
FLOW_RULES = (
    AlertRule.ASN_OVERDUE,
    AlertRule.DOCK_TO_STOCK_LATE,
    AlertRule.SHIPMENT_STALLED,
    AlertRule.SHIPMENT_LATE,
    AlertRule.CARRIER_EXCEPTION,
)
STOCK_RULES = (AlertRule.LOW_STOCK, AlertRule.OUT_OF_STOCK)
KPI_RULES = (AlertRule.KPI_UNDER_TARGET,)


# --- the sweep ---------------------------------------------------------------------------------


@dataclass
class SweepResult:
    rule: str
    matching: int = 0
    opened: list[int] = field(default_factory=list)  # announced by this sweep
    resolved: list[int] = field(default_factory=list)


def alert_payload(alert: Alert) -> dict:
    """The ``alert.opened`` / ``alert.resolved`` webhook body's ``data`` (``_PAYLOAD_SQL`` builds
    the same object in SQL)."""
    return {
        "alert_id": alert.pk,
        "rule": alert.rule,
        "severity": alert.severity,
        "title": alert.title,
        "object_type": alert.object_type,
        "object_id": alert.object_id,
        "occurrence": alert.occurrence,
        "detail": alert.detail,
        "opened_at": alert.opened_at.isoformat().replace("+00:00", "Z"),
        "resolved_at": alert.resolved_at.isoformat().replace("+00:00", "Z") if alert.resolved_at else None,
        "resolution": (
            None
            if not alert.resolved_at
            else "condition_cleared"
            if alert.resolved_by == CONDITION_CLEARED
            else "resolved_by_operator"
        ),
    }


_PAYLOAD_SQL = f"""jsonb_build_object(
    'alert_id', a.id, 'rule', a.rule, 'severity', a.severity, 'title', a.title,
    'object_type', a.object_type, 'object_id', a.object_id, 'occurrence', a.occurrence,
    'detail', a.detail, 'opened_at', {_sql_iso("a.opened_at", "Z")},
    'resolved_at', CASE WHEN a.resolved_at IS NULL THEN NULL ELSE {_sql_iso("a.resolved_at", "Z")} END,
    'resolution', CASE WHEN a.resolved_at IS NULL THEN NULL
                       WHEN a.resolved_by = %s THEN 'condition_cleared'
                       ELSE 'resolved_by_operator' END)"""


def emit_alert_events(alerts: Iterable[Alert], event_type: str) -> None:
    """Brand-visible alerts only: the client's subscriptions receive them (the outbox rows are
    written with one INSERT in the caller's transaction)."""
    from shipments.events import emit_many

    emit_many((a.client_id, event_type, alert_payload(a)) for a in alerts if a.client_visible)


def announce(alert_ids: list[int], event_type: str) -> None:
    """The outbox events of the brand-visible alerts among ``alert_ids``, in the caller's
    transaction. PostgreSQL builds the payloads itself (one INSERT ... SELECT); elsewhere they are
    built from the rows."""
    from shipments.events import fan_out_after_commit
    from shipments.models import Event

    if not alert_ids:
        return
    if _is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Event._meta.db_table} (client_id, type, payload, created_at)
                SELECT a.client_id, %s, {_PAYLOAD_SQL}, %s
                FROM {Alert._meta.db_table} a
                WHERE a.id = ANY(%s) AND a.client_visible
                ORDER BY a.id
                RETURNING id, client_id
                """,
                [event_type, CONDITION_CLEARED, timezone.now(), list(alert_ids)],
            )
            fan_out_after_commit(cursor.fetchall())
        return
    with scopes_disabled():
        emit_alert_events(Alert.objects.filter(pk__in=alert_ids).order_by("pk"), event_type)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _lock() -> str:
    """Row locks, in primary-key order, where the database has them."""
    return " ORDER BY id FOR UPDATE" if _is_postgres() else ""


def resolve_alerts(alert_ids: list[int], *, now: datetime, by: str) -> list[int]:
    """Resolve the still-open alerts among ``alert_ids`` (one UPDATE on the rows locked first): a
    concurrent sweep or person that got there first has them resolved already, so each resolution
    is announced once. Returns the ids this call resolved."""
    from shipments.enums import EventType

    if not alert_ids:
        return []
    rows = update_locked(
        "resolved_at = %s, resolved_by = %s",
        [now, by],
        where=f"id IN ({ids_sql()}) AND resolved_at IS NULL",
        where_params=[ids_param(alert_ids)],
        returning="id",
    )
    ids = [pk for (pk,) in rows]
    announce(ids, EventType.ALERT_RESOLVED)
    return ids


def ids_sql() -> str:
    """A subquery of the ids given as one parameter (``ids_param``): an array on PostgreSQL,
    JSON elsewhere. Tens of thousands of ids stay one parameter, not a literal each."""
    return "SELECT unnest(%s::bigint[])" if _is_postgres() else "SELECT value FROM json_each(%s)"


def ids_param(ids: Iterable[int]):
    ids = list(ids)
    return ids if _is_postgres() else json.dumps(ids)


def _claim_unannounced(rule: str, now: datetime) -> list[tuple[int, int, str]]:
    """The rule's open alerts nobody announced yet, locked and marked in this transaction:
    [(id, client id, severity)] in id order."""
    return update_locked(
        "notified_at = %s",
        [now],
        where="rule = %s AND resolved_at IS NULL AND notified_at IS NULL",
        where_params=[rule],
        returning="id, client_id, severity",
    )


def update_locked(assignments: str, params: list, *, where: str, where_params: list, returning: str) -> list:
    """``UPDATE`` the alerts matching ``where`` once their rows are locked in primary-key order,
    checking ``where`` again on the locked rows (what a concurrent transaction changed first is
    left alone, so each change happens once); the ``returning`` columns of the rows updated, in id
    order. The resolution, announcement and digest claims of alerts."""
    table = Alert._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} "
            f"WHERE id IN (SELECT id FROM {table} WHERE {where}{_lock()}) AND {where} RETURNING {returning}",
            [*params, *where_params, *where_params],
        )
        return sorted(cursor.fetchall())


HITS_TABLE = "reporting_alert_hits"


def _load_hits(cursor, hits: list[Hit]) -> None:
    """Python-built hits into the hits table: one statement."""
    rows = [
        (h.client_id, h.object_type, h.object_id, h.occurrence, h.title, json.dumps(h.detail)) for h in hits
    ]
    if not rows:
        return
    columns = "client_id, object_type, object_id, occurrence, title, detail"
    if _is_postgres():
        cursor.execute(
            f"INSERT INTO {HITS_TABLE} ({columns}) SELECT * FROM "
            "unnest(%s::integer[], %s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[])",
            [list(column) for column in zip(*rows, strict=True)],
        )
    else:
        cursor.executemany(f"INSERT INTO {HITS_TABLE} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)", rows)


def _per_client(field_name: str, scope: RuleScope) -> tuple[str, list]:
    """SQL for the hit's client's ``severity`` or ``client_visible`` (its override, else the
    default)."""
    default = getattr(scope.default, field_name)
    overrides = [(c, getattr(s, field_name)) for c, s in sorted(scope.overrides.items())]
    overrides = [(c, v) for c, v in overrides if v != default]
    if not overrides:
        return "%s", [default]
    sql = "CASE h.client_id " + " ".join("WHEN %s THEN %s" for _ in overrides) + " ELSE %s END"
    return sql, [value for pair in overrides for value in pair] + [default]


def sweep_rule(rule: str, *, now: datetime | None = None) -> SweepResult:
    """One rule's sweep across every client, in one transaction (see the module docstring). The
    hits go into a temporary table, and every step after is one set-based statement."""
    from shipments.enums import EventType
    from shipments.events import fan_out_after_commit
    from shipments.models import Event

    spec = RULES[rule]
    now = now or timezone.now()
    result = SweepResult(rule)
    table = Alert._meta.db_table
    same = "a.object_type = h.object_type AND a.object_id = h.object_id" + (
        "" if spec.by_object else " AND a.occurrence = h.occurrence"
    )
    with scopes_disabled(), transaction.atomic(), connection.cursor() as cursor:
        scope = RuleScope.load(rule)
        detail_type = "jsonb" if _is_postgres() else "text"
        cursor.execute(f"DROP TABLE IF EXISTS {HITS_TABLE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {HITS_TABLE} (client_id integer, object_type varchar(24), "
            f"object_id varchar(64), occurrence varchar(64), title text, detail {detail_type})"
        )
        if spec.fill_sql and _is_postgres():
            spec.fill_sql(cursor, now, scope)
        else:
            _load_hits(cursor, spec.candidates(now, scope))
        cursor.execute(f"SELECT count(*) FROM {HITS_TABLE}")
        result.matching = cursor.fetchone()[0]
        cursor.execute(f"CREATE INDEX {HITS_TABLE}_key ON {HITS_TABLE} (object_type, object_id, occurrence)")

        # Open alerts whose object no longer matches; then the hits that have an open alert
        # already are set aside, so that the INSERT below reads no table it writes (a NOT EXISTS
        # on the alerts themselves would rescan the rows the statement has just inserted).
        cursor.execute(
            f"""
            SELECT a.id FROM {table} a
            WHERE a.rule = %s AND a.resolved_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM {HITS_TABLE} h WHERE {same})
            """,
            [rule],
        )
        cleared = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"DELETE FROM {HITS_TABLE} AS h WHERE EXISTS "
            f"(SELECT 1 FROM {table} a WHERE a.rule = %s AND a.resolved_at IS NULL AND {same})",
            [rule],
        )
        severity, severity_params = _per_client("severity", scope)
        visible, visible_params = _per_client("client_visible", scope)
        insert = f"""
            INSERT INTO {table} (client_id, rule, severity, client_visible, object_type, object_id,
                                 occurrence, title, detail, opened_at, notified_at, acknowledged_by, resolved_by)
            SELECT h.client_id, %s, {severity}, {visible}, h.object_type, h.object_id, h.occurrence,
                   substr(h.title, 1, 300), h.detail, %s, %s, '', ''
            FROM {HITS_TABLE} h
            WHERE true
            ON CONFLICT DO NOTHING
        """
        params = [rule, *severity_params, *visible_params, now, now]
        if _is_postgres():
            # The new alerts and their outbox events in one statement: the events are built from
            # the rows just inserted, not read back.
            cursor.execute(
                f"""
                WITH a AS ({insert} RETURNING *),
                events AS (
                    INSERT INTO {Event._meta.db_table} (client_id, type, payload, created_at)
                    SELECT a.client_id, %s, {_PAYLOAD_SQL}, %s FROM a WHERE a.client_visible ORDER BY a.id
                    RETURNING id, client_id)
                SELECT 'alert', id, client_id, severity FROM a
                UNION ALL SELECT 'event', id, client_id, NULL FROM events
                """,
                [*params, EventType.ALERT_OPENED, CONDITION_CLEARED, timezone.now()],
            )
            rows = cursor.fetchall()
            inserted = [(pk, client, sev) for kind, pk, client, sev in rows if kind == "alert"]
            fan_out_after_commit(sorted((pk, client) for kind, pk, client, _s in rows if kind == "event"))
        else:
            cursor.execute(f"{insert} RETURNING id, client_id, severity", params)
            inserted = cursor.fetchall()
            announce([pk for pk, _client, _sev in inserted], EventType.ALERT_OPENED)
        cursor.execute(f"DROP TABLE {HITS_TABLE}")
        result.resolved = resolve_alerts(cleared, now=now, by=CONDITION_CLEARED)
        # Alerts another sweep inserted without announcing them are claimed and announced too.
        leftovers = _claim_unannounced(rule, now)
        announce([pk for pk, _client, _sev in leftovers], EventType.ALERT_OPENED)
        claimed = sorted(inserted + leftovers)
        result.opened = [pk for pk, _client, _severity in claimed]
        critical: dict[int, list[int]] = {}
        for pk, client_id, severity in claimed:
            if severity == Severity.CRITICAL:
                critical.setdefault(client_id, []).append(pk)
        if critical:
            transaction.on_commit(lambda: _queue_mail(critical))
    return result


def _queue_mail(critical: dict[int, list[int]]) -> None:
    """One mail task for the critical alerts a sweep opened: per client the first few and the
    count (a storm of thousands is one summary message per client, and a small task message)."""
    from .alert_tasks import send_alert_mail
    from .notifications import MAIL_EACH_UP_TO

    first = [pk for ids in critical.values() for pk in ids[:MAIL_EACH_UP_TO]]
    send_alert_mail.delay(sorted(first), {str(client): len(ids) for client, ids in critical.items()})


def sweep(rules: Iterable[str], *, now: datetime | None = None) -> list[SweepResult]:
    """Several rules, each in its own transaction (one failing rule does not undo the others)."""
    return [sweep_rule(rule, now=now) for rule in rules]
