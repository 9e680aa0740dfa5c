"""The benchmark's data set, written with PostgreSQL ``COPY`` (one in-memory CSV buffer per table and
chunk), never one ORM save per row.

Rows follow the domain's rules so that the code being measured sees what production would:
timestamps in order (received <= allocated <= shipped <= delivered, ship-by after received),
cancelled orders without a shipment, every balance equal to the sum of its moves and ``allocated``
equal to its active allocations (only orders not yet shipped hold any). Ids are assigned here (a fresh
database) and the sequences are moved past them at the end. Table and column names come from each
model's ``_meta``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import queue
import random
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from accounts.models import Client, Warehouse
from inventory.enums import ASNStatus, LocationType, MoveReason
from inventory.models import ASN, ASNLine, Balance, InventorySnapshot, Item, Location, Move, Receipt
from orders.enums import OrderStatus, ServiceLevel
from orders.models import Allocation, Order, OrderEvent, OrderLine
from shipments.enums import ShipmentStatus, TrackingStatus
from shipments.models import (
    Carrier,
    CarrierService,
    Event,
    Package,
    PackageLine,
    Shipment,
    TrackingEvent,
)

ACTOR = "bench dataset"
CHUNK_ORDERS = 20_000
PROGRESS_EVERY = 200_000


@dataclass(frozen=True)
class Scale:
    name: str
    clients: int
    items: int
    nodes: int
    orders: int
    days: int
    locations_per_node: int
    backlog: int  # received orders waiting for allocation (the peak-day backlog)
    snapshot_days: int = 30  # daily inventory snapshots kept for the last days
    peak_factor: float = 4.5  # November and December, against a normal day


SCALES = {
    "small": Scale(
        "small", clients=3, items=200, nodes=2, orders=5_000, days=90, locations_per_node=100, backlog=500
    ),
    "medium": Scale(
        "medium",
        clients=50,
        items=20_000,
        nodes=3,
        orders=100_000,
        days=365,
        locations_per_node=2_000,
        backlog=10_000,
    ),
    "full": Scale(
        "full",
        clients=50,
        items=20_000,
        nodes=3,
        orders=1_000_000,
        days=365,
        locations_per_node=2_000,
        backlog=100_000,
    ),
}

NODES = [
    ("BNJ", "Bench Edison", "Edison", "NJ", "08817", "America/New_York"),
    ("BTX", "Bench Dallas", "Dallas", "TX", "75201", "America/Chicago"),
    ("BCA", "Bench Ontario", "Ontario", "CA", "91761", "America/Los_Angeles"),
    ("BIL", "Bench Joliet", "Joliet", "IL", "60431", "America/Chicago"),
]
CITIES = [
    ("Brooklyn", "NY", "11201"),
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Seattle", "WA", "98101"),
    ("Miami", "FL", "33101"),
    ("Chicago", "IL", "60601"),
    ("Phoenix", "AZ", "85001"),
    ("Boston", "MA", "02108"),
]


class Copier:
    """Writes rows of one model with ``COPY ... FROM STDIN`` (CSV). Columns are the model's concrete
    fields; a value a row leaves out takes the field's default (``auto_now`` fields: ``now``),
    turned into text once. ``flush`` hands the chunk to the ``Loader`` thread, so that PostgreSQL
    writes one chunk while Python makes the next."""

    def __init__(self, model: type[Model], now: datetime, loader: Loader):
        self.model = model
        self.loader = loader
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.names = [f.attname for f in self.fields]
        defaults = []
        for f in self.fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                defaults.append(_text(now))
            elif f.has_default():
                defaults.append(_text(f.get_default()))
            elif f.null:
                defaults.append(NULL)
            else:
                defaults.append("")
        self.defaults = defaults
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        self.pending = 0
        self.written = 0

    def add(self, **row) -> None:
        get = row.get
        self.writer.writerow(
            [
                default if (value := get(name, _MISSING)) is _MISSING else _text(value)
                for name, default in zip(self.names, self.defaults, strict=True)
            ]
        )
        self.pending += 1

    def flush(self) -> int:
        if not self.pending:
            return 0
        count = self.pending
        self.loader.copy(self.table, self.columns, self.buffer)
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        self.written += count
        self.pending = 0
        return count


NULL = "\\N"
_MISSING = object()
_CONVERT = {
    type(None): lambda v: NULL,
    bool: lambda v: "t" if v else "f",
    datetime: datetime.isoformat,
    date: date.isoformat,
    list: json.dumps,
    dict: json.dumps,
    str: str,
    int: str,
}


def _text(value) -> str:
    convert = _CONVERT.get(type(value))
    return convert(value) if convert else str(value)


class Loader:
    """A thread with a connection of its own that runs the ``COPY`` of each chunk handed to it, in
    order (a small queue keeps Python at most two chunks ahead). ``wait`` blocks until every
    chunk so far is written and re-raises the first error."""

    def __init__(self, params: dict):
        import psycopg2

        self.connection = psycopg2.connect(**params)
        self.connection.autocommit = True
        with self.connection.cursor() as cursor:
            # Rows are consistent by construction (and audited afterwards): no per-row FK triggers.
            cursor.execute("SET session_replication_role = replica")
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="bench-copy", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            job = self.queue.get()
            try:
                if job is None:
                    return
                table, columns, buffer = job
                if self.error is None:
                    buffer.seek(0)
                    with self.connection.cursor() as cursor:
                        cursor.copy_expert(
                            f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
                        )
            except BaseException as exc:
                self.error = exc
            finally:
                self.queue.task_done()

    def copy(self, table: str, columns: str, buffer: io.StringIO) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((table, columns, buffer))

    def wait(self) -> None:
        self.queue.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.connection.close()


@contextmanager
def indexes_dropped(tables: list[str]):
    """Bulk-load the way ``pg_restore`` does: drop the secondary indexes and unique constraints of
    ``tables`` and build them again afterwards in one pass each (a sort instead of a million
    insertions). Foreign keys stay (their triggers are off in the loader's session)."""
    statements: list[str] = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'u'",
                [table],
            )
            for name, definition in cursor.fetchall():
                statements.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
                "WHERE indrelid = %s::regclass AND NOT indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                [table],
            )
            for name, definition in cursor.fetchall():
                statements.append(definition)
                cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for statement in statements:
            cursor.execute(statement)
        cursor.execute("RESET maintenance_work_mem")


