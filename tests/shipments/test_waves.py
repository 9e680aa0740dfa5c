"""Waves: which orders a wave takes, the pick list it draws up, release, assignment, cancel."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.actors import Actor
from accounts.enums import Role
from orders import allocation
from orders.enums import OrderStatus
from orders.models import Order
from shipments.enums import PickStatus, WaveStatus, WaveUnits
from shipments.models import PickTask
from shipments.selectors import wave_get
from shipments.services import waves
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world
from tests.shipments.factories import SYSTEM, wave_and_pick

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = make_world(regions=("nj",))
    w.items = [make_item(w.client, f"W-{i}", barcode=f"00{i}") for i in range(3)]
    for i, item in enumerate(w.items):
        stock(w.client, w.nj, item, 50, location=w.nj.bins[i])
    return w


def allocated(world, lines, **header) -> Order:
    order = make_order(world.client, lines, **header)
    allocation.allocate(actor=SYSTEM, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    return order


def test_wave_groups_by_ship_by_day_service_level_and_units(world):
    a, b, c = world.items
    single = allocated(world, [(a, 1)])
    multi = allocated(world, [(a, 1), (b, 2)])
    expedited = allocated(world, [(c, 1)], service_level="expedited")
    later = allocated(world, [(b, 1)])
    Order.objects.filter(pk=later.pk).update(ship_by=single.ship_by + timedelta(days=3))
    day = single.ship_by.astimezone(ZoneInfo(world.nj.warehouse.time_zone)).date()
    node = world.nj.warehouse

    def ids(**filters):
        return set(
            waves.wave_candidates(actor=SYSTEM, warehouse=node, **filters).values_list("pk", flat=True)
        )

    assert ids() == {single.pk, multi.pk, expedited.pk, later.pk}
    assert ids(ship_by_date=day) == {single.pk, multi.pk, expedited.pk}
    assert ids(service_level="expedited") == {expedited.pk}
    assert ids(units=WaveUnits.SINGLE) == {single.pk, expedited.pk, later.pk}
    assert ids(units=WaveUnits.MULTI) == {multi.pk}

    wave = waves.wave_create(actor=SYSTEM, warehouse=node, units=WaveUnits.SINGLE, ship_by_date=day)
    assert set(PickTask.objects.filter(wave=wave).values_list("order_id", flat=True)) == {
        single.pk,
        expedited.pk,
    }
    # ordered by ship-by; an order is never in two open waves
    assert ids() == {multi.pk, later.pk}
    with pytest.raises(ValidationError) as exc:
        waves.wave_create(actor=SYSTEM, warehouse=node, order_ids=[single.pk])
    assert "order_ids" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        waves.wave_create(actor=SYSTEM, warehouse=node, service_level="overnight")
    assert "non_field_errors" in exc.value.message_dict


def test_limit_takes_the_earliest_ship_by_first(world):
    a = world.items[0]
    orders = [allocated(world, [(a, 1)]) for _ in range(3)]
    Order.objects.filter(pk=orders[0].pk).update(ship_by=orders[0].ship_by + timedelta(days=1))
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse, limit=2)
    assert set(PickTask.objects.filter(wave=wave).values_list("order_id", flat=True)) == {
        orders[1].pk,
        orders[2].pk,
    }


def test_release_makes_a_pick_list_in_pick_path_order(world):
    a, b, c = world.items
    # bins[2] comes first on the path, then bins[0], then bins[1]
    world.nj.bins[2].pick_sequence, world.nj.bins[0].pick_sequence, world.nj.bins[1].pick_sequence = 1, 2, 3
    for location in world.nj.bins[:3]:
        location.save(update_fields=["pick_sequence"])
    first = allocated(world, [(a, 2), (b, 1)])
    second = allocated(world, [(c, 3), (a, 1)])
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    wave = waves.wave_release(actor=SYSTEM, wave=wave)
    assert wave.status == WaveStatus.RELEASED and wave.released_at
    picks = list(PickTask.objects.filter(wave=wave).order_by("sequence"))
    assert [(p.location.code, p.item.sku, p.quantity) for p in picks] == [
        (world.nj.bins[2].code, c.sku, 3),
        (world.nj.bins[0].code, a.sku, 2),
        (world.nj.bins[0].code, a.sku, 1),
        (world.nj.bins[1].code, b.sku, 1),
    ]
    assert [p.sequence for p in picks] == [1, 2, 3, 4]
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == OrderStatus.PICKING
    progress = wave_get(actor=SYSTEM, pk=wave.pk)
    assert (progress.picks_done, progress.picks_total, progress.units_picked, progress.units_total) == (
        0,
        4,
        0,
        7,
    )


def test_release_drops_orders_that_changed_since_planning(world):
    from orders.services import order_hold

    kept = allocated(world, [(world.items[0], 1)])
    held = allocated(world, [(world.items[1], 1)])
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    order_hold(actor=SYSTEM, order=held, kind="operator", reason="check address")
    waves.wave_release(actor=SYSTEM, wave=wave)
    assert PickTask.objects.get(wave=wave, order=held).status == PickStatus.CANCELLED
    assert PickTask.objects.get(wave=wave, order=kept).status == PickStatus.OPEN


def test_cancel_before_picking_sends_orders_back_to_allocated(world):
    order = allocated(world, [(world.items[0], 2)])
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    waves.wave_release(actor=SYSTEM, wave=wave)
    waves.wave_cancel(actor=SYSTEM, wave=wave, reason="wrong batch")
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert set(PickTask.objects.filter(wave=wave).values_list("status", flat=True)) == {PickStatus.CANCELLED}
    # the order can be waved again
    again = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    assert PickTask.objects.filter(wave=again, order=order).count() == 1


def test_cancel_after_a_confirmed_pick_is_refused(world):
    allocated(world, [(world.items[0], 1)])
    allocated(world, [(world.items[1], 1)])
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    waves.wave_release(actor=SYSTEM, wave=wave)
    from shipments.services.picking import pick_confirm

    pick = PickTask.objects.filter(wave=wave).order_by("sequence").first()
    pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code, item=pick.item.sku)
    with pytest.raises(ValidationError) as exc:
        waves.wave_cancel(actor=SYSTEM, wave=wave)
    assert "status" in exc.value.message_dict


def test_wave_is_picked_when_no_open_pick_remains(world):
    order = allocated(world, [(world.items[0], 2), (world.items[1], 1)])
    wave = wave_and_pick(order, world.nj)
    assert wave.status == WaveStatus.PICKED and wave.picked_at
    progress = wave_get(actor=SYSTEM, pk=wave.pk)
    assert (progress.picks_done, progress.picks_total, progress.units_picked, progress.shorts) == (2, 2, 3, 0)


def test_assign_only_to_an_operator_of_the_node(world):
    allocated(world, [(world.items[0], 1)])
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    here = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    here.warehouses.add(world.nj.warehouse)
    elsewhere = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    with pytest.raises(ValidationError) as exc:
        waves.wave_assign(actor=SYSTEM, wave=wave, user=elsewhere)
    assert "assigned_to" in exc.value.message_dict
    assert waves.wave_assign(actor=SYSTEM, wave=wave, user=here).assigned_to == here
    # an operator of another node may not touch this node's waves
    with pytest.raises(PermissionDenied):
        waves.wave_release(actor=Actor.for_user(elsewhere), wave=wave)
