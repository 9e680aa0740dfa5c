"""Inventory test data, built through the services (so balances and the ledger always agree)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from accounts.actors import Actor
from accounts.models import Client, Warehouse
from inventory import services
from inventory.enums import LocationType
from inventory.models import ASN, Item, Location

SYSTEM = Actor.system("tests")
_skus = itertools.count(1)


@dataclass
class Node:
    warehouse: Warehouse
    dock: Location
    quarantine: Location
    bins: list[Location]  # pick bins, in pick-path order
    reserve: list[Location]
    staging: Location | None = None  # where picked units wait for packing


def make_node(warehouse: Warehouse, *, bins: int = 4) -> Node:
    """A receiving dock, a quarantine bin, a staging area, ``bins`` pick bins and two reserve bins
    at ``warehouse``."""
    dock = services.location_create(
        actor=SYSTEM, warehouse=warehouse, code="DOCK-1", type=LocationType.RECEIVING
    )
    quarantine = services.location_create(
        actor=SYSTEM, warehouse=warehouse, code="QC-1", type=LocationType.QUARANTINE
    )
    pick = services.locations_bulk_create(
        actor=SYSTEM,
        warehouse=warehouse,
        zone="A",
        aisles="01",
        bays=f"01-{bins:02d}",
        levels="A",
        type="pick",
    ).created
    reserve = services.locations_bulk_create(
        actor=SYSTEM, warehouse=warehouse, zone="R", aisles="01", bays="01-02", levels="1", type="reserve"
    ).created
    staging = services.location_create(
        actor=SYSTEM, warehouse=warehouse, code="OUTBOUND-1", type=LocationType.STAGING
    )
    return Node(warehouse, dock, quarantine, list(pick), list(reserve), staging)


def make_item(client: Client, sku: str | None = None, *, barcode: str | None = None, **fields) -> Item:
    sku = sku or f"SKU-{next(_skus):05d}"
    barcodes = [{"code": barcode, "kind": "upc"}] if barcode else []
    return services.item_create(
        actor=SYSTEM, client=client, sku=sku, name=fields.pop("name", sku), barcodes=barcodes, **fields
    )


def make_asn(
    client: Client, warehouse: Warehouse, lines: list[tuple[Item, int]], *, submit: bool = True, **header
) -> ASN:
    return services.asn_create(
        actor=SYSTEM,
        client=client,
        warehouse=warehouse,
        lines=[{"item": item, "expected_quantity": qty} for item, qty in lines],
        submit=submit,
        **header,
    )


def stock(client: Client, node: Node, item: Item, quantity: int, *, location: Location | None = None) -> ASN:
    """``quantity`` units of ``item`` received on an ASN and put away into ``location`` (a pick bin)."""
    asn = make_asn(client, node.warehouse, [(item, quantity)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    line = asn.lines.get()
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=quantity)
    services.asn_putaway(
        actor=SYSTEM, asn=asn, line=line, to_location=location or node.bins[0], quantity=quantity
    )
    services.asn_complete_receiving(actor=SYSTEM, asn=asn)
    return asn
