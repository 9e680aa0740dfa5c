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
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from accounts.models import Client, Warehouse
from inventory.enums import ASNStatus, LocationType, MoveReason
from inventory.models import ASN, ASNLine, Balance, Item, Location, Move, Receipt
from orders.enums import OrderStatus, ServiceLevel
from orders.models import Allocation, Order, OrderLine
from shipments.enums import ShipmentStatus, TrackingStatus
from shipments.models import Carrier, CarrierService, Package, PackageLine, Shipment, TrackingEvent

ACTOR = "bench dataset"
CHUNK_ORDERS = 20_000


@dataclass(frozen=True)
class Scale:
    name: str
    clients: int
    items: int
    nodes: int
    orders: int
    days: int
    locations_per_node: int
    peak_factor: float = 4.5  # November and December, against a normal day


SCALES = {
    "small": Scale("small", clients=3, items=200, nodes=2, orders=5_000, days=90, locations_per_node=100),
    "full": Scale(
        "full", clients=50, items=20_000, nodes=3, orders=1_000_000, days=365, locations_per_node=2_000
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
    fields; a value a row leaves out takes the field's default (``auto_now`` fields: ``now``)."""

    def __init__(self, model: type[Model], now: datetime):
        self.model = model
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.now = now
        self.defaults = {}
        for f in self.fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                self.defaults[f.attname] = lambda: now
            elif f.has_default():
                self.defaults[f.attname] = f.get_default
            elif f.null:
                self.defaults[f.attname] = lambda: None
            else:
                self.defaults[f.attname] = lambda: ""
        self.rows: list[dict] = []
        self.written = 0

    def add(self, **row) -> None:
        self.rows.append(row)

    @staticmethod
    def _text(value) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, list | dict):
            return json.dumps(value)
        return str(value)

    def flush(self) -> int:
        if not self.rows:
            return 0
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        defaults = self.defaults
        for row in self.rows:
            writer.writerow(
                [
                    self._text(row[f.attname] if f.attname in row else defaults[f.attname]())
                    for f in self.fields
                ]
            )
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.copy_expert(
                f"COPY {self.table} ({self.columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
            )
        count = len(self.rows)
        self.written += count
        self.rows = []
        return count


@dataclass
class DatasetSummary:
    scale: str
    seconds: float
    rows: dict[str, int]
    big_client_id: int
    start: str
    end: str


def _day_weights(first: date, days: int, peak: float) -> list[tuple[date, float]]:
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        weight = peak if day.month in (11, 12) else 1.0
        if day.weekday() >= 5:
            weight *= 0.6
        out.append((day, weight))
    return out


def build(scale: Scale, *, now: datetime | None = None, seed: int = 7, log=print) -> DatasetSummary:
    """Write the whole data set into the (migrated, empty) default database."""
    started = time.monotonic()
    rng = random.Random(seed)
    now = (now or timezone.now()).astimezone(UTC).replace(microsecond=0)
    first_day = (now - timedelta(days=scale.days)).date()
    stock_time = datetime.combine(first_day, datetime.min.time(), UTC) - timedelta(days=2)
    copiers: dict[type[Model], Copier] = {}

    def cp(model: type[Model]) -> Copier:
        if model not in copiers:
            copiers[model] = Copier(model, now)
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
    balance_of: dict[tuple[int, int], tuple[int, int]] = {}  # (item, node) -> (balance, location)
    balance_client: dict[int, int] = {}
    balance_id = 0
    for c in clients:
        for item, _sku in items_of[c]:
            for node in nodes:
                balance_id += 1
                location = locations[node][item % len(locations[node])]
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
                balance_of[(item, node)] = (balance_id, location)
                balance_client[balance_id] = c
    flush(Balance)
    log(f"  reference data: {len(clients)} clients, {item_id} items, {balance_id} balances")

    # Orders, chronologically, with a peak season.
    days = _day_weights(first_day, scale.days, scale.peak_factor)
    weight_sum = sum(w for _, w in days)
    shipped_units: dict[int, int] = defaultdict(int)
    held_units: dict[int, int] = defaultdict(int)
    ids = defaultdict(int)

    def next_id(model: type[Model]) -> int:
        ids[model] += 1
        return ids[model]

    chunk_models = (
        Order,
        OrderLine,
        Allocation,
        Shipment,
        Package,
        PackageLine,
        TrackingEvent,
        Move,
    )
    remaining = scale.orders
    pending = 0
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
                client=rng.choices(clients, weights=client_weights)[0],
                nodes=nodes,
                items_of=items_of,
                balance_of=balance_of,
                shipped_units=shipped_units,
                held_units=held_units,
            )
            pending += 1
        if pending >= CHUNK_ORDERS or index == len(days) - 1:
            flush(*chunk_models)
            pending = 0
    log(f"  orders: {cp(Order).written} with {cp(OrderLine).written} lines, {cp(Shipment).written} shipments")

    # Stock arrived before the first order, through one closed ASN per client and node: each
    # balance's receipt covers what it shipped, what it holds for open orders, and a buffer.
    asn_of: dict[tuple[int, int], int] = {}
    for c in clients:
        for node in nodes:
            asn = next_id(ASN)
            asn_of[(c, node)] = asn
            cp(ASN).add(
                id=asn,
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
    for c in clients:
        for item, _sku in items_of[c]:
            for node in nodes:
                balance, location = balance_of[(item, node)]
                quantity = shipped_units[balance] + held_units[balance] + rng.randint(20, 200)
                asn = asn_of[(c, node)]
                line = next_id(ASNLine)
                cp(ASNLine).add(
                    id=line,
                    client_id=c,
                    asn_id=asn,
                    item_id=item,
                    expected_quantity=quantity,
                    received_quantity=quantity,
                    putaway_quantity=quantity,
                )
                move = next_id(Move)
                cp(Move).add(
                    id=move,
                    actor_label=ACTOR,
                    client_id=c,
                    item_id=item,
                    balance_id=balance,
                    warehouse_id=node,
                    location_id=location,
                    quantity=quantity,
                    reason=MoveReason.RECEIPT,
                    document_type="asn",
                    document_id=str(asn),
                    created_at=stock_time - timedelta(hours=3),
                )
                cp(Receipt).add(
                    id=next_id(Receipt),
                    actor_label=ACTOR,
                    client_id=c,
                    asn_id=asn,
                    line_id=line,
                    item_id=item,
                    quantity=quantity,
                    location_id=location,
                    move_id=move,
                    created_at=stock_time - timedelta(hours=3),
                )
    flush(ASNLine, Move, Receipt)

    with connection.cursor() as cursor:
        balance_table = Balance._meta.db_table
        move_table = Move._meta.db_table
        allocation_table = Allocation._meta.db_table
        cursor.execute(
            f"""
            UPDATE {balance_table} b
            SET on_hand = m.total, allocated = COALESCE(a.held, 0)
            FROM (SELECT balance_id, SUM(quantity) AS total FROM {move_table} GROUP BY balance_id) m
            LEFT JOIN (
                SELECT balance_id, SUM(quantity) AS held FROM {allocation_table}
                WHERE released_at IS NULL GROUP BY balance_id
            ) a ON a.balance_id = m.balance_id
            WHERE b.id = m.balance_id
            """
        )
        for model in copiers:
            table = model._meta.db_table
            pk = model._meta.pk.column
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE((SELECT MAX({pk}) FROM {table}), 1))",
                [table, pk],
            )
        cursor.execute("ANALYZE")
    rows = {model._meta.label: c.written for model, c in copiers.items()}
    return DatasetSummary(
        scale=scale.name,
        seconds=round(time.monotonic() - started, 1),
        rows=rows,
        big_client_id=clients[0],
        start=first_day.isoformat(),
        end=now.date().isoformat(),
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
    balance_of: dict[tuple[int, int], tuple[int, int]],
    shipped_units: dict[int, int],
    held_units: dict[int, int],
) -> None:
    """One order and everything its status implies."""
    order = next_id(Order)
    status = _status(rng, now - received)
    node = rng.choice(nodes)
    expedited = rng.random() < 0.1
    ship_by = received + timedelta(hours=12 if expedited else 24)
    allocated_at = shipped_at = delivered_at = cancelled_at = None
    shipment_status = None
    if status in (OrderStatus.ALLOCATED, OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.SHIPPED):
        allocated_at = received + timedelta(minutes=rng.randint(1, 30))
        if allocated_at > now:
            allocated_at = now
    if status == OrderStatus.SHIPPED:
        latest = (now - allocated_at).total_seconds()
        shipped_at = allocated_at + timedelta(
            seconds=min(rng.randint(2 * 3600, 30 * 3600), int(latest * 0.9))
        )
        delivered_at = shipped_at + timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 8))
        if delivered_at <= now:
            status = OrderStatus.DELIVERED
            shipment_status = ShipmentStatus.DELIVERED
        else:
            delivered_at = None
            shipment_status = ShipmentStatus.IN_TRANSIT
    if status == OrderStatus.CANCELLED:
        cancelled_at = min(received + timedelta(minutes=rng.randint(5, 120)), now)
    city, state, zip_code = rng.choice(CITIES)
    updated = max(t for t in (received, allocated_at, shipped_at, delivered_at, cancelled_at) if t)
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
        status=status,
        warehouse_id=None if status in (OrderStatus.RECEIVED, OrderStatus.ON_HOLD) else node,
        received_at=received,
        released_at=None if status == OrderStatus.ON_HOLD else received,
        ship_by=None if status == OrderStatus.ON_HOLD else ship_by,
        ever_backordered=status == OrderStatus.BACKORDERED,
        allocated_at=allocated_at,
        shipped_at=shipped_at,
        delivered_at=delivered_at,
        cancelled_at=cancelled_at,
        created_at=received,
        updated_at=updated,
    )
    items = rng.sample(
        items_of[client], k=min(len(items_of[client]), rng.choices([1, 2, 3, 4, 5], [45, 25, 15, 10, 5])[0])
    )
    lines = []
    for item, sku in items:
        line = next_id(OrderLine)
        quantity = rng.choices([1, 2, 3], [70, 20, 10])[0]
        cp(OrderLine).add(
            id=line,
            client_id=client,
            order_id=order,
            sku=sku,
            item_id=item,
            quantity=quantity,
            unit_price=Decimal(rng.randint(500, 9000)) / 100,
        )
        lines.append((line, item, quantity))
        if allocated_at is None:
            continue
        balance, location = balance_of[(item, node)]
        active = shipped_at is None
        cp(Allocation).add(
            id=next_id(Allocation),
            client_id=client,
            order_id=order,
            line_id=line,
            item_id=item,
            balance_id=balance,
            warehouse_id=node,
            location_id=location,
            quantity=quantity,
            created_at=allocated_at,
            released_at=None if active else shipped_at,
        )
        if active:
            held_units[balance] += quantity
        else:
            shipped_units[balance] += quantity
    if shipped_at is None:
        return
    shipment = next_id(Shipment)
    transit = (delivered_at or now).date() - shipped_at.date()
    cp(Shipment).add(
        id=shipment,
        client_id=client,
        order_id=order,
        warehouse_id=node,
        status=shipment_status,
        carrier_id=1,
        service_id=2 if expedited else 1,
        tracking_number=f"1ZBENCH{shipment:010d}",
        zone=rng.randint(2, 8),
        billable_weight_lb=Decimal("2.000"),
        cost=Decimal(rng.randint(600, 2400)) / 100,
        packed_at=shipped_at - timedelta(minutes=30),
        label_created_at=shipped_at - timedelta(minutes=20),
        shipped_at=shipped_at,
        estimated_delivery_date=(shipped_at + timedelta(days=3)).date(),
        delivered_at=delivered_at,
        transit_days=transit.days if delivered_at else None,
        last_event_at=delivered_at or shipped_at,
        created_at=shipped_at - timedelta(minutes=40),
        updated_at=delivered_at or shipped_at,
    )
    package = next_id(Package)
    cp(Package).add(
        id=package,
        client_id=client,
        shipment_id=shipment,
        number=1,
        weight_lb=Decimal("2.000"),
        billable_weight_lb=Decimal("2.000"),
        tracking_number=f"1ZBENCH{shipment:010d}",
        closed_at=shipped_at - timedelta(minutes=30),
        created_at=shipped_at - timedelta(minutes=40),
    )
    for line, item, quantity in lines:
        cp(PackageLine).add(
            id=next_id(PackageLine),
            client_id=client,
            package_id=package,
            line_id=line,
            item_id=item,
            quantity=quantity,
        )
        balance, location = balance_of[(item, node)]
        cp(Move).add(
            id=next_id(Move),
            actor_label=ACTOR,
            client_id=client,
            item_id=item,
            balance_id=balance,
            warehouse_id=node,
            location_id=location,
            quantity=-quantity,
            reason=MoveReason.SHIP,
            document_type="shipment",
            document_id=str(shipment),
            created_at=shipped_at,
        )
    events = [
        (TrackingStatus.LABEL_CREATED, shipped_at - timedelta(minutes=20)),
        (TrackingStatus.IN_TRANSIT, shipped_at),
    ]
    if delivered_at:
        events.append((TrackingStatus.DELIVERED, delivered_at))
    for tracking_status, moment in events:
        cp(TrackingEvent).add(
            id=next_id(TrackingEvent),
            client_id=client,
            shipment_id=shipment,
            status=tracking_status,
            occurred_at=moment,
            created_at=moment,
        )
