"""Quoting across every active carrier: the one loop behind rate quotes, the pack station and
label purchase, so a quote and a label never disagree."""

from __future__ import annotations

from datetime import date

from fulfillment.calendar import BusinessCalendar

from .. import rates
from ..models import Carrier
from .base import CarrierError, adapter_for


def quote_all(
    *,
    origin_zip: str,
    destination_zip: str,
    parcels: list[rates.Parcel],
    residential: bool,
    service_level: str,
    ship_date: date | None = None,
    calendar: BusinessCalendar | None = None,
    carriers: list[Carrier] | None = None,
) -> list[rates.Quote]:
    """Every active carrier's quotes, cheapest first. A carrier that cannot rate the parcels (or
    whose API is down) is left out rather than failing the others."""
    carriers = list(Carrier.objects.filter(active=True).order_by("code")) if carriers is None else carriers
    quotes: list[rates.Quote] = []
    for carrier in carriers:
        try:
            quotes += adapter_for(carrier).rate(
                origin_zip=origin_zip,
                destination_zip=destination_zip,
                parcels=parcels,
                residential=residential,
                ship_date=ship_date,
                calendar=calendar,
                service_level=service_level,
            )
        except (rates.NoRate, CarrierError):
            continue
    quotes.sort(key=rates.cheapest_first)
    return quotes
