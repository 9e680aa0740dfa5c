"""The ship-by clock of DOMAIN.md: ship_by = end of the N-th business day after the effective day
of ``released_at`` at the node that ships (its time zone, cutoff and closures)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time

from accounts.models import Client, Warehouse
from fulfillment.calendar import BusinessCalendar
from fulfillment.geo import zip_distance

from .enums import EXPEDITED_LEVELS


def cutoff_for(client: Client, service_level: str) -> time:
    """Expedited service levels may have their own, earlier cutoff."""
    if service_level in EXPEDITED_LEVELS and client.expedited_cutoff:
        return client.expedited_cutoff
    return client.order_cutoff


def nodes_by_distance(client: Client, ship_to_zip: str) -> list[Warehouse]:
    """The client's active nodes, nearest to the destination first (unknown distances last)."""
    nodes = list(client.warehouses.filter(active=True).prefetch_related("closures").order_by("pk"))
    return nearest_first(nodes, ship_to_zip)


def nearest_first(nodes: Iterable[Warehouse], ship_to_zip: str) -> list[Warehouse]:
    """``nodes`` sorted nearest to the destination first (unknown distances last), e.g. nodes a
    batch loaded once for many orders."""

    def distance(warehouse: Warehouse) -> tuple:
        miles = zip_distance(warehouse.zip_code, ship_to_zip)
        return (miles is None, miles or 0.0, warehouse.pk)

    return sorted(nodes, key=distance)


def ship_by(
    *, client: Client, warehouse: Warehouse | None, released_at: datetime, service_level: str
) -> datetime:
    # The node's closures as prefetched with it (``nodes_by_distance``), or read now.
    calendar = (
        BusinessCalendar(warehouse.time_zone, frozenset(c.date for c in warehouse.closures.all()))
        if warehouse is not None
        else BusinessCalendar(client.time_zone)
    )
    return calendar.deadline(released_at, client.ship_sla_days, cutoff_for(client, service_level))
