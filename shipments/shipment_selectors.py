"""Every read of shipments, manifests and tracking, filtered for the actor, with constant query
counts per page; and the stalled and late rules (DOMAIN.md's alert rules) as set-based filters.

Stalled: shipped, neither delivered nor returned, and no tracking event by the end of the second
business day after the effective day of the later of shipping and the last event (the node's
calendar: DOMAIN.md's deadlines are ends of business days in the node's time zone).

Late: shipped, neither delivered nor returned, and the end of the estimated delivery date has
passed. The day ends in the NODE's time zone, not the destination's: the platform knows every
node's zone but only a ZIP for the destination, and the carrier's estimate is computed on the
node's business calendar too.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Warehouse
from fulfillment.calendar import BusinessCalendar

from .enums import ShipmentStatus
from .models import Manifest, Package, PackageLine, Shipment, TrackingEvent

STALLED_AFTER_BUSINESS_DAYS = 2
# Shipped and still on the way: what can stall or be late.
UNDERWAY = (ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.EXCEPTION)


def _node_q(actor: Actor, field: str = "warehouse") -> Q:
    """Warehouse operators see the shipments of their own nodes only."""
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        return Q(**{f"{field}__in": Warehouse.objects.filter(operators=actor.user)})
    return Q()


def _calendars() -> list[tuple[Warehouse, BusinessCalendar]]:
    """Every node with its calendar (closures included): two queries."""
    nodes = Warehouse.objects.prefetch_related("closures").order_by("pk")
    return [(w, BusinessCalendar(w.time_zone, frozenset(c.date for c in w.closures.all()))) for w in nodes]


def stalled_threshold(calendar: BusinessCalendar, now: datetime) -> datetime:
    """The moment before which a last sign of life makes a parcel stalled at ``now``: a moment
    ``m`` is stalled iff ``now`` is past ``calendar.deadline(m, 2)``, iff m's local day is on or
    before the third business day before today (so the threshold is the next local midnight)."""
    today = calendar.local(now).date()
    day = today
    for _ in range(STALLED_AFTER_BUSINESS_DAYS + 1):
        day -= timedelta(days=1)
        while not calendar.is_business_day(day):
            day -= timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=calendar.zone)


def stalled_q(now: datetime | None = None) -> Q:
    """Shipments (underway) with no tracking event for two business days (see the module)."""
    now = now or timezone.now()
    per_node = Q(pk__in=[])
    for warehouse, calendar in _calendars():
        threshold = stalled_threshold(calendar, now)
        per_node |= Q(warehouse_id=warehouse.pk, shipped_at__lt=threshold) & (
            Q(last_event_at__isnull=True) | Q(last_event_at__lt=threshold)
        )
    return Q(status__in=UNDERWAY, shipped_at__isnull=False) & per_node


def late_q(now: datetime | None = None) -> Q:
    """Shipments (underway) whose estimated delivery day has ended in the node's time zone."""
    now = now or timezone.now()
    per_node = Q(pk__in=[])
    for warehouse, calendar in _calendars():
        today: date = calendar.local(now).date()
        per_node |= Q(warehouse_id=warehouse.pk, estimated_delivery_date__lt=today)
    return Q(status__in=UNDERWAY, estimated_delivery_date__isnull=False) & per_node


def exception_q() -> Q:
    return Q(status=ShipmentStatus.EXCEPTION)


def stalled_shipments(now: datetime | None = None, *, queryset: QuerySet | None = None) -> QuerySet[Shipment]:
    """For the SLA alerts: pass a queryset (e.g. ``Shipment.all_objects``) to run operator-wide."""
    qs = queryset if queryset is not None else Shipment.objects.all()
    return qs.filter(stalled_q(now))


def late_shipments(now: datetime | None = None, *, queryset: QuerySet | None = None) -> QuerySet[Shipment]:
    qs = queryset if queryset is not None else Shipment.objects.all()
    return qs.filter(late_q(now))


# --- shipments -----------------------------------------------------------------------------------


