"""A brand with a quarter of activity and some in the quarter before, for the QBR tests."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from reporting.enums import AlertRule, Severity
from reporting.models import Alert
from reporting.qbr import Quarter
from shipments.services.shipping import buy_label, ship_out
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment


def last_quarter() -> Quarter:
    return Quarter.containing(timezone.localdate()).previous


def ship(world, item, received: datetime, hours: float, quantity: int = 1):
    order = make_order(world.client, [(item, quantity)], ship_to=SHIP_TO_NJ, received_at=received)
    shipment = buy_label(
        actor=SYSTEM, shipment=packed_shipment(order, world.nj), at=received + timedelta(minutes=30)
    )
    ship_out(actor=SYSTEM, shipment=shipment, at=received + timedelta(hours=hours))
    return order


def make_brand(*, orders_per_week: int = 1, name: str = "Juniper Jams", slug: str = "juniper-jams"):
    """Orders received on Tuesday mornings through last quarter (``orders_per_week`` each week, one a
    week shipped a day late), two in the quarter before, and alerts in both quarters."""
    world = make_world(regions=("nj",), name=name, slug=slug, target_on_time_ship=99)
    from shipments.models import Carrier

    if not Carrier.objects.exists():
        make_carriers()
    item = make_item(world.client, f"{slug.upper()}-JAM", name="Jam")
    stock(world.client, world.nj, item, 40 * orders_per_week + 100)
    zone = ZoneInfo(world.client.time_zone)
    quarter = last_quarter()
    day = quarter.start + timedelta(days=(1 - quarter.start.weekday()) % 7)  # first Tuesday
    weeks = 0
    while day <= quarter.end - timedelta(days=2) and weeks < 4:
        for n in range(orders_per_week):
            received = datetime.combine(day, time(9, n), tzinfo=zone)
            ship(world, item, received, hours=2 if n else 30, quantity=2)
        day += timedelta(days=7)
        weeks += 1
    prev = quarter.previous
    for offset in (10, 20):
        received = datetime.combine(prev.start + timedelta(days=offset), time(10), tzinfo=zone)
        ship(world, item, received, hours=3)
    start, _end = quarter.window(world.client)
    for n, (rule, severity, hours) in enumerate(
        [(AlertRule.ORDER_LATE, Severity.CRITICAL, 4), (AlertRule.LOW_STOCK, Severity.INFO, None)]
    ):
        opened = start + timedelta(days=3 + n)
        Alert.objects.create(
            client=world.client,
            rule=rule,
            severity=severity,
            object_type="order",
            object_id=f"{slug}-{n}",
            title=f"Alert {n}",
            opened_at=opened,
            resolved_at=opened + timedelta(hours=hours) if hours else None,
        )
    return world, item, quarter
