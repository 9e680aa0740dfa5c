"""Routing and allocation: reserve balances for orders without ever promising a unit twice.

One planner, two ways in. ``allocate`` routes one order the moment it arrives (its own Celery
task); ``allocate_many`` and ``allocate_waiting`` route a batch (a peak backlog, a bulk intake, the
backorders that stock arrived for) in a constant number of set-based statements, whatever its size.

Locks, always in this order, so no two allocators wait on each other in a cycle: the order rows
first (a sweep takes them with ``FOR UPDATE SKIP LOCKED``, one client's backlog per worker, so
several workers drain a backlog side by side; explicit ids are waited for in primary-key order),
then every candidate balance of the batch in one ``SELECT ... FOR UPDATE`` ordered by primary key. The plan is made from the locked
rows, order after order in priority order (expedited first, then ship-by, then received), each
seeing the stock the orders before it took, exactly as ``allocate`` would one by one; every
shortfall collected; then the reservations are written at once (relative updates of
``allocated``); the CHECK constraint ``allocated <= on_hand`` is the last line of defence.

Routing (DOMAIN.md): the nearest node that can fill the whole order; else a split across nodes
(nearest first) when the client allows it; else the order is backordered. Within a node: FEFO for
expiry-tracked lots, then FIFO (earliest received), then the pick path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from accounts.models import Client, Warehouse
from fulfillment.tenancy import actor_scope
from inventory import ledger
from inventory.enums import SELLABLE_LOCATION_TYPES
from inventory.models import Balance, KitComponent

from . import bulk, clock
from .enums import EXPEDITED_LEVELS, OrderStatus
from .models import Allocation, Order, OrderHold, OrderLine

BATCH_SIZE = 500  # orders per batch: big enough to amortise each statement, small enough to lock briefly
WAITING_STATUSES = (OrderStatus.RECEIVED, OrderStatus.BACKORDERED)


@dataclass(frozen=True)
class Part:
    """Units of one item that one order line needs (a kit line needs each of its components)."""

    line_id: int
    sku: str
    item_id: int
    quantity: int


@dataclass(eq=False)
class Candidate:
    """A locked balance as the planner sees it: ``allocated`` grows as the plan takes units."""

    pk: int
    warehouse_id: int
    item_id: int
    location_id: int
    lot_code: str
    on_hand: int
    allocated: int

    @property
    def free(self) -> int:
        return self.on_hand - self.allocated


Stock = dict[tuple[int, int], list[Candidate]]  # (node, item) -> candidates in pick order


@dataclass(eq=False)
class Waiting:
    """An order waiting for allocation, with what the planner needs to route it."""

    order: Order
    parts: list[Part]
    nodes: list[Warehouse]  # the client's active nodes, nearest first
    blocked: bool  # an open hold, a line without an item, or no lines at all: left as it is
    watched: set[int] = field(default_factory=set)  # its items with a reorder point (low-stock checks)

    @property
    def needs(self) -> dict[int, int]:
        needs: dict[int, int] = defaultdict(int)
        for part in self.parts:
            needs[part.item_id] += part.quantity
        return needs


@dataclass(eq=False)
class Decision:
    """What the planner decided for one order: allocate (``takes``), backorder, or nothing."""

    waiting: Waiting
    to: str | None = None
    reason: str = ""
    takes: list[tuple[Part, Candidate, int]] = field(default_factory=list)
    used_nodes: list[Warehouse] = field(default_factory=list)


def priority(order: Order) -> tuple:
    """Who is served first from scarce stock: expedited service levels, then the earliest ship-by
    (none last), then the earliest received (``backorders_waiting_for`` sorts the same way)."""
    return (
        order.service_level not in EXPEDITED_LEVELS,
        order.ship_by is None,
        order.ship_by or order.received_at,
        order.received_at,
        order.pk,
    )


def _pick_key(expiry_date, received_at, pick_sequence: int, pk: int) -> tuple:
    """FEFO (no expiry last), then FIFO, then the pick path."""
    return (
        expiry_date is None,
        expiry_date or date.max,
        received_at is None,
        received_at or datetime.max.replace(tzinfo=UTC),
        pick_sequence,
        pk,
    )


# --- loading and locking ------------------------------------------------------------------------


def _load(orders: list[Order]) -> list[Waiting]:
    """Lines, kits, open holds and nodes of the (locked) orders: a few queries for any number.
    The caller has opened a scope that covers the orders' clients."""
    ids = [order.pk for order in orders]
    lines = list(
        OrderLine.objects.filter(order_id__in=ids)
        .order_by("pk")
        .values_list("pk", "order_id", "sku", "item_id", "quantity", "item__is_kit", "item__reorder_point")
    )
    watched = {line[3] for line in lines if line[6]}
    components: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if kits := {line[3] for line in lines if line[5]}:
        for kit_id, component_id, quantity, reorder_point in (
            KitComponent.objects.filter(kit_id__in=kits)
            .order_by("pk")
            .values_list("kit_id", "component_id", "quantity", "component__reorder_point")
        ):
            components[kit_id].append((component_id, quantity))
            if reorder_point:
                watched.add(component_id)
    held = set(
        OrderHold.objects.filter(order_id__in=ids, released_at__isnull=True).values_list(
            "order_id", flat=True
        )
    )
    nodes_of = _active_nodes({order.client_id for order in orders})
    parts: dict[int, list[Part]] = defaultdict(list)
    no_item: set[int] = set()
    for line_id, order_id, sku, item_id, quantity, is_kit, _reorder_point in lines:
        if item_id is None:
            no_item.add(order_id)
        elif is_kit:
            parts[order_id] += [
                Part(line_id, sku, c, per_kit * quantity) for c, per_kit in components[item_id]
            ]
        else:
            parts[order_id].append(Part(line_id, sku, item_id, quantity))
    nearest: dict[tuple[int, str], list[Warehouse]] = {}
    waiting = []
    for order in orders:
        key = (order.client_id, order.ship_to_zip)
        if key not in nearest:
            nearest[key] = clock.nearest_first(nodes_of[order.client_id], order.ship_to_zip)
        blocked = order.pk in held or order.pk in no_item or not parts[order.pk]
        mine = parts[order.pk]
        waiting.append(Waiting(order, mine, nearest[key], blocked, {p.item_id for p in mine} & watched))
    return waiting


