"""Pricing by DOMAIN.md, table-driven with expectations worked out by hand (in the comments).

The test card (``card``): carrier "Test Parcel" with fuel 10% and a residential surcharge of $4.00
per package, divisor 139; three services with prices that are easy to add up by hand:
- ground   transit 1,2,3,3,4,4,5,5   price = 10 + zone + 2 x (lb - 1)
- twoday   transit 2 in every zone   price = 30 + 2 x zone + 3 x (lb - 1)
- overnite transit 1 in every zone   price = 60 + 4 x zone + 5 x (lb - 1), at most 5 lb
every card going to 10 lb.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fulfillment.calendar import BusinessCalendar
from shipments import rates
from shipments.carriers import adapter_for
from shipments.models import Carrier, CarrierService, Rate

D = Decimal
SECAUCUS, HOBOKEN, LOS_ANGELES = "07094", "07030", "90012"


@pytest.fixture
def card(db):
    carrier = Carrier.objects.create(
        code="testparcel",
        name="Test Parcel",
        dim_divisor=139,
        fuel_surcharge_pct=D("10"),
        residential_surcharge=D("4.00"),
    )
    specs = {
        "ground": ([1, 2, 3, 3, 4, 4, 5, 5], 10, lambda z, w: 10 + z + 2 * (w - 1)),
        "twoday": ([2] * 8, 10, lambda z, w: 30 + 2 * z + 3 * (w - 1)),
        "overnite": ([1] * 8, 5, lambda z, w: 60 + 4 * z + 5 * (w - 1)),
    }
    services = {}
    for code, (transit, max_lb, price) in specs.items():
        service = CarrierService.objects.create(
            carrier=carrier, code=code, name=code.title(), transit_days=transit, max_weight_lb=max_lb
        )
        Rate.objects.bulk_create(
            Rate(service=service, zone=z, weight_lb=w, price=D(price(z, w)))
            for z in range(1, 9)
            for w in range(1, 11)
        )
        services[code] = service
    return carrier, services


def quote(card, parcels, *, to=HOBOKEN, residential=True, service_level=None, **kwargs):
    _carrier, services = card
    return rates.quote_services(
        services=list(services.values()),
        origin_zip=SECAUCUS,
        destination_zip=to,
        parcels=parcels,
        residential=residential,
        service_level=service_level,
        **kwargs,
    )


def by_service(quotes):
    return {q.service: q for q in quotes}


# --- zones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "miles, zone",
    [
        (0, 1),
        (50, 1),  # "up to 50 miles zone 1"
        (50.01, 2),
        (150, 2),
        (150.01, 3),
        (300, 3),
        (300.5, 4),
        (600, 4),
        (600.5, 5),
        (1000, 5),
        (1000.5, 6),
        (1400, 6),
        (1400.5, 7),
        (1800, 7),
        (1800.01, 8),  # "over 1800 zone 8"
        (2800, 8),
    ],
)
def test_zone_bands_at_their_edges(miles, zone):
    assert rates.zone_for_distance(miles) == zone


@pytest.mark.parametrize(
    "origin, destination, zone",
    [
        (SECAUCUS, HOBOKEN, 1),  # about 4 miles
        ("75038", "75201", 1),  # Irving to Dallas, about 12 miles
        (SECAUCUS, "19103", 2),  # Philadelphia, about 83 miles
        (SECAUCUS, "02108", 3),  # Boston, about 190 miles
        ("90040", "94103", 4),  # Commerce CA to San Francisco, about 350 miles
        (SECAUCUS, "60601", 5),  # Chicago, about 710 miles
        (SECAUCUS, "33101", 6),  # Miami, about 1,090 miles
        (SECAUCUS, "80202", 7),  # Denver, about 1,620 miles
        (SECAUCUS, LOS_ANGELES, 8),  # about 2,440 miles
    ],
)
def test_zones_of_real_zip_pairs(origin, destination, zone):
    assert rates.zone_for(origin, destination) == zone
    assert rates.zone_for(destination, origin) == zone


@pytest.mark.parametrize("unknown", ["00000", "ABCDE", "", "1234"])
def test_unknown_zip_has_no_zone(unknown):
    assert rates.zone_for(SECAUCUS, unknown) is None


# --- dimensional and billable weight -------------------------------------------------------------


@pytest.mark.parametrize(
    "dims, divisor, expected",
    [
        ((12, 10, 8), 139, 7),  # 960 / 139 = 6.91 -> 7
        ((10, 10, 10), 139, 8),  # 1000 / 139 = 7.19 -> 8
        ((6, 6, 6), 139, 2),  # 216 / 139 = 1.55 -> 2
        ((139, 1, 1), 139, 1),  # exactly 1 lb stays 1
        ((278, 1, 1), 139, 2),  # exactly 2 lb stays 2
        ((278.1, 1, 1), 139, 3),  # a hair over rounds up
        ((12, 12, 12), 166, 11),  # 1728 / 166 = 10.41 -> 11
        (("12.5", "9.25", "4"), 139, 4),  # 462.5 / 139 = 3.33 -> 4
    ],
)
def test_dimensional_weight_rounds_up_to_the_pound(dims, divisor, expected):
    assert rates.dimensional_weight(*(D(str(d)) for d in dims), divisor) == expected


@pytest.mark.parametrize(
    "weight, dims, expected",
    [
        ("2.2", (None, None, None), 3),  # actual rounds up too
        ("0.2", (None, None, None), 1),  # at least 1 lb
        ("3", (12, 10, 8), 7),  # dimensional (7) beats actual (3)
        ("9.5", (12, 10, 8), 10),  # actual (10) beats dimensional (7)
        ("7", (12, 10, 8), 7),  # a tie
        ("1", (6, 6, None), 1),  # incomplete dimensions: actual only
    ],
)
def test_billable_weight_is_the_larger_of_actual_and_dimensional(weight, dims, expected):
    dims = tuple(None if d is None else D(d) for d in dims)
    assert rates.billable_weight(D(weight), *dims, 139) == expected


# --- prices and surcharges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "residential, base, resi, fuel, total",
    [
        # ground, zone 1, 2 lb: 10 + 1 + 2 = 13.00; residential 4.00; fuel 10% of 17.00 = 1.70
        (True, "13.00", "4.00", "1.70", "18.70"),
        # commercial: no residential surcharge; fuel 10% of 13.00 = 1.30
        (False, "13.00", "0.00", "1.30", "14.30"),
    ],
)
def test_fuel_applies_to_base_plus_residential(card, residential, base, resi, fuel, total):
    q = by_service(quote(card, [rates.Parcel(D("2"))], residential=residential))["ground"]
    assert (q.zone, q.billable_weight_lb) == (1, 2)
    assert (q.base, q.residential, q.fuel, q.total) == (D(base), D(resi), D(fuel), D(total))
    assert q.currency == "USD"


def test_fuel_rounds_half_up_to_the_cent(card):
    carrier, _services = card
    Carrier.objects.filter(pk=carrier.pk).update(fuel_surcharge_pct=D("12.5"))
    carrier.refresh_from_db()
    for service in card[1].values():
        service.carrier = carrier
    q = by_service(quote(card, [rates.Parcel(D("2"))]))["ground"]
    # 12.5% of (13.00 + 4.00) = 2.125 -> 2.13
    assert (q.fuel, q.total) == (D("2.13"), D("19.13"))


def test_several_packages_are_priced_each_on_its_own_billable_weight(card):
    parcels = [rates.Parcel(D("1")), rates.Parcel(D("3"), D("12"), D("10"), D("8"))]
    q = by_service(quote(card, parcels))["ground"]
    # zone 1: 1 lb -> 10 + 1 + 0 = 11; 7 lb (dimensional) -> 10 + 1 + 12 = 23; base 34.00
    # residential 2 x 4.00 = 8.00; fuel 10% of 42.00 = 4.20; total 46.20; billable 1 + 7 = 8
    assert (q.base, q.residential, q.fuel, q.total) == (D("34.00"), D("8.00"), D("4.20"), D("46.20"))
    assert q.billable_weight_lb == 8


def test_zone_8_prices_and_transit(card):
    quotes = by_service(quote(card, [rates.Parcel(D("1"))], to=LOS_ANGELES, residential=False))
    # ground: 10 + 8 = 18.00 + 1.80 fuel; twoday: 30 + 16 = 46.00 + 4.60; overnite: 60 + 32 = 92 + 9.20
    assert {k: (q.total, q.transit_days) for k, q in quotes.items()} == {
        "ground": (D("19.80"), 5),
        "twoday": (D("50.60"), 2),
        "overnite": (D("101.20"), 1),
    }


def test_quotes_come_cheapest_first(card):
    assert [q.service for q in quote(card, [rates.Parcel(D("1"))])] == ["ground", "twoday", "overnite"]


def test_a_parcel_over_a_services_maximum_weight_excludes_that_service(card):
    assert set(by_service(quote(card, [rates.Parcel(D("5"))]))) == {"ground", "twoday", "overnite"}
    # 5.01 lb bills as 6 lb, over overnite's 5 lb
    assert set(by_service(quote(card, [rates.Parcel(D("5.01"))]))) == {"ground", "twoday"}
    # 11 lb: beyond every card (they stop at 10 lb)
    assert quote(card, [rates.Parcel(D("11"))]) == []


def test_dimensional_weight_can_exclude_a_service(card):
    # 2 lb actual in a 12x12x12 box: 1728 / 139 = 12.4 -> 13 lb: past every 10 lb card
    assert quote(card, [rates.Parcel(D("2"), D("12"), D("12"), D("12"))]) == []


def test_inactive_services_and_carriers_are_not_quoted(card):
    carrier, services = card
    CarrierService.objects.filter(pk=services["twoday"].pk).update(active=False)
    services["twoday"].refresh_from_db()
    assert "twoday" not in by_service(quote(card, [rates.Parcel(D("1"))]))
    Carrier.objects.filter(pk=carrier.pk).update(active=False)
    carrier.refresh_from_db()
    for service in services.values():
        service.carrier = carrier
    assert quote(card, [rates.Parcel(D("1"))]) == []


def test_unknown_destination_raises_no_rate(card):
    with pytest.raises(rates.NoRate):
        quote(card, [rates.Parcel(D("1"))], to="00000")


def test_estimated_delivery_counts_business_days(card):
    # shipped Thursday 2026-07-02; Friday 2026-07-03 is the observed Independence Day holiday, so
    # ground zone 1 (1 business day) arrives Monday 2026-07-06, twoday (2) Tuesday 2026-07-07
    quotes = by_service(
        quote(
            card,
            [rates.Parcel(D("1"))],
            ship_date=date(2026, 7, 2),
            calendar=BusinessCalendar("America/New_York"),
        )
    )
    assert quotes["ground"].estimated_delivery_date == date(2026, 7, 6)
    assert quotes["twoday"].estimated_delivery_date == date(2026, 7, 7)


# --- rate shopping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to, weight, level, chosen, reason",
    [
        # zone 1, standard (5 days): every service meets it; ground is cheapest
        (HOBOKEN, "1", "standard", "ground", "cheapest of 3 services delivering within 5 business days"),
        # zone 8, standard: ground takes 5 days: still meets it
        (LOS_ANGELES, "1", "standard", "ground", "cheapest of 3 services delivering within 5 business days"),
        # zone 8, two_day: ground (5) misses; twoday (2) and overnite (1) meet; twoday is cheaper
        (LOS_ANGELES, "1", "two_day", "twoday", "cheapest of 2 services delivering within 2 business days"),
        # zone 8, expedited (3 days): twoday
        (LOS_ANGELES, "1", "expedited", "twoday", "cheapest of 2 services delivering within 3 business days"),
        # overnight: only overnite delivers in 1 day, although ground is cheaper
        (LOS_ANGELES, "1", "overnight", "overnite", "cheapest of 1 service delivering within 1 business day"),
        # zone 1, overnight: ground also takes 1 day there and is cheaper
        (HOBOKEN, "1", "overnight", "ground", "cheapest of 2 services delivering within 1 business day"),
        # 6 lb overnight to zone 8: overnite cannot carry it; nothing meets 1 day: fastest (twoday)
        (
            LOS_ANGELES,
            "6",
            "overnight",
            "twoday",
            "no service delivers within 1 business day; fastest available (2 days)",
        ),
    ],
)
def test_rate_shopping_picks_the_cheapest_service_meeting_the_promise(
    card, to, weight, level, chosen, reason
):
    quotes = quote(card, [rates.Parcel(D(weight))], to=to, service_level=level)
    choice = rates.shop(quotes, service_level=level)
    assert choice.quote.service == chosen
    assert choice.reason.startswith(reason)
    assert choice.quote not in choice.alternatives
    assert len(choice.alternatives) == len(quotes) - 1


def test_meets_promise_is_marked_on_every_quote(card):
    quotes = by_service(quote(card, [rates.Parcel(D("1"))], to=LOS_ANGELES, service_level="two_day"))
    assert {k: q.meets_promise for k, q in quotes.items()} == {
        "ground": False,
        "twoday": True,
        "overnite": True,
    }


def test_shopping_nothing_raises_no_rate():
    with pytest.raises(rates.NoRate):
        rates.shop([], service_level="standard")


def test_the_rate_card_adapter_quotes_its_own_services_only(card, db):
    carrier, _services = card
    other = Carrier.objects.create(code="other", name="Other")
    CarrierService.objects.create(carrier=other, code="ground", name="Ground")
    quotes = adapter_for(carrier).rate(
        origin_zip=SECAUCUS,
        destination_zip=HOBOKEN,
        parcels=[rates.Parcel(D("1"))],
        residential=False,
        ship_date=None,
        calendar=None,
        service_level="standard",
    )
    assert {q.carrier for q in quotes} == {"testparcel"}
    assert [q.service for q in quotes] == ["ground", "twoday", "overnite"]
    # ground zone 1, 1 lb: 11.00 + 10% fuel
    assert quotes[0].total == D("12.10")
