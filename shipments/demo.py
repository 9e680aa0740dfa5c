"""Demo shipments: some of each brand's allocated demo orders taken through the floor (wave, pick,
pack) and shipping (label, scan-out, tracking) with the same services as real work, so the demo
has parcels in transit, out for delivery, delivered and one carrier exception, with histories.

Call after ``seed_carriers()`` / ``seed_boxes()``. Idempotent: a brand that has shipments already
is left alone. Labels, scan-outs and tracking events follow each order's receipt, up to now.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from accounts.actors import Actor
from accounts.models import Client
from orders.enums import OrderStatus
from orders.models import Order

from .enums import PickStatus, TrackingSource
from .models import Carrier, PickTask, Shipment
from .services import packing, picking, waves
from .services.shipping import buy_label, ship_out
from .services.tracking import record_tracking_event

PER_BRAND = 4
# (hours after scan-out, status, description) per story; the second ends in a carrier exception.
STORIES = [
    [
        (6, "in_transit", "Departed origin facility"),
        (30, "in_transit", "Arrived at destination hub"),
        (40, "out_for_delivery", "Out for delivery"),
        (44, "delivered", "Delivered, front door"),
    ],
    [(6, "in_transit", "Departed origin facility"), (20, "exception", "Address not found: carrier holding")],
    [
        (5, "in_transit", "Departed origin facility"),
        (26, "out_for_delivery", "Out for delivery"),
        (29, "delivered", "Delivered to mailroom"),
    ],
    [(7, "in_transit", "Departed origin facility"), (28, "out_for_delivery", "Out for delivery")],
]


def _pack(actor: Actor, order: Order) -> Shipment:
    warehouse = order.warehouse
    wave = waves.wave_create(actor=actor, warehouse=warehouse, order_ids=[order.pk])
    waves.wave_release(actor=actor, wave=wave)
    with scope(client=order.client_id):
        picks = list(
            PickTask.objects.filter(wave=wave, status=PickStatus.OPEN).select_related("location", "item")
        )
    for pick in picks:
        picking.pick_confirm(
            actor=actor, pick=pick, location=pick.location.code, item=pick.item.sku, quantity=pick.quantity
        )
    shipment = packing.pack_start(actor=actor, order=order, warehouse=warehouse)
    with scope(client=order.client_id):
        units = packing.shipment_units(shipment)
    for unit in units:
        if unit.left:
            packing.pack_scan(actor=actor, shipment=shipment, code=unit.item.sku, quantity=unit.left)
    with scope(client=order.client_id):
        package = shipment.packages.get(closed_at__isnull=True)
    packing.package_close(
        actor=actor, package=package, weight_lb="1.8", length_in="12", width_in="9", height_in="4"
    )
    return packing.pack_complete(actor=actor, shipment=shipment)


def seed_shipments(actor: Actor | None = None) -> int:
    """Ship and track up to ``PER_BRAND`` allocated orders of every brand; returns the shipments made."""
    actor = actor or Actor.system("seed_demo")
    if not Carrier.objects.filter(active=True).exists():
        return 0
    made = 0
    now = timezone.now()
    with scopes_disabled():
        clients = list(Client.objects.order_by("pk"))
    for client in clients:
        with scope(client=client.pk):
            if Shipment.objects.filter(client=client).exists():
                continue
            orders = list(
                Order.objects.filter(client=client, status=OrderStatus.ALLOCATED, warehouse__isnull=False)
                .select_related("warehouse")
                .order_by("received_at", "pk")[:PER_BRAND]
            )
        for n, order in enumerate(orders):
            # Labelled within the hour of receipt and scanned out a few hours later.
            labelled_at = min(order.received_at + timedelta(hours=1), now)
            shipped_at = min(order.received_at + timedelta(hours=4), now)
            shipment = buy_label(actor=actor, shipment=_pack(actor, order), at=labelled_at)
            ship_out(actor=actor, shipment=shipment, at=shipped_at)
            for i, (hours, status, description) in enumerate(STORIES[n % len(STORIES)]):
                at = shipped_at + timedelta(hours=hours)
                if at >= now:
                    break
                record_tracking_event(
                    actor=actor,
                    shipment=shipment,
                    status=status,
                    occurred_at=at,
                    location=f"{order.ship_to_city}, {order.ship_to_state}",
                    description=description,
                    source=TrackingSource.CARRIER,
                    external_id=f"demo-{shipment.pk}-{i}",
                )
            made += 1
    return made
