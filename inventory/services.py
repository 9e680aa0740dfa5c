"""Every write of the inventory app: catalog, locations, stock, ASNs and receiving, cycle counts.

Keyword-only, one transaction, validate then write. Stock changes go through ``inventory.ledger``
(which writes the move); catalog and document changes are audited through ``audit_record``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max, Sum
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.actors import Actor
from accounts.models import Client, Warehouse
from accounts.roles import Perm
from accounts.services import _apply, audit_record
from fulfillment.calendar import BusinessCalendar

from . import ledger
from .enums import (
    ASN_EDITABLE,
    ASN_RECEIVABLE,
    ASN_TRANSITIONS,
    COUNT_TRANSITIONS,
    AdjustmentCode,
    ASNStatus,
    CountStatus,
    LocationType,
    MilestoneKind,
    MoveReason,
    ReceiptCondition,
    TransferStatus,
)
from .ledger import Document
from .models import (
    ASN,
    ASNEvent,
    ASNLine,
    ASNMilestone,
    Balance,
    CycleCount,
    CycleCountLine,
    InventorySnapshot,
    Item,
    ItemBarcode,
    KitComponent,
    Location,
    Move,
    Receipt,
    Transfer,
)
from .selectors import local_midnight

# --- helpers -----------------------------------------------------------------------------------


def whole_number(value: Any, name: str) -> int:
    """``int(value)``, or a ``ValidationError`` on ``name`` for a flag or what is no number at all.
    ``int`` truncates ("2.5" is refused, 2.5 is 2): callers check ``truncated`` where that matters."""
    if isinstance(value, bool):  # True == 1, but a flag is not a quantity
        raise ValidationError({name: ["Enter a whole number."]})
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: ["Enter a whole number."]}) from None


def truncated(number: int, value: Any) -> bool:
    """Whether ``number = whole_number(value)`` dropped a fraction (2.5 -> 2)."""
    return number != value and str(number) != str(value).strip()


def positive_whole(value: Any, name: str = "quantity") -> int:
    """A quantity or count from a service's caller: a whole number above zero."""
    number = whole_number(value, name)
    if number <= 0 or truncated(number, value):
        raise ValidationError({name: ["Must be a positive whole number."]})
    return number


def _require_node_access(actor: Actor, warehouse_id: int) -> None:
    """Warehouse operators work only in their own nodes."""
    if actor.role == "warehouse_operator" and not actor.user.warehouses.filter(pk=warehouse_id).exists():
        raise PermissionDenied("You do not work at this node.")


def _stamp(actor: Actor) -> dict[str, Any]:
    return {"actor_user": actor.user, "actor_api_key": actor.api_key, "actor_label": actor.label[:200]}


def client_item(
    client_id: int, *, sku: str | None = None, barcode: str | None = None, field_name: str
) -> Item:
    """An item of the client by SKU or barcode; an unknown one is a 400 naming ``field_name``."""
    value = (sku or barcode or "").strip()
    if not value:
        raise ValidationError({field_name: ["Enter a SKU or a barcode."]})
    item = Item.objects.filter(client_id=client_id, sku=value).first()
    if item is None:
        code = ItemBarcode.objects.filter(client_id=client_id, code=value).select_related("item").first()
        item = code.item if code else None
    if item is None:
        raise ValidationError({field_name: [f"No item with SKU or barcode “{value}”."]})
    return item


def check_lot(item: Item, lot_code: str, expiry_date: date | None) -> None:
    errors = {}
    if item.lot_tracked and not lot_code:
        errors["lot_code"] = [f"{item.sku} is lot-tracked: enter the lot."]
    if item.expiry_tracked and not expiry_date:
        errors["expiry_date"] = [f"{item.sku} is expiry-tracked: enter the expiry date."]
    if errors:
        raise ValidationError(errors)


# --- catalog -----------------------------------------------------------------------------------

ITEM_FIELDS = (
    "name",
    "description",
    "weight_lb",
    "length_in",
    "width_in",
    "height_in",
    "case_quantity",
    "carton_quantity",
    "lot_tracked",
    "expiry_tracked",
    "serial_tracked",
    "hazmat",
    "hs_code",
    "country_of_origin",
    "reorder_point",
    "active",
)


def _set_barcodes(item: Item, barcodes: list[dict] | None, changes: dict) -> None:
    if barcodes is None:
        return
    codes = [(b["code"].strip(), b.get("kind") or ItemBarcode.Kind.UPC) for b in barcodes]
    errors = {}
    seen = set()
    for i, (code, kind) in enumerate(codes):
        if not code:
            errors[f"barcodes.{i}.code"] = ["A barcode cannot be empty."]
        elif code in seen:
            errors[f"barcodes.{i}.code"] = [f"“{code}” is listed twice."]
        seen.add(code)
        if kind not in ItemBarcode.Kind.values:
            errors[f"barcodes.{i}.kind"] = [f"Choose one of: {', '.join(ItemBarcode.Kind.values)}."]
    taken = dict(
        ItemBarcode.objects.filter(client_id=item.client_id, code__in=seen)
        .exclude(item=item)
        .values_list("code", "item__sku")
    )
    taken_skus = dict(
        Item.objects.filter(client_id=item.client_id, sku__in=seen)
        .exclude(pk=item.pk)
        .values_list("sku", "sku")
    )
    for i, (code, _) in enumerate(codes):
        if code in taken:
            errors[f"barcodes.{i}.code"] = [f"“{code}” already identifies {taken[code]}."]
        elif code in taken_skus:
            errors[f"barcodes.{i}.code"] = [f"“{code}” is the SKU of another item."]
    if errors:
        raise ValidationError(errors)
    old = sorted(item.barcodes.values_list("code", "kind")) if item.pk else []
    if old != sorted(codes):  # a change of kind alone is a change too
        item.barcodes.all().delete()
        ItemBarcode.objects.bulk_create(
            [ItemBarcode(client_id=item.client_id, item=item, code=c, kind=k) for c, k in codes]
        )
        changes["barcodes"] = [[f"{c} ({k})" for c, k in old], [f"{c} ({k})" for c, k in sorted(codes)]]


