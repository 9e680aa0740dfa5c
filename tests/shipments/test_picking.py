"""Scan-verified picking: the stock contract, refused scans, and short picks with their cycle
count and re-allocation (same node, another node, or exception)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inventory.enums import MoveReason
from inventory.models import Balance, CycleCount, Move
from orders import allocation
from orders.enums import OrderStatus
from orders.models import Allocation
from shipments.enums import PickStatus, WaveStatus
from shipments.models import PickTask, ShortPick
from shipments.services import picking, waves
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.factories import SYSTEM, assert_stock_consistent, pick_all

pytestmark = pytest.mark.django_db


def released(world, node, lines, **header):
    order = make_order(world.client, lines, ship_to=SHIP_TO_NJ, **header)
    allocation.allocate(actor=SYSTEM, order=order)
    wave = waves.wave_create(actor=SYSTEM, warehouse=node.warehouse, order_ids=[order.pk])
    waves.wave_release(actor=SYSTEM, wave=wave)
    return order, wave


def state():
    return (
        sorted(Balance.objects.values_list("pk", "on_hand", "allocated")),
        Move.objects.count(),
        sorted(Allocation.objects.filter(released_at__isnull=True).values_list("pk", "quantity")),
    )


@pytest.fixture
def world():
    w = make_world(regions=("nj",))
    w.item = make_item(w.client, "PICK-1", barcode="012345678905")
    w.other = make_item(w.client, "PICK-2", barcode="012345678912")
    stock(w.client, w.nj, w.item, 5, location=w.nj.bins[0])
    stock(w.client, w.nj, w.other, 5, location=w.nj.bins[1])
    return w


def test_a_confirmed_pick_moves_units_to_staging_and_keeps_them_reserved(world):
    order, wave = released(world, world.nj, [(world.item, 3)])
    pick = PickTask.objects.get(wave=wave)
    picking.pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code.lower(), item="012345678905")
    pick.refresh_from_db()
    assert (pick.status, pick.picked_quantity) == (PickStatus.OPEN, 1)  # one unit per scan
    assert not Move.objects.filter(reason=MoveReason.PICK).exists()
    picking.pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code, item="PICK-1", quantity=2)
    pick.refresh_from_db()
    assert pick.status == PickStatus.PICKED and pick.picked_at
    bin_balance = Balance.objects.get(item=world.item, location=world.nj.bins[0])
    staged = Balance.objects.get(item=world.item, location=world.nj.staging)
    assert (bin_balance.on_hand, bin_balance.allocated) == (2, 0)
    assert (staged.on_hand, staged.allocated) == (3, 3)
    moves = Move.objects.filter(reason=MoveReason.PICK, document_type="wave", document_id=str(wave.pk))
    assert sorted(moves.values_list("quantity", flat=True)) == [-3, 3]
    assert staged.received_at == bin_balance.received_at
    active = Allocation.objects.get(order=order, released_at__isnull=True)
    assert (active.location_id, active.quantity) == (world.nj.staging.pk, 3)
    wave.refresh_from_db()
    assert wave.status == WaveStatus.PICKED
    assert_stock_consistent()


@pytest.mark.parametrize(
    "scan, field",
    [
        ({"location": "A-01-02-A", "item": "PICK-1"}, "location"),  # wrong bin
        ({"location": "NOWHERE", "item": "PICK-1"}, "location"),
        ({"item": "PICK-2"}, "item"),  # another item of the order's client
        ({"item": "012345678912"}, "item"),  # its barcode
        ({"item": "NO-SUCH"}, "item"),
        ({"quantity": 4}, "quantity"),  # more than the pick asks for
    ],
)
def test_a_wrong_scan_is_refused_and_nothing_moves(world, scan, field):
    _order, wave = released(world, world.nj, [(world.item, 3)])
    pick = PickTask.objects.get(wave=wave)
    before = state()
    kwargs = {"location": pick.location.code, "item": "PICK-1", "quantity": 1} | scan
    with pytest.raises(ValidationError) as exc:
        picking.pick_confirm(actor=SYSTEM, pick=pick, **kwargs)
    assert field in exc.value.message_dict
    assert state() == before
    pick.refresh_from_db()
    assert (pick.status, pick.picked_quantity) == (PickStatus.OPEN, 0)


def test_another_clients_barcode_is_not_this_item(world):
    other_world = make_world(regions=("nj",))
    make_item(other_world.client, "PICK-1", barcode="099999999999")
    _order, wave = released(world, world.nj, [(world.item, 1)])
    pick = PickTask.objects.get(wave=wave)
    with pytest.raises(ValidationError) as exc:
        picking.pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code, item="099999999999")
    assert "item" in exc.value.message_dict


def test_short_pick_reallocates_at_the_same_node_with_a_new_pick(world):
    stock(world.client, world.nj, world.item, 4, location=world.nj.bins[2])
    order, wave = released(world, world.nj, [(world.item, 4)])
    pick = PickTask.objects.get(wave=wave)
    assert pick.location == world.nj.bins[0]  # FIFO: the first receipt
    picking.pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code, item="PICK-1")
    short = picking.pick_short(actor=SYSTEM, pick=pick, found=1)
    pick.refresh_from_db()
    assert (pick.status, pick.picked_quantity, pick.short_quantity) == (PickStatus.SHORT, 1, 3)
    assert (short.expected, short.found, short.location_id) == (4, 1, world.nj.bins[0].pk)
    count = CycleCount.objects.get(pk=short.count_id)
    assert set(count.lines.values_list("location_id", flat=True)) == {world.nj.bins[0].pk}
    new = PickTask.objects.get(wave=wave, status=PickStatus.OPEN)
    assert (new.location_id, new.quantity, new.sequence) == (world.nj.bins[2].pk, 3, pick.sequence + 1)
    assert "re-allocated" in short.outcome and world.nj.bins[2].code in short.outcome
    wave.refresh_from_db()
    assert wave.status == WaveStatus.PICKING
    pick_all(wave)
    wave.refresh_from_db()
    order.refresh_from_db()
    assert wave.status == WaveStatus.PICKED and order.status == OrderStatus.PICKING
    staged = Allocation.objects.filter(order=order, released_at__isnull=True)
    assert {a.location_id for a in staged} == {world.nj.staging.pk}
    assert sum(a.quantity for a in staged) == 4
    assert_stock_consistent()


def test_short_pick_never_reallocates_to_the_bin_found_short(world):
    order, wave = released(world, world.nj, [(world.item, 3)])  # 2 more units left in that bin
    pick = PickTask.objects.get(wave=wave)
    short = picking.pick_short(actor=SYSTEM, pick=pick, found=0)
    order.refresh_from_db()
    assert order.status == OrderStatus.EXCEPTION
    assert "PICK-1" in order.events.last().reason and "3 units" in order.events.last().reason
    assert "exception" in short.outcome
    assert_stock_consistent()


def test_short_pick_reallocates_at_another_node_when_splits_are_allowed():
    world = make_world(regions=("nj", "tx"), allow_split_shipments=True)
    item = make_item(world.client, "SPLIT-1")
    stock(world.client, world.nj, item, 2)
    stock(world.client, world.tx, item, 5)
    order, wave = released(world, world.nj, [(item, 2)])
    pick = PickTask.objects.get(wave=wave)
    short = picking.pick_short(actor=SYSTEM, pick=pick, found=1)
    assert world.tx.warehouse.code in short.outcome
    assert not PickTask.objects.filter(wave=wave, status=PickStatus.OPEN).exists()
    at_tx = Allocation.objects.get(order=order, warehouse=world.tx.warehouse, released_at__isnull=True)
    assert at_tx.quantity == 1 and at_tx.location.type == "pick"
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKING
    # the part at TX is picked in a later wave there
    tx_wave = waves.wave_create(actor=SYSTEM, warehouse=world.tx.warehouse)
    waves.wave_release(actor=SYSTEM, wave=tx_wave)
    pick_all(tx_wave)
    assert (
        Allocation.objects.get(order=order, warehouse=world.tx.warehouse, released_at__isnull=True).location
        == world.tx.staging
    )
    assert_stock_consistent()


def test_short_pick_without_stock_anywhere_is_an_exception_and_cancels_the_orders_open_picks(world):
    order, wave = released(world, world.nj, [(world.item, 5), (world.other, 2)])
    first, second = PickTask.objects.filter(wave=wave).order_by("sequence")
    picking.pick_short(actor=SYSTEM, pick=first, found=2)
    second.refresh_from_db()
    order.refresh_from_db()
    assert order.status == OrderStatus.EXCEPTION
    assert second.status == PickStatus.CANCELLED
    wave.refresh_from_db()
    assert wave.status == WaveStatus.PICKED
    # the two units found stay reserved at staging for the order
    staged = Allocation.objects.get(order=order, location=world.nj.staging, released_at__isnull=True)
    assert staged.quantity == 2
    assert ShortPick.objects.get(order=order).found == 2
    assert_stock_consistent()


def test_short_found_must_be_fewer_than_asked_and_not_below_scanned(world):
    _order, wave = released(world, world.nj, [(world.item, 3)])
    pick = PickTask.objects.get(wave=wave)
    picking.pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code, item="PICK-1", quantity=2)
    for found in (1, 3, -1, "x"):
        with pytest.raises(ValidationError) as exc:
            picking.pick_short(actor=SYSTEM, pick=pick, found=found)
        assert "found" in exc.value.message_dict


def test_picking_needs_a_released_wave_and_a_staging_location(world):
    order = make_order(world.client, [(world.item, 1)])
    allocation.allocate(actor=SYSTEM, order=order)
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    pick = PickTask.objects.get(wave=wave)
    with pytest.raises(ValidationError) as exc:
        picking.pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code, item="PICK-1")
    assert "status" in exc.value.message_dict
    waves.wave_release(actor=SYSTEM, wave=wave)
    world.nj.staging.active = False
    world.nj.staging.save(update_fields=["active"])
    before = state()
    with pytest.raises(ValidationError) as exc:
        picking.pick_confirm(actor=SYSTEM, pick=pick, location=pick.location.code, item="PICK-1")
    assert "location" in exc.value.message_dict
    assert state() == before
