"""Routing and allocation: reserve balances for an order without ever promising a unit twice.

The order row is locked first, then every candidate balance in one ``SELECT ... FOR UPDATE``
ordered by primary key (so two allocations never wait on each other in a cycle). The plan is made
from the locked rows, every shortfall collected, and the reservations written at once with ``F()``
updates; the CHECK constraint ``allocated <= on_hand`` is the last line of defence.

Routing (DOMAIN.md): the nearest node that can fill the whole order; else a split across nodes
(nearest first) when the client allows it; else the order is backordered. Within a node: FEFO for
expiry-tracked lots, then FIFO (earliest received), then the pick path.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from inventory import ledger
from inventory.enums import SELLABLE_LOCATION_TYPES
from inventory.models import Balance, KitComponent

from . import clock
from .enums import OrderStatus
from .models import Allocation, Order, OrderLine


@dataclass(frozen=True)
class Part:
    """Units of one item that one order line needs (a kit line needs each of its components)."""

    line: OrderLine
    item_id: int
    quantity: int


def order_parts(order: Order) -> list[Part]:
    lines = list(order.lines.select_related("item").order_by("pk"))
    kits = [line.item_id for line in lines if line.item and line.item.is_kit]
    components = defaultdict(list)
    for c in KitComponent.objects.filter(kit_id__in=kits).order_by("pk"):
        components[c.kit_id].append(c)
    parts = []
    for line in lines:
        if line.item.is_kit:
            parts += [
                Part(line, c.component_id, c.quantity * line.quantity) for c in components[line.item_id]
            ]
        else:
            parts.append(Part(line, line.item_id, line.quantity))
    return parts


def _pick_order(balance: Balance) -> tuple:
    """FEFO (no expiry last), then FIFO, then the pick path."""
    return (
        balance.expiry_date is None,
        balance.expiry_date or timezone.now().date(),
        balance.received_at is None,
        balance.received_at or timezone.now(),
        balance.location.pick_sequence,
        balance.pk,
    )


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
        for balance_id in sorted(deltas):
            Balance.objects.filter(pk=balance_id).update(allocated=F("allocated") - deltas[balance_id])
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


def _shortfall_reason(parts: list[Part], needs: dict[int, int], nodes: list, free) -> str:
    """Name the order's SKUs (a kit line by its own SKU) that no single node, or no node at all,
    can cover."""
    total = {i: sum(free(n.pk, i) for n in nodes) for i in needs}
    best = {i: max((free(n.pk, i) for n in nodes), default=0) for i in needs}
    short = [i for i, q in needs.items() if total[i] < q]
    if short:
        skus = dict.fromkeys(p.line.sku for p in parts if p.item_id in short)
        return f"short: {', '.join(skus)}"
    split = dict.fromkeys(p.line.sku for p in parts if best[p.item_id] < needs[p.item_id])
    if split:
        return f"no single node can fill it (splits not allowed): {', '.join(split)}"
    return "no single node can fill the whole order (splits not allowed)"


def allocate(*, actor: Actor, order: Order) -> str:
    """Route and allocate a received or backordered order. Returns the order's status afterwards
    (or its unchanged status when it is not waiting for allocation). Idempotent."""
    from .services import transition  # services import this module

    with transaction.atomic(), scope(client=order.client_id):
        order = Order.objects.select_for_update(of=("self",)).select_related("client").get(pk=order.pk)
        if order.status not in (OrderStatus.RECEIVED, OrderStatus.BACKORDERED):
            return order.status
        if (
            order.holds.filter(released_at__isnull=True).exists()
            or order.lines.filter(item__isnull=True).exists()
        ):
            return order.status
        parts = order_parts(order)
        needs: dict[int, int] = defaultdict(int)
        for part in parts:
            needs[part.item_id] += part.quantity
        nodes = clock.nodes_by_distance(order.client, order.ship_to_zip)
        balances = list(
            Balance.objects.select_for_update(of=("self",))
            .filter(
                client_id=order.client_id,
                item_id__in=needs,
                warehouse__in=nodes,
                location__type__in=SELLABLE_LOCATION_TYPES,
                location__active=True,
                on_hand__gt=F("allocated"),
            )
            .select_related("location")
            .order_by("pk")
        )
        stock: dict[tuple[int, int], list[Balance]] = defaultdict(list)
        for balance in sorted(balances, key=_pick_order):
            stock[(balance.warehouse_id, balance.item_id)].append(balance)

        def free(node_id: int, item_id: int) -> int:
            return sum(b.on_hand - b.allocated for b in stock[(node_id, item_id)])

        route = next(
            ([node] for node in nodes if all(free(node.pk, i) >= q for i, q in needs.items())),
            None,
        )
        enough_overall = all(sum(free(node.pk, i) for node in nodes) >= q for i, q in needs.items())
        if route is None and order.client.allow_split_shipments and enough_overall:
            route = nodes
        if route is None:
            if order.status == OrderStatus.RECEIVED:
                order.ever_backordered = True
                transition(
                    actor=actor,
                    order=order,
                    to=OrderStatus.BACKORDERED,
                    reason=_shortfall_reason(parts, needs, nodes, free)[:500],
                )
            return order.status

        deltas: dict[int, int] = defaultdict(int)
        rows = []
        used_nodes = []
        for part in parts:
            wanted = part.quantity
            for node in route:
                for balance in stock[(node.pk, part.item_id)]:
                    take = min(wanted, balance.on_hand - balance.allocated - deltas[balance.pk])
                    if take <= 0:
                        continue
                    deltas[balance.pk] += take
                    wanted -= take
                    rows.append(
                        Allocation(
                            client_id=order.client_id,
                            order=order,
                            line=part.line,
                            item_id=part.item_id,
                            balance=balance,
                            warehouse_id=balance.warehouse_id,
                            location_id=balance.location_id,
                            lot_code=balance.lot_code,
                            quantity=take,
                        )
                    )
                    if node not in used_nodes:
                        used_nodes.append(node)
                    if wanted == 0:
                        break
                if wanted == 0:
                    break
            if wanted:
                raise RuntimeError(
                    f"allocation plan for {order.number} left {wanted} units of item {part.item_id}"
                )
        for balance_id in sorted(deltas):
            Balance.objects.filter(pk=balance_id).update(allocated=F("allocated") + deltas[balance_id])
        Allocation.objects.bulk_create(rows)
        ledger.low_stock_check(order.client_id, needs)
        now = timezone.now()
        was_backordered = order.status == OrderStatus.BACKORDERED
        order.warehouse = used_nodes[0]
        order.allocated_at = now
        if was_backordered:
            order.released_at = now  # released from backorder: the SLA clock restarts (DOMAIN.md)
        order.ship_by = clock.ship_by(
            client=order.client,
            warehouse=order.warehouse,
            released_at=order.released_at or order.received_at,
            service_level=order.service_level,
        )
        nodes_label = ", ".join(n.code for n in used_nodes)
        transition(actor=actor, order=order, to=OrderStatus.ALLOCATED, reason=f"at {nodes_label}")
        return order.status


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
        balances.sort(key=lambda b: (rank[b.warehouse_id], *_pick_order(b)))
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
