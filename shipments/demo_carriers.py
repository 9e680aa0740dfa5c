"""Demo carriers with realistic rate cards, and a realistic box catalog per node.

The rate cards are NOT the carriers' published tables (those are licensed and change every
January): each service's price for zone z and billable weight w (1..70 lb) is
``base + zone_step x (z - 1) + (w - 1) x (per_lb + per_lb_zone x (z - 1))``, with coefficients
chosen so that the cells land near the published 2026 daily list rates (e.g. UPS Ground 1 lb zone 2
about $13, 70 lb zone 8 about $160; USPS Ground Advantage 1 lb zone 1 about $8). Cards stop at
70 lb, so every service carries at most 70 lb here (UPS and FedEx take 150 lb in real life).
Transit business days per zone: ground 1-5, 3-day 3, 2-day 2, overnight 1. Fuel surcharge and
residential surcharge per carrier as the 2026 tariffs roughly have them (USPS: neither).
Dimensional divisor 139 (daily rates); USPS uses 166 for parcels over one cubic foot, applied here
to every parcel as a simplification.

Both seeders are idempotent (get-or-create; missing rate cells are bulk-created) and run on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from accounts.models import Warehouse

from .enums import CarrierAdapterKind, TrackingFormat
from .models import BoxType, Carrier, CarrierService, Rate

MAX_WEIGHT_LB = 70
ZONES = range(1, 9)


@dataclass(frozen=True)
class ServiceCard:
    code: str
    name: str
    transit_days: tuple[int, ...]  # zones 1-8
    base: str  # 1 lb, zone 1
    zone_step: str  # added per zone above 1
    per_lb: str  # added per pound above 1, zone 1
    per_lb_zone: str  # added to per_lb per zone above 1

    def price(self, zone: int, weight: int) -> Decimal:
        z, w = zone - 1, weight - 1
        value = Decimal(self.base) + Decimal(self.zone_step) * z
        value += w * (Decimal(self.per_lb) + Decimal(self.per_lb_zone) * z)
        return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


GROUND_DAYS = (1, 1, 2, 3, 4, 4, 5, 5)

CARRIERS: list[dict] = [
    {
        "code": "ups",
        "name": "UPS",
        "tracking_format": TrackingFormat.UPS,
        "account_number": "7Y4V21",
        "dim_divisor": 139,
        "fuel_surcharge_pct": Decimal("19.75"),
        "residential_surcharge": Decimal("6.15"),
        "tracking_url": "https://www.ups.com/track?tracknum={tracking_number}",
        "services": [
            ServiceCard("ground", "Ground", GROUND_DAYS, "12.10", "0.72", "0.55", "0.22"),
            ServiceCard("3_day_select", "3 Day Select", (3,) * 8, "21.40", "2.20", "1.40", "0.40"),
            ServiceCard("2nd_day_air", "2nd Day Air", (2,) * 8, "25.80", "3.20", "1.90", "0.55"),
            ServiceCard(
                "next_day_air_saver", "Next Day Air Saver", (1,) * 8, "57.50", "6.00", "3.60", "0.90"
            ),
        ],
    },
    {
        "code": "fedex",
        "name": "FedEx",
        "tracking_format": TrackingFormat.FEDEX,
        "account_number": "510087020",
        "dim_divisor": 139,
        "fuel_surcharge_pct": Decimal("19.25"),
        "residential_surcharge": Decimal("5.95"),
        "tracking_url": "https://www.fedex.com/fedextrack/?trknbr={tracking_number}",
        "services": [
            ServiceCard(
                "home_delivery", "Ground / Home Delivery", GROUND_DAYS, "11.95", "0.76", "0.56", "0.21"
            ),
            ServiceCard("express_saver", "Express Saver", (3,) * 8, "21.10", "2.30", "1.35", "0.42"),
            ServiceCard("2day", "2Day", (2,) * 8, "25.40", "3.30", "1.85", "0.56"),
        ],
    },
    {
        "code": "usps",
        "name": "USPS",
        "tracking_format": TrackingFormat.USPS,
        "account_number": "902345678",
        "dim_divisor": 166,
        "fuel_surcharge_pct": Decimal("0"),
        "residential_surcharge": Decimal("0"),
        "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking_number}",
        "services": [
            ServiceCard(
                "ground_advantage",
                "Ground Advantage",
                (2, 2, 3, 3, 4, 4, 5, 5),
                "7.90",
                "0.45",
                "0.75",
                "0.20",
            ),
            ServiceCard(
                "priority_mail", "Priority Mail", (1, 2, 2, 2, 3, 3, 3, 3), "10.40", "0.70", "0.95", "0.30"
            ),
        ],
    },
]


@transaction.atomic
def seed_carriers() -> None:
    """UPS, FedEx and USPS with their services and 1-70 lb x zones 1-8 rate cards."""
    for spec in CARRIERS:
        spec = dict(spec)
        cards: list[ServiceCard] = spec.pop("services")
        carrier, _ = Carrier.objects.get_or_create(
            code=spec.pop("code"), defaults={**spec, "adapter": CarrierAdapterKind.RATE_CARD}
        )
        for card in cards:
            service, _ = CarrierService.objects.get_or_create(
                carrier=carrier,
                code=card.code,
                defaults={
                    "name": card.name,
                    "transit_days": list(card.transit_days),
                    "max_weight_lb": MAX_WEIGHT_LB,
                },
            )
            have = set(Rate.objects.filter(service=service).values_list("zone", "weight_lb"))
            Rate.objects.bulk_create(
                [
                    Rate(service=service, zone=zone, weight_lb=weight, price=card.price(zone, weight))
                    for zone in ZONES
                    for weight in range(1, MAX_WEIGHT_LB + 1)
                    if (zone, weight) not in have
                ],
                batch_size=1000,
            )


# (code, name, length, width, height, max weight, empty weight, cost): inner inches, pounds, USD
BOXES: list[tuple[str, str, str, str, str, str, str, str]] = [
    ("PM-S", "Poly mailer 10x13", "13", "10", "1.5", "5", "0.05", "0.18"),
    ("PM-L", "Poly mailer 14.5x19", "19", "14.5", "3", "10", "0.09", "0.32"),
    ("B6", "Box 6x6x6", "6", "6", "6", "20", "0.30", "0.55"),
    ("B8", "Box 8x6x4", "8", "6", "4", "20", "0.28", "0.52"),
    ("B10", "Box 10x8x6", "10", "8", "6", "30", "0.45", "0.78"),
    ("B12", "Box 12x10x8", "12", "10", "8", "40", "0.70", "1.05"),
    ("B14", "Box 14x12x10", "14", "12", "10", "50", "0.95", "1.40"),
    ("B18", "Box 18x14x12", "18", "14", "12", "60", "1.35", "1.95"),
    ("B24", "Box 24x18x18", "24", "18", "18", "70", "2.20", "3.10"),
]


def box_type(
    warehouse: Warehouse,
    code: str,
    name: str,
    length: str,
    width: str,
    height: str,
    max_weight: str,
    tare: str,
    cost: str = "0",
) -> BoxType:
    """An unsaved box of the node's catalog from figures as text (inner inches, lb, dollars)."""
    return BoxType(
        warehouse=warehouse,
        code=code,
        name=name,
        length_in=Decimal(length),
        width_in=Decimal(width),
        height_in=Decimal(height),
        max_weight_lb=Decimal(max_weight),
        tare_weight_lb=Decimal(tare),
        cost=Decimal(cost),
    )


def seed_boxes(warehouse: Warehouse) -> None:
    """The node's box catalog: two poly mailers and seven corrugated boxes (get-or-create)."""
    have = set(BoxType.objects.filter(warehouse=warehouse).values_list("code", flat=True))
    BoxType.objects.bulk_create([box_type(warehouse, *spec) for spec in BOXES if spec[0] not in have])