STEPS: dict[str, float] = {}


@contextmanager
def step(name: str):
    """Time one step of the build (seconds, summed by name) for the summary's ``steps``."""
    started = time.monotonic()
    try:
        yield
    finally:
        STEPS[name] = round(STEPS.get(name, 0.0) + time.monotonic() - started, 2)


@dataclass
class DatasetSummary:
    scale: str
    seconds: float
    rows: dict[str, int]
    big_client_id: int
    start: str
    end: str
    backlog_first_id: int | None = None
    backlog_last_id: int | None = None
    steps: dict[str, float] = field(default_factory=dict)


def _day_weights(first: date, days: int, peak: float) -> list[tuple[date, float]]:
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        weight = peak if day.month in (11, 12) else 1.0
        if day.weekday() >= 5:
            weight *= 0.6
        out.append((day, weight))
    return out


BIG_TABLES = (
    Order,
    OrderLine,
    OrderEvent,
    Allocation,
    Shipment,
    Package,
    PackageLine,
    TrackingEvent,
    Move,
    Event,
    InventorySnapshot,
)


def build(scale: Scale, *, now: datetime | None = None, seed: int = 7, log=print) -> DatasetSummary:
    """Write the whole data set into the (migrated, empty) default database."""
    started = time.monotonic()
    now = (now or timezone.now()).astimezone(UTC).replace(microsecond=0)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    loader = Loader(params)
    STEPS.clear()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        rebuild = indexes_dropped([m._meta.db_table for m in BIG_TABLES])
        rebuild.__enter__()
        summary = _build(scale, now, random.Random(seed), loader, log)
        log(f"  rows written in {time.monotonic() - started:.0f} s; building indexes ...")
        with step("indexes"):
            rebuild.__exit__(None, None, None)
        with step("vacuum analyze"), connection.cursor() as cursor:
            # What autovacuum would have done on a live database: statistics, and the visibility
            # map that lets counts and index-only scans skip the heap.
            cursor.execute("RESET session_replication_role")
            cursor.execute("VACUUM ANALYZE")
    finally:
        loader.close()
    summary.seconds = round(time.monotonic() - started, 1)
    summary.steps = dict(STEPS)
    log("  steps (s): " + ", ".join(f"{k} {v}" for k, v in sorted(STEPS.items(), key=lambda kv: -kv[1])))
    return summary


