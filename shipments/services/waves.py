"""Waves: allocated orders of one node grouped for picking, their pick lists, and the wave's status.

A wave's pick list is drawn up when the wave is created: the pick tasks are what makes an order a
member of the wave (so a second wave never takes it), and the planned list can be reviewed before
it goes to the floor. Releasing the wave re-checks the list (an order put on hold or re-routed
meanwhile drops out) and makes it workable: its orders become ``picking``.

Waves belong to the operator (they hold many brands' orders); the services work across the clients
the actor sees, at one node, and open the scope of those clients themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import User, Warehouse
from accounts.roles import Perm
from accounts.services import audit_record
from inventory.enums import SELLABLE_LOCATION_TYPES, LocationType
from inventory.models import Location
from orders.enums import OrderStatus, ServiceLevel
from orders.models import Allocation, Order, OrderLine
from orders.services import transition as order_transition

from ..enums import WAVE_TRANSITIONS, PickStatus, WaveStatus, WaveUnits
from ..models import PickTask, Wave

OPEN_WAVE_STATUSES = (WaveStatus.PLANNED, WaveStatus.RELEASED, WaveStatus.PICKING)
# Orders whose units at a node may still be waved there: allocated ones, and split orders whose
# other node is already picking (or packed) when this node's part comes up.
WAVEABLE_ORDER_STATUSES = (OrderStatus.ALLOCATED, OrderStatus.PICKING, OrderStatus.PACKED)
# A pick that was not cancelled: it holds its allocation (open) or has consumed it (done).
LIVE_PICK = ~Q(status=PickStatus.CANCELLED)


# --- shared helpers (picking and packing use them too) -------------------------------------------


def require_node(actor: Actor, warehouse_id: int) -> None:
    """Floor work happens at the nodes one works at (warehouse operators); other staff anywhere."""
    if actor.role == Role.WAREHOUSE_OPERATOR and (
        actor.user is None or not actor.user.warehouses.filter(pk=warehouse_id).exists()
    ):
        raise PermissionDenied("You do not work at this node.")


def staging_location(warehouse_id: int) -> Location:
    """Where picked units wait for packing: the node's first active staging location."""
    location = (
        Location.objects.filter(warehouse_id=warehouse_id, type=LocationType.STAGING, active=True)
        .order_by("pick_sequence", "pk")
        .first()
    )
    if location is None:
        raise ValidationError(
            {"location": ["This node has no active staging location for picked units; create one first."]}
        )
    return location


def lock_orders(ids: Iterable[int], client_scope) -> list[Order]:
    """Row-lock orders in primary-key order (two waves never wait on each other in a cycle)."""
    with scope(client=client_scope):
        return list(
            Order.objects.select_for_update(of=("self",))
            .select_related("client")
            .filter(pk__in=set(ids))
            .order_by("pk")
        )


def _stamp(actor: Actor) -> dict[str, Any]:
    return {"actor_user": actor.user, "actor_api_key": actor.api_key, "actor_label": actor.label[:200]}


def wave_transition(*, actor: Actor, wave: Wave, to: str, reason: str = "") -> Wave:
    """The one place a wave's status changes: checks the table, stamps the time, saves, audits.
    The caller holds the wave's row lock."""
    if to not in WAVE_TRANSITIONS[wave.status]:
        raise ValidationError(
            {
                "status": [
                    f"A wave that is {wave.get_status_display().lower()} cannot become "
                    f"{WaveStatus(to).label.lower()}."
                ]
            }
        )
    was, wave.status = wave.status, to
    now = timezone.now()
    if to == WaveStatus.RELEASED:
        wave.released_at = now
    elif to == WaveStatus.PICKED:
        wave.picked_at = now
    wave.save(update_fields=["status", "released_at", "picked_at"])
    audit_record(
        actor=actor,
        action=f"wave.{to}",
        target=wave,
        client_id=None,
        changes={"from": was, "to": to, **({"reason": reason} if reason else {})},
    )
    return wave


def lock_wave(wave: Wave) -> Wave:
    return Wave.objects.select_for_update(of=("self",)).select_related("warehouse").get(pk=wave.pk)


# --- which orders a new wave takes ---------------------------------------------------------------


def unwaved_allocations(warehouse_id: int) -> QuerySet[Allocation]:
    """Active reservations in sellable bins of a node that no live pick task covers yet."""
    return Allocation.objects.filter(
        warehouse_id=warehouse_id,
        released_at__isnull=True,
        location__type__in=SELLABLE_LOCATION_TYPES,
    ).exclude(Exists(PickTask.objects.filter(LIVE_PICK, allocation=OuterRef("pk"))))