def _set_components(item: Item, components: list[dict] | None, changes: dict) -> None:
    if components is None:
        return
    if components and not item.is_kit:
        raise ValidationError({"components": ["Only a kit has components."]})
    errors, wanted = {}, {}
    for i, c in enumerate(components):
        component = c.get("item")
        if component is None:
            try:
                component = client_item(item.client_id, sku=c.get("sku"), field_name=f"components.{i}.sku")
            except ValidationError as exc:
                errors.update(exc.message_dict)
                continue
        if component.client_id != item.client_id:
            errors[f"components.{i}.sku"] = ["No such item."]
        elif component.pk == item.pk:
            errors[f"components.{i}.sku"] = ["A kit cannot contain itself."]
        elif component.is_kit:
            errors[f"components.{i}.sku"] = [f"{component.sku} is a kit; kits are made of plain items."]
        elif component.pk in wanted:
            errors[f"components.{i}.sku"] = [f"{component.sku} is listed twice."]
        try:
            quantity = positive_whole(c.get("quantity"), f"components.{i}.quantity")
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        wanted[component.pk] = quantity
    if item.is_kit and not components:
        errors["components"] = ["A kit needs at least one component."]
    if errors:
        raise ValidationError(errors)
    old = dict(item.components.values_list("component_id", "quantity")) if item.pk else {}
    if old != wanted:
        item.components.all().delete()
        KitComponent.objects.bulk_create(
            [
                KitComponent(client_id=item.client_id, kit=item, component_id=k, quantity=q)
                for k, q in wanted.items()
            ]
        )
        changes["components"] = [old, wanted]


@transaction.atomic
def item_create(
    *,
    actor: Actor,
    client: Client,
    sku: str,
    barcodes: list[dict] | None = None,
    components: list[dict] | None = None,
    is_kit: bool = False,
    **fields: Any,
) -> Item:
    actor.require(Perm.ITEM_MANAGE, client_id=client.pk)
    if unknown := set(fields) - set(ITEM_FIELDS):
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    sku = (sku or "").strip()
    if Item.objects.filter(client=client, sku=sku).exists():
        raise ValidationError({"sku": [f"SKU {sku} already exists."]})
    if ItemBarcode.objects.filter(client=client, code=sku).exists():
        raise ValidationError({"sku": [f"“{sku}” is already a barcode of another item."]})
    item = Item(client=client, sku=sku, is_kit=is_kit, **fields)
    item.full_clean(validate_unique=False)
    item.save()
    changes = {"sku": sku, "name": item.name, "is_kit": is_kit}
    _set_barcodes(item, barcodes or [], changes)
    _set_components(item, components or [], changes)  # a kit without components is refused
    audit_record(actor=actor, action="item.created", target=item, client_id=client.pk, changes=changes)
    return item


@transaction.atomic
def item_update(
    *,
    actor: Actor,
    item: Item,
    barcodes: list[dict] | None = None,
    components: list[dict] | None = None,
    **fields: Any,
) -> Item:
    actor.require(Perm.ITEM_MANAGE, client_id=item.client_id)
    if unknown := set(fields) - set(ITEM_FIELDS):
        raise ValidationError({f: ["This field cannot be changed."] for f in unknown})
    item = Item.objects.select_for_update().get(pk=item.pk)
    changes = _apply(item, fields)
    item.full_clean(validate_unique=False)
    item.save()
    _set_barcodes(item, barcodes, changes)
    _set_components(item, components, changes)
    if changes:
        audit_record(
            actor=actor, action="item.updated", target=item, client_id=item.client_id, changes=changes
        )
    return item


# --- locations ---------------------------------------------------------------------------------

LOCATION_FIELDS = ("zone", "aisle", "bay", "level", "type", "pick_sequence", "active")


@transaction.atomic
def location_create(*, actor: Actor, warehouse: Warehouse, code: str, **fields: Any) -> Location:
    actor.require(Perm.LOCATION_MANAGE)
    if unknown := set(fields) - set(LOCATION_FIELDS):
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    code = (code or "").strip().upper()
    if Location.objects.filter(warehouse=warehouse, code=code).exists():
        raise ValidationError({"code": [f"{warehouse.code} already has a location {code}."]})
    location = Location(warehouse=warehouse, code=code, **fields)
    location.full_clean(validate_unique=False)
    location.save()
    audit_record(
        actor=actor, action="location.created", target=location, client_id=None, changes={"code": code}
    )
    return location


@transaction.atomic
def location_update(*, actor: Actor, location: Location, **fields: Any) -> Location:
    actor.require(Perm.LOCATION_MANAGE)
    if unknown := set(fields) - set(LOCATION_FIELDS):
        raise ValidationError({f: ["This field cannot be changed."] for f in unknown})
    location = Location.objects.select_for_update().get(pk=location.pk)
    if (
        "type" in fields
        and fields["type"] != location.type
        and location.balances.filter(on_hand__gt=0).exists()
    ):
        raise ValidationError({"type": ["Empty the location before changing its type."]})
    changes = _apply(location, fields)
    location.full_clean(validate_unique=False)
    location.save()
    if changes:
        audit_record(actor=actor, action="location.updated", target=location, client_id=None, changes=changes)
    return location


def _span(value: str, name: str) -> list[str]:
    """'01-04' -> ['01', '02', '03', '04'];  'A-C' -> ['A', 'B', 'C'];  '05' -> ['05']."""
    value = (value or "").strip().upper()
    if not value:
        raise ValidationError({name: ["Enter a value or a range such as 01-10."]})
    if "-" not in value:
        return [value]
    start, _, end = value.partition("-")
    if start.isdigit() and end.isdigit() and int(start) <= int(end):
        width = len(start)
        return [str(n).zfill(width) for n in range(int(start), int(end) + 1)]
    if len(start) == len(end) == 1 and start.isalpha() and end.isalpha() and start <= end:
        return [chr(c) for c in range(ord(start), ord(end) + 1)]
    raise ValidationError({name: [f"“{value}” is not a range such as 01-10 or A-D."]})


@dataclass
class BulkLocations:
    created: list[Location]
    existing: list[str]


