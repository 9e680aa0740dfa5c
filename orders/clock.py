"""The ship-by clock of DOMAIN.md: ship_by = end of the N-th business day after the effective day
of ``released_at`` at the node that ships (its time zone, cutoff and closures)."""

from __future__ import annotations

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

    def nearest_first(warehouse: Warehouse) -> tuple:
        distance = zip_distance(warehouse.zip_code, ship_to_zip)
        return (distance is None, distance or 0.0, warehouse.pk)

    return sorted(nodes, key=nearest_first)


def ship_by(
    *, client: Client, warehouse: Warehouse | None, released_at: datetime, service_level: str
) -> datetime:
    calendar = (
        BusinessCalendar.for_warehouse(warehouse)
        if warehouse is not None
        else BusinessCalendar(client.time_zone)
    )
    return calendar.deadline(released_at, client.ship_sla_days, cutoff_for(client, service_level))
