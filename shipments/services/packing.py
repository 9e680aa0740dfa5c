"""The pack station: every picked unit verified by scan into packages, boxed and weighed.

A shipment (status ``packing``) is the pack session of one order at one node. What it may hold is
exactly what was picked for the order there: the order's active reservations at the node's
staging locations (THE STOCK CONTRACT in README ``## Shipping``). Packing moves no stock: the
units stay reserved at staging until the shipment leaves (``shipments.services.shipping``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from accounts.models import Warehouse
from accounts.roles import Perm
from accounts.services import audit_record
from inventory import services as inventory_services
from inventory.enums import SELLABLE_LOCATION_TYPES, LocationType
from inventory.models import Item
from orders.enums import OrderStatus
from orders.models import Allocation, Order
from orders.services import transition as order_transition

from .. import rates
from ..enums import PickStatus, ShipmentStatus
from ..models import BoxType, Package, PackageLine, PickTask, Shipment
from .waves import require_node

DEFAULT_DIM_DIVISOR = 139  # DOMAIN.md's common daily divisor, until a carrier is chosen
PACKABLE_ORDER_STATUSES = (OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED)


@dataclass(frozen=True)
class Unit:
    """Units of one order line (and lot) picked for a shipment, and how many are packed."""

    line_id: int
    item: Item
    lot_code: str
    picked: int
    packed: int

    @property
    def left(self) -> int:
        return self.picked - self.packed


def staged_allocations(order_id: int, warehouse_id: int):
    """The order's units picked and waiting at the node's staging locations."""
    return Allocation.objects.filter(
        order_id=order_id,
        warehouse_id=warehouse_id,
        released_at__isnull=True,
        location__type=LocationType.STAGING,
    )


def shipment_units(shipment: Shipment) -> list[Unit]:
    """Picked vs packed per (order line, item, lot), in line order (two queries). The caller holds
    the shipment's client scope."""
    picked: dict[tuple[int, int, str], int] = defaultdict(int)
    rows = (
        staged_allocations(shipment.order_id, shipment.warehouse_id)
        .values("line_id", "item_id", "lot_code")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    for row in rows:
        picked[(row["line_id"], row["item_id"], row["lot_code"] or "")] += row["n"]
    packed: dict[tuple[int, int, str], int] = defaultdict(int)
    rows = (
        PackageLine.objects.filter(package__shipment=shipment)
        .values("line_id", "item_id", "lot_code")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    for row in rows:
        packed[(row["line_id"], row["item_id"], row["lot_code"] or "")] += row["n"]
    keys = sorted(set(picked) | set(packed))
    items = Item.objects.in_bulk({k[1] for k in keys})
    return [Unit(k[0], items[k[1]], k[2], picked.get(k, 0), packed.get(k, 0)) for k in keys]


def _lock_shipment(shipment: Shipment) -> Shipment:
    with scope(client=shipment.client_id):
        return (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("order", "warehouse", "client")
            .get(pk=shipment.pk)
        )


def _open_session(actor: Actor, shipment: Shipment) -> Shipment:
    actor.require(Perm.FULFILL, client_id=shipment.client_id)
    require_node(actor, shipment.warehouse_id)
    shipment = _lock_shipment(shipment)
    if shipment.status != ShipmentStatus.PACKING:
        raise ValidationError({"status": [f"{shipment.number} has its label: it is no longer being packed."]})
    if shipment.packed_at is not None:
        raise ValidationError({"status": [f"{shipment.number} is packed already."]})
    return shipment


def ready_to_pack(order_id: int, warehouse_id: int) -> str:
    """Why the order's part at this node cannot be packed yet ('' when it can)."""
    if PickTask.objects.filter(order_id=order_id, warehouse_id=warehouse_id, status=PickStatus.OPEN).exists():
        return "it still has picks open at this node"
    unpicked = Allocation.objects.filter(
        order_id=order_id,
        warehouse_id=warehouse_id,
        released_at__isnull=True,
        location__type__in=SELLABLE_LOCATION_TYPES,
    )
    if unpicked.exists():
        return "units reserved for it at this node are not picked yet"
    if not staged_allocations(order_id, warehouse_id).exists():
        return "nothing was picked for it at this node"
    return ""


@transaction.atomic
def pack_start(*, actor: Actor, order: Order, warehouse: Warehouse) -> Shipment:
    """Open (or resume) the pack session of an order at a node once everything there is picked."""
    actor.require(Perm.FULFILL, client_id=order.client_id)
    require_node(actor, warehouse.pk)
    with scope(client=order.client_id):
        order = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        existing = Shipment.objects.filter(
            order=order, warehouse=warehouse, status=ShipmentStatus.PACKING
        ).first()
        if existing is not None:
            return existing
        if order.status not in PACKABLE_ORDER_STATUSES:
            raise ValidationError(
                {"order": [f"{order.number} is {order.get_status_display().lower()}: it cannot be packed."]}
            )
        why = ready_to_pack(order.pk, warehouse.pk)
        if why:
            raise ValidationError({"order": [f"{order.number} cannot be packed yet: {why}."]})
        try:
            with transaction.atomic():
                shipment = Shipment.objects.create(
                    client_id=order.client_id, order=order, warehouse=warehouse, status=ShipmentStatus.PACKING
                )
        except IntegrityError:  # one_open_shipment_per_order_node: opened concurrently
            return Shipment.objects.get(order=order, warehouse=warehouse, status=ShipmentStatus.PACKING)
    audit_record(
        actor=actor, action="shipment.pack_started", target=shipment, client_id=order.client_id, changes={}
    )
    return shipment


def _current_package(shipment: Shipment, package: Package | None) -> Package:
    """The package named (it must be this shipment's and open), else the last open one, else a
    new one."""
    if package is not None:
        package = (
            Package.objects.select_for_update(of=("self",)).filter(pk=package.pk, shipment=shipment).first()
        )
        if package is None:
            raise ValidationError({"package": ["No such package in this shipment."]})
        if package.closed_at is not None:
            raise ValidationError({"package": [f"Package {package.number} is closed."]})
        return package
    package = Package.objects.filter(shipment=shipment, closed_at__isnull=True).order_by("-number").first()
    return package or _new_package(shipment)


def _new_package(shipment: Shipment) -> Package:
    number = (Package.objects.filter(shipment=shipment).aggregate(n=Max("number"))["n"] or 0) + 1
    return Package.objects.create(client_id=shipment.client_id, shipment=shipment, number=number)


@transaction.atomic
def pack_scan(
    *, actor: Actor, shipment: Shipment, code: str, quantity: int = 1, package: Package | None = None
) -> PackageLine:
    """One scanned unit (or ``quantity`` for a case) into the current package. An item that is not
    in the order, or more units than were picked for it, is refused (400 naming ``code``)."""
    shipment = _open_session(actor, shipment)
    quantity = inventory_services.positive_whole(quantity)
    with scope(client=shipment.client_id):
        item = inventory_services.client_item(shipment.client_id, sku=code, field_name="code")
        units = [u for u in shipment_units(shipment) if u.item.pk == item.pk]
        if not units:
            raise ValidationError({"code": [f"{item.sku} is not in order {shipment.order.number}."]})
        left = sum(u.left for u in units)
        if left <= 0:
            picked = sum(u.picked for u in units)
            raise ValidationError(
                {"code": [f"All {picked} picked unit(s) of {item.sku} are packed already."]}
            )
        if quantity > left:
            raise ValidationError(
                {"quantity": [f"Only {left} unit{'s' if left != 1 else ''} of {item.sku} left to pack."]}
            )
        box = _current_package(shipment, package)
        line = None
        for unit in units:
            take = min(quantity, unit.left)
            if take <= 0:
                continue
            quantity -= take
            line, created = PackageLine.objects.select_for_update().get_or_create(
                package=box,
                line_id=unit.line_id,
                item=item,
                lot_code=unit.lot_code,
                defaults={"client_id": shipment.client_id, "quantity": take},
            )
            if not created:
                PackageLine.objects.filter(pk=line.pk).update(quantity=F("quantity") + take)
                line.refresh_from_db(fields=["quantity"])
            if quantity == 0:
                break
        return line


def _decimal(value, name: str, *, required: bool) -> Decimal | None:
    if value in (None, ""):
        if required:
            raise ValidationError({name: ["This field is required."]})
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({name: ["Enter a number."]}) from None
    if not number.is_finite() or number <= 0:
        raise ValidationError({name: ["Must be greater than zero."]})
    if number >= Decimal("100000"):
        raise ValidationError({name: ["Too large."]})
    return number


@transaction.atomic
def package_close(
    *,
    actor: Actor,
    package: Package,
    box_type: BoxType | None = None,
    weight_lb,
    length_in=None,
    width_in=None,
    height_in=None,
) -> Package:
    """Box and weigh a package: a box of the node's catalog or custom dimensions, and the scale's
    weight. Billable weight uses the common divisor until the label's carrier sets its own."""
    shipment = _open_session(actor, package.shipment)
    weight = _decimal(weight_lb, "weight_lb", required=True)
    with scope(client=shipment.client_id):
        package = Package.objects.select_for_update(of=("self",)).get(pk=package.pk, shipment=shipment)
        if package.closed_at is not None:
            raise ValidationError({"package": [f"Package {package.number} is closed already."]})
        if not PackageLine.objects.filter(package=package).exists():
            raise ValidationError({"package": [f"Package {package.number} is empty: scan its units first."]})
    if box_type is not None:
        if box_type.warehouse_id != shipment.warehouse_id or not box_type.active:
            raise ValidationError({"box_type": ["Choose an active box of this node."]})
        dims = (box_type.length_in, box_type.width_in, box_type.height_in)
    else:
        dims = tuple(
            _decimal(v, name, required=True)
            for v, name in ((length_in, "length_in"), (width_in, "width_in"), (height_in, "height_in"))
        )
    package.box_type = box_type
    package.length_in, package.width_in, package.height_in = dims
    package.weight_lb = weight
    package.billable_weight_lb = Decimal(rates.billable_weight(weight, *dims, DEFAULT_DIM_DIVISOR))
    package.closed_at = timezone.now()
    with scope(client=shipment.client_id):
        package.save()
    return package


@transaction.atomic
def package_open_next(*, actor: Actor, shipment: Shipment) -> Package:
    """Start the next package (an open package that is still empty is reused)."""
    shipment = _open_session(actor, shipment)
    with scope(client=shipment.client_id):
        empty = (
            Package.objects.filter(shipment=shipment, closed_at__isnull=True, lines__isnull=True)
            .order_by("number")
            .first()
        )
        return empty or _new_package(shipment)


@transaction.atomic
def pack_complete(*, actor: Actor, shipment: Shipment) -> Shipment:
    """Every picked unit packed and every package closed: the shipment is packed and waits for its
    label. The order is packed when all its parts are."""
    shipment = _open_session(actor, shipment)
    with scope(client=shipment.client_id):
        problems = []
        for unit in shipment_units(shipment):
            if unit.left > 0:
                problems.append(f"{unit.left} x {unit.item.sku} not packed")
        packages = list(Package.objects.filter(shipment=shipment).order_by("number"))
        if not packages:
            problems.append("no package")
        problems += [f"package {p.number} not closed" for p in packages if p.closed_at is None]
        if problems:
            raise ValidationError(
                {"packages": [f"{shipment.number} is not complete: {'; '.join(problems)}."]}
            )
        shipment.packed_at = timezone.now()
        shipment.save(update_fields=["packed_at", "updated_at"])
        order = Order.objects.select_for_update(of=("self",)).get(pk=shipment.order_id)
        if order.status == OrderStatus.PICKING and order_parts_packed(order.pk):
            order_transition(
                actor=actor, order=order, to=OrderStatus.PACKED, reason=f"packed: {shipment.number}"
            )
    audit_record(
        actor=actor,
        action="shipment.packed",
        target=shipment,
        client_id=shipment.client_id,
        changes={"packages": len(packages)},
    )
    return shipment


def order_parts_packed(order_id: int) -> bool:
    """No pick open, nothing reserved outside staging, and every node holding staged units has a
    packed (or labelled) shipment."""
    if PickTask.objects.filter(order_id=order_id, status=PickStatus.OPEN).exists():
        return False
    active = Allocation.objects.filter(order_id=order_id, released_at__isnull=True)
    if active.exclude(location__type=LocationType.STAGING).exists():
        return False
    shipments = Shipment.objects.filter(order_id=order_id).exclude(
        status=ShipmentStatus.PACKING, packed_at__isnull=True
    )
    packed_nodes = set(shipments.values_list("warehouse_id", flat=True))
    return set(active.values_list("warehouse_id", flat=True)) <= packed_nodes