@transaction.atomic
def locations_bulk_create(
    *,
    actor: Actor,
    warehouse: Warehouse,
    zone: str,
    aisles: str,
    bays: str,
    levels: str,
    type: str,
    start_sequence: int | None = None,
) -> BulkLocations:
    """Create every bin ZONE-AISLE-BAY-LEVEL of the ranges, in a serpentine pick path (odd aisles
    walk bays up, even aisles down). Bins that exist already are left as they are."""
    actor.require(Perm.LOCATION_MANAGE)
    if type not in LocationType.values:
        raise ValidationError({"type": [f"Choose one of: {', '.join(LocationType.values)}."]})
    zone = (zone or "").strip().upper()
    if not zone.isalnum():
        raise ValidationError({"zone": ["Use letters and digits, e.g. A."]})
    aisle_list, bay_list, level_list = _span(aisles, "aisles"), _span(bays, "bays"), _span(levels, "levels")
    total = len(aisle_list) * len(bay_list) * len(level_list)
    if total > 5000:
        raise ValidationError({"aisles": [f"{total} bins at once is too many (at most 5000)."]})
    if start_sequence is None:
        start_sequence = (
            Location.objects.filter(warehouse=warehouse)
            .order_by("-pick_sequence")
            .values_list("pick_sequence", flat=True)
            .first()
            or 0
        ) + 10
    existing = set(Location.objects.filter(warehouse=warehouse).values_list("code", flat=True))
    new, kept, sequence = [], [], start_sequence
    for a_index, aisle in enumerate(aisle_list):
        for bay in bay_list if a_index % 2 == 0 else list(reversed(bay_list)):
            for level in level_list:
                code = f"{zone}-{aisle}-{bay}-{level}"
                if code in existing:
                    kept.append(code)
                    continue
                new.append(
                    Location(
                        warehouse=warehouse,
                        code=code,
                        zone=zone,
                        aisle=aisle,
                        bay=bay,
                        level=level,
                        type=type,
                        pick_sequence=sequence,
                    )
                )
                sequence += 10
    created = Location.objects.bulk_create(new)
    audit_record(
        actor=actor,
        action="location.bulk_created",
        target=warehouse,
        client_id=None,
        changes={"zone": zone, "aisles": aisles, "bays": bays, "levels": levels, "created": len(created)},
    )
    return BulkLocations(created=created, existing=kept)


def receiving_location(warehouse_id: int, *, damaged: bool = False) -> Location:
    kind = LocationType.QUARANTINE if damaged else LocationType.RECEIVING
    location = (
        Location.objects.filter(warehouse_id=warehouse_id, type=kind, active=True)
        .order_by("pick_sequence", "pk")
        .first()
    )
    if location is None:
        label = "quarantine" if damaged else "receiving dock"
        raise ValidationError({"location": [f"This node has no active {label} location; create one first."]})
    return location


# --- stock: adjustments, relocations, transfers ------------------------------------------------


def _staff_stock_checks(actor: Actor, balance_or_location_warehouse: int, client_id: int) -> None:
    actor.require(Perm.STOCK_ADJUST, client_id=client_id)
    _require_node_access(actor, balance_or_location_warehouse)


@transaction.atomic
def stock_adjust(
    *,
    actor: Actor,
    client: Client,
    item: Item,
    location: Location,
    quantity: int,
    code: str,
    lot_code: str = "",
    expiry_date: date | None = None,
    note: str = "",
) -> Move:
    """A staff correction of on hand (signed quantity) with a reason code; brands see it in their ledger."""
    _staff_stock_checks(actor, location.warehouse_id, client.pk)
    if code not in AdjustmentCode.values:
        raise ValidationError({"code": [f"Choose one of: {', '.join(AdjustmentCode.values)}."]})
    if item.client_id != client.pk:
        raise ValidationError({"item": ["No such item."]})
    if item.is_kit:
        raise ValidationError({"item": ["Kits are stocked as their components."]})
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity == 0:
        raise ValidationError({"quantity": ["Enter a non-zero whole number (negative to remove units)."]})
    if not location.warehouse.clients.filter(pk=client.pk).exists():
        raise ValidationError({"location": [f"{client.name} is not set up at {location.warehouse.code}."]})
    if quantity > 0 and not location.active:
        raise ValidationError({"location": [f"Location {location.code} is inactive."]})
    if quantity > 0:
        check_lot(item, lot_code, expiry_date)
    if not note.strip():
        raise ValidationError({"note": ["Say why (it is shown to the brand in its ledger)."]})
    balance = ledger.balance_for_update(
        client_id=client.pk, item=item, location=location, lot_code=lot_code, expiry_date=expiry_date
    )
    move = ledger.post_move(
        actor=actor,
        balance=balance,
        quantity=quantity,
        reason=MoveReason.ADJUSTMENT,
        adjustment_code=code,
        note=note,
        received_at=timezone.now(),
    )
    return move


@transaction.atomic
def stock_relocate(
    *, actor: Actor, balance: Balance, to_location: Location, quantity: int, note: str = ""
) -> Move:
    """Move units between two locations of a node (returns the move into the target)."""
    _staff_stock_checks(actor, balance.warehouse_id, balance.client_id)
    quantity = positive_whole(quantity, "quantity")
    _, into = ledger.relocate(
        actor=actor, balance=balance, to_location=to_location, quantity=quantity, note=note
    )
    return into


@transaction.atomic
def transfer_dispatch(
    *, actor: Actor, balance: Balance, to_warehouse: Warehouse, quantity: int, reference: str = ""
) -> Transfer:
    """Send units to another node: they leave the source now and are in transit until received."""
    _staff_stock_checks(actor, balance.warehouse_id, balance.client_id)
    quantity = positive_whole(quantity, "quantity")
    if to_warehouse.pk == balance.warehouse_id:
        raise ValidationError({"to_warehouse": ["Choose another node (use a relocation within a node)."]})
    if not to_warehouse.clients.filter(pk=balance.client_id).exists():
        raise ValidationError({"to_warehouse": ["The client is not set up at that node."]})
    locked = ledger.lock_balance(balance.pk, balance.client_id)
    transfer = Transfer.objects.create(
        client_id=balance.client_id,
        item_id=balance.item_id,
        from_warehouse_id=balance.warehouse_id,
        from_location_id=balance.location_id,
        to_warehouse=to_warehouse,
        lot_code=balance.lot_code,
        expiry_date=balance.expiry_date,
        quantity=quantity,
        reference=reference,
        **_stamp(actor),
    )
    ledger.post_move(
        actor=actor,
        balance=locked,
        quantity=-quantity,
        reason=MoveReason.TRANSFER_OUT,
        document=Document("transfer", transfer.pk, reference or f"Transfer {transfer.pk}"),
    )
    return transfer


