"""The pack station: start only when picked, scan-verified units, box proposal, several packages,
completion checks, and the order packed once all its parts are."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from orders import allocation
from orders.enums import OrderStatus
from shipments.models import Package, PackageLine
from shipments.selectors import pack_proposal
from shipments.services import packing, waves
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world
from tests.shipments.factories import SYSTEM, assert_stock_consistent, make_boxes, pack_order, wave_and_pick

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = make_world(regions=("nj",))
    dims = {"weight_lb": Decimal("0.5"), "length_in": 5, "width_in": 4, "height_in": 2}
    w.item = make_item(w.client, "PACK-1", barcode="111111111111", **dims)
    w.other = make_item(w.client, "PACK-2", barcode="222222222222", **dims)
    w.stranger = make_item(w.client, "PACK-3")
    stock(w.client, w.nj, w.item, 10, location=w.nj.bins[0])
    stock(w.client, w.nj, w.other, 10, location=w.nj.bins[1])
    w.boxes = make_boxes(w.nj.warehouse)
    return w


def picked_order(world, lines):
    order = make_order(world.client, lines)
    allocation.allocate(actor=SYSTEM, order=order)
    wave_and_pick(order, world.nj)
    order.refresh_from_db()
    return order


def test_packing_starts_only_when_the_order_is_picked_at_that_node(world):
    order = make_order(world.client, [(world.item, 1)])
    allocation.allocate(actor=SYSTEM, order=order)
    with pytest.raises(ValidationError) as exc:
        packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse)
    assert "order" in exc.value.message_dict
    wave = waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse)
    waves.wave_release(actor=SYSTEM, wave=wave)
    order.refresh_from_db()
    with pytest.raises(ValidationError):  # picking, but its pick is still open
        packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse)


def test_scans_are_verified_and_an_unknown_or_extra_unit_is_refused(world):
    order = picked_order(world, [(world.item, 2), (world.other, 1)])
    shipment = packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse)
    assert packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse) == shipment
    line = packing.pack_scan(actor=SYSTEM, shipment=shipment, code="111111111111")
    assert (line.quantity, line.package.number) == (1, 1)
    for code, field in (("PACK-3", "code"), ("NOPE", "code")):
        with pytest.raises(ValidationError) as exc:
            packing.pack_scan(actor=SYSTEM, shipment=shipment, code=code)
        assert field in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        packing.pack_scan(actor=SYSTEM, shipment=shipment, code="PACK-1", quantity=2)
    assert "quantity" in exc.value.message_dict
    packing.pack_scan(actor=SYSTEM, shipment=shipment, code="PACK-1")
    with pytest.raises(ValidationError) as exc:
        packing.pack_scan(actor=SYSTEM, shipment=shipment, code="PACK-1")
    assert "code" in exc.value.message_dict
    assert PackageLine.objects.get(package__shipment=shipment, item=world.item).quantity == 2
    with pytest.raises(ValidationError) as exc:  # PACK-2 is not packed, the package is open
        packing.pack_complete(actor=SYSTEM, shipment=shipment)
    message = exc.value.message_dict["packages"][0]
    assert "1 x PACK-2 not packed" in message and "package 1 not closed" in message


def test_the_proposed_box_is_the_smallest_that_holds_everything(world):
    order = picked_order(world, [(world.item, 2)])
    shipment = packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse)
    proposal = pack_proposal(shipment)
    assert [p.box.code for p in proposal.boxes] == ["S"]
    packed = pack_order(order, world.nj)
    assert packed.pk == shipment.pk and packed.packed_at
    package = Package.objects.get(shipment=packed)
    assert package.box_type == world.boxes["S"]
    assert (package.length_in, package.width_in, package.height_in) == (8, 6, 4)
    assert package.billable_weight_lb == 3  # 2.5 lb rounds up; 8x6x4/139 is 2
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED
    assert_stock_consistent()


def test_several_packages_per_order(world):
    order = picked_order(world, [(world.item, 3), (world.other, 2)])
    shipment = packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse)
    packing.pack_scan(actor=SYSTEM, shipment=shipment, code="PACK-1", quantity=3)
    first = Package.objects.get(shipment=shipment)
    with pytest.raises(ValidationError) as exc:
        packing.package_close(actor=SYSTEM, package=first, box_type=world.boxes["M"], weight_lb="0")
    assert "weight_lb" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        packing.package_close(actor=SYSTEM, package=first, weight_lb="2", length_in="10")
    assert "width_in" in exc.value.message_dict
    packing.package_close(actor=SYSTEM, package=first, box_type=world.boxes["M"], weight_lb="1.9")
    second = packing.package_open_next(actor=SYSTEM, shipment=shipment)
    assert second.number == 2
    assert packing.package_open_next(actor=SYSTEM, shipment=shipment) == second  # empty: reused
    packing.pack_scan(actor=SYSTEM, shipment=shipment, code="222222222222")
    packing.pack_scan(actor=SYSTEM, shipment=shipment, code="222222222222", package=second)
    # the proposal covers only what is not boxed yet
    assert [(i.sku, n) for i, n in pack_proposal(shipment).first.contents] == [("PACK-2", 2)]
    packing.package_close(
        actor=SYSTEM, package=second, weight_lb="1.2", length_in="9", width_in="7", height_in="5"
    )
    shipment = packing.pack_complete(actor=SYSTEM, shipment=shipment)
    assert shipment.packed_at
    assert list(Package.objects.filter(shipment=shipment).values_list("number", "billable_weight_lb")) == [
        (1, 7),  # 12x10x8 / 139 = 6.9 -> 7
        (2, 3),  # 9x7x5 / 139 = 2.3 -> 3
    ]
    with pytest.raises(ValidationError) as exc:
        packing.pack_scan(actor=SYSTEM, shipment=shipment, code="PACK-1")
    assert "status" in exc.value.message_dict
    assert_stock_consistent()


def test_a_box_of_another_node_is_refused(world):
    other = make_world(regions=("tx",))
    foreign = make_boxes(other.tx.warehouse)["S"]
    order = picked_order(world, [(world.item, 1)])
    shipment = packing.pack_start(actor=SYSTEM, order=order, warehouse=world.nj.warehouse)
    packing.pack_scan(actor=SYSTEM, shipment=shipment, code="PACK-1")
    with pytest.raises(ValidationError) as exc:
        packing.package_close(
            actor=SYSTEM, package=Package.objects.get(shipment=shipment), box_type=foreign, weight_lb="1"
        )
    assert "box_type" in exc.value.message_dict
