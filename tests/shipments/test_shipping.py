"""Labels (rate shopping, an explicit service, double clicks), voids, scan-out and manifests, and
the stock contract: shipping takes the staged units off the books and the ledger stays clean."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import models

from inventory.enums import MoveReason
from inventory.models import Balance, Move
from orders.enums import OrderStatus
from orders.models import Allocation, Order
from shipments.enums import ShipmentStatus, TrackingStatus
from shipments.models import Carrier, Manifest, Shipment, VoidedLabel
from shipments.services.shipping import buy_label, manifest_close, ship_out, void_label
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.shipping_support import SYSTEM, assert_ledger_clean, make_carriers, packed_shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = make_world(regions=("nj", "tx"))
    w.services = make_carriers()
    w.item = make_item(w.client)
    stock(w.client, w.nj, w.item, 20)
    return w


def _order(world, quantity=2, **header):
    return make_order(world.client, [(world.item, quantity)], ship_to=SHIP_TO_NJ, **header)


@pytest.mark.parametrize(
    ("service_level", "expected", "total"),
    [
        # zone 1, 2 lb. USPS priority 12+1+2 = 15.00; UPS ground 8+1+2 = 11 + 4.00 residential,
        # + 10 % fuel = 16.50; UPS next day air 40+2+4 = 46 + 4 + 5.00 fuel = 55.00.
        ("standard", "priority", Decimal("15.00")),
        ("two_day", "priority", Decimal("15.00")),
        ("overnight", "next_day_air", Decimal("55.00")),
    ],
)
def test_buy_label_picks_the_cheapest_service_meeting_the_promise_and_keeps_the_alternatives(
    world, service_level, expected, total
):
    order = _order(world, service_level=service_level)
    shipment = packed_shipment(order, world.nj)

    shipment = buy_label(actor=SYSTEM, shipment=shipment)

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.LABEL_CREATED
    assert shipment.service.code == expected
    assert shipment.cost == total
    assert shipment.zone == 1 and shipment.billable_weight_lb == 2
    assert [q["service"] for q in shipment.quotes] == ["priority", "ground", "next_day_air"]
    assert [q["chosen"] for q in shipment.quotes].count(True) == 1
    chosen = next(q for q in shipment.quotes if q["chosen"])
    assert chosen["service"] == expected and Decimal(chosen["total"]) == total
    assert service_level in shipment.choice_reason
    assert (
        shipment.tracking_number and bytes(shipment.label_pdf)[:4] == b"%PDF" and "^XA" in shipment.label_zpl
    )
    assert shipment.packages.get().tracking_number == shipment.tracking_number
    assert shipment.estimated_delivery_date is not None and shipment.label_created_at is not None
    event = shipment.tracking_events.get()
    assert event.status == TrackingStatus.LABEL_CREATED and event.source == "system"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PACKED


def test_an_explicit_carrier_service_is_respected(world):
    order = _order(world, carrier_service="ups:ground")
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    assert (shipment.carrier.code, shipment.service.code) == ("ups", "ground")
    assert "asks for ups:ground" in shipment.choice_reason
    assert len(shipment.quotes) == 3  # the alternatives are still kept


def test_a_service_code_alone_is_enough(world):
    order = _order(world, carrier_service="next_day_air")
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    assert shipment.service.code == "next_day_air"


def test_an_unknown_carrier_service_is_a_400_naming_it_and_writes_nothing(world):
    order = _order(world, carrier_service="fedex:teleport")
    shipment = packed_shipment(order, world.nj)
    with pytest.raises(ValidationError) as exc:
        buy_label(actor=SYSTEM, shipment=shipment)
    assert "carrier_service" in exc.value.message_dict
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PACKING and not shipment.tracking_number
    assert not shipment.tracking_events.exists()


def test_a_storefront_shipping_title_is_rate_shopped_by_the_service_level(world):
    """Shopify puts its shipping line's title in carrier_service: it names no carrier service."""
    order = _order(world, carrier_service="Standard Shipping")
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    chosen = next(q for q in shipment.quotes if q["chosen"])
    cheapest_in_promise = min(
        (q for q in shipment.quotes if q["transit_days"] <= 5), key=lambda q: Decimal(q["total"])
    )
    assert chosen["service"] == cheapest_in_promise["service"]
    assert shipment.choice_reason.startswith("“Standard Shipping” names no carrier service; cheapest")


