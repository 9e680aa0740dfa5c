"""The demo's shipped and delivered orders: made through the floor and shipping services,
idempotent, and the ledger stays clean."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_scopes import scopes_disabled

from accounts.models import Warehouse
from orders.enums import OrderStatus
from orders.models import Order
from shipments.demo import seed_shipments
from shipments.demo_carriers import seed_boxes, seed_carriers
from shipments.enums import ShipmentStatus
from shipments.models import Shipment, TrackingEvent
from tests.shipments.shipping_support import assert_ledger_clean

pytestmark = pytest.mark.django_db


def test_seed_shipments_ships_and_tracks_demo_orders_once():
    call_command("seed_demo", stdout=io.StringIO())
    with scopes_disabled():
        seed_carriers()
        for warehouse in Warehouse.objects.all():
            seed_boxes(warehouse)
        before = Shipment.objects.count()
        made = seed_shipments()
        # (seed_demo may already call it once the lead wires it in: then this run adds nothing)
        assert Shipment.objects.count() == before + made and Shipment.objects.exists()
        statuses = set(Shipment.objects.values_list("status", flat=True))
        assert ShipmentStatus.DELIVERED in statuses
        assert statuses & {ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY}
        assert Order.objects.filter(status=OrderStatus.DELIVERED, delivered_at__isnull=False).exists()
        assert TrackingEvent.objects.filter(source="carrier").exists()
        assert seed_shipments() == 0  # idempotent
        assert_ledger_clean()
