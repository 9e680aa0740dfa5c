"""Every read of the inventory app, filtered for the actor, with constant query counts per page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Warehouse

from .enums import ASNStatus, LocationType
from .models import (
    ASN,
    ASNLine,
    Balance,
    CycleCount,
    CycleCountLine,
    InventorySnapshot,
    Item,
    KitComponent,
    Location,
    Move,
    Transfer,
)


def _node_filter(actor: Actor, field: str = "warehouse") -> Q:
    """Warehouse operators see the stock of their own nodes only."""
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        return Q(**{f"{field}__operators": actor.user})
    return Q()


# --- catalog -----------------------------------------------------------------------------------


def item_list(*, actor: Actor) -> QuerySet[Item]:
    on_hand = (
        Balance.objects.filter(item=OuterRef("pk"))
        .filter(_node_filter(actor))
        .order_by()
        .values("item")
        .annotate(n=Sum("on_hand"))
        .values("n")
    )
    available = (
        Balance.objects.filter(
            item=OuterRef("pk"), location__type__in=[LocationType.PICK, LocationType.RESERVE]
        )
        .filter(_node_filter(actor))
        .order_by()
        .values("item")
        .annotate(n=Sum(F("on_hand") - F("allocated")))
        .values("n")
    )
    return (
        Item.objects.all()
        .select_related("client")
        .prefetch_related(
            "barcodes", Prefetch("components", queryset=KitComponent.objects.select_related("component"))
        )
        .annotate(
            on_hand=Coalesce(Subquery(on_hand, output_field=IntegerField()), Value(0)),
            available=Coalesce(Subquery(available, output_field=IntegerField()), Value(0)),
        )
    )


def item_get(*, actor: Actor, pk) -> Item:
    return get_object_or_404(item_list(actor=actor), pk=pk)


def item_by_code(*, actor: Actor, code: str, client_id: int | None = None) -> Item:
    """The item a scanned barcode or typed SKU names, among the clients the actor sees (a staff
    member scanning in a shared bin may name the client when two brands share a code)."""
    from django.core.exceptions import ValidationError

    code = (code or "").strip()
    items = Item.objects.filter(Q(sku=code) | Q(barcodes__code=code)).distinct()
    if client_id is not None:
        items = items.filter(client_id=client_id)
    found = list(items[:2])
    if not found:
        raise ValidationError({"code": [f"No item with SKU or barcode “{code}”."]})
    if len(found) > 1:
        raise ValidationError({"client": [f"“{code}” names items of several clients: choose the client."]})
    return found[0]


@dataclass(frozen=True)
class NodeStock:
    warehouse_id: int
    warehouse_code: str
    on_hand: int
    allocated: int
    available: int


def item_stock_by_node(*, actor: Actor, item: Item) -> list[NodeStock]:
    """On hand, allocated and sellable available of one item per node; a kit's available is the
    minimum over its components of (component available // quantity per kit)."""
    if item.is_kit:
        parts = list(item.components.all())
        rows = sellable_totals(actor=actor).filter(item__in=[p.component_id for p in parts])
        available = {(r["warehouse_id"], r["item_id"]): r["available"] for r in rows}
        codes = {r["warehouse_id"]: r["warehouse__code"] for r in rows}
        return [
            NodeStock(w, code, 0, 0, min(available.get((w, p.component_id), 0) // p.quantity for p in parts))
            for w, code in sorted(codes.items())
        ]
    # Iterate the grouped rows as they are: a bare ``.values()`` here would regroup by balance.
    sellable = {r["warehouse_id"]: r["available"] for r in sellable_totals(actor=actor).filter(item=item)}
    return [
        NodeStock(
            r["warehouse_id"],
            r["warehouse__code"],
            r["on_hand"],
            r["allocated"],
            sellable.get(r["warehouse_id"], 0),
        )
        for r in balance_totals(actor=actor).filter(item=item)
    ]


# --- balances and the ledger -------------------------------------------------------------------


def balance_list(*, actor: Actor) -> QuerySet[Balance]:
    return (
        Balance.objects.filter(_node_filter(actor))
        .select_related("item", "warehouse", "location", "client")
        .annotate(available=F("on_hand") - F("allocated"))
    )


def balance_get(*, actor: Actor, pk) -> Balance:
    return get_object_or_404(balance_list(actor=actor), pk=pk)


def balance_totals(
    *, actor: Actor, sellable_only: bool = False, balances: QuerySet | None = None
) -> QuerySet:
    """Totals per client x item x node (every location type, or only sellable pick and reserve bins)."""
    qs = Balance.objects.filter(_node_filter(actor)) if balances is None else balances
    if sellable_only:
        qs = qs.filter(location__type__in=[LocationType.PICK, LocationType.RESERVE])
    return (
        qs.order_by()
        .values("client_id", "item_id", "item__sku", "warehouse_id", "warehouse__code")
        .annotate(
            total_on_hand=Sum("on_hand"),
            total_allocated=Sum("allocated"),
        )
        .annotate(on_hand=F("total_on_hand"), allocated=F("total_allocated"))
        .annotate(available=F("total_on_hand") - F("total_allocated"))
        .values(
            "client_id",
            "item_id",
            "item__sku",
            "warehouse_id",
            "warehouse__code",
            "on_hand",
            "allocated",
            "available",
        )
        .order_by("item__sku", "warehouse__code")
    )


def sellable_totals(*, actor: Actor) -> QuerySet:
    """Totals per item x node over sellable (pick and reserve) locations: what orders can take."""
    return balance_totals(actor=actor, sellable_only=True)


def move_list(*, actor: Actor) -> QuerySet[Move]:
    return Move.objects.filter(_node_filter(actor)).select_related("item", "warehouse", "location")


def move_get(*, actor: Actor, pk) -> Move:
    return get_object_or_404(move_list(actor=actor), pk=pk)


def transfer_list(*, actor: Actor) -> QuerySet[Transfer]:
    node = Q()
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        node = Q(from_warehouse__operators=actor.user) | Q(to_warehouse__operators=actor.user)
    return (
        Transfer.objects.filter(node)
        .distinct()
        .select_related("item", "from_warehouse", "to_warehouse", "from_location", "to_location")
    )


# --- locations ---------------------------------------------------------------------------------


def location_list(*, actor: Actor) -> QuerySet[Location]:
    stock = (
        Balance.objects.filter(location=OuterRef("pk"))
        .order_by()
        .values("location")
        .annotate(n=Sum("on_hand"))
        .values("n")
    )
    return (
        Location.objects.filter(_node_filter(actor))
        .select_related("warehouse")
        .annotate(units=Coalesce(Subquery(stock, output_field=IntegerField()), Value(0)))
    )


def location_get(*, actor: Actor, pk) -> Location:
    return get_object_or_404(location_list(actor=actor), pk=pk)


def putaway_suggestions(*, item: Item, warehouse_id: int, limit: int = 5) -> list[Location]:
    """Where to put an item: its existing pick bins (pick-path order), then its reserve bins,
    then empty pick bins, then empty reserve bins.

    A bin's emptiness is physical: stock of any client counts, whatever the caller's scope (the
    joins below go through ``Location``, which is not client-scoped)."""
    pick_first = Case(When(type=LocationType.PICK, then=Value(0)), default=Value(1))
    sellable = Location.objects.filter(
        warehouse_id=warehouse_id, active=True, type__in=[LocationType.PICK, LocationType.RESERVE]
    )
    holding = list(
        sellable.filter(
            pk__in=Location.objects.filter(balances__item=item, balances__on_hand__gt=0).values("pk")
        ).order_by(pick_first, "pick_sequence", "code")[:limit]
    )
    if len(holding) >= limit:
        return holding
    empty = (
        sellable.exclude(pk__in=[loc.pk for loc in holding])
        .exclude(balances__on_hand__gt=0)
        .order_by(pick_first, "pick_sequence", "code")[: limit - len(holding)]
    )
    return holding + list(empty)


# --- ASNs --------------------------------------------------------------------------------------


def asn_list(*, actor: Actor) -> QuerySet[ASN]:
    totals = ASNLine.objects.filter(asn=OuterRef("pk")).order_by().values("asn")
    return (
        ASN.objects.filter(_node_filter(actor))
        .select_related("client", "warehouse")
        .annotate(
            line_count=Coalesce(
                Subquery(totals.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
            ),
            expected_units=Coalesce(
                Subquery(
                    totals.annotate(n=Sum("expected_quantity")).values("n"), output_field=IntegerField()
                ),
                0,
            ),
            received_units=Coalesce(
                Subquery(
                    totals.annotate(n=Sum(F("received_quantity") + F("damaged_quantity"))).values("n"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            putaway_units=Coalesce(
                Subquery(totals.annotate(n=Sum("putaway_quantity")).values("n"), output_field=IntegerField()),
                0,
            ),
            **_waiting_orders(),
        )
    )


def _waiting_orders() -> dict:
    """Backordered orders of the ASN's client that need an item on the ASN (directly or through a
    kit): how many, and their value. Read from the orders app by name, which depends on this one."""
    from django.apps import apps
    from django.db.models import DecimalField, ExpressionWrapper

    if not apps.is_installed("orders"):
        return {}
    order_model = apps.get_model("orders", "Order")
    line_model = apps.get_model("orders", "OrderLine")
    asn_items = ASNLine.objects.filter(asn=OuterRef(OuterRef("pk"))).values("item")
    waiting = order_model.objects.filter(client=OuterRef("client"), status="backordered").filter(
        Q(lines__item__in=asn_items) | Q(lines__item__components__component__in=asn_items)
    )
    value = ExpressionWrapper(
        F("unit_price") * F("quantity"), output_field=DecimalField(max_digits=19, decimal_places=4)
    )
    return {
        "waiting_orders": Coalesce(
            Subquery(
                waiting.order_by().values("client").annotate(n=Count("pk", distinct=True)).values("n"),
                output_field=IntegerField(),
            ),
            0,
        ),
        "waiting_value": Coalesce(
            Subquery(
                line_model.objects.filter(order__in=waiting.values("pk"))
                .order_by()
                .values("client")
                .annotate(v=Sum(value))
                .values("v"),
                output_field=DecimalField(max_digits=19, decimal_places=4),
            ),
            Value(0, output_field=DecimalField(max_digits=19, decimal_places=4)),
        ),
    }


def asn_get(*, actor: Actor, pk) -> ASN:
    asn = get_object_or_404(asn_list(actor=actor), pk=pk)
    return asn


def asn_detail_prefetch(queryset: QuerySet[ASN]) -> QuerySet[ASN]:
    return queryset.prefetch_related(
        Prefetch("lines", queryset=ASNLine.objects.select_related("item").order_by("pk")),
        "milestones",
        "events",
    )


def open_discrepancies(*, actor: Actor) -> QuerySet[ASNLine]:
    """Discrepant ASN lines: while receiving, what is already certain (over, damaged, unexpected);
    once receiving is finished (received, closed), shorts as well."""
    counted = F("received_quantity") + F("damaged_quantity")
    certain = Q(unexpected=True) | Q(damaged_quantity__gt=0) | Q(expected_quantity__lt=counted)
    finished = Q(asn__status__in=[ASNStatus.RECEIVED, ASNStatus.CLOSED]) & Q(expected_quantity__gt=counted)
    return (
        ASNLine.objects.filter(asn__status__in=[ASNStatus.RECEIVING, ASNStatus.RECEIVED, ASNStatus.CLOSED])
        .filter(_node_filter(actor, "asn__warehouse"))
        .filter(certain | finished)
        .select_related("asn", "asn__warehouse", "item", "client")
        .order_by("-asn__created_at", "pk")
    )


# --- counts ------------------------------------------------------------------------------------


def count_list(*, actor: Actor) -> QuerySet[CycleCount]:
    counted = CycleCountLine.objects.filter(count=OuterRef("pk")).order_by().values("count")
    return (
        CycleCount.objects.filter(_node_filter(actor))
        .select_related("warehouse")
        .annotate(
            line_count=Coalesce(
                Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
            ),
            counted_lines=Coalesce(
                Subquery(
                    counted.filter(counted_quantity__isnull=False).annotate(n=Count("pk")).values("n"),
                    output_field=IntegerField(),
                ),
                0,
            ),
        )
    )


def count_get(*, actor: Actor, pk) -> CycleCount:
    return get_object_or_404(count_list(actor=actor), pk=pk)


def count_lines(*, count: CycleCount) -> QuerySet[CycleCountLine]:
    return count.lines.select_related("item", "location", "client")


# --- integrity and history ---------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerDifference:
    balance_id: int
    on_hand: int
    ledger_sum: int
    allocated: int = 0
    client_id: int | None = None
    sku: str = ""
    location_code: str = ""


def ledger_differences() -> list[LedgerDifference]:
    """Every balance whose on hand differs from the sum of its moves, or whose allocation is out of
    bounds (operator-wide, set-based: one query whatever the size of the ledger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT b.id, b.on_hand, COALESCE(m.total, 0), b.allocated, b.client_id, i.sku, l.code
            FROM inventory_balance b
            JOIN inventory_item i ON i.id = b.item_id
            JOIN inventory_location l ON l.id = b.location_id
            LEFT JOIN (SELECT balance_id, SUM(quantity) AS total FROM inventory_move GROUP BY balance_id) m
                   ON m.balance_id = b.id
            WHERE b.on_hand <> COALESCE(m.total, 0) OR b.allocated < 0 OR b.allocated > b.on_hand
               OR b.on_hand < 0
            ORDER BY b.id
            """
        )
        return [LedgerDifference(*row) for row in cursor.fetchall()]


def moves_off_their_balance() -> list[int]:
    """Moves whose client, item, node, location or lot differ from those of the balance they
    changed: a ledger read by item or by location would then disagree with the balances."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT m.id
            FROM inventory_move m JOIN inventory_balance b ON b.id = m.balance_id
            WHERE m.client_id <> b.client_id OR m.item_id <> b.item_id OR m.warehouse_id <> b.warehouse_id
               OR m.location_id <> b.location_id OR m.lot_code <> b.lot_code
            ORDER BY m.id
            """
        )
        return [row[0] for row in cursor.fetchall()]


def snapshot_history(*, actor: Actor, since: date) -> QuerySet[InventorySnapshot]:
    return InventorySnapshot.objects.filter(_node_filter(actor), date__gte=since).select_related(
        "item", "warehouse"
    )


def local_midnight(warehouse: Warehouse, now: datetime) -> datetime:
    """The most recent local midnight of a node, as an aware datetime."""
    local = now.astimezone(ZoneInfo(warehouse.time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def days_back(day: date, n: int) -> list[date]:
    return [day - timedelta(days=i) for i in range(n, 0, -1)]


# --- pages (inventory.views) -------------------------------------------------------------------


def asn_lines(*, asn: ASN) -> QuerySet:
    return asn.lines.select_related("item").order_by("pk")


def asn_receipts(*, asn: ASN) -> QuerySet:
    return asn.receipts.select_related("item", "location", "line").order_by("-created_at", "-pk")


def asns_awaiting_putaway(*, actor: Actor) -> QuerySet[ASN]:
    """ASNs with good units received at the dock that are not put away yet (``waiting_units`` annotated)."""
    good = (
        ASNLine.objects.filter(asn=OuterRef("pk"))
        .order_by()
        .values("asn")
        .annotate(n=Sum("received_quantity"))
        .values("n")
    )
    return (
        asn_list(actor=actor)
        .filter(status__in=[ASNStatus.RECEIVING, ASNStatus.RECEIVED, ASNStatus.CLOSED])
        .annotate(good_units=Coalesce(Subquery(good, output_field=IntegerField()), 0))
        .annotate(waiting_units=F("good_units") - F("putaway_units"))
        .filter(waiting_units__gt=0)
    )


def location_by_code(*, actor: Actor, warehouse_id: int, code: str) -> Location | None:
    """A scanned or typed bin code at one node (codes are stored upper-case)."""
    code = (code or "").strip()
    if not code:
        return None
    return location_list(actor=actor).filter(warehouse_id=warehouse_id, code__iexact=code).first()