def _build(scale: Scale, now: datetime, rng: random.Random, loader: Loader, log) -> DatasetSummary:
    first_day = (now - timedelta(days=scale.days)).date()
    stock_time = datetime.combine(first_day, datetime.min.time(), UTC) - timedelta(days=2)
    copiers: dict[type[Model], Copier] = {}

    def cp(model: type[Model]) -> Copier:
        if model not in copiers:
            copiers[model] = Copier(model, now, loader)
        return copiers[model]

    def flush(*models: type[Model]) -> None:
        for model in models:
            cp(model).flush()

    # Nodes, locations, carriers.
    nodes = []
    for n, (code, name, city, state, zip_code, zone) in enumerate(NODES[: scale.nodes], start=1):
        cp(Warehouse).add(
            id=n,
            code=code,
            name=name,
            address_line1=f"{n} Logistics Way",
            city=city,
            state=state,
            zip_code=zip_code,
            time_zone=zone,
            created_at=stock_time,
            updated_at=stock_time,
        )
        nodes.append(n)
    locations: dict[int, list[int]] = {}
    loc_id = 0
    for node in nodes:
        locations[node] = []
        for k in range(scale.locations_per_node):
            loc_id += 1
            aisle, bay = divmod(k, 50)
            cp(Location).add(
                id=loc_id,
                warehouse_id=node,
                code=f"P-{aisle:02d}-{bay:02d}",
                zone="P",
                aisle=f"{aisle:02d}",
                bay=f"{bay:02d}",
                level="A",
                type=LocationType.PICK,
                pick_sequence=k,
                created_at=stock_time,
            )
            locations[node].append(loc_id)
    cp(Carrier).add(id=1, code="bench-ground", name="Bench Ground")
    cp(CarrierService).add(id=1, carrier_id=1, code="ground", name="Ground")
    cp(CarrierService).add(id=2, carrier_id=1, code="express", name="Express")
    flush(Warehouse, Location, Carrier, CarrierService)

    # Clients: one big brand, the rest falling off (weights 1/rank).
    client_weights = [1.0 / (rank + 1) for rank in range(scale.clients)]
    clients = list(range(1, scale.clients + 1))
    for c in clients:
        cp(Client).add(
            id=c,
            name=f"Bench Brand {c:02d}",
            slug=f"bench-{c:02d}",
            created_at=stock_time,
            updated_at=stock_time,
        )
    flush(Client)
    through = Client.warehouses.through
    link = cp(through)
    link_id = 0
    for c in clients:
        for node in nodes:
            link_id += 1
            link.add(id=link_id, client_id=c, warehouse_id=node)
    flush(through)

    # Items (split by client weight), one balance per item per node in a pick location.
    total_weight = sum(client_weights)
    items_of: dict[int, list[tuple[int, str]]] = {}
    item_id = 0
    for c, w in zip(clients, client_weights, strict=True):
        count = max(5, round(scale.items * w / total_weight))
        items_of[c] = []
        for k in range(count):
            item_id += 1
            sku = f"B{c:02d}-{k:05d}"
            cp(Item).add(
                id=item_id,
                client_id=c,
                sku=sku,
                name=f"Bench item {sku}",
                created_at=stock_time,
                updated_at=stock_time,
                weight_lb=Decimal("1.250"),
            )
            items_of[c].append((item_id, sku))
    flush(Item)
    balance_id = 0
    for c in clients:
        for item, _sku in items_of[c]:
            for node in nodes:
                balance_id += 1
                location = locations[node][item % len(locations[node])]
                # The arithmetic _fulfilment relies on.
                assert balance_id == (item - 1) * len(nodes) + node
                assert location == (node - 1) * scale.locations_per_node + item % scale.locations_per_node + 1
                cp(Balance).add(
                    id=balance_id,
                    client_id=c,
                    item_id=item,
                    warehouse_id=node,
                    location_id=location,
                    on_hand=0,
                    allocated=0,
                    received_at=stock_time,
                    updated_at=stock_time,
                )
    flush(Balance)
    log(f"  reference data: {len(clients)} clients, {item_id} items, {balance_id} balances")

    # Orders, chronologically, with a peak season: Python draws each order and its lines (status,
    # node, timestamps); everything their status implies is derived set-based afterwards.
    days = _day_weights(first_day, scale.days, scale.peak_factor)
    weight_sum = sum(w for _, w in days)
    ids = defaultdict(int)

    def next_id(model: type[Model]) -> int:
        ids[model] += 1
        return ids[model]

    client_cum = list(itertools.accumulate(client_weights))
    remaining = scale.orders
    pending = reported = 0
    started = time.monotonic()
    for index, (day, weight) in enumerate(days):
        count = remaining if index == len(days) - 1 else round(scale.orders * weight / weight_sum)
        count = min(count, remaining)
        remaining -= count
        day_start = datetime.combine(day, datetime.min.time(), UTC)
        moments = sorted(day_start + timedelta(seconds=rng.randrange(86_400)) for _ in range(count))
        for received in moments:
            if received >= now:
                received = now - timedelta(minutes=rng.randrange(1, 600))
            _order(
                rng,
                cp,
                next_id,
                received=received,
                now=now,
                client=rng.choices(clients, cum_weights=client_cum)[0],
                nodes=nodes,
                items_of=items_of,
            )
            pending += 1
        if pending >= CHUNK_ORDERS or index == len(days) - 1:
            flush(Order, OrderLine)
            pending = 0
            if cp(Order).written // PROGRESS_EVERY > reported:
                reported = cp(Order).written // PROGRESS_EVERY
                log(f"  ... {cp(Order).written} orders ({time.monotonic() - started:.0f} s)")
    log(f"  orders: {cp(Order).written} with {cp(OrderLine).written} lines")

    # The peak-day backlog: received orders waiting for allocation, ordered over the last 30 hours
    # (the oldest already late), their lines drawn Zipf-like so that the popular SKUs are contended.
    item_cum = {
        c: list(itertools.accumulate(1.0 / (k + 1) for k in range(len(items_of[c])))) for c in clients
    }
    moments = sorted(now - timedelta(seconds=rng.randrange(30 * 3600)) for _ in range(scale.backlog))
    backlog_ids = []
    for n, received in enumerate(moments, start=1):
        order = next_id(Order)
        backlog_ids.append(order)
        client = rng.choices(clients, cum_weights=client_cum)[0]
        expedited = rng.random() < 0.1
        _add_order(
            cp,
            rng,
            order,
            client,
            received,
            expedited,
            status=OrderStatus.RECEIVED,
            released_at=received,
            ship_by=received + timedelta(hours=12 if expedited else 24),
            updated_at=received,
        )
        wanted = rng.choices([1, 2, 3, 4, 5], [45, 25, 15, 10, 5])[0]
        chosen = dict.fromkeys(rng.choices(items_of[client], cum_weights=item_cum[client], k=wanted))
        _add_lines(cp, next_id, rng, client, order, chosen)
        if n % CHUNK_ORDERS == 0:
            flush(Order, OrderLine)
    flush(Order, OrderLine)
    log(f"  backlog: {len(backlog_ids)} received orders waiting for allocation")

    # Stock arrived before the first order, through one closed ASN per client and node.
    for c in clients:
        for node in nodes:
            cp(ASN).add(
                id=(c - 1) * len(nodes) + node,
                client_id=c,
                warehouse_id=node,
                reference=f"BENCH-ASN-{c:02d}-{node}",
                sender="Bench vendor",
                eta=stock_time.date(),
                status=ASNStatus.CLOSED,
                submitted_at=stock_time - timedelta(days=5),
                arrived_at=stock_time - timedelta(hours=6),
                received_at=stock_time - timedelta(hours=4),
                stocked_at=stock_time - timedelta(hours=2),
                dock_to_stock_deadline=stock_time + timedelta(days=2),
                closed_at=stock_time,
                created_at=stock_time - timedelta(days=5),
                updated_at=stock_time,
            )
    flush(ASN)
    with step("copy: waiting for the last chunks"):
        loader.wait()
    STEPS["orders and lines (python, copy alongside)"] = round(time.monotonic() - started, 2)
    rows = {model._meta.label: c.written for model, c in copiers.items()}
    rows.update(
        _fulfilment(
            nodes=len(nodes),
            locations_per_node=scale.locations_per_node,
            stock_time=stock_time,
            backlog=(backlog_ids[0], backlog_ids[-1]) if backlog_ids else (0, -1),
        )
    )
    log(f"  allocations, shipments, tracking and the ledger derived ({time.monotonic() - started:.0f} s)")
    rows.update(_derived_rows(first_day=first_day, now=now, snapshot_days=scale.snapshot_days))
    with connection.cursor() as cursor:
        for model in [*copiers, *BIG_TABLES, ASNLine, Receipt]:
            table = model._meta.db_table
            pk = model._meta.pk.column
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE((SELECT MAX({pk}) FROM {table}), 1))",
                [table, pk],
            )
    return DatasetSummary(
        scale=scale.name,
        seconds=0.0,
        rows=rows,
        big_client_id=clients[0],
        start=first_day.isoformat(),
        end=now.date().isoformat(),
        backlog_first_id=backlog_ids[0] if backlog_ids else None,
        backlog_last_id=backlog_ids[-1] if backlog_ids else None,
    )