@transaction.atomic
def transfer_receive(*, actor: Actor, transfer: Transfer, to_location: Location | None = None) -> Transfer:
    actor.require(Perm.STOCK_ADJUST, client_id=transfer.client_id)
    _require_node_access(actor, transfer.to_warehouse_id)
    transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)
    if transfer.status != TransferStatus.IN_TRANSIT:
        raise ValidationError({"status": ["This transfer has already been received."]})
    location = to_location or receiving_location(transfer.to_warehouse_id)
    if location.warehouse_id != transfer.to_warehouse_id:
        raise ValidationError({"to_location": ["Choose a location of the destination node."]})
    balance = ledger.balance_for_update(
        client_id=transfer.client_id,
        item=transfer.item,
        location=location,
        lot_code=transfer.lot_code,
        expiry_date=transfer.expiry_date,
    )
    ledger.post_move(
        actor=actor,
        balance=balance,
        quantity=transfer.quantity,
        reason=MoveReason.TRANSFER_IN,
        document=Document("transfer", transfer.pk, transfer.reference or f"Transfer {transfer.pk}"),
        received_at=timezone.now(),
    )
    transfer.status, transfer.to_location, transfer.received_at = (
        TransferStatus.RECEIVED,
        location,
        timezone.now(),
    )
    transfer.save(update_fields=["status", "to_location", "received_at"])
    return transfer


# Moves that are one half of a pair, or that a document counts, cannot be reversed on their own:
# undoing one leg of a relocation would create or destroy units, undoing a receipt would leave its
# ASN line counting units that are not there, undoing a transfer out would let the transfer bring
# the units in a second time.
UNREVERSIBLE = {
    MoveReason.RECEIPT: "A receipt is counted on its ASN: correct the stock with an adjustment.",
    MoveReason.PUTAWAY: "Putaway is a pair of moves: move the units back with a relocation.",
    MoveReason.RELOCATION: "A relocation is a pair of moves: move the units back with a relocation.",
    MoveReason.TRANSFER_OUT: "A transfer is in transit or received: send the units back with a transfer.",
    MoveReason.TRANSFER_IN: "A transfer is in transit or received: send the units back with a transfer.",
    # Picks and shipments move reserved units for an order: a reversal would leave the order's
    # reservation pointing at stock that is no longer there.
    MoveReason.PICK: "A pick belongs to its wave and order: record a short pick or cancel the order instead.",
    MoveReason.SHIP: "The units left the building with their shipment: receive a return to bring them back.",
}


@transaction.atomic
def move_reverse(*, actor: Actor, move: Move, note: str) -> Move:
    """Undo a mistaken move (an adjustment, a count correction) with an equal and opposite one."""
    actor.require(Perm.STOCK_ADJUST, client_id=move.client_id)
    _require_node_access(actor, move.warehouse_id)
    if not (note or "").strip():
        raise ValidationError({"note": ["Say why the move is reversed."]})
    if move.reason in UNREVERSIBLE:
        raise ValidationError({"move": [UNREVERSIBLE[move.reason]]})
    return ledger.reverse(actor=actor, move=move, note=note)


# --- ASNs --------------------------------------------------------------------------------------

ASN_HEADER_FIELDS = (
    "reference",
    "po_reference",
    "sender",
    "carrier",
    "tracking_number",
    "bol_number",
    "container_number",
    "eta",
    "cartons",
    "pallets",
    "notes",
)


def _asn_transition(*, actor: Actor, asn: ASN, to: str, reason: str = "", at: datetime | None = None) -> ASN:
    """The one place an ASN's status changes: checks the table, writes the status and the event."""
    if to not in ASN_TRANSITIONS[asn.status]:
        raise ValidationError(
            {
                "status": [
                    f"An ASN that is {asn.get_status_display().lower()} cannot become {ASNStatus(to).label.lower()}."
                ]
            }
        )
    from_status = asn.status
    asn.status = to
    asn.save()
    ASNEvent.objects.create(
        client_id=asn.client_id,
        asn=asn,
        from_status=from_status,
        to_status=to,
        reason=reason[:500],
        **_stamp(actor),
    )
    if event_type := {ASNStatus.ARRIVED: "asn.arrived", ASNStatus.RECEIVED: "asn.received"}.get(to):
        from shipments import events  # the outbox row, in this transaction

        events.emit(client_id=asn.client_id, type=event_type, data=events.asn_data(asn))
    return asn


def _lock_asn(asn: ASN) -> ASN:
    return ASN.objects.select_for_update(of=("self",)).select_related("warehouse", "client").get(pk=asn.pk)


def _build_lines(client: Client, lines: list[dict]) -> list[ASNLine]:
    if not lines:
        raise ValidationError({"lines": ["An ASN needs at least one line."]})
    errors, built = {}, []
    for i, line in enumerate(lines):
        item = line.get("item")
        try:
            if item is None:
                item = client_item(client.pk, sku=line.get("sku"), field_name=f"lines.{i}.sku")
            elif item.client_id != client.pk:
                raise ValidationError({f"lines.{i}.sku": ["No such item."]})
            if item.is_kit:
                raise ValidationError({f"lines.{i}.sku": [f"{item.sku} is a kit: send its components."]})
            quantity = positive_whole(line.get("expected_quantity"), f"lines.{i}.expected_quantity")
            lot, expiry = (line.get("lot_code") or "").strip(), line.get("expiry_date")
            try:
                check_lot(item, lot, expiry) if lot or expiry else None
            except ValidationError as exc:
                raise ValidationError({f"lines.{i}.{k}": v for k, v in exc.message_dict.items()}) from None
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        built.append(
            ASNLine(client=client, item=item, expected_quantity=quantity, lot_code=lot, expiry_date=expiry)
        )
    if errors:
        raise ValidationError(errors)
    return built


@transaction.atomic
def asn_create(
    *,
    actor: Actor,
    client: Client,
    warehouse: Warehouse,
    lines: list[dict],
    submit: bool = False,
    **header: Any,
) -> ASN:
    actor.require(Perm.ASN_MANAGE, client_id=client.pk)
    if unknown := set(header) - set(ASN_HEADER_FIELDS):
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    if not client.warehouses.filter(pk=warehouse.pk).exists():
        raise ValidationError({"warehouse": [f"{client.name} is not set up at {warehouse.code}."]})
    reference = (header.get("reference") or "").strip()
    if reference and ASN.objects.filter(client=client, reference=reference).exists():
        raise ValidationError({"reference": [f"An ASN with reference {reference} already exists."]})
    built = _build_lines(client, lines)
    asn = ASN(client=client, warehouse=warehouse, **header)
    asn.full_clean(validate_unique=False, validate_constraints=False)
    asn.save()
    for line in built:
        line.asn = asn
    ASNLine.objects.bulk_create(built)
    ASNEvent.objects.create(client=client, asn=asn, to_status=ASNStatus.DRAFT, **_stamp(actor))
    audit_record(
        actor=actor,
        action="asn.created",
        target=asn,
        client_id=client.pk,
        changes={
            "warehouse": warehouse.code,
            "lines": len(built),
            "units": sum(x.expected_quantity for x in built),
        },
    )
    if submit:
        asn_submit(actor=actor, asn=asn)
    return asn


