"""Reads of the floor: waves with their progress, pick lists, pack sessions, packages and the box
proposal. Constant query counts per page (annotations and select_related, no per-row queries).

Who sees what: waves are the operator's (many brands' orders); a warehouse operator sees those
of the nodes they work at, an account manager those at the nodes of their clients, client roles
none (no WAVE_VIEW). Picks, pack sessions and packages are client rows: the client scope applies,
and warehouse operators see only their nodes' rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django_scopes import scope

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Client, Warehouse

from .cartonization import BoxProposal, NoBoxFits, split_into_boxes
from .enums import PickStatus, ShipmentStatus
from .models import BoxType, Package, PackageLine, PickTask, Shipment, ShortPick, Wave
from .services.packing import Unit, shipment_units
from .services.waves import OPEN_WAVE_STATUSES


def _node_q(actor: Actor, field: str = "warehouse") -> Q:
    """Warehouse operators: the nodes they work at; account managers: their clients' nodes."""
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        return Q(**{f"{field}__in": Warehouse.objects.filter(operators=actor.user)})
    if actor.role == Role.ACCOUNT_MANAGER:
        clients = Client.objects.filter(actor.client_q("pk"))
        return Q(**{f"{field}__in": Warehouse.objects.filter(clients__in=clients)})
    if actor.is_client:
        return Q(pk__in=[])
    return Q()


def floor_nodes(*, actor: Actor) -> QuerySet[Warehouse]:
    """The nodes the actor works at (every active node for other staff)."""
    nodes = Warehouse.objects.filter(active=True).order_by("code")
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        return nodes.filter(operators=actor.user)
    return nodes.filter(_node_q(actor, "pk"))


# --- waves ---------------------------------------------------------------------------------------


def _pick_totals(field: str, *, status: str | None = None, agg=Sum):
    """A subquery over a wave's live picks (not cancelled)."""
    picks = PickTask.objects.filter(wave=OuterRef("pk")).exclude(status=PickStatus.CANCELLED)
    if status:
        picks = picks.filter(status__in=status if isinstance(status, list | tuple) else [status])
    return Coalesce(
        Subquery(
            picks.order_by().values("wave").annotate(n=agg(field)).values("n"), output_field=IntegerField()
        ),
        Value(0),
    )


def with_progress(waves: QuerySet[Wave]) -> QuerySet[Wave]:
    """Picks done / total, units picked / total, shorts, orders: one query for any page. Picks
    are counted whatever their client: a wave's progress is the floor's, not a brand's."""
    return waves.annotate(
        picks_total=_pick_totals("pk", agg=Count),
        picks_done=_pick_totals("pk", status=[PickStatus.PICKED, PickStatus.SHORT], agg=Count),
        units_total=_pick_totals("quantity"),
        units_picked=_pick_totals("picked_quantity"),
        shorts=_pick_totals("pk", status=PickStatus.SHORT, agg=Count),
        order_count=_pick_totals("order", agg=lambda f: Count(f, distinct=True)),
    )


def wave_list(*, actor: Actor) -> QuerySet[Wave]:
    return with_progress(
        Wave.objects.filter(_node_q(actor))
        .select_related("warehouse", "assigned_to")
        .order_by("-created_at", "-pk")
    )


def open_waves(*, actor: Actor) -> QuerySet[Wave]:
    return wave_list(actor=actor).filter(status__in=OPEN_WAVE_STATUSES)


def wave_get(*, actor: Actor, pk) -> Wave:
    return get_object_or_404(wave_list(actor=actor), pk=pk)


# --- picks ---------------------------------------------------------------------------------------


def pick_list(*, actor: Actor) -> QuerySet[PickTask]:
    """Pick tasks of the clients the actor sees, in pick-path order within each wave."""
    return (
        PickTask.objects.filter(actor.client_q("client"))
        .filter(_node_q(actor))
        .select_related("wave", "order", "item", "location", "warehouse")
        .order_by("wave", "sequence", "pk")
    )


def pick_get(*, actor: Actor, pk) -> PickTask:
    return get_object_or_404(pick_list(actor=actor), pk=pk)


def wave_picks(*, actor: Actor, wave: Wave) -> QuerySet[PickTask]:
    return pick_list(actor=actor).filter(wave=wave)


def next_pick(*, actor: Actor, wave: Wave) -> PickTask | None:
    """The next open pick along the path."""
    return wave_picks(actor=actor, wave=wave).filter(status=PickStatus.OPEN).first()


def short_picks(*, actor: Actor, wave: Wave) -> QuerySet[ShortPick]:
    return (
        ShortPick.objects.filter(actor.client_q("client"), pick__wave=wave)
        .select_related("item", "location", "order", "count")
        .order_by("created_at", "pk")
    )


# --- pack sessions and packages --------------------------------------------------------------------