def _active_nodes(client_ids: set[int]) -> dict[int, list[Warehouse]]:
    """Each client's active nodes (their closures prefetched for the ship-by clock)."""
    links = list(
        Client.warehouses.through.objects.filter(client_id__in=client_ids, warehouse__active=True)
        .order_by("warehouse_id")
        .values_list("client_id", "warehouse_id")
    )
    nodes = Warehouse.objects.prefetch_related("closures").in_bulk({w for _c, w in links})
    result: dict[int, list[Warehouse]] = {client_id: [] for client_id in client_ids}
    for client_id, warehouse_id in links:
        result[client_id].append(nodes[warehouse_id])
    return result


def _lock_stock(waiting: list[Waiting]) -> Stock:
    """Lock every sellable balance with free units that the orders could take from, in
    primary-key order (one statement), and index them by (node, item) in pick order."""
    wanted = {
        (w.order.client_id, node.pk, part.item_id) for w in waiting for node in w.nodes for part in w.parts
    }
    if not wanted:
        return {}
    rows = (
        Balance.objects.select_for_update(of=("self",))
        .filter(
            client_id__in={c for c, _n, _i in wanted},
            item_id__in={i for _c, _n, i in wanted},
            warehouse_id__in={n for _c, n, _i in wanted},
            location__type__in=SELLABLE_LOCATION_TYPES,
            location__active=True,
            on_hand__gt=F("allocated"),
        )
        .order_by("pk")
        .values_list(
            "pk",
            "client_id",
            "warehouse_id",
            "item_id",
            "location_id",
            "lot_code",
            "on_hand",
            "allocated",
            "expiry_date",
            "received_at",
            "location__pick_sequence",
        )
    )
    keyed = []
    for pk, client_id, node_id, item_id, location_id, lot, on_hand, allocated, expiry, received, seq in rows:
        if (client_id, node_id, item_id) in wanted:
            candidate = Candidate(pk, node_id, item_id, location_id, lot, on_hand, allocated)
            keyed.append((_pick_key(expiry, received, seq, pk), candidate))
    stock: Stock = defaultdict(list)
    for _key, candidate in sorted(keyed, key=lambda pair: pair[0]):
        stock[(candidate.warehouse_id, candidate.item_id)].append(candidate)
    return stock


# --- planning -----------------------------------------------------------------------------------