def _status(rng: random.Random, age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    roll = rng.random()
    if roll < 0.02:
        return OrderStatus.CANCELLED
    if hours < 6:
        return rng.choices(
            [
                OrderStatus.RECEIVED,
                OrderStatus.ALLOCATED,
                OrderStatus.PICKING,
                OrderStatus.PACKED,
                OrderStatus.ON_HOLD,
            ],
            weights=[40, 30, 15, 10, 5],
        )[0]
    if hours < 48:
        return rng.choices(
            [
                OrderStatus.ALLOCATED,
                OrderStatus.PICKING,
                OrderStatus.PACKED,
                OrderStatus.SHIPPED,
                OrderStatus.BACKORDERED,
            ],
            weights=[15, 10, 10, 60, 5],
        )[0]
    return OrderStatus.BACKORDERED if roll < 0.03 else OrderStatus.SHIPPED


def _order(
    rng: random.Random,
    cp,
    next_id,
    *,
    received: datetime,
    now: datetime,
    client: int,
    nodes: list[int],
    items_of: dict[int, list[tuple[int, str]]],
) -> None:
    """One order and its lines; its status and timestamps follow its age."""
    order = next_id(Order)
    status = _status(rng, now - received)
    node = rng.choice(nodes)
    expedited = rng.random() < 0.1
    ship_by = received + timedelta(hours=12 if expedited else 24)
    allocated_at = shipped_at = delivered_at = cancelled_at = None
    if status in (OrderStatus.ALLOCATED, OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.SHIPPED):
        allocated_at = min(received + timedelta(minutes=rng.randint(1, 30)), now)
    if status == OrderStatus.SHIPPED:
        latest = (now - allocated_at).total_seconds()
        shipped_at = allocated_at + timedelta(
            seconds=min(rng.randint(2 * 3600, 30 * 3600), int(latest * 0.9))
        )
        delivered_at = shipped_at + timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 8))
        if delivered_at <= now:
            status = OrderStatus.DELIVERED
        else:
            delivered_at = None
    if status == OrderStatus.CANCELLED:
        cancelled_at = min(received + timedelta(minutes=rng.randint(5, 120)), now)
    _add_order(
        cp,
        rng,
        order,
        client,
        received,
        expedited,
        status=status,
        warehouse_id=None if status in (OrderStatus.RECEIVED, OrderStatus.ON_HOLD) else node,
        released_at=None if status == OrderStatus.ON_HOLD else received,
        ship_by=None if status == OrderStatus.ON_HOLD else ship_by,
        ever_backordered=status == OrderStatus.BACKORDERED,
        allocated_at=allocated_at,
        shipped_at=shipped_at,
        delivered_at=delivered_at,
        cancelled_at=cancelled_at,
        updated_at=max(t for t in (received, allocated_at, shipped_at, delivered_at, cancelled_at) if t),
    )
    wanted = rng.choices([1, 2, 3, 4, 5], [45, 25, 15, 10, 5])[0]
    _add_lines(
        cp, next_id, rng, client, order, rng.sample(items_of[client], k=min(len(items_of[client]), wanted))
    )