def pack_session_list(*, actor: Actor) -> QuerySet[Shipment]:
    """Shipments at the pack station (status packing: being packed, or packed and waiting for a
    label), with their package count."""
    packages = Package.objects.filter(shipment=OuterRef("pk")).order_by().values("shipment")
    return (
        Shipment.objects.filter(actor.client_q("client"), status=ShipmentStatus.PACKING)
        .filter(_node_q(actor))
        .select_related("order", "warehouse", "client")
        .annotate(
            package_count=Coalesce(
                Subquery(packages.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), Value(0)
            ),
            units_packed=Coalesce(
                Subquery(
                    PackageLine.objects.filter(package__shipment=OuterRef("pk"))
                    .order_by()
                    .values("package__shipment")
                    .annotate(n=Sum("quantity"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
        )
        .order_by("-created_at", "-pk")
    )


def pack_session_get(*, actor: Actor, pk) -> Shipment:
    return get_object_or_404(pack_session_list(actor=actor), pk=pk)


def package_list(*, actor: Actor) -> QuerySet[Package]:
    """Packages with their contents (brands see their own; operators their nodes')."""
    packages = Package.objects.filter(actor.client_q("client")).select_related(
        "shipment", "shipment__order", "shipment__warehouse", "box_type"
    )
    if actor.role == Role.WAREHOUSE_OPERATOR and actor.user:
        packages = packages.filter(_node_q(actor, "shipment__warehouse"))
    return packages.prefetch_related("lines__item").order_by("-created_at", "-pk")


def package_get(*, actor: Actor, pk) -> Package:
    return get_object_or_404(package_list(actor=actor), pk=pk)


def shipment_packages(*, shipment: Shipment) -> list[Package]:
    return list(
        Package.objects.filter(shipment=shipment)
        .select_related("box_type")
        .prefetch_related("lines__item")
        .order_by("number")
    )


def open_package(shipment: Shipment) -> Package | None:
    """The shipment's last open package (the one closing boxes), or None."""
    with scope(client=shipment.client_id):
        return Package.objects.filter(shipment=shipment, closed_at__isnull=True).order_by("-number").first()


def node_boxes(warehouse_id: int) -> list[BoxType]:
    return list(BoxType.objects.filter(warehouse_id=warehouse_id, active=True).order_by("code"))


@dataclass(frozen=True)
class Proposal:
    """What the pack station proposes for the units not yet in a closed package."""

    boxes: list[BoxProposal]
    message: str = ""

    @property
    def first(self) -> BoxProposal | None:
        return self.boxes[0] if self.boxes else None


def pack_proposal(shipment: Shipment, *, units: list[Unit] | None = None) -> Proposal:
    """The box(es) for what is left to box: picked units minus those in closed packages, through
    ``shipments.cartonization`` (one box when one holds everything, else a split)."""
    units = shipment_units(shipment) if units is None else units
    in_closed: dict[int, int] = defaultdict(int)
    for row in (
        PackageLine.objects.filter(package__shipment=shipment, package__closed_at__isnull=False)
        .values("item_id")
        .annotate(n=Sum("quantity"))
        .order_by()
    ):
        in_closed[row["item_id"]] += row["n"]
    per_item: dict[int, list] = {}
    for unit in units:
        entry = per_item.setdefault(unit.item.pk, [unit.item, 0])
        entry[1] += unit.picked
    contents = [(item, n - in_closed[item.pk]) for item, n in per_item.values() if n - in_closed[item.pk] > 0]
    if not contents:
        return Proposal([], "Everything is boxed.")
    boxes = node_boxes(shipment.warehouse_id)
    if not boxes:
        return Proposal([], "This node has no box in its catalog: enter the dimensions.")
    try:
        return Proposal(split_into_boxes(contents=contents, boxes=boxes))
    except NoBoxFits as exc:
        return Proposal([], f"{exc} Enter custom dimensions.")


def packing_order_by_code(*, actor: Actor, code: str):
    """The order a scanned order number (ORD-0000012) or external reference names, among those the
    actor sees; ``None`` when there is none (or several: ask for the order number)."""
    from orders.selectors import order_list

    code = (code or "").strip()
    if not code:
        return None
    orders = order_list(actor=actor)
    number = code.upper().removeprefix("ORD-")
    if number.isdigit() and code.upper().startswith("ORD-"):
        return orders.filter(pk=int(number)).first()
    found = list(orders.filter(external_reference=code)[:2])
    return found[0] if len(found) == 1 else None


def orders_ready_to_pack(*, actor: Actor, warehouse_ids: list[int]) -> QuerySet:
    """Orders with units staged at the actor's nodes and no open pick there (the pack queue)."""
    from orders.models import Allocation, Order

    staged = Allocation.objects.filter(
        order=OuterRef("pk"),
        warehouse_id__in=warehouse_ids,
        released_at__isnull=True,
        location__type="staging",
    )
    open_picks = PickTask.objects.filter(
        order=OuterRef("pk"), warehouse_id__in=warehouse_ids, status=PickStatus.OPEN
    )
    packing = Shipment.objects.filter(
        order=OuterRef("pk"), status=ShipmentStatus.PACKING, packed_at__isnull=False
    )
    return (
        Order.objects.filter(actor.client_q("client"))
        .filter(Exists(staged))
        .exclude(Exists(open_picks))
        .exclude(Exists(packing))
        .select_related("client")
        .order_by("ship_by", "pk")
    )