def shipment_list(*, actor: Actor) -> QuerySet[Shipment]:
    """Shipments with their package count and units (two subqueries, not a query per row)."""
    packages = Package.objects.filter(shipment=OuterRef("pk")).order_by().values("shipment")
    units = (
        PackageLine.objects.filter(package__shipment=OuterRef("pk")).order_by().values("package__shipment")
    )
    return (
        Shipment.objects.filter(actor.client_q())
        .filter(_node_q(actor))
        .select_related("client", "order", "warehouse", "carrier", "service", "manifest")
        .defer("label_pdf", "label_zpl")
        .annotate(
            package_count=Coalesce(
                Subquery(packages.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
            ),
            units=Coalesce(
                Subquery(units.annotate(n=Sum("quantity")).values("n"), output_field=IntegerField()), 0
            ),
        )
    )


def shipment_detail_prefetch(queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
    """Packages with their box and contents, the tracking timeline and voided labels: four
    queries whatever the number of packages."""
    return queryset.prefetch_related(
        Prefetch("packages", queryset=Package.objects.select_related("box_type").order_by("number")),
        Prefetch(
            "packages__lines",
            queryset=PackageLine.objects.select_related("item", "line").order_by("pk"),
        ),
        Prefetch("tracking_events", queryset=TrackingEvent.objects.order_by("occurred_at", "pk")),
        "voided_labels",
    )


def shipment_get(*, actor: Actor, pk) -> Shipment:
    return get_object_or_404(shipment_detail_prefetch(shipment_list(actor=actor)), pk=pk)


def shipment_for_download(*, actor: Actor, pk) -> Shipment:
    """The shipment with its label bytes (the list defers them)."""
    qs = (
        Shipment.objects.filter(actor.client_q())
        .filter(_node_q(actor))
        .select_related("client", "order", "warehouse", "carrier", "service")
    )
    return get_object_or_404(qs, pk=pk)


def shipment_by_tracking(*, actor: Actor, code: str) -> Shipment | None:
    """The shipment a scanned label names: its tracking number, a package's, or its number."""
    code = code.strip()
    if not code:
        return None
    qs = shipment_list(actor=actor)
    number = code.upper().removeprefix("SHP-")
    if number.isdigit() and len(number) <= 9:
        found = qs.filter(pk=int(number)).first()
        if found:
            return found
    by_package = Package.objects.filter(tracking_number__iexact=code).values("shipment_id")
    return qs.filter(Q(tracking_number__iexact=code) | Q(pk__in=by_package)).order_by("-pk").first()


def tracking_events(*, shipment: Shipment) -> QuerySet[TrackingEvent]:
    return TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at", "pk")


def tracking_url(shipment: Shipment) -> str:
    """The carrier's public tracking page for this parcel, when the carrier has one."""
    if not (shipment.carrier_id and shipment.carrier.tracking_url and shipment.tracking_number):
        return ""
    return shipment.carrier.tracking_url.replace("{tracking_number}", shipment.tracking_number)


# --- manifests -----------------------------------------------------------------------------------


def manifest_list(*, actor: Actor) -> QuerySet[Manifest]:
    """Manifests are the operator's (a truck takes every brand's parcels); client roles see none."""
    if actor.is_client:
        return Manifest.objects.none()
    return Manifest.objects.filter(_node_q(actor)).select_related("warehouse", "carrier")


def manifest_get(*, actor: Actor, pk) -> Manifest:
    return get_object_or_404(manifest_list(actor=actor), pk=pk)


def manifest_shipments(*, actor: Actor, manifest: Manifest) -> QuerySet[Shipment]:
    """The manifest's shipments the actor may see (an account manager: their clients')."""
    return shipment_list(actor=actor).filter(manifest=manifest).order_by("pk")


def manifest_candidates(*, actor: Actor) -> list[dict]:
    """Per node and carrier: labelled shipments waiting for the end-of-day manifest."""
    rows = (
        Shipment.all_objects.filter(status=ShipmentStatus.LABEL_CREATED, manifest__isnull=True)
        .filter(actor.client_q())
        .filter(_node_q(actor))
        .values("warehouse_id", "warehouse__code", "carrier_id", "carrier__name")
        .annotate(n=Count("pk"))
        .order_by("warehouse__code", "carrier__name")
    )
    return list(rows)


# --- the shipments CSV (the console list's export and reporting's shipments export) ---------------

CSV_COLUMNS = (
    "shipment",
    "client",
    "order",
    "external_reference",
    "node",
    "status",
    "carrier",
    "service",
    "tracking_number",
    "zone",
    "billable_weight_lb",
    "cost",
    "currency",
    "packages",
    "units",
    "label_created_at",
    "shipped_at",
    "estimated_delivery_date",
    "delivered_at",
    "transit_days",
    "exception_reason",
)


def _local_iso(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat() if value else ""


def csv_row(shipment: Shipment) -> list:
    """One shipment as a CSV row (``CSV_COLUMNS``), times in the client's time zone. Rows of
    ``shipment_list`` (client, order, node, carrier, service, package and unit counts loaded)."""
    s, zone = shipment, ZoneInfo(shipment.client.time_zone)
    return [
        s.number,
        s.client.name,
        s.order.number,
        s.order.external_reference,
        s.warehouse.code,
        s.status,
        s.carrier.code if s.carrier_id else "",
        s.service.code if s.service_id else "",
        s.tracking_number,
        s.zone,
        s.billable_weight_lb,
        s.cost,
        s.currency,
        s.package_count,
        s.units,
        _local_iso(s.label_created_at, zone),
        _local_iso(s.shipped_at, zone),
        s.estimated_delivery_date,
        _local_iso(s.delivered_at, zone),
        s.transit_days,
        s.exception_reason,
    ]