def _add_order(
    cp, rng: random.Random, order: int, client: int, received: datetime, expedited: bool, **fields
) -> None:
    """One order row: reference, customer and address (drawn here), service level, and ``fields``."""
    city, state, zip_code = rng.choice(CITIES)
    cp(Order).add(
        id=order,
        client_id=client,
        external_reference=f"BENCH-{order:08d}",
        ship_to_name=f"Customer {order}",
        ship_to_address1=f"{order % 9000 + 1} Main St",
        ship_to_city=city,
        ship_to_state=state,
        ship_to_zip=zip_code,
        service_level=ServiceLevel.EXPEDITED if expedited else ServiceLevel.STANDARD,
        received_at=received,
        created_at=received,
        **fields,
    )


def _add_lines(cp, next_id, rng: random.Random, client: int, order: int, items) -> None:
    """A line per ``(item, sku)``: 1-3 units (mostly 1) at a drawn price."""
    for item, sku in items:
        cp(OrderLine).add(
            id=next_id(OrderLine),
            client_id=client,
            order_id=order,
            sku=sku,
            item_id=item,
            quantity=rng.choices([1, 2, 3], [70, 20, 10])[0],
            unit_price=Decimal(rng.randint(500, 9000)) / 100,
        )


def _default_sql(field, now: datetime, params: dict) -> str:
    """A parameter holding what Django would write for a column the INSERT leaves out."""
    key = f"default_{field.attname}"
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        params[key] = now
    elif field.has_default():
        value = field.get_default()
        if isinstance(value, dict | list):
            params[key] = json.dumps(value)
            return f"%({key})s::jsonb"
        params[key] = value
    else:
        params[key] = None if field.null else ""
    return f"%({key})s"


def insert_select(model: type[Model], exprs: dict[str, str], source: str, params: dict | None = None) -> int:
    """``INSERT INTO <model> SELECT ...``: every concrete column gets its SQL expression from
    ``exprs`` (by attname) or, when left out, the field's default. Returns the rows written."""
    params = dict(params or {})
    now = params.setdefault("now", timezone.now())
    columns, values = [], []
    for f in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(f.column))
        values.append(exprs[f.attname] if f.attname in exprs else _default_sql(f, now, params))
    unknown = set(exprs) - {f.attname for f in model._meta.concrete_fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no column {sorted(unknown)}")
    with step(f"insert {model._meta.label}"), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}",
            params,
        )
        return cursor.rowcount


