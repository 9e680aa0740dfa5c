"""Demo orders: a dozen per brand, across channels and states (allocated at the brand's nodes,
backordered, on a client hold, on an address hold, an unknown SKU, cancelled), made through the
same services as real intake. Allocation is run here directly so the demo needs no worker."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import Client
from inventory import services as inventory_services
from inventory.demo import CATALOG
from inventory.enums import LocationType
from inventory.models import Item, Location

from . import allocation, services
from .enums import Channel, HoldKind, OrderStatus, ServiceLevel
from .models import Order

# Real ZIPs near each demo node, so routing picks the nearest node.
ADDRESSES = {
    "NJ1": [
        ("Maya Chen", "221 Washington St", "Hoboken", "NJ", "07030"),
        ("Luis Ortega", "350 5th Ave", "New York", "NY", "10118"),
        ("Priya Patel", "1 Broad St", "Newark", "NJ", "07102"),
    ],
    "TX1": [
        ("Jordan Blake", "1500 Marilla St", "Dallas", "TX", "75201"),
        ("Ava Nguyen", "901 Bagby St", "Houston", "TX", "77002"),
        ("Sam Rivera", "301 W 2nd St", "Austin", "TX", "78701"),
    ],
    "CA1": [
        ("Noah Kim", "200 N Spring St", "Los Angeles", "CA", "90012"),
        ("Emma Garcia", "202 C St", "San Diego", "CA", "92101"),
        ("Olivia Brooks", "3900 Main St", "Riverside", "CA", "92501"),
    ],
}


def _ship_to(node_code: str, n: int, **override) -> dict:
    name, line1, city, state, zip_code = ADDRESSES.get(node_code, ADDRESSES["NJ1"])[n % 3]
    return {
        "ship_to_name": name,
        "ship_to_address1": line1,
        "ship_to_city": city,
        "ship_to_state": state,
        "ship_to_zip": zip_code,
        "ship_to_country": "US",
        "ship_to_email": f"{name.split()[0].lower()}@example.com",
        **override,
    }


def _stock_other_nodes(actor: Actor, client: Client, items: list[Item]) -> None:
    """The inventory demo stocks a brand's first node; a received ASN at each other node lets
    orders route to the node nearest their destination."""
    today = timezone.localdate()
    for n, warehouse in enumerate(client.warehouses.order_by("pk")[1:], start=2):
        bins = list(
            Location.objects.filter(warehouse=warehouse, type=LocationType.PICK).order_by("pick_sequence")
        )
        if not bins:
            continue
        lots = {}
        lines = []
        for item in (items[0], items[-1]):
            lot = {"lot_code": f"L{today:%y%m}{n}9", "expiry_date": today + timedelta(days=400)}
            lots[item.pk] = lot if item.lot_tracked else {}
            lines.append({"item": item, "expected_quantity": 12, **lots[item.pk]})
        asn = inventory_services.asn_create(
            actor=actor,
            client=client,
            warehouse=warehouse,
            lines=lines,
            submit=True,
            reference=f"{client.slug[:6].upper()}-PO-20{n:02d}",
            po_reference=f"PO-20{n:02d}",
        )
        inventory_services.asn_arrive(actor=actor, asn=asn, arrived_at=timezone.now() - timedelta(days=3))
        for i, line in enumerate(asn.lines.all()):
            inventory_services.asn_receive(
                actor=actor, asn=asn, line=line, quantity=line.expected_quantity, **lots[line.item_id]
            )
            inventory_services.asn_putaway(
                actor=actor, asn=asn, line=line, to_location=bins[i * 3 + 1], quantity=line.expected_quantity
            )
        inventory_services.asn_complete_receiving(actor=actor, asn=asn)


def _brand_orders(actor: Actor, client: Client) -> int:
    """Twelve orders for one brand; returns how many were made."""
    items = list(Item.objects.filter(client=client, is_kit=False).order_by("pk"))
    _stock_other_nodes(actor, client, items)
    kit = Item.objects.filter(client=client, is_kit=True).first()
    nodes = [w.code for w in client.warehouses.order_by("pk")]
    prefix = client.slug[:4].upper()
    now = timezone.now()
    a, b = items[0].sku, items[min(1, len(items) - 1)].sku
    c = items[-1].sku
    specs = [
        # (reference, channel, lines, ship-to node, hours ago, service level, what happens next)
        ("1001", Channel.API, [(a, 1)], 0, 50, ServiceLevel.STANDARD, None),
        ("1002", Channel.API, [(a, 1), (c, 2)], 1, 30, ServiceLevel.STANDARD, None),
        ("1003", Channel.CSV, [(b, 1)], 2, 6, ServiceLevel.STANDARD, None),
        ("1004", Channel.PORTAL, [(c, 2)], 0, 3, ServiceLevel.EXPEDITED, None),
        ("1005", Channel.SHOPIFY, [(kit.sku if kit else c, 1)], 1, 1, ServiceLevel.TWO_DAY, None),
        ("1006", Channel.SHOPIFY, [(a, 1), (c, 1)], 2, 0, ServiceLevel.STANDARD, None),
        ("1007", Channel.API, [(a, 500)], 0, 26, ServiceLevel.STANDARD, None),  # backordered
        ("1008", Channel.CSV, [(c, 400)], 1, 4, ServiceLevel.OVERNIGHT, None),  # backordered
        ("1009", Channel.PORTAL, [(b, 1)], 2, 2, ServiceLevel.STANDARD, "client_hold"),
        ("1010", Channel.API, [(a, 1)], 0, 5, ServiceLevel.STANDARD, "bad_zip"),
        ("1011", Channel.SHOPIFY, [(a, 1), ("DISCONTINUED-9", 1)], 1, 7, ServiceLevel.STANDARD, None),
        ("1012", Channel.PORTAL, [(c, 1)], 2, 20, ServiceLevel.STANDARD, "cancel"),
    ]
    for reference, channel, lines, node_index, hours_ago, level, then in specs:
        node = nodes[node_index % len(nodes)] if nodes else "NJ1"
        ship_to = _ship_to(node, node_index, **({"ship_to_zip": "00000"} if then == "bad_zip" else {}))
        order = services.order_create(
            actor=actor,
            client=client,
            external_reference=f"{prefix}-{reference}",
            channel=channel,
            lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
            ship_to=ship_to,
            service_level=level,
            received_at=now - timedelta(hours=hours_ago),
            tags=["demo"],
        )
        if order.status == OrderStatus.RECEIVED:
            allocation.allocate(actor=actor, order=order)
            order.refresh_from_db()
        if then == "client_hold":
            services.order_hold(
                actor=actor,
                order=order,
                kind=HoldKind.CLIENT,
                reason="Customer asked to wait for a gift note",
            )
        elif then == "cancel":
            services.order_cancel(actor=actor, order=order, reason="Customer changed their mind")
    return len(specs)


@transaction.atomic
def seed_orders(actor: Actor) -> bool:
    """Create the demo orders unless they exist. Returns whether anything was created."""
    # Portable across databases (SQLite has no JSON "contains"): the demo's references end in -1001.
    if Order.objects.filter(client__slug__in=CATALOG, external_reference__endswith="-1001").exists():
        return False
    made = 0
    for slug in CATALOG:
        client = Client.objects.filter(slug=slug).first()
        if client is None or not Item.objects.filter(client=client).exists():
            continue
        made += _brand_orders(actor, client)
    return made > 0
