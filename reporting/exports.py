"""CSV exports of orders, shipments, inventory snapshots, stock moves and KPIs for a period and a
set of clients: the queries, the rows, and the writer shared by the streamed download and the
background job.

Rows are read with ``.iterator(chunk_size=...)`` and written a line at a time, so neither a
streamed response nor a job ever holds the file in memory. Every cell goes through
``fulfillment.spreadsheet.safe_cell`` (a cell a spreadsheet would run as a formula is quoted). Times are
ISO 8601 in the client's time zone, and the period is the client's local days [from, to].
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet

from accounts.actors import Actor
from accounts.models import Client
from accounts.roles import Perm
from fulfillment.spreadsheet import csv_lines as safe_csv_lines
from fulfillment.spreadsheet import safe_cell
from fulfillment.tenancy import actor_scope
from shipments import shipment_selectors as shipment_csv

from .enums import ExportKind

CHUNK_SIZE = 2000  # rows fetched per round trip by ``.iterator()``
MAX_PERIOD_DAYS = 3 * 366  # a period longer than three years is a mistake, not an export


@dataclass(frozen=True)
class ExportRequest:
    """What to export: validated, for clients the actor sees."""

    kind: str
    client_ids: tuple[int, ...]
    start: date  # first local day, inclusive
    end: date  # last local day, inclusive

    def as_params(self) -> dict:
        return {
            "clients": list(self.client_ids),
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
        }

    @classmethod
    def from_params(cls, kind: str, params: dict) -> ExportRequest:
        return cls(
            kind=kind,
            client_ids=tuple(params["clients"]),
            start=date.fromisoformat(params["from"]),
            end=date.fromisoformat(params["to"]),
        )

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.start:%Y%m%d}-{self.end:%Y%m%d}.csv"


def export_request(
    *,
    actor: Actor,
    kind: str,
    start: date | None,
    end: date | None,
    client_ids: Iterable[int] | None = None,
    strict_clients: bool = True,
) -> ExportRequest:
    """Validate what the actor asked for. No clients named: every client the actor sees.

    ``strict_clients``: a client the actor does not see is a 400 naming ``clients`` (forms and job
    bodies); otherwise it is simply not exported, like a list filter (the streamed endpoint's
    ``?client=``), so another client's id answers exactly like an id that does not exist.
    """
    if not actor.can(Perm.EXPORT):  # reading: a read-only key may export; creating a job is a write
        raise PermissionDenied("Your role may not export.")
    errors: dict[str, list[str]] = {}
    if kind not in ExportKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(ExportKind.values)}."]
    if start is None:
        errors["from"] = ["Give the first day of the period (YYYY-MM-DD)."]
    if end is None:
        errors["to"] = ["Give the last day of the period (YYYY-MM-DD)."]
    if start and end and end < start:
        errors["to"] = ["The period ends before it starts."]
    elif start and end and (end - start).days > MAX_PERIOD_DAYS:
        errors["to"] = [f"A period is at most {MAX_PERIOD_DAYS} days; export it in parts."]
    visible = Client.objects.filter(actor.client_q("pk"))
    if client_ids is None or not list(client_ids):
        ids = tuple(visible.order_by("pk").values_list("pk", flat=True))
    else:
        wanted = {int(pk) for pk in client_ids}
        ids = tuple(visible.filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))
        if strict_clients and len(ids) != len(wanted):
            errors["clients"] = ["Choose clients you have access to."]
    if errors:
        raise ValidationError(errors)
    return ExportRequest(kind=kind, client_ids=ids, start=start, end=end)


# --- the period, in each client's time zone ---------------------------------------------------


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _zones(client_ids: Iterable[int]) -> dict[str, list[int]]:
    by_zone: dict[str, list[int]] = defaultdict(list)
    for pk, tz in Client.objects.filter(pk__in=list(client_ids)).values_list("pk", "time_zone"):
        by_zone[tz].append(pk)
    return by_zone


def period_q(field: str, request: ExportRequest, *, client_field: str = "client") -> Q:
    """``field`` within the period's local days, each client in its own time zone: one condition
    per time zone (a handful), whatever the number of clients."""
    q = Q(pk__in=[])
    for tz, ids in _zones(request.client_ids).items():
        zone = _zone(tz)
        start = datetime.combine(request.start, time(0), tzinfo=zone)
        end = datetime.combine(request.end + timedelta(days=1), time(0), tzinfo=zone)
        q |= Q(**{f"{client_field}__in": ids, f"{field}__gte": start, f"{field}__lt": end})
    return q


def _local(value: datetime | None, tz: str) -> str:
    return value.astimezone(_zone(tz)).isoformat() if value else ""


# --- the exports ------------------------------------------------------------------------------


ORDER_COLUMNS = (
    "order",
    "client",
    "external_reference",
    "channel",
    "order_type",
    "status",
    "node",
    "service_level",
    "ship_to_name",
    "ship_to_company",
    "ship_to_city",
    "ship_to_state",
    "ship_to_zip",
    "ship_to_country",
    "lines",
    "units",
    "received_at",
    "ship_by",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "ever_backordered",
)


def _orders(actor: Actor, request: ExportRequest) -> QuerySet:
    from orders.selectors import order_list

    return (
        order_list(actor=actor)
        .filter(client_id__in=request.client_ids)
        .filter(period_q("received_at", request))
        .order_by("received_at", "pk")
    )


def _order_row(o) -> list:
    tz = o.client.time_zone
    return [
        o.number,
        o.client.name,
        o.external_reference,
        o.channel,
        o.order_type,
        o.status,
        o.warehouse.code if o.warehouse_id else "",
        o.service_level,
        o.ship_to_name,
        o.ship_to_company,
        o.ship_to_city,
        o.ship_to_state,
        o.ship_to_zip,
        o.ship_to_country,
        o.line_count,
        o.units,
        _local(o.received_at, tz),
        _local(o.ship_by, tz),
        _local(o.shipped_at, tz),
        _local(o.delivered_at, tz),
        _local(o.cancelled_at, tz),
        o.ever_backordered,
    ]


SHIPMENT_COLUMNS = shipment_csv.CSV_COLUMNS


def _shipments(actor: Actor, request: ExportRequest) -> QuerySet:
    """Shipments that shipped in the period, and those not shipped yet created in it."""
    from shipments.shipment_selectors import shipment_list

    return (
        shipment_list(actor=actor)
        .filter(client_id__in=request.client_ids)
        .filter(
            period_q("shipped_at", request) | (Q(shipped_at__isnull=True) & period_q("created_at", request))
        )
        .order_by("created_at", "pk")
    )


SNAPSHOT_COLUMNS = ("date", "client", "sku", "item", "node", "on_hand")


def _snapshots(actor: Actor, request: ExportRequest) -> QuerySet:
    """Daily on-hand per item and node (``date`` is already the node's local day)."""
    from inventory.models import InventorySnapshot

    return (
        InventorySnapshot.objects.filter(actor.client_q())
        .filter(client_id__in=request.client_ids, date__gte=request.start, date__lte=request.end)
        .select_related("client", "item", "warehouse")
        .order_by("date", "client_id", "item__sku", "warehouse__code", "pk")
    )


def _snapshot_row(s) -> list:
    return [s.date, s.client.name, s.item.sku, s.item.name, s.warehouse.code, s.on_hand]


MOVE_COLUMNS = (
    "move",
    "created_at",
    "client",
    "sku",
    "item",
    "node",
    "location",
    "lot_code",
    "expiry_date",
    "quantity",
    "reason",
    "adjustment_code",
    "document_type",
    "document_id",
    "document_ref",
    "reverses",
    "by",
    "note",
)


def _moves(actor: Actor, request: ExportRequest) -> QuerySet:
    from inventory.selectors import move_list

    return (
        move_list(actor=actor)
        .filter(actor.client_q())
        .filter(client_id__in=request.client_ids)
        .filter(period_q("created_at", request))
        .select_related("client")
        .order_by("created_at", "pk")
    )


def _move_row(m) -> list:
    return [
        m.pk,
        _local(m.created_at, m.client.time_zone),
        m.client.name,
        m.item.sku,
        m.item.name,
        m.warehouse.code,
        m.location.code,
        m.lot_code,
        m.expiry_date,
        m.quantity,
        m.reason,
        m.adjustment_code,
        m.document_type,
        m.document_id,
        m.document_ref,
        m.reverses_id,
        m.actor_label,
        m.note,
    ]


KPI_COLUMNS = (
    "client",
    "period_start",
    "period_end",
    "kpi",
    "label",
    "value",
    "display",
    "unit",
    "numerator",
    "denominator",
    "target",
    "meets_target",
)


def _kpi_rows(actor: Actor, request: ExportRequest) -> Iterator[list]:
    """One row per client and KPI over the whole period, the numbers of
    ``GET /api/v1/reports/kpis/`` for that client and period (``reporting.kpis.kpi_report``)."""
    from reporting.kpis import kpi_keys, kpi_report

    clients = Client.objects.filter(actor.client_q("pk"), pk__in=request.client_ids).order_by("name", "pk")
    keys = [key for key, _label, _unit in kpi_keys()]
    for client in clients:
        report = kpi_report(client_ids=[client.pk], start=request.start, end=request.end)
        for key in keys:
            kpi = report.totals[key]
            yield [
                client.name,
                request.start,
                request.end,
                key,
                kpi.label,
                kpi.value,
                kpi.display,
                kpi.unit,
                kpi.numerator,
                kpi.denominator,
                kpi.target,
                "" if kpi.meets_target is None else kpi.meets_target,
            ]


@dataclass(frozen=True)
class ExportSpec:
    columns: tuple[str, ...]
    queryset: object  # (actor, request) -> QuerySet, or None for computed rows
    row: object  # model instance -> list of cells


SPECS: dict[str, ExportSpec] = {
    ExportKind.ORDERS: ExportSpec(ORDER_COLUMNS, _orders, _order_row),
    ExportKind.SHIPMENTS: ExportSpec(SHIPMENT_COLUMNS, _shipments, shipment_csv.csv_row),
    ExportKind.SNAPSHOTS: ExportSpec(SNAPSHOT_COLUMNS, _snapshots, _snapshot_row),
    ExportKind.MOVES: ExportSpec(MOVE_COLUMNS, _moves, _move_row),
    ExportKind.KPIS: ExportSpec(KPI_COLUMNS, None, None),
}


def count_rows(*, actor: Actor, request: ExportRequest) -> int:
    """How many rows the export will have (one COUNT query; KPIs: clients x KPIs)."""
    spec = SPECS[request.kind]
    if spec.queryset is None:
        from reporting.kpis import kpi_keys

        return len(request.client_ids) * len(kpi_keys())
    return spec.queryset(actor, request).order_by().count()


def export_rows(*, actor: Actor, request: ExportRequest) -> Iterator[list]:
    """The data rows (no header), read in chunks."""
    spec = SPECS[request.kind]
    if spec.queryset is None:
        yield from _kpi_rows(actor, request)
        return
    for obj in spec.queryset(actor, request).iterator(chunk_size=CHUNK_SIZE):
        yield spec.row(obj)


def csv_lines(*, actor: Actor, request: ExportRequest) -> Iterator[str]:
    """The header, then one formatted line per row (every cell through ``safe_cell``)."""

    def rows():
        yield SPECS[request.kind].columns
        yield from export_rows(actor=actor, request=request)

    return safe_csv_lines(rows())


def streamed_csv_lines(*, actor: Actor, request: ExportRequest) -> Iterator[str]:
    """``csv_lines`` inside the actor's tenant scope: a streamed response is read after the view
    (and the scope it opened) has returned."""
    with actor_scope(actor):
        yield from csv_lines(actor=actor, request=request)


# --- files of background exports ----------------------------------------------------------------


def exports_dir() -> Path:
    path = Path(settings.EXPORTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_csv_file(*, actor: Actor, request: ExportRequest, path: Path, progress, every: int = 1000) -> int:
    """Write the export to ``path`` (through a temporary file renamed at the end, so a
    half-written file is never offered); ``progress(rows_done)`` is called every ``every`` rows.
    Returns the number of data rows."""
    tmp = path.with_suffix(".part")
    done = 0
    writer_target = tmp.open("w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(writer_target)
        writer.writerow([safe_cell(c) for c in SPECS[request.kind].columns])
        for row in export_rows(actor=actor, request=request):
            writer.writerow([safe_cell(cell) for cell in row])
            done += 1
            if done % every == 0:
                progress(done)
        writer_target.close()
        os.replace(tmp, path)
    finally:
        if not writer_target.closed:
            writer_target.close()
        tmp.unlink(missing_ok=True)
    return done
