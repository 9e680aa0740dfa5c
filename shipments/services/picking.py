"""Scan-verified picking and short picks.

A pick is confirmed by scanning its bin and its item (one unit per scan, or a typed quantity);
a wrong bin or item is refused and nothing changes. When the last unit of a pick is scanned (or
the picker reports a short), the units move through the ledger from the bin to the node's staging
location and stay reserved there for their order (THE STOCK CONTRACT, README ``## Shipping``):
the bin's reservation is released, a PICK move out of the bin and one into staging are posted, and
a new reservation holds the picked units at staging until the shipment leaves.

Lock order, everywhere in this module: the wave, the pick, the order, then balances by primary key.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from accounts.roles import Perm
from inventory import ledger
from inventory import services as inventory_services
from inventory.enums import MoveReason
from inventory.ledger import Document
from inventory.models import Balance
from orders import allocation as order_allocation
from orders import clock
from orders.enums import OrderStatus
from orders.models import Allocation, Order
from orders.services import transition as order_transition

from ..enums import PickStatus, WaveStatus
from ..models import PickTask, ShortPick, Wave
from .waves import lock_wave, pick_tasks_for, require_node, staging_location, wave_maybe_finished

WORKABLE_WAVES = (WaveStatus.RELEASED, WaveStatus.PICKING)


def _whole(value, name: str, *, minimum: int) -> int:
    number = inventory_services.whole_number(value, name)
    if inventory_services.truncated(number, value):
        raise ValidationError({name: ["Enter a whole number."]})
    if number < minimum:
        raise ValidationError({name: [f"Must be at least {minimum}."]})
    return number


def _lock_pick(actor: Actor, pick: PickTask) -> tuple[Wave, PickTask]:
    """Checks, then the locks: the wave (serializes the picks of one wave), then the pick."""
    actor.require(Perm.FULFILL, client_id=pick.client_id)
    require_node(actor, pick.warehouse_id)
    wave = lock_wave(pick.wave)
    with scope(client=pick.client_id):
        pick = (
            PickTask.objects.select_for_update(of=("self",))
            .select_related("item", "location", "order", "line")
            .get(pk=pick.pk)
        )
    if wave.status not in WORKABLE_WAVES:
        raise ValidationError({"status": [f"Wave {wave.number} is {wave.get_status_display().lower()}."]})
    if pick.status != PickStatus.OPEN:
        raise ValidationError({"status": [f"This pick is {pick.get_status_display().lower()} already."]})
    return wave, pick


def check_scans(pick: PickTask, *, location: str, item: str) -> None:
    """The bin and the item scanned must be the pick's (a barcode or SKU of the pick's client)."""
    code = (location or "").strip()
    if code.upper() != pick.location.code.upper():
        raise ValidationError(
            {"location": [f"Wrong bin: scanned “{code}”, this pick is in {pick.location.code}."]}
        )
    with scope(client=pick.client_id):
        scanned = inventory_services.client_item(pick.client_id, sku=item, field_name="item")
    if scanned.pk != pick.item_id:
        raise ValidationError({"item": [f"Wrong item: scanned {scanned.sku}, this pick is {pick.item.sku}."]})


@transaction.atomic
def pick_confirm(*, actor: Actor, pick: PickTask, location: str, item: str, quantity: int = 1) -> PickTask:
    """Scan the bin and the item: ``quantity`` more units picked. The last unit stages the pick."""
    wave, pick = _lock_pick(actor, pick)
    check_scans(pick, location=location, item=item)
    quantity = _whole(quantity, "quantity", minimum=1)
    left = pick.quantity - pick.picked_quantity
    if quantity > left:
        raise ValidationError(
            {
                "quantity": [
                    f"Only {left} unit{'s' if left != 1 else ''} left to pick of {pick.item.sku} here."
                ]
            }
        )
    pick.picked_quantity += quantity
    if pick.picked_quantity < pick.quantity:
        with scope(client=pick.client_id):
            PickTask.objects.filter(pk=pick.pk).update(picked_quantity=pick.picked_quantity)
        wave_maybe_finished(actor=actor, wave=wave)
        return pick
    _stage(actor=actor, wave=wave, pick=pick, found=pick.quantity)
    wave_maybe_finished(actor=actor, wave=wave)
    return pick


@transaction.atomic
def pick_short(*, actor: Actor, pick: PickTask, found: int) -> ShortPick:
    """The bin holds fewer units than the pick asks for: stage the ``found`` units (those scanned
    so far count), record the discrepancy, count the bin, and re-allocate the shortfall."""
    wave, pick = _lock_pick(actor, pick)
    found = _whole(found, "found", minimum=0)
    if found < pick.picked_quantity or found >= pick.quantity:
        raise ValidationError(
            {
                "found": [
                    f"Enter the units found in the bin: from {pick.picked_quantity} (scanned already) "
                    f"to {pick.quantity - 1}."
                ]
            }
        )
    _stage(actor=actor, wave=wave, pick=pick, found=found)
    short = _record_short(actor=actor, wave=wave, pick=pick, found=found)
    wave_maybe_finished(actor=actor, wave=wave)
    return short


def _stage(*, actor: Actor, wave: Wave, pick: PickTask, found: int) -> None:
    """THE STOCK CONTRACT: release the bin's reservation, move ``found`` units to staging with PICK
    moves, and reserve them there for the same order line."""
    staging = staging_location(pick.warehouse_id)
    with scope(client=pick.client_id):
        reservation = Allocation.objects.select_related("balance").get(pk=pick.allocation_id)
        if reservation.released_at is not None:
            raise ValidationError({"status": ["This pick's reservation was released; it cannot be picked."]})
        source = reservation.balance
        target = ledger.ensure_balance(
            client_id=pick.client_id,
            item=pick.item,
            location=staging,
            lot_code=source.lot_code,
            expiry_date=source.expiry_date,
        )
        locked = ledger.lock_balances([source.pk, target.pk], pick.client_id)
        source, target = locked[source.pk], locked[target.pk]
        now = timezone.now()
        Allocation.objects.filter(pk=reservation.pk).update(released_at=now)
        Balance.objects.filter(pk=source.pk).update(allocated=F("allocated") - reservation.quantity)
        source.refresh_from_db(fields=["on_hand", "allocated", "received_at"])
        if found:
            document = Document("wave", wave.pk, wave.number)
            ledger.post_move(
                actor=actor, balance=source, quantity=-found, reason=MoveReason.PICK, document=document
            )
            ledger.post_move(
                actor=actor,
                balance=target,
                quantity=found,
                reason=MoveReason.PICK,
                document=document,
                received_at=source.received_at,
            )
            Allocation.objects.create(
                client_id=pick.client_id,
                order_id=pick.order_id,
                line_id=pick.line_id,
                item_id=pick.item_id,
                balance=target,
                warehouse_id=staging.warehouse_id,
                location=staging,
                lot_code=target.lot_code,
                quantity=found,
            )
            Balance.objects.filter(pk=target.pk).update(allocated=F("allocated") + found)
        pick.picked_quantity = found
        pick.short_quantity = pick.quantity - found
        pick.status = PickStatus.PICKED if found == pick.quantity else PickStatus.SHORT
        pick.picked_at = now
        pick.picked_by = actor.label[:200]
        pick.save(update_fields=["picked_quantity", "short_quantity", "status", "picked_at", "picked_by"])


def _count_bin(actor: Actor, pick: PickTask, found: int):
    """A cycle count of the bin found short, as the picker when their role counts, else the system."""
    counter = actor if actor.can(Perm.COUNT) else Actor.system("short pick")
    with scope(client=counter.client_scope):
        return inventory_services.count_create(
            actor=counter,
            warehouse=pick.location.warehouse,
            locations=[pick.location],
            reason=f"short pick: {pick.item.sku} expected {pick.quantity}, found {found}",
        )


def _record_short(*, actor: Actor, wave: Wave, pick: PickTask, found: int) -> ShortPick:
    count = _count_bin(actor, pick, found)
    with scope(client=pick.client_id):
        order = Order.objects.select_for_update(of=("self",)).select_related("client").get(pk=pick.order_id)
        outcome = _reallocate_shortfall(actor=actor, wave=wave, pick=pick, order=order, found=found)
        return ShortPick.objects.create(
            client_id=pick.client_id,
            pick=pick,
            order=order,
            item=pick.item,
            location=pick.location,
            expected=pick.quantity,
            found=found,
            count=count,
            outcome=outcome[:300],
            actor_user=actor.user,
            actor_api_key=actor.api_key,
            actor_label=actor.label[:200],
        )


def _reallocate_shortfall(*, actor: Actor, wave: Wave, pick: PickTask, order: Order, found: int) -> str:
    """Other bins of the same node first (new picks in this wave); then, when the client allows
    split shipments, other nodes nearest first (picked in a later wave there); else the order goes
    to exception. Returns what happened, for the short pick's record."""
    shortfall = pick.quantity - found
    node = pick.location.warehouse
    route = [node]
    if order.client.allow_split_shipments:
        route += [n for n in clock.nodes_by_distance(order.client, order.ship_to_zip) if n.pk != node.pk]
    rows = order_allocation.allocate_part(
        order=order,
        line=pick.line,
        item_id=pick.item_id,
        quantity=shortfall,
        nodes=route,
        exclude_balance_ids=frozenset({pick.allocation.balance_id}),
    )
    sku, units = pick.item.sku, f"{shortfall} unit{'s' if shortfall != 1 else ''}"
    if rows:
        here = [a for a in rows if a.warehouse_id == node.pk]
        if here:
            start = (PickTask.objects.filter(wave=wave).aggregate(n=Max("sequence"))["n"] or 0) + 1
            pick_tasks_for(wave, here, start=start)
        parts = [f"{a.quantity} at {a.warehouse.code} {a.location.code}" for a in rows]
        return f"{units} of {sku} re-allocated: {', '.join(parts)}"
    reason = f"short pick: {sku} {units} short at {node.code}, no stock to re-allocate"
    if order.status in (OrderStatus.PICKING, OrderStatus.PACKED):
        order_transition(actor=actor, order=order, to=OrderStatus.EXCEPTION, reason=reason)
    PickTask.objects.filter(order=order, wave=wave, status=PickStatus.OPEN).update(
        status=PickStatus.CANCELLED
    )
    return f"{units} of {sku} not re-allocated: order {order.number} moved to exception"
