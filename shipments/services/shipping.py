"""Labels, voids, scan-out and end-of-day manifests: the services that turn a packed shipment into
a parcel with the carrier, and take its units off the books.

The stock contract (shared with picking and packing): a pick moves units from a bin to the node's
staging location and reserves them there again as an active allocation (same order, line, item
and lot). Shipping releases those staged reservations for the units in the shipment's packages
and posts one SHIP move per staging balance, through the ledger. Nothing else changes stock here.

Every service locks the shipment row first (``select_for_update``): two clicks on "Buy label"
buy one label, and a parcel scanned out twice ships once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Warehouse
from accounts.roles import Perm
from accounts.services import audit_record
from fulfillment.calendar import BusinessCalendar
from inventory.enums import LocationType, MoveReason
from inventory.ledger import Document, lock_balances, post_move
from inventory.models import Balance
from orders.enums import OrderStatus, OrderType
from orders.models import Allocation, Order
from orders.services import transition as order_transition

from ..carriers import CarrierError, adapter_for, quote_all
from ..enums import SHIPPED_STATUSES, PickStatus, ShipmentStatus, TrackingSource, TrackingStatus
from ..models import (
    Carrier,
    CarrierService,
    Manifest,
    Package,
    PackageLine,
    PickTask,
    Shipment,
    TrackingEvent,
    VoidedLabel,
)
from ..rates import NoRate, Parcel, Quote, shop
from .status import shipment_transition


def _stamp(actor: Actor) -> dict:
    return {"actor_user": actor.user, "actor_api_key": actor.api_key, "actor_label": actor.label[:200]}


def require_node_access(actor: Actor, warehouse_id: int) -> None:
    """Warehouse operators work only in their own nodes."""
    if actor.role == Role.WAREHOUSE_OPERATOR and not (
        actor.user and actor.user.warehouses.filter(pk=warehouse_id).exists()
    ):
        raise PermissionDenied("You do not work at this node.")


def _require_fulfill(actor: Actor, shipment: Shipment) -> None:
    actor.require(Perm.FULFILL, client_id=shipment.client_id)
    require_node_access(actor, shipment.warehouse_id)


def lock_shipment(shipment: Shipment | int, client_id: int | None = None) -> Shipment:
    """The shipment's row, locked, with what the services read next (order, node, carrier)."""
    pk = shipment if isinstance(shipment, int) else shipment.pk
    client_id = client_id if client_id is not None else shipment.client_id
    with scope(client=client_id):
        return (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("order", "warehouse", "carrier", "service")
            .get(pk=pk)
        )


def _status_error(shipment: Shipment, doing: str) -> ValidationError:
    return ValidationError(
        {"status": [f"{shipment.number} is {shipment.get_status_display().lower()}: cannot {doing}."]}
    )


# --- buying a label ------------------------------------------------------------------------------


def _explicit_service(order: Order) -> tuple[CarrierService | None, str]:
    """The service the order asked for, and a note when its words name none.

    ``carrier:service`` is an integration's explicit choice: unknown is a 400 naming
    ``carrier_service``. A bare word is either a service code (``ground``; ambiguous across
    carriers is a 400) or a storefront's shipping-method title (Shopify sends "Standard
    Shipping"): that names no service, so the shipment is rate-shopped by its service level and
    the note says so."""
    wanted = (order.carrier_service or "").strip()
    if not wanted:
        return None, ""
    services = CarrierService.objects.filter(active=True, carrier__active=True).select_related("carrier")
    if ":" in wanted:
        carrier_code, _, service_code = wanted.partition(":")
        found = list(services.filter(carrier__code=carrier_code.strip(), code=service_code.strip()))
        if not found:
            message = f"“{wanted}” is not an active carrier service (use carrier:service, e.g. ups:ground)."
            raise ValidationError({"carrier_service": [message]})
        return found[0], ""
    found = list(services.filter(code=wanted))
    if len(found) > 1:
        message = f"“{wanted}” names several carriers' services; write it as carrier:service."
        raise ValidationError({"carrier_service": [message]})
    if found:
        return found[0], ""
    return None, f"“{wanted[:60]}” names no carrier service; "


