"""Tracking numbers: the carriers' check digits against published example numbers, the formats the
rate-card carrier issues, and uniqueness."""

from __future__ import annotations

import re

import pytest

from shipments.carriers import tracking_numbers as tn
from shipments.enums import TrackingFormat
from shipments.models import Carrier


@pytest.mark.parametrize(
    "number, fmt, valid",
    [
        # UPS's documented example of its check digit
        ("1Z999AA10123456784", TrackingFormat.UPS, True),
        ("1Z999AA10123456785", TrackingFormat.UPS, False),
        # FedEx Express 12-digit examples (tracking_number_data's published test numbers)
        ("986578788855", TrackingFormat.FEDEX, True),
        ("477179081230", TrackingFormat.FEDEX, True),
        ("799531274483", TrackingFormat.FEDEX, True),
        ("790535312317", TrackingFormat.FEDEX, True),
        ("974367662710", TrackingFormat.FEDEX, True),
        ("996578788855", TrackingFormat.FEDEX, False),
        # USPS IMpb 22 digits starting 92 (mod 10 of Publication 199)
        ("9261292700768711948021", TrackingFormat.USPS, True),
        ("9261292700768711948020", TrackingFormat.USPS, False),
        ("9400111201080805483016", TrackingFormat.USPS, False),  # valid USPS, but not a 92 number
    ],
)
def test_check_digits_of_published_numbers(number, fmt, valid):
    assert tn.is_valid(number, fmt) is valid


@pytest.mark.parametrize(
    "data, check",
    [
        ("940011120108080548301", "6"),
        ("950551106960504860062", "4"),
        ("936128987870031763379", "5"),
        ("940580369930012428789", "9"),
    ],
)
def test_usps_mod10_of_published_numbers(data, check):
    assert tn.mod10_check_digit(data) == check


def test_ups_check_digit_worked_by_hand():
    # 999AA1012345678 -> 9 9 9 2 2 1 0 1 2 3 4 5 6 7 8 (A = 2)
    # odd positions 9+9+2+0+2+4+6+8 = 40; even 9+2+1+1+3+5+7 = 28, doubled 56; 96 -> 4
    assert tn.ups_check_digit("999AA1012345678") == "4"


@pytest.fixture
def carriers(db):
    return {
        "ups": Carrier.objects.create(
            code="ups-t", name="UPS", tracking_format="ups", account_number="7y4v21"
        ),
        "fedex": Carrier.objects.create(code="fedex-t", name="FedEx", tracking_format="fedex"),
        "usps": Carrier.objects.create(
            code="usps-t", name="USPS", tracking_format="usps", account_number="902345678"
        ),
        "generic": Carrier.objects.create(code="acme-2", name="Acme"),
    }


@pytest.mark.parametrize(
    "kind, service, pattern",
    [
        ("ups", "ground", r"^1Z7Y4V2103\d{7}\d$"),
        ("ups", "next_day_air_saver", r"^1Z7Y4V2113\d{7}\d$"),
        ("ups", "3_day_select", r"^1Z7Y4V2112\d{7}\d$"),
        ("fedex", "2day", r"^\d{12}$"),
        ("usps", "priority_mail", r"^92055902345678\d{7}\d$"),
        ("usps", "ground_advantage", r"^92001902345678\d{7}\d$"),
        ("generic", "ground", r"^ACME\d{13}$"),
    ],
)
def test_issued_numbers_have_the_carriers_format_and_check_digit(carriers, kind, service, pattern):
    carrier = carriers[kind]
    numbers = tn.issue(carrier=carrier, service_code=service, seeds=[41, 42, 43])
    assert len(set(numbers)) == 3
    for number in numbers:
        assert re.match(pattern, number), number
        assert tn.is_valid(number, carrier.tracking_format), number


def test_the_package_key_is_part_of_the_serial(carriers):
    (number,) = tn.issue(carrier=carriers["fedex"], service_code="2day", seeds=[1234567])
    assert number[:7] == "1234567"


def test_a_ups_carrier_without_shipper_number_cannot_issue(db):
    carrier = Carrier.objects.create(code="ups-x", name="UPS", tracking_format="ups", account_number="")
    with pytest.raises(ValueError, match="shipper number"):
        tn.issue(carrier=carrier, service_code="ground", seeds=[1])


def test_many_numbers_never_repeat(carriers):
    numbers = tn.issue(carrier=carriers["ups"], service_code="ground", seeds=[7] * 300)
    assert len(set(numbers)) == 300