@transaction.atomic
def asn_update(*, actor: Actor, asn: ASN, lines: list[dict] | None = None, **header: Any) -> ASN:
    actor.require(Perm.ASN_MANAGE, client_id=asn.client_id)
    if unknown := set(header) - set(ASN_HEADER_FIELDS):
        raise ValidationError({f: ["This field cannot be changed."] for f in unknown})
    asn = _lock_asn(asn)
    header_only = set(header) <= {
        "eta",
        "carrier",
        "tracking_number",
        "bol_number",
        "container_number",
        "notes",
    }
    finished = asn.status in (ASNStatus.CLOSED, ASNStatus.CANCELLED)
    if finished or (asn.status not in ASN_EDITABLE and (lines is not None or not header_only)):
        raise ValidationError(
            {"status": [f"An ASN that is {asn.get_status_display().lower()} can no longer be edited."]}
        )
    if (ref := (header.get("reference") or "").strip()) and ASN.objects.filter(
        client_id=asn.client_id, reference=ref
    ).exclude(pk=asn.pk).exists():
        raise ValidationError({"reference": [f"An ASN with reference {ref} already exists."]})
    changes = _apply(asn, header)
    asn.full_clean(validate_unique=False, validate_constraints=False)
    asn.save()
    if lines is not None:
        built = _build_lines(asn.client, lines)
        asn.lines.all().delete()
        for line in built:
            line.asn = asn
        ASNLine.objects.bulk_create(built)
        changes["lines"] = len(built)
    if changes:
        audit_record(actor=actor, action="asn.updated", target=asn, client_id=asn.client_id, changes=changes)
    return asn


@transaction.atomic
def asn_submit(*, actor: Actor, asn: ASN) -> ASN:
    actor.require(Perm.ASN_MANAGE, client_id=asn.client_id)
    asn = _lock_asn(asn)
    asn.submitted_at = timezone.now()
    return _asn_transition(actor=actor, asn=asn, to=ASNStatus.SUBMITTED)


@transaction.atomic
def asn_cancel(*, actor: Actor, asn: ASN, reason: str = "") -> ASN:
    actor.require(Perm.ASN_MANAGE, client_id=asn.client_id)
    asn = _lock_asn(asn)
    asn.cancelled_at = timezone.now()
    return _asn_transition(actor=actor, asn=asn, to=ASNStatus.CANCELLED, reason=reason)


@transaction.atomic
def asn_add_milestone(
    *,
    actor: Actor,
    asn: ASN,
    kind: str,
    occurred_at: datetime | None = None,
    eta: date | None = None,
    note: str = "",
) -> ASNMilestone:
    """A freight milestone (with an optional new ETA). The first one moves a submitted ASN in transit."""
    # Brands and account managers manage the ASN, the floor records what the carrier says: either
    # is a write, so a read-only key is refused (INVENTORY_VIEW alone would have let it through).
    actor.require(
        Perm.ASN_MANAGE if actor.can(Perm.ASN_MANAGE) else Perm.ASN_RECEIVE, client_id=asn.client_id
    )
    _require_node_access(actor, asn.warehouse_id)
    if kind not in MilestoneKind.values:
        raise ValidationError({"kind": [f"Choose one of: {', '.join(MilestoneKind.values)}."]})
    asn = _lock_asn(asn)
    if asn.status in (ASNStatus.CANCELLED, ASNStatus.CLOSED, ASNStatus.DRAFT):
        raise ValidationError(
            {"status": [f"An ASN that is {asn.get_status_display().lower()} takes no milestones."]}
        )
    milestone = ASNMilestone.objects.create(
        client_id=asn.client_id,
        asn=asn,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        eta=eta,
        note=note,
        **_stamp(actor),
    )
    if eta and eta != asn.eta:
        asn.eta = eta
        asn.save(update_fields=["eta", "updated_at"])
    if asn.status == ASNStatus.SUBMITTED and kind != MilestoneKind.BOOKED:
        _asn_transition(actor=actor, asn=asn, to=ASNStatus.IN_TRANSIT, reason=milestone.get_kind_display())
    return milestone


def _receiving_checks(actor: Actor, asn: ASN) -> None:
    actor.require(Perm.ASN_RECEIVE, client_id=asn.client_id)
    _require_node_access(actor, asn.warehouse_id)


ARRIVAL_CLOCK_SKEW = timedelta(minutes=15)  # a scanner's clock may run a little ahead


@transaction.atomic
def asn_arrive(*, actor: Actor, asn: ASN, arrived_at: datetime | None = None) -> ASN:
    """Dock check-in: sets ``arrived_at`` and the dock-to-stock deadline (DOMAIN.md calendar)."""
    _receiving_checks(actor, asn)
    now = timezone.now()
    if arrived_at is not None and arrived_at > now + ARRIVAL_CLOCK_SKEW:
        raise ValidationError({"arrived_at": ["The goods cannot have arrived in the future."]})
    asn = _lock_asn(asn)
    asn.arrived_at = arrived_at or now
    calendar = BusinessCalendar.for_warehouse(asn.warehouse)
    asn.dock_to_stock_deadline = calendar.deadline(asn.arrived_at, asn.client.dock_to_stock_days)
    return _asn_transition(actor=actor, asn=asn, to=ASNStatus.ARRIVED)