def _parcels(packages: list[Package]) -> list[Parcel]:
    return [
        Parcel(
            weight_lb=p.weight_lb,
            length_in=p.length_in
            if p.length_in is not None
            else (p.box_type.length_in if p.box_type else None),
            width_in=p.width_in if p.width_in is not None else (p.box_type.width_in if p.box_type else None),
            height_in=p.height_in
            if p.height_in is not None
            else (p.box_type.height_in if p.box_type else None),
        )
        for p in packages
    ]


def is_residential(order: Order) -> bool:
    """A business address (a company on the ship-to, or a retailer's DC) is not residential."""
    return not (order.ship_to_company or order.order_type == OrderType.WHOLESALE)


def quote_shipment(*, shipment: Shipment, packages: list[Package], at: datetime | None = None) -> list[Quote]:
    """Every active carrier's quotes for these packages shipped on the effective day of ``at``
    (now by default), cheapest first."""
    order, node = shipment.order, shipment.warehouse
    calendar = BusinessCalendar.for_warehouse(node)
    return quote_all(
        origin_zip=node.zip_code,
        destination_zip=order.ship_to_zip,
        parcels=_parcels(packages),
        residential=is_residential(order),
        service_level=order.service_level,
        ship_date=calendar.effective_day(at or timezone.now()),
        calendar=calendar,
    )


@dataclass(frozen=True)
class _Pick:
    quote: Quote
    reason: str


def _choose(order: Order, quotes: list[Quote]) -> _Pick:
    explicit, note = _explicit_service(order)
    if explicit is not None:
        quote = next((q for q in quotes if q.service_id == explicit.pk), None)
        if quote is None:
            raise ValidationError(
                {"carrier_service": [f"{explicit} cannot carry these packages to ZIP {order.ship_to_zip}."]}
            )
        return _Pick(quote, f"the order asks for {explicit.carrier.code}:{explicit.code}")
    try:
        choice = shop(quotes, service_level=order.service_level)
    except NoRate as exc:
        raise ValidationError({"carrier": [str(exc)]}) from None
    return _Pick(choice.quote, note + choice.reason)


def _quotes_json(quotes: list[Quote], chosen: Quote) -> list[dict]:
    return [{**q.as_json(), "chosen": q is chosen} for q in quotes]


