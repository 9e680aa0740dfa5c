"""Order test data, made through ``orders.services.order_create`` (so every order has its events,
holds, received_at, released_at and ship_by exactly as intake sets them), and nodes in three
time zones with real ZIP codes (the packaged ``zipcodes`` centroids decide which is nearest)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.actors import Actor
from accounts.models import Client, Warehouse
from inventory.models import Item
from orders import services
from orders.models import Order
from tests.accounts.factories import ClientFactory, WarehouseFactory
from tests.inventory.factories import SYSTEM, Node, make_node

_references = itertools.count(1)


def ship_to(name: str, address1: str, city: str, state: str, zip_code: str) -> dict[str, str]:
    return {
        "ship_to_name": name,
        "ship_to_address1": address1,
        "ship_to_city": city,
        "ship_to_state": state,
        "ship_to_zip": zip_code,
        "ship_to_country": "US",
    }


# Destinations next to each node below.
SHIP_TO_NJ = ship_to("Ann Buyer", "1 Hudson St", "Hoboken", "NJ", "07030")
SHIP_TO_TX = ship_to("Bo Buyer", "1 Main St", "Dallas", "TX", "75201")
SHIP_TO_CA = ship_to("Cy Buyer", "1 Broadway", "Los Angeles", "CA", "90012")
SHIP_TO_IL = ship_to("Di Buyer", "1 State St", "Chicago", "IL", "60601")
SHIP_TO_NOWHERE = ship_to("No Body", "1 Nowhere Rd", "Nowhere", "NJ", "00000")  # a ZIP that does not exist

NY, CHI, LA = "America/New_York", "America/Chicago", "America/Los_Angeles"


def make_warehouse(region: str, **fields: Any) -> Warehouse:
    """A node in New Jersey (``nj``), Texas (``tx``) or California (``ca``), in its own time zone."""
    places = {
        "nj": {"city": "Secaucus", "state": "NJ", "zip_code": "07094", "time_zone": NY},
        "tx": {"city": "Irving", "state": "TX", "zip_code": "75038", "time_zone": CHI},
        "ca": {"city": "Commerce", "state": "CA", "zip_code": "90040", "time_zone": LA},
    }
    return WarehouseFactory(**{**places[region], **fields})


@dataclass
class World:
    """One brand set up at a New Jersey, a Texas and a California node, each with bins."""

    client: Client
    nj: Node
    tx: Node
    ca: Node

    @property
    def nodes(self) -> list[Node]:
        return [self.nj, self.tx, self.ca]


def make_world(*, regions: tuple[str, ...] = ("nj", "tx", "ca"), **client_fields: Any) -> World:
    client = ClientFactory(**client_fields)
    nodes = {}
    for region in regions:
        warehouse = make_warehouse(region)
        client.warehouses.add(warehouse)
        nodes[region] = make_node(warehouse)
    return World(client, nodes.get("nj"), nodes.get("tx"), nodes.get("ca"))


def make_order(
    client: Client,
    lines: list[tuple[Item | str, int]],
    *,
    ship_to: dict[str, str] = SHIP_TO_NJ,
    actor: Actor = SYSTEM,
    reference: str | None = None,
    received_at: datetime | None = None,
    **header: Any,
) -> Order:
    """An order through intake; ``lines`` are (item or SKU, quantity)."""
    return services.order_create(
        actor=actor,
        client=client,
        external_reference=reference or f"T-{next(_references):06d}",
        lines=[{"sku": getattr(item, "sku", item), "quantity": quantity} for item, quantity in lines],
        ship_to=ship_to,
        received_at=received_at,
        **header,
    )