@dataclass
class ReceiveResult:
    receipt: Receipt
    line: ASNLine
    over_quantity: int
    unexpected: bool
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def asn_receive(
    *,
    actor: Actor,
    asn: ASN,
    quantity: int,
    line: ASNLine | None = None,
    code: str = "",
    condition: str = ReceiptCondition.GOOD,
    lot_code: str = "",
    expiry_date: date | None = None,
    session: str = "",
) -> ReceiveResult:
    """Count units against the ASN (by line, or by a scanned barcode or SKU). The ASN row is locked,
    so two receivers on one ASN serialize and never count the same units twice."""
    _receiving_checks(actor, asn)
    quantity = positive_whole(quantity, "quantity")
    if condition not in ReceiptCondition.values:
        raise ValidationError({"condition": [f"Choose one of: {', '.join(ReceiptCondition.values)}."]})
    asn = _lock_asn(asn)
    if asn.status not in ASN_RECEIVABLE:
        raise ValidationError(
            {"status": [f"An ASN that is {asn.get_status_display().lower()} cannot be received against."]}
        )
    lot_code = (lot_code or "").strip()
    on_asn = True
    if line is not None:
        if line.asn_id != asn.pk:
            raise ValidationError({"line": ["This line belongs to another ASN."]})
        if lot_code and line.lot_code and lot_code != line.lot_code:
            raise ValidationError(
                {"lot_code": [f"This line is for lot {line.lot_code}; scan lot {lot_code} against the ASN."]}
            )
        item = line.item
    else:
        item = client_item(asn.client_id, sku=code, field_name="code")
        candidates = list(asn.lines.filter(item=item).order_by("unexpected", "pk"))
        on_asn = bool(candidates)
        # A line named for one lot never takes another lot: its units would sit at the dock under a
        # lot that its putaway does not look for. A line without a lot takes any lot.
        line = next((c for c in candidates if c.lot_code == lot_code), None) or next(
            (c for c in candidates if not c.lot_code), None
        )
        if line is None and candidates and not lot_code:
            line = candidates[0]
    if item.is_kit:
        raise ValidationError({"code": [f"{item.sku} is a kit: receive its components."]})
    lot_code = lot_code or (line.lot_code if line else "")
    expiry_date = expiry_date or (line.expiry_date if line and line.lot_code == lot_code else None)
    check_lot(item, lot_code, expiry_date)
    warnings = []
    unexpected = line is None and not on_asn
    if line is None:
        line = ASNLine.objects.create(
            client_id=asn.client_id,
            asn=asn,
            item=item,
            expected_quantity=0,
            lot_code=lot_code,
            expiry_date=expiry_date,
            unexpected=unexpected,
        )
        warnings.append(
            f"{item.sku} is not on this ASN: recorded as an unexpected item."
            if unexpected
            else f"Lot {lot_code} of {item.sku} is not on this ASN: recorded on a line of its own."
        )
    line = ASNLine.objects.select_for_update().get(pk=line.pk)
    damaged = condition == ReceiptCondition.DAMAGED
    location = receiving_location(asn.warehouse_id, damaged=damaged)
    balance = ledger.balance_for_update(
        client_id=asn.client_id, item=item, location=location, lot_code=lot_code, expiry_date=expiry_date
    )
    move = ledger.post_move(
        actor=actor,
        balance=balance,
        quantity=quantity,
        reason=MoveReason.RECEIPT,
        document=Document("asn", asn.pk, asn.number),
        note="damaged on arrival" if damaged else "",
        received_at=timezone.now(),
    )
    counter = "damaged_quantity" if damaged else "received_quantity"
    ASNLine.objects.filter(pk=line.pk).update(**{counter: F(counter) + quantity})
    line.refresh_from_db()
    if line.over_quantity and not line.unexpected:
        warnings.append(
            f"Over-receipt: {line.counted_quantity} counted against {line.expected_quantity} expected."
        )
    receipt = Receipt.objects.create(
        client_id=asn.client_id,
        asn=asn,
        line=line,
        item=item,
        quantity=quantity,
        condition=condition,
        lot_code=lot_code,
        expiry_date=expiry_date,
        location=location,
        move=move,
        session=session[:64],
        **_stamp(actor),
    )
    if asn.status == ASNStatus.ARRIVED:
        _asn_transition(actor=actor, asn=asn, to=ASNStatus.RECEIVING)
    return ReceiveResult(receipt, line, line.over_quantity, unexpected, warnings)


def _maybe_stocked(asn: ASN) -> None:
    """``stocked_at``: when the last good unit of a fully received ASN became available."""
    if asn.stocked_at or asn.status not in (ASNStatus.RECEIVED, ASNStatus.CLOSED):
        return
    totals = asn.lines.aggregate(received=Sum("received_quantity"), putaway=Sum("putaway_quantity"))
    if (totals["received"] or 0) == (totals["putaway"] or 0):
        asn.stocked_at = timezone.now()
        asn.save(update_fields=["stocked_at", "updated_at"])


def _putaway_sources(
    asn: ASN, line: ASNLine, quantity: int, to_location: Location
) -> list[tuple[Balance, int]]:
    """Where the line's good units wait and how many to take from each: the (dock, lot) balances
    its receipts landed in, oldest receipt first. Not "the" receiving dock of the node: a line may
    have been received at a dock since deactivated, or in several lots.

    Sources and targets are locked together in primary-key order (no deadlock with a relocation)."""
    keys: list[tuple[int, str]] = []
    for key in (
        line.receipts.filter(condition=ReceiptCondition.GOOD)
        .order_by("pk")
        .values_list("location_id", "lot_code")
    ):
        if key not in keys:
            keys.append(key)
    found = {
        (b.location_id, b.lot_code): b
        for b in Balance.objects.filter(
            client_id=asn.client_id, item_id=line.item_id, location_id__in={k[0] for k in keys}
        )
    }
    chosen, seen = [], 0
    for key in keys:
        balance = found.get(key)
        if balance is None or balance.on_hand <= balance.allocated or balance.location_id == to_location.pk:
            continue
        chosen.append(balance)
        seen += balance.on_hand - balance.allocated
        if seen >= quantity:
            break
    targets = [
        ledger.ensure_balance(
            client_id=asn.client_id,
            item=line.item,
            location=to_location,
            lot_code=b.lot_code,
            expiry_date=b.expiry_date,
        )
        for b in chosen
    ]
    locked = ledger.lock_balances([b.pk for b in chosen] + [t.pk for t in targets], asn.client_id)
    plan, remaining = [], quantity
    for b in chosen:
        source = locked[b.pk]
        take = min(remaining, source.on_hand - source.allocated)
        if take > 0:
            plan.append((source, take))
            remaining -= take
    if remaining:
        there = quantity - remaining
        raise ValidationError(
            {"quantity": [f"Only {there} unit{'s' if there != 1 else ''} of this line are at the dock."]}
        )
    return plan