def local_day_end(warehouse: Warehouse, day: date) -> datetime:
    """The first instant after ``day`` ends at the node (orders due by that day: ship_by < it)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=ZoneInfo(warehouse.time_zone))


def wave_candidates(
    *,
    actor: Actor,
    warehouse: Warehouse,
    ship_by_date: date | None = None,
    service_level: str = "",
    units: str = WaveUnits.ANY,
    order_ids: Iterable[int] | None = None,
) -> QuerySet[Order]:
    """The orders a wave at ``warehouse`` would take (one set-based query; ship-by first). The
    caller holds the scope of the actor's clients."""
    in_open_wave = PickTask.objects.filter(
        order=OuterRef("pk"), warehouse=warehouse, wave__status__in=OPEN_WAVE_STATUSES, status=PickStatus.OPEN
    )
    total_units = (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    orders = (
        Order.objects.filter(actor.client_q("client"), status__in=WAVEABLE_ORDER_STATUSES)
        .filter(Exists(unwaved_allocations(warehouse.pk).filter(order=OuterRef("pk"))))
        .exclude(Exists(in_open_wave))
    )
    if ship_by_date is not None:
        orders = orders.filter(ship_by__lt=local_day_end(warehouse, ship_by_date))
    if service_level:
        orders = orders.filter(service_level=service_level)
    if units != WaveUnits.ANY:
        orders = orders.annotate(total_units=Subquery(total_units))
        orders = (
            orders.filter(total_units=1) if units == WaveUnits.SINGLE else orders.filter(total_units__gt=1)
        )
    if order_ids is not None:
        orders = orders.filter(pk__in=list(order_ids))
    return orders.order_by(F("ship_by").asc(nulls_last=True), "pk")


def _check_filters(service_level: str, units: str, limit: int | None) -> None:
    errors = {}
    if service_level and service_level not in ServiceLevel.values:
        errors["service_level"] = [f"Choose one of: {', '.join(ServiceLevel.values)}."]
    if units not in WaveUnits.values:
        errors["units"] = [f"Choose one of: {', '.join(WaveUnits.values)}."]
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        errors["limit"] = ["Enter a positive whole number."]
    if errors:
        raise ValidationError(errors)


def _check_assignee(user: User | None, warehouse_id: int) -> None:
    if user is None:
        return
    if (
        not user.is_active
        or user.role != Role.WAREHOUSE_OPERATOR
        or not user.warehouses.filter(pk=warehouse_id).exists()
    ):
        raise ValidationError({"assigned_to": ["Choose a warehouse operator who works at this node."]})


def pick_path_key(allocation: Allocation) -> tuple:
    """Pick-path order: the bin's sequence, its code, then the SKU."""
    return (allocation.location.pick_sequence, allocation.location.code, allocation.item.sku, allocation.pk)


def pick_tasks_for(wave: Wave, allocations: list[Allocation], start: int = 1) -> list[PickTask]:
    """Pick tasks for reservations, numbered along the pick path from ``start``."""
    ordered = sorted(allocations, key=pick_path_key)
    return PickTask.objects.bulk_create(
        [
            PickTask(
                client_id=a.client_id,
                wave=wave,
                order_id=a.order_id,
                line_id=a.line_id,
                allocation=a,
                item_id=a.item_id,
                warehouse_id=a.warehouse_id,
                location_id=a.location_id,
                lot_code=a.lot_code,
                sequence=start + i,
                quantity=a.quantity,
            )
            for i, a in enumerate(ordered)
        ]
    )


# --- the services ----------------------------------------------------------------------------------


@transaction.atomic
def wave_create(
    *,
    actor: Actor,
    warehouse: Warehouse,
    ship_by_date: date | None = None,
    service_level: str = "",
    units: str = WaveUnits.ANY,
    order_ids: Iterable[int] | None = None,
    limit: int | None = None,
    assign_to: User | None = None,
    note: str = "",
) -> Wave:
    """Group the node's allocated orders that match the filters (ship-by first, up to ``limit``)
    into a planned wave with its pick list. An empty selection is refused."""
    actor.require(Perm.FULFILL)
    require_node(actor, warehouse.pk)
    _check_filters(service_level, units, limit)
    _check_assignee(assign_to, warehouse.pk)
    order_ids = None if order_ids is None else sorted(set(order_ids))
    filters = {
        "ship_by_date": ship_by_date,
        "service_level": service_level,
        "units": units,
        "order_ids": order_ids,
    }
    with scope(client=actor.client_scope):
        chosen = list(
            wave_candidates(actor=actor, warehouse=warehouse, **filters).values_list("pk", flat=True)[
                : limit or None
            ]
        )
        if order_ids is not None and set(chosen) != set(order_ids):
            refused = sorted(set(order_ids) - set(chosen))
            raise ValidationError(
                {
                    "order_ids": [
                        f"Not waveable at {warehouse.code} (not allocated there, or already in an open "
                        f"wave): {', '.join(f'ORD-{pk:07d}' for pk in refused)}."
                    ]
                }
            )
        if not chosen:
            raise ValidationError({"non_field_errors": ["No order matches: the wave would be empty."]})
        # Lock the orders, then choose again in a new statement: a wave created concurrently has
        # committed its pick tasks by the time the locks are ours, and this query sees them.
        lock_orders(chosen, actor.client_scope)
        chosen = list(
            wave_candidates(
                actor=actor, warehouse=warehouse, **(filters | {"order_ids": chosen})
            ).values_list("pk", flat=True)
        )
        if not chosen:
            raise ValidationError({"non_field_errors": ["No order matches: the wave would be empty."]})
        wave = Wave.objects.create(
            warehouse=warehouse,
            ship_by_date=ship_by_date,
            service_level=service_level,
            units=units,
            assigned_to=assign_to,
            note=note[:200],
            **_stamp(actor),
        )
        allocations = list(
            unwaved_allocations(warehouse.pk)
            .filter(order_id__in=chosen)
            .select_related("location", "item")
            .order_by("pk")
        )
        pick_tasks_for(wave, allocations)
    audit_record(
        actor=actor,
        action="wave.created",
        target=wave,
        client_id=None,
        changes={"orders": len(chosen), "picks": len(allocations), "warehouse": warehouse.code},
    )
    return wave


@transaction.atomic
def wave_release(*, actor: Actor, wave: Wave) -> Wave:
    """Send a planned wave to the floor: its orders become ``picking``. Orders that changed since
    the wave was planned (put on hold, cancelled, re-routed) drop out of it."""
    actor.require(Perm.FULFILL)
    require_node(actor, wave.warehouse_id)
    wave = lock_wave(wave)
    if wave.status != WaveStatus.PLANNED:
        raise ValidationError(
            {"status": [f"Only a planned wave can be released; this one is {wave.status}."]}
        )
    with scope(client=actor.client_scope):
        picks = PickTask.objects.filter(wave=wave, status=PickStatus.OPEN)
        orders = lock_orders(picks.values_list("order_id", flat=True), actor.client_scope)
        waveable = {o.pk for o in orders if o.status in WAVEABLE_ORDER_STATUSES}
        stale = picks.filter(Q(allocation__released_at__isnull=False) | ~Q(order_id__in=waveable))
        stale.update(status=PickStatus.CANCELLED)
        live = set(picks.values_list("order_id", flat=True))
        if not live:
            raise ValidationError(
                {"status": ["None of the wave's orders can be picked any more: cancel the wave."]}
            )
        for order in orders:
            if order.pk in live and order.status != OrderStatus.PICKING:
                order_transition(
                    actor=actor, order=order, to=OrderStatus.PICKING, reason=f"wave {wave.number}"
                )
    return wave_transition(actor=actor, wave=wave, to=WaveStatus.RELEASED)


@transaction.atomic
def wave_assign(*, actor: Actor, wave: Wave, user: User | None) -> Wave:
    """Give an open wave to a warehouse operator who works at its node (``None``: unassign)."""
    actor.require(Perm.FULFILL)
    require_node(actor, wave.warehouse_id)
    wave = lock_wave(wave)
    if wave.status not in OPEN_WAVE_STATUSES:
        raise ValidationError({"status": [f"A {wave.get_status_display().lower()} wave cannot be assigned."]})
    _check_assignee(user, wave.warehouse_id)
    wave.assigned_to = user
    wave.save(update_fields=["assigned_to"])
    audit_record(
        actor=actor,
        action="wave.assigned",
        target=wave,
        client_id=None,
        changes={"assigned_to": user.pk if user else None},
    )
    return wave


@transaction.atomic
def wave_cancel(*, actor: Actor, wave: Wave, reason: str = "") -> Wave:
    """Cancel a wave before any pick is confirmed: its picks are cancelled (the reservations stay,
    so the orders can be waved again) and orders it sent to picking are allocated again."""
    actor.require(Perm.FULFILL)
    require_node(actor, wave.warehouse_id)
    wave = lock_wave(wave)
    with scope(client=actor.client_scope):
        picks = PickTask.objects.filter(wave=wave)
        if (
            picks.filter(status__in=[PickStatus.PICKED, PickStatus.SHORT]).exists()
            or picks.filter(picked_quantity__gt=0).exists()
        ):
            raise ValidationError(
                {"status": ["Picking has started in this wave: it can no longer be cancelled."]}
            )
        was_released = wave.status == WaveStatus.RELEASED
        wave_transition(actor=actor, wave=wave, to=WaveStatus.CANCELLED, reason=reason)
        order_ids = set(picks.values_list("order_id", flat=True))
        picks.update(status=PickStatus.CANCELLED)
        if was_released:
            busy_elsewhere = set(
                PickTask.objects.filter(LIVE_PICK, order_id__in=order_ids).values_list("order_id", flat=True)
            )
            for order in lock_orders(order_ids - busy_elsewhere, actor.client_scope):
                if order.status == OrderStatus.PICKING:
                    order_transition(
                        actor=actor,
                        order=order,
                        to=OrderStatus.ALLOCATED,
                        reason=f"wave {wave.number} cancelled",
                    )
    return wave


def wave_maybe_finished(*, actor: Actor, wave: Wave) -> Wave:
    """After a pick: the wave is picking once work started, picked when no open pick remains.
    The caller holds the wave's row lock."""
    if wave.status == WaveStatus.RELEASED:
        wave_transition(actor=actor, wave=wave, to=WaveStatus.PICKING)
    if (
        wave.status == WaveStatus.PICKING
        and not PickTask.objects.filter(wave=wave, status=PickStatus.OPEN).exists()
    ):
        wave_transition(actor=actor, wave=wave, to=WaveStatus.PICKED)
    return wave