@transaction.atomic
def buy_label(*, actor: Actor, shipment: Shipment, at: datetime | None = None) -> Shipment:
    """Rate-shop the packed shipment and buy its label; the order becomes packed once every part
    of it is labelled. A shipment that has a label already is refused (400 naming ``status``).
    ``at`` records a label bought earlier (imports, demo data); it defaults to now."""
    _require_fulfill(actor, shipment)
    shipment = lock_shipment(shipment)
    if shipment.status != ShipmentStatus.PACKING:
        raise _status_error(shipment, "buy a label (it has one)")
    if shipment.packed_at is None:
        raise ValidationError({"status": [f"{shipment.number} is still being packed: finish packing first."]})
    with scope(client=shipment.client_id):
        packages = list(
            Package.objects.filter(shipment=shipment).select_related("box_type").order_by("number")
        )
        if not packages:
            raise ValidationError({"packages": [f"{shipment.number} has no package."]})
        open_ones = [p.number for p in packages if p.closed_at is None or not p.weight_lb]
        if open_ones:
            raise ValidationError(
                {"packages": [f"Close and weigh package {', '.join(map(str, open_ones))} first."]}
            )
        order = shipment.order
        quotes = quote_shipment(shipment=shipment, packages=packages, at=at)
        pick = _choose(order, quotes)
        quote = pick.quote
        carrier = Carrier.objects.get(code=quote.carrier)
        service = CarrierService.objects.select_related("carrier").get(pk=quote.service_id)
        try:
            result = adapter_for(carrier).buy_label(shipment=shipment, packages=packages, quote=quote)
        except CarrierError as exc:
            raise ValidationError({"carrier": [f"{carrier.name}: {exc}"]}) from None
        now = at or timezone.now()
        shipment.carrier, shipment.service = carrier, service
        shipment.zone = quote.zone
        shipment.billable_weight_lb = Decimal(quote.billable_weight_lb)
        shipment.cost = result.cost if result.cost is not None else quote.total
        shipment.currency = result.currency or quote.currency
        shipment.quotes = _quotes_json(quotes, quote)
        shipment.choice_reason = pick.reason[:300]
        shipment.residential = is_residential(order)
        shipment.label_pdf = bytes(result.label_pdf) if result.label_pdf else None
        shipment.label_zpl = result.label_zpl or ""
        shipment.tracking_number = result.tracking_number
        shipment.estimated_delivery_date = quote.estimated_delivery_date
        shipment.label_created_at = now
        numbers = list(result.package_tracking_numbers or [])
        divisor = carrier.dim_divisor
        from ..rates import billable_weight

        for i, package in enumerate(packages):
            package.tracking_number = numbers[i] if i < len(numbers) else result.tracking_number
            parcel = _parcels([package])[0]
            package.billable_weight_lb = Decimal(
                billable_weight(
                    parcel.weight_lb, parcel.length_in, parcel.width_in, parcel.height_in, divisor
                )
            )
        Package.objects.bulk_update(packages, ["tracking_number", "billable_weight_lb"])
        shipment_transition(actor=actor, shipment=shipment, to=ShipmentStatus.LABEL_CREATED, at=now)
        TrackingEvent.objects.create(
            client_id=shipment.client_id,
            shipment=shipment,
            status=TrackingStatus.LABEL_CREATED,
            occurred_at=now,
            location=f"{shipment.warehouse.city}, {shipment.warehouse.state}",
            description=f"{service} label {shipment.tracking_number} created",
            estimated_delivery_date=shipment.estimated_delivery_date,
            source=TrackingSource.SYSTEM,
        )
        Shipment.objects.filter(pk=shipment.pk).update(last_event_at=now)
        shipment.last_event_at = now
        _order_packed_if_complete(actor, order.pk, shipment.client_id)
    return shipment


def order_is_packed(order_id: int) -> bool:
    """Every part of the order is labelled: no shipment still packing, no open pick, no unit
    reserved outside a staging location, and every node holding staged units has a labelled
    shipment (a split order's other node may still be picking)."""
    if Shipment.objects.filter(order_id=order_id, status=ShipmentStatus.PACKING).exists():
        return False
    if PickTask.objects.filter(order_id=order_id, status=PickStatus.OPEN).exists():
        return False
    active = Allocation.objects.filter(order_id=order_id, released_at__isnull=True)
    if active.exclude(location__type=LocationType.STAGING).exists():
        return False
    staged_nodes = set(active.values_list("warehouse_id", flat=True))
    labelled = set(
        Shipment.objects.filter(order_id=order_id, status=ShipmentStatus.LABEL_CREATED).values_list(
            "warehouse_id", flat=True
        )
    )
    return bool(labelled) and staged_nodes <= labelled


def _order_packed_if_complete(actor: Actor, order_id: int, client_id: int) -> None:
    with scope(client=client_id):
        order = Order.objects.select_for_update(of=("self",)).get(pk=order_id)
        if order.status == OrderStatus.PICKING and order_is_packed(order_id):
            order_transition(actor=actor, order=order, to=OrderStatus.PACKED, reason="every part labelled")


# --- voiding a label -----------------------------------------------------------------------------