def _fulfilment(
    *, nodes: int, locations_per_node: int, stock_time: datetime, backlog: tuple[int, int]
) -> dict[str, int]:
    """Everything the orders' statuses imply, written set-based by PostgreSQL (``random()`` seeded,
    so the same build gives the same rows): an allocation per line from allocated on (released when
    shipped), a shipment with one package, its package lines, ship moves and tracking events per
    shipped order, then the stock: one ASN line, receipt and receipt move per balance covering what it
    shipped and holds, a buffer, and the backlog's demand (a sixth of it for each client's five most
    popular SKUs, which the backlog runs out), and finally every balance set from its moves and
    active allocations. Ids are arithmetic: a balance is ``(item - 1) * nodes + node`` and sits at
    location ``(node - 1) * locations_per_node + item % locations_per_node + 1``; an allocation and a
    package line take their order line's id, a package its shipment's."""
    orders, lines = Order._meta.db_table, OrderLine._meta.db_table
    balances, moves = Balance._meta.db_table, Move._meta.db_table
    balance = f"(l.item_id - 1) * {nodes} + o.warehouse_id"
    location = f"(o.warehouse_id - 1) * {locations_per_node} + mod(l.item_id, {locations_per_node}) + 1"
    p = {"actor": ACTOR, "stock_time": stock_time, "first": backlog[0], "last": backlog[1]}
    rows: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.7)")
        cursor.execute(
            f"CREATE TEMP TABLE bench_shipped AS SELECT row_number() OVER (ORDER BY id) AS shipment_id, o.* "
            f"FROM {orders} o WHERE shipped_at IS NOT NULL"
        )
    rows[Allocation._meta.label] = insert_select(
        Allocation,
        {
            "id": "l.id",
            "client_id": "l.client_id",
            "order_id": "o.id",
            "line_id": "l.id",
            "item_id": "l.item_id",
            "balance_id": balance,
            "warehouse_id": "o.warehouse_id",
            "location_id": location,
            "quantity": "l.quantity",
            "created_at": "o.allocated_at",
            "released_at": "o.shipped_at",
        },
        f"{lines} l JOIN {orders} o ON o.id = l.order_id WHERE o.allocated_at IS NOT NULL",
        p,
    )
    rows[Shipment._meta.label] = insert_select(
        Shipment,
        {
            "id": "o.shipment_id",
            "client_id": "o.client_id",
            "order_id": "o.id",
            "warehouse_id": "o.warehouse_id",
            "status": f"CASE WHEN o.delivered_at IS NULL THEN '{ShipmentStatus.IN_TRANSIT}' "
            f"ELSE '{ShipmentStatus.DELIVERED}' END",
            "carrier_id": "1",
            "service_id": f"CASE WHEN o.service_level = '{ServiceLevel.EXPEDITED}' THEN 2 ELSE 1 END",
            "tracking_number": "'1ZBENCH' || lpad(o.shipment_id::text, 10, '0')",
            "zone": "2 + floor(random() * 7)::int",
            "billable_weight_lb": "2.000",
            "cost": "(600 + floor(random() * 1801))::numeric / 100",
            "packed_at": "o.shipped_at - interval '30 minutes'",
            "label_created_at": "o.shipped_at - interval '20 minutes'",
            "shipped_at": "o.shipped_at",
            "estimated_delivery_date": "(o.shipped_at + interval '3 days')::date",
            "delivered_at": "o.delivered_at",
            "transit_days": "o.delivered_at::date - o.shipped_at::date",
            "last_event_at": "COALESCE(o.delivered_at, o.shipped_at)",
            "created_at": "o.shipped_at - interval '40 minutes'",
            "updated_at": "COALESCE(o.delivered_at, o.shipped_at)",
        },
        "bench_shipped o",
        p,
    )
    rows[Package._meta.label] = insert_select(
        Package,
        {
            "id": "o.shipment_id",
            "client_id": "o.client_id",
            "shipment_id": "o.shipment_id",
            "number": "1",
            "weight_lb": "2.000",
            "billable_weight_lb": "2.000",
            "tracking_number": "'1ZBENCH' || lpad(o.shipment_id::text, 10, '0')",
            "closed_at": "o.shipped_at - interval '30 minutes'",
            "created_at": "o.shipped_at - interval '40 minutes'",
        },
        "bench_shipped o",
        p,
    )
    rows[PackageLine._meta.label] = insert_select(
        PackageLine,
        {
            "id": "l.id",
            "client_id": "l.client_id",
            "package_id": "o.shipment_id",
            "line_id": "l.id",
            "item_id": "l.item_id",
            "quantity": "l.quantity",
        },
        f"{lines} l JOIN bench_shipped o ON o.id = l.order_id",
        p,
    )
    events = []
    for k, (status, at) in enumerate(
        [
            (TrackingStatus.LABEL_CREATED, "o.shipped_at - interval '20 minutes'"),
            (TrackingStatus.IN_TRANSIT, "o.shipped_at"),
            (TrackingStatus.DELIVERED, "o.delivered_at"),
        ]
    ):
        events.append(
            insert_select(
                TrackingEvent,
                {
                    "id": f"o.shipment_id * 3 - {2 - k}",
                    "client_id": "o.client_id",
                    "shipment_id": "o.shipment_id",
                    "status": f"'{status}'",
                    "occurred_at": at,
                    "created_at": at,
                },
                f"bench_shipped o WHERE {at} IS NOT NULL",
                p,
            )
        )
    rows[TrackingEvent._meta.label] = sum(events)

    # The stock each balance received: all it allocated (shipped or held), a buffer and the backlog.
    with connection.cursor() as cursor:
        _execute(
            cursor,
            "stock per balance",
            f"""
            CREATE TEMP TABLE bench_stock AS
            SELECT b.id AS balance_id, b.client_id, b.item_id, b.warehouse_id, b.location_id,
                   (b.client_id - 1) * {nodes} + b.warehouse_id AS asn_id,
                   COALESCE(a.units, 0) + 20 + floor(random() * 181)::int
                   + CASE WHEN i.rank <= 5 THEN COALESCE(d.units, 0) / 6 ELSE COALESCE(d.units, 0) END AS quantity
            FROM {balances} b
            JOIN (SELECT id, row_number() OVER (PARTITION BY client_id ORDER BY id) AS rank
                  FROM {Item._meta.db_table}) i ON i.id = b.item_id
            LEFT JOIN (SELECT balance_id, SUM(quantity) AS units FROM {Allocation._meta.db_table}
                       GROUP BY balance_id) a ON a.balance_id = b.id
            LEFT JOIN (SELECT item_id, SUM(quantity) AS units FROM {lines}
                       WHERE order_id BETWEEN %(first)s AND %(last)s GROUP BY item_id) d ON d.item_id = b.item_id
            """,
            p,
        )
        cursor.execute("SELECT COALESCE(MAX(balance_id), 0) FROM bench_stock")
        receipts = cursor.fetchone()[0]
    received = "s.balance_id"  # the ASN line, receipt and receipt move of a balance share its id
    rows[ASNLine._meta.label] = insert_select(
        ASNLine,
        {
            "id": received,
            "client_id": "s.client_id",
            "asn_id": "s.asn_id",
            "item_id": "s.item_id",
            "expected_quantity": "s.quantity",
            "received_quantity": "s.quantity",
            "putaway_quantity": "s.quantity",
        },
        "bench_stock s",
        p,
    )
    receipt_move = {
        "actor_label": "%(actor)s",
        "client_id": "s.client_id",
        "item_id": "s.item_id",
        "balance_id": "s.balance_id",
        "warehouse_id": "s.warehouse_id",
        "location_id": "s.location_id",
        "quantity": "s.quantity",
        "created_at": "%(stock_time)s - interval '3 hours'",
    }
    moves_written = insert_select(
        Move,
        {
            **receipt_move,
            "id": received,
            "reason": f"'{MoveReason.RECEIPT}'",
            "document_type": "'asn'",
            "document_id": "s.asn_id::text",
        },
        "bench_stock s",
        p,
    )
    rows[Receipt._meta.label] = insert_select(
        Receipt,
        {
            "id": received,
            "actor_label": "%(actor)s",
            "client_id": "s.client_id",
            "asn_id": "s.asn_id",
            "line_id": received,
            "item_id": "s.item_id",
            "quantity": "s.quantity",
            "location_id": "s.location_id",
            "move_id": received,
            "created_at": "%(stock_time)s - interval '3 hours'",
        },
        "bench_stock s",
        p,
    )
    moves_written += insert_select(
        Move,
        {
            "id": f"l.id + {receipts}",
            "actor_label": "%(actor)s",
            "client_id": "l.client_id",
            "item_id": "l.item_id",
            "balance_id": balance,
            "warehouse_id": "o.warehouse_id",
            "location_id": location,
            "quantity": "-l.quantity",
            "reason": f"'{MoveReason.SHIP}'",
            "document_type": "'shipment'",
            "document_id": "o.shipment_id::text",
            "created_at": "o.shipped_at",
        },
        f"{lines} l JOIN bench_shipped o ON o.id = l.order_id",
        p,
    )
    rows[Move._meta.label] = moves_written
    with connection.cursor() as cursor:
        _execute(
            cursor,
            "balances from the ledger",
            f"""
            UPDATE {balances} b
            SET on_hand = m.total, allocated = COALESCE(a.held, 0)
            FROM (SELECT balance_id, SUM(quantity) AS total FROM {moves} GROUP BY balance_id) m
            LEFT JOIN (
                SELECT balance_id, SUM(quantity) AS held FROM {Allocation._meta.db_table}
                WHERE released_at IS NULL GROUP BY balance_id
            ) a ON a.balance_id = m.balance_id
            WHERE b.id = m.balance_id
            """,
        )
        cursor.execute("DROP TABLE bench_shipped, bench_stock")
    return rows