@transaction.atomic
def asn_putaway(*, actor: Actor, asn: ASN, line: ASNLine, to_location: Location, quantity: int) -> Move:
    """Move received good units of a line from the dock where they were received to a sellable bin.
    Never more than the line's received units that wait for putaway (nor more than is at the dock)."""
    _receiving_checks(actor, asn)
    quantity = positive_whole(quantity, "quantity")
    asn = _lock_asn(asn)
    if line.asn_id != asn.pk:
        raise ValidationError({"line": ["This line belongs to another ASN."]})
    line = ASNLine.objects.select_for_update().get(pk=line.pk)
    waiting = line.received_quantity - line.putaway_quantity
    if quantity > waiting:
        raise ValidationError(
            {
                "quantity": [
                    f"Only {waiting} received unit{'s' if waiting != 1 else ''} of this line wait for putaway."
                ]
            }
        )
    if to_location.warehouse_id != asn.warehouse_id:
        raise ValidationError({"to_location": ["Choose a location in the ASN's node."]})
    if to_location.type not in (LocationType.PICK, LocationType.RESERVE):
        raise ValidationError(
            {"to_location": [f"{to_location.code} is not a sellable (pick or reserve) bin."]}
        )
    if not to_location.active:
        raise ValidationError({"to_location": [f"Location {to_location.code} is inactive."]})
    into = None
    for source, take in _putaway_sources(asn, line, quantity, to_location):
        _, into = ledger.relocate(
            actor=actor,
            balance=source,
            to_location=to_location,
            quantity=take,
            reason=MoveReason.PUTAWAY,
            document=Document("asn", asn.pk, asn.number),
        )
    ASNLine.objects.filter(pk=line.pk).update(putaway_quantity=F("putaway_quantity") + quantity)
    _maybe_stocked(asn)
    return into


@transaction.atomic
def asn_complete_receiving(*, actor: Actor, asn: ASN, reason: str = "") -> ASN:
    _receiving_checks(actor, asn)
    asn = _lock_asn(asn)
    asn.received_at = timezone.now()
    _asn_transition(actor=actor, asn=asn, to=ASNStatus.RECEIVED, reason=reason)
    _maybe_stocked(asn)
    return asn


@transaction.atomic
def asn_close(*, actor: Actor, asn: ASN, notes: dict[int, str] | None = None) -> ASN:
    """Reconcile expected against received and close. Receiving is completed first if still open;
    ``notes`` (line id -> text) record what was found about each discrepancy."""
    _receiving_checks(actor, asn)
    asn = _lock_asn(asn)
    if asn.status in ASN_RECEIVABLE:
        asn_complete_receiving(actor=actor, asn=asn, reason="completed on close")
        asn.refresh_from_db()
    for line_id, text in (notes or {}).items():
        updated = ASNLine.objects.filter(pk=line_id, asn=asn).update(discrepancy_note=text[:2000])
        if not updated:
            raise ValidationError({"notes": [f"Line {line_id} is not on this ASN."]})
    asn.closed_at = timezone.now()
    lines = list(asn.lines.all())
    summary = {
        "expected": sum(x.expected_quantity for x in lines),
        "received": sum(x.received_quantity for x in lines),
        "damaged": sum(x.damaged_quantity for x in lines),
        "lines_with_discrepancy": sum(1 for x in lines if x.discrepancies),
    }
    _asn_transition(actor=actor, asn=asn, to=ASNStatus.CLOSED)
    audit_record(actor=actor, action="asn.closed", target=asn, client_id=asn.client_id, changes=summary)
    return asn


# --- cycle counts ------------------------------------------------------------------------------


def _count_transition(count: CycleCount, to: str) -> None:
    if to not in COUNT_TRANSITIONS[count.status]:
        raise ValidationError(
            {"status": [f"A count that is {count.get_status_display().lower()} cannot change so."]}
        )
    count.status = to


@transaction.atomic
def count_create(
    *,
    actor: Actor,
    warehouse: Warehouse,
    locations: Iterable[Location] = (),
    items: Iterable[Item] = (),
    reason: str = "",
) -> CycleCount:
    """A count of bins (everything in them) or of items (everywhere at the node)."""
    actor.require(Perm.COUNT)
    _require_node_access(actor, warehouse.pk)
    locations, items = list(locations), list(items)
    if bool(locations) == bool(items):
        raise ValidationError({"locations": ["Count either locations or items."]})
    if any(loc.warehouse_id != warehouse.pk for loc in locations):
        raise ValidationError({"locations": ["Every location must be in the node counted."]})
    for item in items:
        if not actor.sees_client(item.client_id):
            raise ValidationError({"items": ["No such item."]})
    count = CycleCount.objects.create(
        warehouse=warehouse,
        kind=CycleCount.Kind.LOCATION if locations else CycleCount.Kind.ITEM,
        reason=reason[:200],
        **_stamp(actor),
    )
    balances = Balance.objects.filter(warehouse=warehouse)
    balances = balances.filter(location__in=locations) if locations else balances.filter(item__in=items)
    balances = balances.filter(on_hand__gt=0) if locations else balances
    lines = [
        CycleCountLine(
            count=count,
            client_id=b.client_id,
            item_id=b.item_id,
            location_id=b.location_id,
            lot_code=b.lot_code,
            expiry_date=b.expiry_date,
        )
        for b in balances.order_by("location__pick_sequence", "pk")
    ]
    CycleCountLine.objects.bulk_create(lines)
    audit_record(
        actor=actor,
        action="count.created",
        target=count,
        client_id=None,
        changes={"lines": len(lines), "reason": reason},
    )
    return count


def _lock_count(count: CycleCount) -> CycleCount:
    return CycleCount.objects.select_for_update().get(pk=count.pk)