def _shortfall_reason(parts: list[Part], needs: dict[int, int], nodes: list, free) -> str:
    """Name the order's SKUs (a kit line by its own SKU) that no single node, or no node at all,
    can cover."""
    total = {i: sum(free(n.pk, i) for n in nodes) for i in needs}
    best = {i: max((free(n.pk, i) for n in nodes), default=0) for i in needs}
    short = [i for i, q in needs.items() if total[i] < q]
    if short:
        skus = dict.fromkeys(p.sku for p in parts if p.item_id in short)
        return f"short: {', '.join(skus)}"
    split = dict.fromkeys(p.sku for p in parts if best[p.item_id] < needs[p.item_id])
    if split:
        return f"no single node can fill it (splits not allowed): {', '.join(split)}"
    return "no single node can fill the whole order (splits not allowed)"


def _plan(waiting: Waiting, stock: Stock) -> Decision:
    """Route one order from the stock left: the nearest node that fills it whole, else a split when
    the client allows it, else a backorder (from received) naming the shortfall. An allocation
    takes its units from ``stock`` at once, so the next order sees what is left."""
    order, parts, nodes = waiting.order, waiting.parts, waiting.nodes
    decision = Decision(waiting)
    if waiting.blocked:
        return decision
    needs = waiting.needs
    free_units = {
        (node.pk, i): sum(c.free for c in stock.get((node.pk, i), ())) for node in nodes for i in needs
    }

    def free(node_id: int, item_id: int) -> int:
        return free_units[(node_id, item_id)]

    route = next(
        ([node] for node in nodes if all(free(node.pk, i) >= q for i, q in needs.items())),
        None,
    )
    enough_overall = all(sum(free(node.pk, i) for node in nodes) >= q for i, q in needs.items())
    if route is None and order.client.allow_split_shipments and enough_overall:
        route = nodes
    if route is None:
        if order.status == OrderStatus.RECEIVED:
            decision.to = OrderStatus.BACKORDERED
            decision.reason = _shortfall_reason(parts, needs, nodes, free)[:500]
        return decision

    for part in parts:
        wanted = part.quantity
        for node in route:
            for candidate in stock.get((node.pk, part.item_id), ()):
                take = min(wanted, candidate.free)
                if take <= 0:
                    continue
                candidate.allocated += take
                wanted -= take
                decision.takes.append((part, candidate, take))
                if not any(used is node for used in decision.used_nodes):
                    decision.used_nodes.append(node)
                if wanted == 0:
                    break
            if wanted == 0:
                break
        if wanted:
            raise RuntimeError(
                f"allocation plan for {order.number} left {wanted} units of item {part.item_id}"
            )
    decision.to = OrderStatus.ALLOCATED
    decision.reason = f"at {', '.join(n.code for n in decision.used_nodes)}"
    return decision


# --- writing ------------------------------------------------------------------------------------


def _record(actor: Actor, decisions: list[Decision]) -> None:
    """Write the plans of a batch: one relative update of the balances, one insert of the
    allocations, one update of the orders with their events and outbox rows, and (after commit)
    the low-stock checks of the reserved items that have a reorder point (no other can be low)."""
    from .services import transition_many  # services import this module

    now = timezone.now()
    deltas: dict[int, int] = defaultdict(int)
    rows, changes = [], []
    reserved: dict[int, set[int]] = defaultdict(set)
    for decision in decisions:
        order = decision.waiting.order
        if decision.to == OrderStatus.BACKORDERED:
            order.ever_backordered = True
        elif decision.to == OrderStatus.ALLOCATED:
            for part, candidate, take in decision.takes:
                deltas[candidate.pk] += take
                rows.append(
                    (
                        order.client_id,
                        order.pk,
                        part.line_id,
                        part.item_id,
                        candidate.pk,
                        candidate.warehouse_id,
                        candidate.location_id,
                        candidate.lot_code,
                        take,
                        now,
                    )
                )
            reserved[order.client_id].update(decision.waiting.watched)
            order.warehouse = decision.used_nodes[0]
            order.allocated_at = now
            if order.status == OrderStatus.BACKORDERED:
                order.released_at = now  # released from backorder: the SLA clock restarts (DOMAIN.md)
            order.ship_by = clock.ship_by(
                client=order.client,
                warehouse=order.warehouse,
                released_at=order.released_at or order.received_at,
                service_level=order.service_level,
            )
        else:
            continue
        changes.append((order, decision.to, decision.reason))
    bulk.add_to_field(Balance, "allocated", deltas)
    bulk.insert_rows(
        Allocation,
        [
            "client_id",
            "order_id",
            "line_id",
            "item_id",
            "balance_id",
            "warehouse_id",
            "location_id",
            "lot_code",
            "quantity",
            "created_at",
        ],
        rows,
    )
    fields = ["warehouse", "allocated_at", "released_at", "ship_by", "ever_backordered"]
    transition_many(actor=actor, changes=changes, fields=fields)
    for client_id, item_ids in reserved.items():
        ledger.low_stock_check(client_id, item_ids)