def _execute(cursor, name: str, sql: str, params=None) -> None:
    with step(name):
        cursor.execute(sql, params)


def _derived_rows(*, first_day: date, now: datetime, snapshot_days: int) -> dict[str, int]:
    """Rows that follow from the orders and the ledger, written set-based by PostgreSQL: every
    order's status history, the outbox's order events of the last 90 days (the events feed), and
    the daily inventory snapshots of the last ``snapshot_days`` days (on hand at the end of each UTC
    day: today's balance less the moves after that day)."""
    orders, history = Order._meta.db_table, OrderEvent._meta.db_table
    events, snapshots = Event._meta.db_table, InventorySnapshot._meta.db_table
    balances, moves = Balance._meta.db_table, Move._meta.db_table
    rows = {}
    with connection.cursor() as cursor:
        _execute(
            cursor,
            "insert orders.OrderEvent",
            f"""
            INSERT INTO {history} (actor_label, client_id, order_id, from_status, to_status, reason, created_at)
            SELECT %(actor)s, client_id, order_id,
                   COALESCE(LAG(to_status) OVER (PARTITION BY order_id ORDER BY at, step), ''), to_status, '', at
            FROM (
                SELECT id AS order_id, client_id, 'received' AS to_status, received_at AS at, 1 AS step
                FROM {orders}
                UNION ALL SELECT id, client_id, 'backordered', received_at + interval '1 minute', 2
                FROM {orders} WHERE ever_backordered
                UNION ALL SELECT id, client_id, 'allocated', allocated_at, 3 FROM {orders}
                WHERE allocated_at IS NOT NULL
                UNION ALL SELECT id, client_id, 'shipped', shipped_at, 4 FROM {orders} WHERE shipped_at IS NOT NULL
                UNION ALL SELECT id, client_id, 'delivered', delivered_at, 5 FROM {orders}
                WHERE delivered_at IS NOT NULL
                UNION ALL SELECT id, client_id, 'cancelled', cancelled_at, 6 FROM {orders}
                WHERE cancelled_at IS NOT NULL
            ) steps
            """,
            {"actor": ACTOR},
        )
        rows[OrderEvent._meta.label] = cursor.rowcount
        _execute(
            cursor,
            "insert shipments.Event",
            f"""
            INSERT INTO {events} (client_id, type, payload, created_at)
            SELECT client_id, type,
                   jsonb_build_object(
                       'order_id', id, 'number', 'ORD-' || lpad(id::text, 7, '0'),
                       'external_reference', external_reference, 'channel', channel, 'status', state,
                       'service_level', service_level, 'received_at', received_at,
                       'shipped_at', CASE WHEN state = 'received' THEN NULL ELSE shipped_at END,
                       'delivered_at', CASE WHEN state = 'delivered' THEN delivered_at END),
                   at
            FROM (
                SELECT o.*, 'order.created' AS type, 'received' AS state, received_at AS at FROM {orders} o
                UNION ALL SELECT o.*, 'order.shipped', 'shipped', shipped_at FROM {orders} o
                WHERE shipped_at IS NOT NULL
                UNION ALL SELECT o.*, 'order.delivered', 'delivered', delivered_at FROM {orders} o
                WHERE delivered_at IS NOT NULL
            ) e
            WHERE at >= %(since)s
            ORDER BY at, id
            """,
            {"since": now - timedelta(days=90)},
        )
        rows[Event._meta.label] = cursor.rowcount
        today = now.date()
        _execute(
            cursor,
            "insert inventory.InventorySnapshot",
            f"""
            WITH days AS (
                SELECT generate_series(%(first)s::date, %(today)s::date, interval '1 day')::date AS day
            ),
            daily AS (
                SELECT balance_id, (created_at AT TIME ZONE 'UTC')::date AS day, SUM(quantity) AS q
                FROM {moves} WHERE created_at >= %(first)s::date GROUP BY 1, 2
            ),
            grid AS (
                SELECT b.id, b.client_id, b.item_id, b.warehouse_id, b.on_hand, d.day,
                       COALESCE(daily.q, 0) AS q
                FROM {balances} b CROSS JOIN days d
                LEFT JOIN daily ON daily.balance_id = b.id AND daily.day = d.day
            ),
            ends AS (
                SELECT client_id, item_id, warehouse_id, day,
                       on_hand - COALESCE(SUM(q) OVER (
                           PARTITION BY id ORDER BY day DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                       ), 0) AS on_hand
                FROM grid
            )
            INSERT INTO {snapshots} (client_id, item_id, warehouse_id, date, on_hand)
            SELECT client_id, item_id, warehouse_id, day, on_hand FROM ends WHERE day < %(today)s
            """,
            {"first": max(first_day, today - timedelta(days=snapshot_days)), "today": today},
        )
        rows[InventorySnapshot._meta.label] = cursor.rowcount
    return rows