@transaction.atomic
def void_label(*, actor: Actor, shipment: Shipment, reason: str = "") -> Shipment:
    """Cancel the label before pickup: the carrier refunds it, the shipment goes back to packing
    (a new label can be bought) and the order back to picking if it was packed."""
    _require_fulfill(actor, shipment)
    shipment = lock_shipment(shipment)
    if shipment.status != ShipmentStatus.LABEL_CREATED:
        raise _status_error(shipment, "void its label (only before pickup)")
    if shipment.manifest_id:
        raise ValidationError(
            {"status": [f"{shipment.number} is on manifest {shipment.manifest.number}: handed over already."]}
        )
    try:
        adapter_for(shipment.carrier).void(shipment=shipment)
    except CarrierError as exc:  # VoidRefused, or the carrier could not be reached
        raise ValidationError({"status": [str(exc) or "The carrier refused the void."]}) from None
    with scope(client=shipment.client_id):
        VoidedLabel.objects.create(
            client_id=shipment.client_id,
            shipment=shipment,
            carrier=shipment.carrier,
            service=shipment.service,
            tracking_number=shipment.tracking_number,
            cost=shipment.cost,
            reason=(reason or "")[:300],
            **_stamp(actor),
        )
        voided = shipment.tracking_number
        for name in ("carrier", "service", "zone", "billable_weight_lb", "cost", "label_pdf"):
            setattr(shipment, name, None)
        for name in ("tracking_number", "choice_reason", "label_zpl"):
            setattr(shipment, name, "")
        shipment.quotes = []
        shipment.label_created_at = None
        shipment.estimated_delivery_date = None
        Package.objects.filter(shipment=shipment).update(tracking_number="", billable_weight_lb=None)
        shipment_transition(actor=actor, shipment=shipment, to=ShipmentStatus.PACKING, reason=reason)
        order = Order.objects.select_for_update(of=("self",)).get(pk=shipment.order_id)
        if order.status == OrderStatus.PACKED:
            order_transition(
                actor=actor, order=order, to=OrderStatus.PICKING, reason=f"label {voided} voided"
            )
        audit_record(
            actor=actor,
            action="shipment.label_voided",
            target=shipment,
            client_id=shipment.client_id,
            changes={"tracking_number": [voided, None], "reason": [None, reason or ""]},
        )
    return shipment


# --- shipping: scan-out and manifests ------------------------------------------------------------


def _ship_stock(actor: Actor, shipment: Shipment) -> int:
    """Release the staged reservations of the units in this shipment's packages and post their
    SHIP moves (validate everything, then write). Returns the units shipped."""
    with scope(client=shipment.client_id):
        packed: dict[tuple[int, int, str], int] = defaultdict(int)
        rows = (
            PackageLine.objects.filter(package__shipment=shipment)
            .values("line_id", "item_id", "lot_code")
            .annotate(q=Sum("quantity"))
            .order_by()
        )
        for row in rows:
            packed[(row["line_id"], row["item_id"], row["lot_code"] or "")] += row["q"]
        if not packed:
            raise ValidationError({"packages": [f"{shipment.number} has nothing packed."]})
        staged = Allocation.objects.filter(
            order_id=shipment.order_id,
            warehouse_id=shipment.warehouse_id,
            released_at__isnull=True,
            location__type=LocationType.STAGING,
        )
        balance_ids = sorted(set(staged.values_list("balance_id", flat=True)))
        balances = lock_balances(balance_ids, shipment.client_id)
        allocations = list(staged.select_for_update(of=("self",)).order_by("pk"))
        # Exact lot first, then any lot of the same line and item (a slip scanned without lots).
        plan: dict[int, int] = defaultdict(int)
        left = dict(packed)
        for exact in (True, False):
            for a in allocations:
                room = a.quantity - plan[a.pk]
                if room <= 0:
                    continue
                for key, need in left.items():
                    if need <= 0 or key[0] != a.line_id or key[1] != a.item_id:
                        continue
                    if exact and key[2] != a.lot_code:
                        continue
                    take = min(room, need)
                    plan[a.pk] += take
                    left[key] -= take
                    room -= take
                    if room == 0:
                        break
        missing = {k: v for k, v in left.items() if v > 0}
        if missing:
            raise ValidationError(
                {
                    "packages": [
                        f"{sum(missing.values())} packed unit(s) of {shipment.number} are not staged for this "
                        "order at this node; finish picking them first."
                    ]
                }
            )
        now = timezone.now()
        per_balance: dict[int, int] = defaultdict(int)
        for a in allocations:
            take = plan.get(a.pk, 0)
            if not take:
                continue
            per_balance[a.balance_id] += take
            if take == a.quantity:
                Allocation.objects.filter(pk=a.pk).update(released_at=now)
            else:
                Allocation.objects.filter(pk=a.pk).update(quantity=F("quantity") - take)
        document = Document("shipment", shipment.pk, shipment.number)
        for balance_id in sorted(per_balance):
            quantity = per_balance[balance_id]
            Balance.objects.filter(pk=balance_id).update(allocated=F("allocated") - quantity)
            balance = balances[balance_id]
            balance.refresh_from_db(fields=["on_hand", "allocated"])
            post_move(
                actor=actor, balance=balance, quantity=-quantity, reason=MoveReason.SHIP, document=document
            )
        return sum(per_balance.values())