@transaction.atomic
def count_enter(
    *,
    actor: Actor,
    count: CycleCount,
    counted_quantity: int,
    line: CycleCountLine | None = None,
    location: Location | None = None,
    item: Item | None = None,
    lot_code: str = "",
) -> CycleCountLine:
    """Blind entry: the counter gives what is there; the system quantity is read (not shown) now.
    A unit found in a counted bin that the system did not expect gets a line of its own."""
    actor.require(Perm.COUNT)
    _require_node_access(actor, count.warehouse_id)
    count = _lock_count(count)
    if count.status != CountStatus.OPEN:
        raise ValidationError({"status": ["This count is not open for entry."]})
    if isinstance(counted_quantity, bool) or not isinstance(counted_quantity, int) or counted_quantity < 0:
        raise ValidationError({"counted_quantity": ["Enter the number of units counted (0 or more)."]})
    if line is None:
        if location is None or item is None:
            raise ValidationError({"line": ["Give a count line, or a location and an item."]})
        if location.warehouse_id != count.warehouse_id:
            raise ValidationError({"location": ["That location is not in the counted node."]})
        if not actor.sees_client(item.client_id):
            raise ValidationError({"item": ["No such item."]})
        if item.is_kit:
            raise ValidationError({"item": [f"{item.sku} is a kit: count its components."]})
        line, _ = CycleCountLine.objects.get_or_create(
            count=count,
            item=item,
            location=location,
            lot_code=(lot_code or "").strip(),
            defaults={"client_id": item.client_id},
        )
    elif line.count_id != count.pk:
        raise ValidationError({"line": ["This line belongs to another count."]})
    balance = Balance.objects.filter(
        client_id=line.client_id, item_id=line.item_id, location_id=line.location_id, lot_code=line.lot_code
    ).first()
    line.system_quantity = balance.on_hand if balance else 0
    line.counted_quantity = counted_quantity
    line.counted_at = timezone.now()
    line.counted_by = actor.label[:200]
    line.save()
    return line


@transaction.atomic
def count_submit(*, actor: Actor, count: CycleCount) -> CycleCount:
    actor.require(Perm.COUNT)
    _require_node_access(actor, count.warehouse_id)
    count = _lock_count(count)
    if missing := count.lines.filter(counted_quantity__isnull=True).count():
        raise ValidationError({"lines": [f"{missing} line{'s' if missing != 1 else ''} not counted yet."]})
    _count_transition(count, CountStatus.SUBMITTED)
    count.submitted_at = timezone.now()
    count.save()
    return count


@transaction.atomic
def count_approve(*, actor: Actor, count: CycleCount) -> CycleCount:
    """Post each variance as a count-correction move (against the system quantity read at entry).

    Balances are locked in primary-key order (two approvals never deadlock). A line whose balance
    was corrected by another count after it was counted is refused: its variance is stale and
    posting it would correct the same difference twice."""
    actor.require(Perm.COUNT_APPROVE)
    _require_node_access(actor, count.warehouse_id)
    count = _lock_count(count)
    _count_transition(count, CountStatus.APPROVED)
    lines = [x for x in count.lines.select_related("item", "location").order_by("pk") if x.variance]
    balances = {
        line.pk: ledger.ensure_balance(
            client_id=line.client_id,
            item=line.item,
            location=line.location,
            lot_code=line.lot_code,
            expiry_date=line.expiry_date,
        )
        for line in lines
    }
    for line in sorted(lines, key=lambda x: balances[x.pk].pk):
        balance = ledger.lock_balance(balances[line.pk].pk, line.client_id)
        field_name = f"lines.{line.pk}.counted_quantity"
        if Move.objects.filter(
            balance=balance, reason=MoveReason.COUNT_CORRECTION, created_at__gte=line.counted_at
        ).exists():
            raise ValidationError(
                {field_name: [f"{line.location.code} was corrected by another count since: count it again."]}
            )
        line.correction_move = ledger.post_move(
            actor=actor,
            balance=balance,
            quantity=line.variance,
            reason=MoveReason.COUNT_CORRECTION,
            adjustment_code=AdjustmentCode.COUNT_CORRECTION,
            document=Document("cycle_count", count.pk, f"Count {count.pk}"),
            received_at=timezone.now(),
            field=field_name,
        )
        line.save(update_fields=["correction_move"])
    count.approved_at, count.approved_by = timezone.now(), actor.label[:200]
    count.save()
    audit_record(actor=actor, action="count.approved", target=count, client_id=None)
    return count


@transaction.atomic
def count_cancel(*, actor: Actor, count: CycleCount) -> CycleCount:
    actor.require(Perm.COUNT)
    _require_node_access(actor, count.warehouse_id)
    count = _lock_count(count)
    _count_transition(count, CountStatus.CANCELLED)
    count.save()
    return count


# --- daily snapshots ---------------------------------------------------------------------------


# A move is stamped when it is written but seen only when its transaction commits: a day is
# snapshotted once it has been over for this long, so a transaction that was still running at
# midnight is not left out of that day for ever.
SNAPSHOT_SETTLE = timedelta(minutes=5)


def inventory_snapshot_take(*, now: datetime | None = None, backfill_days: int = 7) -> int:
    """On hand per client x item x node at the end of each node-local day (its next local midnight),
    summed from the ledger, so the result does not depend on when this runs. Idempotent; fills up to
    ``backfill_days`` missed days. Returns the number of rows written.
    Operator-wide by nature: it runs with scopes disabled (README: tenancy)."""
    now = (now or timezone.now()) - SNAPSHOT_SETTLE
    created = 0
    with scopes_disabled():
        for warehouse in Warehouse.objects.order_by("pk"):
            zone = ZoneInfo(warehouse.time_zone)
            last_day = local_midnight(warehouse, now).date() - timedelta(days=1)
            latest = InventorySnapshot.objects.filter(warehouse=warehouse).aggregate(d=Max("date"))["d"]
            first_day = last_day - timedelta(days=max(backfill_days, 1) - 1)
            if latest:
                first_day = max(first_day, latest + timedelta(days=1))
            day = first_day
            while day <= last_day:
                # The end of ``day`` is the local midnight that starts the next day, built from the
                # local date (never by adding 24 hours, which a DST change would shift).
                end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
                rows = (
                    Move.objects.filter(warehouse=warehouse, created_at__lt=end)
                    .order_by()
                    .values("client_id", "item_id")
                    .annotate(total=Sum("quantity"))
                )
                done = set(
                    InventorySnapshot.objects.filter(warehouse=warehouse, date=day).values_list(
                        "client_id", "item_id"
                    )
                )
                new = [
                    InventorySnapshot(
                        client_id=r["client_id"],
                        item_id=r["item_id"],
                        warehouse=warehouse,
                        date=day,
                        on_hand=r["total"],
                    )
                    for r in rows
                    if (r["client_id"], r["item_id"]) not in done
                ]
                InventorySnapshot.objects.bulk_create(new, ignore_conflicts=True)
                created += len(new)
                day += timedelta(days=1)
    return created