def _allocate_locked(actor: Actor, orders: list[Order]) -> dict[int, str]:
    """Plan and write the allocation of orders whose rows the caller has locked (each with its
    client loaded), most urgent first. Returns each order's status afterwards."""
    waiting = [w for w in _load(orders) if not w.blocked]
    stock = _lock_stock(waiting)
    _record(actor, [_plan(w, stock) for w in sorted(waiting, key=lambda w: priority(w.order))])
    return {order.pk: order.status for order in orders}


def _with_clients(orders: list[Order]) -> list[Order]:
    clients = Client.objects.in_bulk({order.client_id for order in orders})
    for order in orders:
        order.client = clients[order.client_id]
    return orders


# --- the ways in --------------------------------------------------------------------------------


def allocate(*, actor: Actor, order: Order) -> str:
    """Route and allocate a received or backordered order. Returns the order's status afterwards
    (or its unchanged status when it is not waiting for allocation). Idempotent."""
    with transaction.atomic(), scope(client=order.client_id):
        order = Order.objects.select_for_update(of=("self",)).select_related("client").get(pk=order.pk)
        if order.status not in WAITING_STATUSES:
            return order.status
        return _allocate_locked(actor, [order])[order.pk]


def allocate_many(*, actor: Actor, order_ids: Iterable[int], skip_locked: bool = False) -> dict[int, str]:
    """Route and allocate the waiting (received or backordered) orders among ``order_ids`` that
    the actor may see, in one transaction: each decided as ``allocate`` would one after the
    other, most urgent first. Their rows are locked in primary-key order, waiting for those another
    transaction holds, or skipping those with ``skip_locked`` (someone else is working on them).
    Returns {order id: status afterwards} of the orders it locked. Idempotent."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    with transaction.atomic(), actor_scope(actor):
        orders = list(
            Order.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .filter(pk__in=ids, status__in=WAITING_STATUSES)
            .order_by("pk")
        )
        if not orders:
            return {}
        with scope(client=sorted({order.client_id for order in orders})):
            return _allocate_locked(actor, _with_clients(orders))


def allocate_waiting(
    *, actor: Actor, limit: int = BATCH_SIZE, idle_for: timedelta = timedelta(0)
) -> dict[int, str]:
    """One batch of the backlog, routed and allocated in one transaction: up to ``limit`` received
    orders, most urgent first, that nothing has touched for ``idle_for`` (their own task had its
    chance); orders with an open hold or an unknown SKU are not taken. Returns {order id: status
    afterwards}; empty when nothing is waiting.

    Several workers drain side by side without waiting on each other: each claims a client that no
    other is draining (a transaction-level advisory lock; stock is per client, so two such batches
    never want the same balance), the one whose most urgent order is earliest, and takes that
    client's most urgent orders. When every client with waiting orders is claimed, it shares one:
    ``FOR UPDATE SKIP LOCKED`` still gives it orders no one else holds, and the balance locks
    (primary-key order) serialise the two."""
    with transaction.atomic(), actor_scope(actor):
        open_hold = OrderHold.objects.filter(order=OuterRef("pk"), released_at__isnull=True)
        no_item = OrderLine.objects.filter(order=OuterRef("pk"), item__isnull=True)
        waiting = Order.objects.filter(
            status=OrderStatus.RECEIVED, updated_at__lte=timezone.now() - idle_for
        ).filter(~Exists(open_hold), ~Exists(no_item))
        urgent_first = (F("ship_by").asc(nulls_last=True), "received_at", "pk")

        def take(orders) -> list[Order]:
            return list(
                orders.select_for_update(of=("self",), skip_locked=True).order_by(*urgent_first)[:limit]
            )

        orders: list[Order] = []
        clients = _clients_by_urgency(waiting)
        for client_id in clients:
            if _claim(client_id) and (orders := take(waiting.filter(client_id=client_id))):
                break
        if not orders and clients:
            orders = take(waiting.filter(client_id__in=clients))
        if not orders:
            return {}
        with scope(client=sorted({order.client_id for order in orders})):
            return _allocate_locked(actor, _with_clients(orders))


# pg_try_advisory_xact_lock(SWEEP_LOCK_CLASS, client id): "a worker is draining this client".
SWEEP_LOCK_CLASS = 71_001


def _clients_by_urgency(waiting) -> list[int]:
    """The clients with waiting orders, the one with the earliest ship-by first (two index probes
    per client, however long the backlog)."""
    of_client = waiting.filter(client_id=OuterRef("pk"))
    first = of_client.order_by(F("ship_by").asc(nulls_last=True)).values("ship_by")[:1]
    return list(
        Client.objects.filter(Exists(of_client))
        .annotate(first_ship_by=Subquery(first))
        .order_by(F("first_ship_by").asc(nulls_last=True), "pk")
        .values_list("pk", flat=True)
    )


def _claim(client_id: int) -> bool:
    """Claim a client's backlog until the end of the transaction, unless another worker has."""
    if connection.vendor != "postgresql":
        return True  # one writer at a time anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s::int)", [SWEEP_LOCK_CLASS, client_id])
        return cursor.fetchone()[0]


