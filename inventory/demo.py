"""Demo inventory: bins at every node, a catalog per brand, and ASNs in every state (through the
same services a person would use, so the ledger and the balances agree)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import Client, Warehouse

from . import services
from .enums import LocationType, MilestoneKind
from .models import Item, Location

CATALOG = {
    "acme-apparel": [
        ("TEE-BLK-S", "Classic tee, black, S", "810000000017", {}),
        ("TEE-BLK-M", "Classic tee, black, M", "810000000024", {}),
        ("TEE-BLK-L", "Classic tee, black, L", "810000000031", {}),
        ("HOOD-GRY-M", "Hoodie, grey, M", "810000000048", {"case_quantity": 12}),
        ("SOCK-3PK", "Crew socks, 3-pack", "810000000055", {}),
    ],
    "brightbrew": [
        (
            "BEAN-HOUSE-12",
            "House blend beans 12 oz",
            "820000000016",
            {"lot_tracked": True, "expiry_tracked": True},
        ),
        ("BEAN-DECAF-12", "Decaf beans 12 oz", "820000000023", {"lot_tracked": True, "expiry_tracked": True}),
        ("MUG-WHT", "Ceramic mug, white", "820000000030", {}),
        ("FILTER-100", "Paper filters, 100", "820000000047", {}),
    ],
    "coastal-candles": [
        ("CNDL-SEA-8", "Sea salt candle 8 oz", "830000000015", {"hazmat": True}),
        ("CNDL-PINE-8", "Pine candle 8 oz", "830000000022", {"hazmat": True}),
        ("WICK-TRIM", "Wick trimmer", "830000000039", {}),
    ],
    "dune-outdoor": [
        ("TENT-2P", "Two-person tent", "840000000014", {"weight_lb": "5.200"}),
        ("BAG-20F", "Sleeping bag 20F", "840000000021", {}),
        ("LAMP-LED", "LED camp lamp", "840000000038", {}),
    ],
    "evergreen-vitamins": [
        ("VIT-D3-60", "Vitamin D3, 60 caps", "850000000013", {"lot_tracked": True, "expiry_tracked": True}),
        ("VIT-C-120", "Vitamin C, 120 tabs", "850000000020", {"lot_tracked": True, "expiry_tracked": True}),
        ("OMEGA-90", "Omega-3, 90 softgels", "850000000037", {"lot_tracked": True, "expiry_tracked": True}),
    ],
}
KITS = {
    "acme-apparel": ("BUNDLE-TEE-SOCK", "Tee + socks bundle", [("TEE-BLK-M", 1), ("SOCK-3PK", 1)]),
    "brightbrew": ("GIFT-BREW", "Brew gift set", [("BEAN-HOUSE-12", 1), ("MUG-WHT", 2)]),
}


def _locations(actor: Actor, warehouse: Warehouse) -> None:
    if Location.objects.filter(warehouse=warehouse).exists():
        return
    for code, kind, seq in (
        ("DOCK-01", LocationType.RECEIVING, 1),
        ("QC-01", LocationType.QUARANTINE, 2),
        ("STAGE-01", LocationType.STAGING, 3),
    ):
        services.location_create(actor=actor, warehouse=warehouse, code=code, type=kind, pick_sequence=seq)
    services.locations_bulk_create(
        actor=actor,
        warehouse=warehouse,
        zone="A",
        aisles="01-04",
        bays="01-06",
        levels="A-C",
        type=LocationType.PICK,
    )
    services.locations_bulk_create(
        actor=actor,
        warehouse=warehouse,
        zone="R",
        aisles="01-02",
        bays="01-04",
        levels="1-2",
        type=LocationType.RESERVE,
    )


def _lot(item: Item, n: int) -> dict:
    today = timezone.localdate()
    if not item.lot_tracked:
        return {}
    return {"lot_code": f"L{today:%y%m}{n:02d}", "expiry_date": today + timedelta(days=365 + 30 * n)}


def _asns(actor: Actor, client: Client, warehouse: Warehouse, items: list[Item]) -> None:
    lines = [
        {"item": item, "expected_quantity": 24 * (i + 1), **_lot(item, 1)} for i, item in enumerate(items)
    ]
    # Received, put away and closed: the stock the demo sells from.
    asn = services.asn_create(
        actor=actor,
        client=client,
        warehouse=warehouse,
        lines=lines,
        submit=True,
        reference=f"{client.slug[:6].upper()}-PO-1001",
        po_reference="PO-1001",
        sender="Factory Co.",
        carrier="Freight Line",
    )
    services.asn_arrive(actor=actor, asn=asn, arrived_at=timezone.now() - timedelta(days=6))
    bins = list(
        Location.objects.filter(warehouse=warehouse, type=LocationType.PICK).order_by("pick_sequence")
    )
    for i, line in enumerate(asn.lines.all()):
        short = 2 if i == 0 else 0
        services.asn_receive(
            actor=actor, asn=asn, line=line, quantity=line.expected_quantity - short, **_lot(line.item, 1)
        )
        if i == 1:
            services.asn_receive(
                actor=actor, asn=asn, line=line, quantity=1, condition="damaged", **_lot(line.item, 1)
            )
    services.asn_complete_receiving(actor=actor, asn=asn)
    for i, line in enumerate(asn.lines.all()):
        line.refresh_from_db()
        services.asn_putaway(
            actor=actor, asn=asn, line=line, to_location=bins[i * 3], quantity=line.received_quantity
        )
    services.asn_close(
        actor=actor, asn=asn, notes={asn.lines.first().pk: "Two units short on the packing list too."}
    )

    # Arrived and half received: work for the receiving screen.
    asn = services.asn_create(
        actor=actor,
        client=client,
        warehouse=warehouse,
        lines=[{**x, **_lot(x["item"], 2)} for x in lines[:2]],
        submit=True,
        reference=f"{client.slug[:6].upper()}-PO-1002",
        po_reference="PO-1002",
        carrier="UPS Freight",
    )
    services.asn_arrive(actor=actor, asn=asn)
    first = asn.lines.first()
    services.asn_receive(
        actor=actor, asn=asn, line=first, quantity=first.expected_quantity // 2, **_lot(first.item, 2)
    )

    # In transit with milestones, and a draft.
    asn = services.asn_create(
        actor=actor,
        client=client,
        warehouse=warehouse,
        lines=[{**x, **_lot(x["item"], 3)} for x in lines[-2:]],
        submit=True,
        reference=f"{client.slug[:6].upper()}-PO-1003",
        po_reference="PO-1003",
        container_number="MSKU1234567",
        eta=timezone.localdate() + timedelta(days=5),
    )
    services.asn_add_milestone(
        actor=actor,
        asn=asn,
        kind=MilestoneKind.DEPARTED_ORIGIN,
        occurred_at=timezone.now() - timedelta(days=3),
    )
    services.asn_add_milestone(
        actor=actor, asn=asn, kind=MilestoneKind.ARRIVED_PORT, eta=timezone.localdate() + timedelta(days=4)
    )
    services.asn_create(
        actor=actor,
        client=client,
        warehouse=warehouse,
        lines=lines[:1],
        reference=f"{client.slug[:6].upper()}-PO-1004",
    )


@transaction.atomic
def seed_inventory(actor: Actor) -> bool:
    """Create the demo inventory unless it exists. Returns whether anything was created."""
    if Item.objects.filter(client__slug__in=CATALOG).exists():
        return False
    for warehouse in Warehouse.objects.filter(code__in=["NJ1", "TX1", "CA1"]):
        _locations(actor, warehouse)
    for slug, rows in CATALOG.items():
        client = Client.objects.filter(slug=slug).first()
        if client is None:
            continue
        items = [
            services.item_create(
                actor=actor,
                client=client,
                sku=sku,
                name=name,
                barcodes=[{"code": code, "kind": "upc"}],
                reorder_point=20,
                **extra,
            )
            for sku, name, code, extra in rows
        ]
        if slug in KITS:
            sku, name, parts = KITS[slug]
            services.item_create(
                actor=actor,
                client=client,
                sku=sku,
                name=name,
                is_kit=True,
                components=[{"sku": s, "quantity": q} for s, q in parts],
            )
        warehouse = client.warehouses.order_by("pk").first()
        _asns(actor, client, warehouse, items)
    return True
