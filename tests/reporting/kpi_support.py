"""A hand-computed KPI fixture: one New York brand's week (Mon 2026-03-02 .. Sun 2026-03-08, EST),
built through the real services with chosen times (orders with ``received_at``; labels and
scan-out with ``at=``; deliveries through tracking events). Where a state cannot be reached at a
past time through the services (a cancellation's time, ASN and count timestamps, shipping costs
and estimated delivery dates, the snapshots of past days) the rows are updated after the services
created them: each such place says so.

Orders of brand A (cutoff 14:00, same-day SLA; times EST = UTC-5):
  O1 qty 1  received Mon 10:00, shipped Mon 12:00      due Mon, on time, same-day; delivered Wed (est Wed)
  O2 qty 2  received Mon 15:00 (after cutoff), shipped Wed 09:00   due Tue: late, not same-day-eligible
  O3 qty 3  received Tue 09:00, shipped Tue 13:00      due Tue, on time, same-day; a mis-pick recorded;
            delivered Fri (est Wed: late)
  O4 qty 1  received Sat 10:00 (weekend), shipped Sat 11:00   due Mon 03-09 (outside the week)
  O5 qty 2  received Wed 10:00, cancelled Wed 11:00
  O6 qty 1  received Thu 10:00, never shipped          due Thu 23:59:59
Brand B (Los Angeles): B1 received Mon 20:00 PST, shipped Mon 23:30 PST (= Tue 07:30 UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django_scopes import scopes_disabled

from accounts.models import Client
from inventory import services as inventory_services
from inventory.models import ASN, InventorySnapshot, Item
from orders import services as order_services
from orders.models import Order
from reporting.services import order_error_record
from shipments.models import Shipment
from shipments.services.shipping import buy_label, ship_out
from shipments.services.tracking import record_tracking_event
from tests.inventory.factories import make_asn, make_item, stock
from tests.orders.factories import LA, SHIP_TO_CA, SHIP_TO_NJ, make_order, make_world
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment

MON = date(2026, 3, 2)
SUN = date(2026, 3, 8)
NOW = datetime(2026, 3, 20, 16, 0, tzinfo=UTC)  # a Friday, well after the week


def est(day: int, hour: int, minute: int = 0) -> datetime:
    """March ``day`` 2026 at hour:minute New York time (EST, before the 03-08 change)."""
    return datetime(2026, 3, day, 0, minute, tzinfo=UTC) + timedelta(hours=hour + 5)


def pst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, 0, minute, tzinfo=UTC) + timedelta(hours=hour + 8)


@dataclass
class Week:
    client: Client
    la_client: Client
    item: Item
    orders: dict[str, Order]


def _ship(order: Order, node, shipped_at: datetime, *, cost: str) -> Shipment:
    shipment = buy_label(
        actor=SYSTEM, shipment=packed_shipment(order, node), at=shipped_at - timedelta(hours=1)
    )
    shipment = ship_out(actor=SYSTEM, shipment=shipment, at=shipped_at)
    # The rate card prices the label; the fixture pins a round cost so the expectations are by hand.
    Shipment.objects.filter(pk=shipment.pk).update(cost=Decimal(cost))
    return Shipment.objects.get(pk=shipment.pk)


def _deliver(shipment: Shipment, at: datetime, *, estimate: date) -> None:
    # The carrier's estimate depends on the service chosen: the fixture pins it.
    Shipment.objects.filter(pk=shipment.pk).update(estimated_delivery_date=estimate)
    record_tracking_event(
        actor=SYSTEM,
        shipment=Shipment.objects.get(pk=shipment.pk),
        status="delivered",
        occurred_at=at,
        source="carrier",
    )


def build_week() -> Week:
    world = make_world(regions=("nj",), name="Brand A")
    make_carriers()
    item = make_item(world.client, "WIDGET")
    inbound = stock(world.client, world.nj, item, 100)
    o = {}
    o["O1"] = make_order(world.client, [(item, 1)], ship_to=SHIP_TO_NJ, received_at=est(2, 10))
    o["O2"] = make_order(world.client, [(item, 2)], ship_to=SHIP_TO_NJ, received_at=est(2, 15))
    o["O3"] = make_order(world.client, [(item, 3)], ship_to=SHIP_TO_NJ, received_at=est(3, 9))
    o["O4"] = make_order(world.client, [(item, 1)], ship_to=SHIP_TO_NJ, received_at=est(7, 10))
    o["O5"] = make_order(world.client, [(item, 2)], ship_to=SHIP_TO_NJ, received_at=est(4, 10))
    o["O6"] = make_order(world.client, [(item, 1)], ship_to=SHIP_TO_NJ, received_at=est(5, 10))
    s1 = _ship(o["O1"], world.nj, est(2, 12), cost="10.00")
    _ship(o["O2"], world.nj, est(4, 9), cost="12.50")
    s3 = _ship(o["O3"], world.nj, est(3, 13), cost="8.00")
    _ship(o["O4"], world.nj, est(7, 11), cost="9.50")
    _deliver(s1, est(4, 10), estimate=date(2026, 3, 4))  # Mon -> Wed: 2 business days, on time
    _deliver(s3, est(6, 10), estimate=date(2026, 3, 4))  # Tue -> Fri: 3 business days, late
    order_error_record(
        actor=SYSTEM, order=Order.objects.get(pk=o["O3"].pk), kind="mis_pick", note="wrong colour"
    )
    order_services.order_cancel(actor=SYSTEM, order=Order.objects.get(pk=o["O5"].pk), reason="customer")
    # The cancellation happened now; the fixture dates it Wednesday 11:00.
    Order.objects.filter(pk=o["O5"].pk).update(cancelled_at=est(4, 11))

    # Inbound: the stocking ASN (clean) and a short one; the services ran now, the fixture dates them.
    ASN.objects.filter(pk=inbound.pk).update(
        arrived_at=est(2, 8),
        received_at=est(2, 12),
        stocked_at=est(2, 14),
        dock_to_stock_deadline=est(4, 23, 59),
    )  # 6 h, in time
    other = make_item(world.client, "GADGET")
    short = make_asn(world.client, world.nj.warehouse, [(other, 10)])
    inventory_services.asn_arrive(actor=SYSTEM, asn=short)
    line = short.lines.get()
    inventory_services.asn_receive(actor=SYSTEM, asn=short, line=line, quantity=8)
    inventory_services.asn_putaway(
        actor=SYSTEM, asn=short, line=line, to_location=world.nj.bins[1], quantity=8
    )
    inventory_services.asn_complete_receiving(actor=SYSTEM, asn=short)
    ASN.objects.filter(pk=short.pk).update(
        arrived_at=est(3, 8),
        received_at=est(3, 12),
        stocked_at=est(6, 8),
        dock_to_stock_deadline=est(5, 23, 59),
    )  # 72 h, late

    # End-of-day snapshots of the week: the snapshot task reads the ledger's real times (now), so
    # the fixture writes the past days' rows itself: 100 units of WIDGET each day.
    InventorySnapshot.objects.bulk_create(
        InventorySnapshot(
            client=world.client,
            item=item,
            warehouse=world.nj.warehouse,
            date=MON + timedelta(days=i),
            on_hand=100,
        )
        for i in range(7)
    )

    # Brand B in Los Angeles: shipped at 23:30 local on Monday, which is Tuesday in UTC.
    la = make_world(regions=("ca",), name="Brand B", time_zone=LA)
    la_item = make_item(la.client, "LA-TEE")
    stock(la.client, la.ca, la_item, 10)
    o["B1"] = make_order(la.client, [(la_item, 1)], ship_to=SHIP_TO_CA, received_at=pst(2, 20))
    _ship(o["B1"], la.ca, pst(2, 23, 30), cost="7.00")
    with scopes_disabled():
        o = {k: Order.objects.get(pk=v.pk) for k, v in o.items()}
    return Week(client=world.client, la_client=la.client, item=item, orders=o)
