"""Parcel pricing by DOMAIN.md: zones from ZIP centroid distance, dimensional and billable weight,
rate cards with fuel and residential surcharges, transit business days, and rate shopping.

Pure functions over the carrier models: the API's rate quotes, the pack station and the label
purchase all price a parcel here, so a quote and a label never disagree.

Pricing of a shipment: each package is priced on its own billable weight (the carrier bills per
package); the residential surcharge applies per package; the fuel surcharge is a percentage of
the base rate plus the residential surcharge. Amounts are rounded to the cent, half up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from fulfillment.calendar import BusinessCalendar
from fulfillment.geo import zip_distance

from .enums import SERVICE_PROMISE_DAYS
from .models import CarrierService, Rate

CENT = Decimal("0.01")
# (upper bound in miles, zone): DOMAIN.md's bands.
ZONE_BANDS = ((50, 1), (150, 2), (300, 3), (600, 4), (1000, 5), (1400, 6), (1800, 7))


def zone_for_distance(miles: float) -> int:
    for limit, zone in ZONE_BANDS:
        if miles <= limit:
            return zone
    return 8


def zone_for(origin_zip: str, destination_zip: str) -> int | None:
    """The zone between two US ZIP codes, or None when either is unknown."""
    miles = zip_distance(origin_zip, destination_zip)
    return None if miles is None else zone_for_distance(miles)


def dimensional_weight(length: Decimal, width: Decimal, height: Decimal, divisor: int) -> int:
    """L x W x H in inches / divisor, rounded up to the pound."""
    return math.ceil(Decimal(length) * Decimal(width) * Decimal(height) / Decimal(divisor))


def billable_weight(
    weight_lb: Decimal, length: Decimal | None, width: Decimal | None, height: Decimal | None, divisor: int
) -> int:
    """max(actual, dimensional), in whole pounds (actual weight rounds up too; at least 1 lb)."""
    actual = math.ceil(Decimal(weight_lb))
    dims = (length, width, height)
    dim = dimensional_weight(*dims, divisor) if all(d is not None for d in dims) else 0
    return max(actual, dim, 1)


@dataclass(frozen=True)
class Parcel:
    weight_lb: Decimal
    length_in: Decimal | None = None
    width_in: Decimal | None = None
    height_in: Decimal | None = None


@dataclass(frozen=True)
class Quote:
    service_id: int
    carrier: str
    carrier_name: str
    service: str
    service_name: str
    zone: int
    billable_weight_lb: int
    base: Decimal
    residential: Decimal
    fuel: Decimal
    total: Decimal
    currency: str
    transit_days: int
    estimated_delivery_date: date | None
    meets_promise: bool | None = None

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("base", "residential", "fuel", "total"):
            data[key] = str(data[key])
        if self.estimated_delivery_date:
            data["estimated_delivery_date"] = self.estimated_delivery_date.isoformat()
        return data


def cheapest_first(quote: Quote) -> tuple:
    """The order quotes are listed and shopped in: price, then speed, then carrier and service."""
    return (quote.total, quote.transit_days, quote.carrier, quote.service)


class NoRate(Exception):
    """No active service can carry these parcels to this destination."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _rate_table(services: Iterable[CarrierService]) -> dict[int, dict[int, list[tuple[int, Decimal]]]]:
    """{service id: {zone: [(weight bound, price), ...] ascending}} in one query."""
    table: dict[int, dict[int, list[tuple[int, Decimal]]]] = {}
    for rate in Rate.objects.filter(service__in=list(services)).order_by("service_id", "zone", "weight_lb"):
        table.setdefault(rate.service_id, {}).setdefault(rate.zone, []).append((rate.weight_lb, rate.price))
    return table


def _price(cells: list[tuple[int, Decimal]], weight: int) -> Decimal | None:
    for bound, price in cells:
        if weight <= bound:
            return price
    return None


def quote_services(
    *,
    services: Sequence[CarrierService],
    origin_zip: str,
    destination_zip: str,
    parcels: Sequence[Parcel],
    residential: bool = True,
    ship_date: date | None = None,
    calendar: BusinessCalendar | None = None,
    service_level: str | None = None,
) -> list[Quote]:
    """Every service that can carry the parcels, cheapest first (then fastest, then by name).
    ``ship_date`` and ``calendar`` give the estimated delivery date; ``service_level`` marks which
    quotes meet its delivery promise."""
    if not parcels:
        raise ValueError("quote at least one parcel")
    zone = zone_for(origin_zip, destination_zip)
    if zone is None:
        raise NoRate(f"No zone between ZIP {origin_zip} and ZIP {destination_zip}.")
    table = _rate_table(services)
    promise = SERVICE_PROMISE_DAYS.get(service_level) if service_level else None
    quotes = []
    for service in services:
        carrier = service.carrier
        if not (service.active and carrier.active):
            continue
        weights = [
            billable_weight(p.weight_lb, p.length_in, p.width_in, p.height_in, carrier.dim_divisor)
            for p in parcels
        ]
        if max(weights) > service.max_weight_lb:
            continue
        prices = [_price(table.get(service.pk, {}).get(zone, []), w) for w in weights]
        if any(p is None for p in prices):
            continue
        base = sum(prices, Decimal(0))
        resi = carrier.residential_surcharge * len(parcels) if residential else Decimal(0)
        fuel = _cents((base + resi) * carrier.fuel_surcharge_pct / 100)
        transit = service.transit_days_for(zone)
        eta = calendar.add_business_days(ship_date, transit) if ship_date and calendar else None
        quotes.append(
            Quote(
                service_id=service.pk,
                carrier=carrier.code,
                carrier_name=carrier.name,
                service=service.code,
                service_name=service.name,
                zone=zone,
                billable_weight_lb=sum(weights),
                base=_cents(base),
                residential=_cents(resi),
                fuel=fuel,
                total=_cents(base) + _cents(resi) + fuel,
                currency=carrier.currency,
                transit_days=transit,
                estimated_delivery_date=eta,
                meets_promise=None if promise is None else transit <= promise,
            )
        )
    quotes.sort(key=cheapest_first)
    return quotes


def active_services() -> list[CarrierService]:
    return list(
        CarrierService.objects.filter(active=True, carrier__active=True)
        .select_related("carrier")
        .order_by("carrier__code", "code")
    )


@dataclass(frozen=True)
class Choice:
    quote: Quote
    reason: str
    alternatives: list[Quote]


def shop(quotes: Sequence[Quote], *, service_level: str) -> Choice:
    """The cheapest quote that meets the service level's promise (DOMAIN.md: delivery promise in
    business days); when none does, the fastest (then cheapest), said so in the reason."""
    if not quotes:
        raise NoRate("No carrier service can take this shipment.")
    promise = SERVICE_PROMISE_DAYS.get(service_level, SERVICE_PROMISE_DAYS["standard"])
    meeting = [q for q in quotes if q.transit_days <= promise]
    if meeting:
        best = min(meeting, key=cheapest_first)
        reason = (
            f"cheapest of {len(meeting)} service{'s' if len(meeting) != 1 else ''} delivering within "
            f"{promise} business day{'s' if promise != 1 else ''} ({service_level})"
        )
    else:
        best = min(quotes, key=lambda q: (q.transit_days, q.total, q.carrier, q.service))
        reason = (
            f"no service delivers within {promise} business day{'s' if promise != 1 else ''}; "
            f"fastest available ({best.transit_days} days)"
        )
    return Choice(best, reason, [q for q in quotes if q is not best])
