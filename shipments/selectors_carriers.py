"""Reads of carriers, services and box catalogs. Carriers and services are operator data every
role may read (no client scope); a box catalog belongs to a node, so it follows the nodes the
actor sees (``accounts.selectors.warehouse_list``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts import selectors as account_selectors
from accounts.actors import Actor
from accounts.roles import Perm
from fulfillment.calendar import BusinessCalendar

from . import rates
from .models import BoxType, Carrier, CarrierService


def carrier_list(*, actor: Actor) -> QuerySet[Carrier]:
    """Every carrier (operator admins also the inactive ones) with its services."""
    qs = Carrier.objects.prefetch_related(
        Prefetch("services", queryset=CarrierService.objects.order_by("code"))
    )
    return qs if actor.can(Perm.CARRIER_MANAGE) else qs.filter(active=True)


def carrier_get(*, actor: Actor, pk) -> Carrier:
    return get_object_or_404(carrier_list(actor=actor), pk=pk)


def service_list(*, actor: Actor) -> QuerySet[CarrierService]:
    qs = CarrierService.objects.select_related("carrier")
    return qs if actor.can(Perm.CARRIER_MANAGE) else qs.filter(active=True, carrier__active=True)


def box_type_list(*, actor: Actor) -> QuerySet[BoxType]:
    nodes = account_selectors.warehouse_list(actor=actor).values("pk")
    return BoxType.objects.filter(warehouse__in=nodes).select_related("warehouse")


def box_type_get(*, actor: Actor, pk) -> BoxType:
    return get_object_or_404(box_type_list(actor=actor), pk=pk)


@dataclass(frozen=True)
class RateShopping:
    """Every quote of every active carrier, cheapest first, and the one rate shopping picks."""

    zone: int | None
    quotes: list[rates.Quote]
    chosen: rates.Quote | None
    reason: str


def rate_shop(
    *,
    origin_zip: str,
    destination_zip: str,
    parcels: list[rates.Parcel],
    residential: bool,
    service_level: str,
    ship_date: date | None = None,
    calendar: BusinessCalendar | None = None,
    carriers: list[Carrier] | None = None,
) -> RateShopping:
    """Quote through each active carrier's adapter (the pack station and the API price alike) and
    pick with ``rates.shop``: the cheapest meeting the promise, else the fastest."""
    from .carriers import quote_all

    zone = rates.zone_for(origin_zip, destination_zip)
    if zone is None:
        return RateShopping(None, [], None, f"No zone between ZIP {origin_zip} and ZIP {destination_zip}.")
    quotes = quote_all(
        origin_zip=origin_zip,
        destination_zip=destination_zip,
        parcels=parcels,
        residential=residential,
        service_level=service_level,
        ship_date=ship_date,
        calendar=calendar,
        carriers=carriers,
    )
    if not quotes:
        return RateShopping(zone, [], None, "No active service can carry these parcels (weight or size).")
    choice = rates.shop(quotes, service_level=service_level)
    return RateShopping(zone, quotes, choice.quote, choice.reason)