def ship_locked(
    *, actor: Actor, shipment: Shipment, at: datetime | None = None, source: str, description: str
) -> Shipment:
    """Ship a locked LABEL_CREATED shipment: stock out, in transit, and a tracking event saying
    how it left (none when ``description`` is empty: the carrier's own first scan is the record).
    Used by scan-out, manifests and the carrier's first scan (tracking)."""
    at = at or timezone.now()
    _ship_stock(actor, shipment)
    shipment_transition(actor=actor, shipment=shipment, to=ShipmentStatus.IN_TRANSIT, at=at)
    if not description:
        return shipment
    with scope(client=shipment.client_id):
        TrackingEvent.objects.create(
            client_id=shipment.client_id,
            shipment=shipment,
            status=TrackingStatus.IN_TRANSIT,
            occurred_at=at,
            location=f"{shipment.warehouse.city}, {shipment.warehouse.state}",
            description=description[:300],
            source=source,
        )
        if shipment.last_event_at is None or shipment.last_event_at < at:
            shipment.last_event_at = at
            Shipment.objects.filter(pk=shipment.pk).update(last_event_at=at)
    return shipment


@transaction.atomic
def ship_out(*, actor: Actor, shipment: Shipment, at: datetime | None = None) -> Shipment:
    """Scan-out at the dock: the parcel leaves the node. Shipping a shipment that left already
    changes nothing (idempotent)."""
    _require_fulfill(actor, shipment)
    shipment = lock_shipment(shipment)
    if shipment.status in SHIPPED_STATUSES:
        return shipment
    if shipment.status != ShipmentStatus.LABEL_CREATED:
        raise _status_error(shipment, "ship (buy its label first)")
    return ship_locked(
        actor=actor,
        shipment=shipment,
        at=at,
        source=TrackingSource.FLOOR,
        description=f"Scanned out at {shipment.warehouse.code}",
    )


@transaction.atomic
def manifest_close(
    *, actor: Actor, warehouse: Warehouse, carrier: Carrier, at: datetime | None = None
) -> Manifest:
    """The end-of-day hand-over: every labelled, not yet manifested shipment of ``carrier`` at
    ``warehouse`` goes on one manifest for the node's local day and ships. An empty manifest is
    refused (400 naming ``carrier``)."""
    actor.require(Perm.FULFILL)
    require_node_access(actor, warehouse.pk)
    at = at or timezone.now()
    pending = list(
        Shipment.all_objects.select_for_update(of=("self",))
        .filter(
            warehouse=warehouse,
            carrier=carrier,
            status=ShipmentStatus.LABEL_CREATED,
            manifest__isnull=True,
        )
        .filter(actor.client_q())
        .select_related("order", "warehouse", "carrier", "service")
        .order_by("pk")
    )
    if not pending:
        raise ValidationError(
            {"carrier": [f"No {carrier.name} shipment with a label is waiting at {warehouse.code}."]}
        )
    calendar = BusinessCalendar(warehouse.time_zone)
    with scopes_disabled():  # a manifest is the operator's: it counts every brand's parcels
        package_count = Package.objects.filter(shipment__in=[s.pk for s in pending]).count()
    manifest = Manifest.objects.create(
        warehouse=warehouse,
        carrier=carrier,
        date=calendar.local(at).date(),
        closed_at=at,
        shipment_count=len(pending),
        package_count=package_count,
        **_stamp(actor),
    )
    Shipment.all_objects.filter(pk__in=[s.pk for s in pending]).update(manifest=manifest)
    for shipment in pending:
        shipment.manifest = manifest
        ship_locked(
            actor=actor,
            shipment=shipment,
            at=at,
            source=TrackingSource.SYSTEM,
            description=f"Handed to {carrier.name} on manifest {manifest.number}",
        )
    return manifest
