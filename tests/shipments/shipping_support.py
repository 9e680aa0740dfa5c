"""Test data for labels, shipping and tracking: two rate-card carriers with known prices, and
orders taken to a packed shipment.

A packed shipment is made through the wave, pick and pack services when they exist
(``tests.shipments.factories``); otherwise it follows THE STOCK CONTRACT with the ledger directly:
each reservation in a bin is released, its units relocated (PICK) to the node's staging location
and reserved there again for the same order, line, item and lot; then a shipment with one closed,
weighed package holding every staged unit. Either way the ledger stays clean.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from inventory.enums import MoveReason
from inventory.ledger import Document, lock_balance, relocate
from inventory.models import Balance
from inventory.selectors import ledger_differences
from orders import allocation
from orders.enums import OrderStatus
from orders.models import Allocation, Order
from orders.services import transition
from shipments.enums import ShipmentStatus, TrackingFormat
from shipments.models import Carrier, CarrierService, Package, PackageLine, Rate, Shipment
from tests.inventory.factories import Node

SYSTEM = Actor.system("tests")


def _service(carrier: Carrier, code: str, name: str, transit: list[int], base: int, per: int = 1):
    service = CarrierService.objects.create(carrier=carrier, code=code, name=name, transit_days=transit)
    Rate.objects.bulk_create(
        Rate(service=service, zone=z, weight_lb=w, price=Decimal(base + per * z + per * w))
        for z in range(1, 9)
        for w in range(1, 71)
    )
    return service


def make_carriers() -> dict[str, CarrierService]:
    """UPS (fuel 10 %, residential 4.00): ground (2-5 days by zone) at 8 + zone + lb and next day
    air at 40 + 2 x (zone + lb); USPS (no surcharges): priority (2-3 days) at 12 + zone + lb."""
    ups = Carrier.objects.create(
        code="ups",
        name="UPS",
        tracking_format=TrackingFormat.UPS,
        account_number="A1B2C3",
        fuel_surcharge_pct=Decimal("10"),
        residential_surcharge=Decimal("4.00"),
        tracking_url="https://www.ups.com/track?tracknum={tracking_number}",
    )
    usps = Carrier.objects.create(
        code="usps",
        name="USPS",
        tracking_format=TrackingFormat.USPS,
        account_number="901234567",
        tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking_number}",
    )
    return {
        "ground": _service(ups, "ground", "Ground", [2, 2, 3, 3, 4, 4, 5, 5], 8),
        "next_day": _service(ups, "next_day_air", "Next Day Air", [1] * 8, 40, 2),
        "priority": _service(usps, "priority", "Priority Mail", [2, 2, 2, 3, 3, 3, 3, 3], 12),
    }


def _stage(order: Order, node: Node) -> None:
    """Pick every reservation of ``order`` at ``node`` into staging (the stock contract)."""
    with transaction.atomic(), scope(client=order.client_id):
        active = list(
            Allocation.objects.filter(order=order, warehouse=node.warehouse, released_at__isnull=True)
            .exclude(location=node.staging)
            .order_by("pk")
        )
        for a in active:
            Allocation.objects.filter(pk=a.pk).update(released_at=timezone.now())
            Balance.objects.filter(pk=a.balance_id).update(allocated=F("allocated") - a.quantity)
            balance = lock_balance(a.balance_id, order.client_id)
            _, into = relocate(
                actor=SYSTEM,
                balance=balance,
                to_location=node.staging,
                quantity=a.quantity,
                reason=MoveReason.PICK,
                document=Document("order", order.pk, order.number),
            )
            Balance.objects.filter(pk=into.balance_id).update(allocated=F("allocated") + a.quantity)
            Allocation.objects.create(
                client_id=order.client_id,
                order=order,
                line_id=a.line_id,
                item_id=a.item_id,
                balance_id=into.balance_id,
                warehouse_id=a.warehouse_id,
                location=node.staging,
                lot_code=a.lot_code,
                quantity=a.quantity,
            )


def packed_shipment(
    order: Order, node: Node, *, weight: str = "2", dims: tuple[str, str, str] = ("8", "6", "4")
) -> Shipment:
    """The order allocated (if not yet), picked into staging at ``node`` and packed into one
    closed, weighed package: a PACKING shipment with ``packed_at`` set, ready for its label."""
    order.refresh_from_db()
    if order.status in (OrderStatus.RECEIVED, OrderStatus.BACKORDERED):
        allocation.allocate(actor=SYSTEM, order=order)
        order.refresh_from_db()
    with transaction.atomic(), scope(client=order.client_id):
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status == OrderStatus.ALLOCATED:
            transition(actor=SYSTEM, order=locked, to=OrderStatus.PICKING)
    _stage(order, node)
    with transaction.atomic(), scope(client=order.client_id):
        shipment = Shipment.objects.create(
            client_id=order.client_id, order=order, warehouse=node.warehouse, status=ShipmentStatus.PACKING
        )
        package = Package.objects.create(
            client_id=order.client_id,
            shipment=shipment,
            number=1,
            length_in=Decimal(dims[0]),
            width_in=Decimal(dims[1]),
            height_in=Decimal(dims[2]),
            weight_lb=Decimal(weight),
            closed_at=timezone.now(),
        )
        staged = Allocation.objects.filter(
            order=order, warehouse=node.warehouse, location=node.staging, released_at__isnull=True
        )
        totals: dict[tuple, int] = {}
        for a in staged:
            key = (a.line_id, a.item_id, a.lot_code)
            totals[key] = totals.get(key, 0) + a.quantity
        PackageLine.objects.bulk_create(
            PackageLine(
                client_id=order.client_id,
                package=package,
                line_id=line,
                item_id=item,
                lot_code=lot,
                quantity=q,
            )
            for (line, item, lot), q in totals.items()
        )
        Shipment.objects.filter(pk=shipment.pk).update(packed_at=timezone.now())
    shipment.refresh_from_db()
    return shipment


def assert_ledger_clean() -> None:
    """Every balance equals its moves, and its ``allocated`` equals its active reservations."""
    assert ledger_differences() == []
    from django.db.models import Sum

    for balance in Balance.objects.all():
        active = (
            Allocation.objects.filter(balance=balance, released_at__isnull=True).aggregate(n=Sum("quantity"))[
                "n"
            ]
            or 0
        )
        assert balance.allocated == active, (balance.pk, balance.allocated, active)