def release_allocations(order: Order) -> int:
    """Give back every active reservation of an order (balances locked in primary-key order).
    The caller holds the order's row lock."""
    with transaction.atomic(), scope(client=order.client_id):
        active = list(Allocation.objects.filter(order=order, released_at__isnull=True))
        if not active:
            return 0
        deltas: dict[int, int] = defaultdict(int)
        for allocation in active:
            deltas[allocation.balance_id] += allocation.quantity
        list(Balance.objects.select_for_update(of=("self",)).filter(pk__in=deltas).order_by("pk"))
        bulk.add_to_field(Balance, "allocated", {pk: -units for pk, units in deltas.items()})
        Allocation.objects.filter(pk__in=[a.pk for a in active]).update(released_at=timezone.now())
    _offer_to_backorders(order.client_id, {a.item_id for a in active})
    ledger.low_stock_check(order.client_id, {a.item_id for a in active})
    return len(active)


def _offer_to_backorders(client_id: int, item_ids: set[int]) -> None:
    """Units given back are stock that became available again: after commit, the backorders
    waiting for them get their chance (a cancelled order's units serve the next order)."""
    from .tasks import allocate_backorders

    ids = sorted(item_ids)
    transaction.on_commit(lambda: allocate_backorders.delay(client_id, ids))


def allocate_part(
    *,
    order: Order,
    line: OrderLine,
    item_id: int,
    quantity: int,
    nodes: list,
    exclude_balance_ids: frozenset[int] = frozenset(),
) -> list[Allocation]:
    """Reserve ``quantity`` more units of one item for one order line at ``nodes`` (in the order
    given: the first node is tried first), e.g. the shortfall of a short pick. Candidate balances
    are locked in primary-key order and taken FEFO/FIFO/pick path within each node, never beyond
    ``on_hand - allocated``. All or nothing: an empty list (nothing written) when ``nodes``
    cannot cover the whole quantity. The caller holds the order's row lock."""
    with transaction.atomic(), scope(client=order.client_id):
        balances = list(
            Balance.objects.select_for_update(of=("self",))
            .filter(
                client_id=order.client_id,
                item_id=item_id,
                warehouse__in=nodes,
                location__type__in=SELLABLE_LOCATION_TYPES,
                location__active=True,
                on_hand__gt=F("allocated"),
            )
            .exclude(pk__in=exclude_balance_ids)
            .select_related("location")
            .order_by("pk")
        )
        rank = {node.pk: i for i, node in enumerate(nodes)}
        balances.sort(
            key=lambda b: (
                rank[b.warehouse_id],
                *_pick_key(b.expiry_date, b.received_at, b.location.pick_sequence, b.pk),
            )
        )
        if sum(b.on_hand - b.allocated for b in balances) < quantity:
            return []
        rows, wanted = [], quantity
        for balance in balances:
            take = min(wanted, balance.on_hand - balance.allocated)
            if take <= 0:
                continue
            wanted -= take
            rows.append(
                Allocation(
                    client_id=order.client_id,
                    order=order,
                    line=line,
                    item_id=item_id,
                    balance=balance,
                    warehouse_id=balance.warehouse_id,
                    location_id=balance.location_id,
                    lot_code=balance.lot_code,
                    quantity=take,
                )
            )
            if wanted == 0:
                break
        for row in sorted(rows, key=lambda r: r.balance_id):
            Balance.objects.filter(pk=row.balance_id).update(allocated=F("allocated") + row.quantity)
        ledger.low_stock_check(order.client_id, {row.item_id for row in rows})
        return Allocation.objects.bulk_create(rows)