def test_buying_twice_is_refused_and_buys_one_label(world):
    shipment = packed_shipment(_order(world), world.nj)
    stale = Shipment.objects.get(pk=shipment.pk)
    first = buy_label(actor=SYSTEM, shipment=shipment)
    with pytest.raises(ValidationError) as exc:
        buy_label(actor=SYSTEM, shipment=stale)  # a second click with the page's stale copy
    assert "status" in exc.value.message_dict
    shipment.refresh_from_db()
    assert shipment.tracking_number == first.tracking_number
    assert shipment.tracking_events.count() == 1


def test_a_label_needs_a_finished_pack_with_weighed_packages(world):
    shipment = packed_shipment(_order(world), world.nj)
    Shipment.objects.filter(pk=shipment.pk).update(packed_at=None)
    with pytest.raises(ValidationError, match="finish packing"):
        buy_label(actor=SYSTEM, shipment=Shipment.objects.get(pk=shipment.pk))
    Shipment.objects.filter(pk=shipment.pk).update(packed_at=shipment.packed_at)
    shipment.packages.update(weight_lb=None)
    with pytest.raises(ValidationError) as exc:
        buy_label(actor=SYSTEM, shipment=Shipment.objects.get(pk=shipment.pk))
    assert "packages" in exc.value.message_dict


def test_void_before_pickup_restores_packing_and_a_new_label_can_be_bought(world):
    order = _order(world)
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    number = shipment.tracking_number

    shipment = void_label(actor=SYSTEM, shipment=shipment, reason="wrong box")

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PACKING
    assert not shipment.tracking_number and shipment.label_pdf is None and shipment.quotes == []
    assert shipment.carrier is None and shipment.cost is None
    assert shipment.packages.get().tracking_number == ""
    voided = VoidedLabel.objects.get(shipment=shipment)
    assert voided.tracking_number == number and voided.reason == "wrong box"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PICKING
    again = buy_label(actor=SYSTEM, shipment=shipment)
    assert again.status == ShipmentStatus.LABEL_CREATED and again.tracking_number != number


def test_void_after_ship_is_refused(world):
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(_order(world), world.nj))
    ship_out(actor=SYSTEM, shipment=shipment)
    with pytest.raises(ValidationError) as exc:
        void_label(actor=SYSTEM, shipment=shipment, reason="too late")
    assert "status" in exc.value.message_dict
    assert not VoidedLabel.objects.exists()


def test_ship_out_posts_ship_moves_from_staging_and_releases_the_reservations(world):
    order = _order(world, quantity=3)
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    staging = Balance.objects.get(location=world.nj.staging, item=world.item)
    assert (staging.on_hand, staging.allocated) == (3, 3)

    shipment = ship_out(actor=SYSTEM, shipment=shipment)

    staging.refresh_from_db()
    assert (staging.on_hand, staging.allocated) == (0, 0)
    move = Move.objects.get(reason=MoveReason.SHIP)
    assert (move.quantity, move.balance_id, move.document_type, move.document_id) == (
        -3,
        staging.pk,
        "shipment",
        str(shipment.pk),
    )
    assert not Allocation.objects.filter(order=order, released_at__isnull=True).exists()
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == ShipmentStatus.IN_TRANSIT and shipment.shipped_at is not None
    assert order.status == OrderStatus.SHIPPED and order.shipped_at == shipment.shipped_at
    assert shipment.tracking_events.filter(status=TrackingStatus.IN_TRANSIT, source="floor").exists()
    assert_ledger_clean()


def test_shipping_twice_ships_nothing_twice(world):
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(_order(world), world.nj))
    stale = Shipment.objects.get(pk=shipment.pk)
    ship_out(actor=SYSTEM, shipment=shipment)
    ship_out(actor=SYSTEM, shipment=stale)
    assert Move.objects.filter(reason=MoveReason.SHIP).count() == 1
    assert_ledger_clean()


def test_ship_out_refuses_a_shipment_without_a_label(world):
    shipment = packed_shipment(_order(world), world.nj)
    with pytest.raises(ValidationError):
        ship_out(actor=SYSTEM, shipment=shipment)
    assert not Move.objects.filter(reason=MoveReason.SHIP).exists()


def test_a_split_order_is_partially_shipped_then_shipped(world):
    world.client.allow_split_shipments = True
    world.client.save()
    stock(world.client, world.tx, world.item, 3)
    Balance.objects.filter(warehouse=world.nj.warehouse).update()  # NJ has 20
    order = _order(world, quantity=22)  # 20 from NJ and 2 from TX
    nj = packed_shipment(order, world.nj)
    tx = packed_shipment(order, world.tx)
    assert set(
        Allocation.objects.filter(order=order, released_at__isnull=True).values_list("warehouse", flat=True)
    ) == {
        world.nj.warehouse.pk,
        world.tx.warehouse.pk,
    }
    nj = buy_label(actor=SYSTEM, shipment=nj)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PICKING  # TX has no label yet
    tx = buy_label(actor=SYSTEM, shipment=tx)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PACKED

    ship_out(actor=SYSTEM, shipment=nj)
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED and order.shipped_at is None
    ship_out(actor=SYSTEM, shipment=tx)
    order.refresh_from_db()
    tx.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.shipped_at == tx.shipped_at
    assert_ledger_clean()


def test_a_split_order_is_not_packed_while_its_other_node_is_still_picking(world):
    world.client.allow_split_shipments = True
    world.client.save()
    stock(world.client, world.tx, world.item, 3)
    order = _order(world, quantity=22)
    nj = packed_shipment(order, world.nj)
    buy_label(actor=SYSTEM, shipment=nj)  # TX's units are still in their bin, reserved
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PICKING


def test_manifest_closes_every_labelled_shipment_of_a_carrier_at_a_node_and_ships_them(world):
    ups = Carrier.objects.get(code="ups")
    shipments = [
        buy_label(
            actor=SYSTEM, shipment=packed_shipment(_order(world, carrier_service="ups:ground"), world.nj)
        )
        for _ in range(2)
    ]
    other = buy_label(actor=SYSTEM, shipment=packed_shipment(_order(world), world.nj))  # USPS
    assert other.carrier.code == "usps"

    manifest = manifest_close(actor=SYSTEM, warehouse=world.nj.warehouse, carrier=ups)

    assert manifest.shipment_count == 2 and manifest.package_count == 2
    for s in shipments:
        s.refresh_from_db()
        assert s.manifest_id == manifest.pk and s.status == ShipmentStatus.IN_TRANSIT
        assert s.shipped_at == manifest.closed_at
        assert s.order.status == OrderStatus.SHIPPED
    other.refresh_from_db()
    assert other.status == ShipmentStatus.LABEL_CREATED and other.manifest_id is None
    assert Move.objects.filter(reason=MoveReason.SHIP).count() == 2
    assert_ledger_clean()
    with pytest.raises(ValidationError) as exc:  # nothing left for UPS: no empty manifest
        manifest_close(actor=SYSTEM, warehouse=world.nj.warehouse, carrier=ups)
    assert "carrier" in exc.value.message_dict
    assert Manifest.objects.count() == 1


def test_a_manifested_label_cannot_be_voided(world):
    ups = Carrier.objects.get(code="ups")
    shipment = buy_label(
        actor=SYSTEM, shipment=packed_shipment(_order(world, carrier_service="ups:ground"), world.nj)
    )
    manifest_close(actor=SYSTEM, warehouse=world.nj.warehouse, carrier=ups)
    with pytest.raises(ValidationError):
        void_label(actor=SYSTEM, shipment=Shipment.objects.get(pk=shipment.pk), reason="x")


def test_a_warehouse_operator_ships_only_at_their_own_node(world, warehouse_operator):
    from django.core.exceptions import PermissionDenied

    from accounts.actors import Actor

    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(_order(world), world.nj))
    actor = Actor.for_user(warehouse_operator)
    warehouse_operator.warehouses.add(world.tx.warehouse)
    with pytest.raises(PermissionDenied):
        ship_out(actor=Actor.for_user(warehouse_operator), shipment=shipment)
    warehouse_operator.warehouses.add(world.nj.warehouse)
    actor = Actor.for_user(warehouse_operator)
    assert ship_out(actor=actor, shipment=shipment).status == ShipmentStatus.IN_TRANSIT


def test_the_floor_services_and_shipping_keep_the_stock_consistent(world):
    """The real wave, pick and pack services, then label and scan-out: ledger clean, order shipped."""
    from orders import allocation
    from tests.shipments.factories import assert_stock_consistent, pack_order

    order = _order(world, quantity=2)
    allocation.allocate(actor=SYSTEM, order=Order.objects.get(pk=order.pk))
    shipment = pack_order(Order.objects.get(pk=order.pk), world.nj)
    shipment = buy_label(actor=SYSTEM, shipment=shipment)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PACKED
    ship_out(actor=SYSTEM, shipment=shipment)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert Move.objects.filter(reason=MoveReason.SHIP).aggregate(n=models.Sum("quantity"))["n"] == -2
    assert_ledger_clean()
    assert_stock_consistent()
