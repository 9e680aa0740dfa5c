"""Tracking numbers in each carrier's own format, with the carrier's check digit.

The built-in rate-card carrier issues them, so a label printed here looks like the carrier's and a
scanner or a carrier's validator accepts it:

- UPS ``1Z`` + 6-character shipper number + 2-digit service code + 7-digit package serial + check
  digit. Check digit (UPS's published rule): letters count as ``(ord(c) - 63) % 10`` (A=2, B=3, ...),
  the 15 characters after ``1Z`` are summed with the odd positions (1st, 3rd, ...) once and the even
  positions twice; the check digit takes the sum up to the next multiple of 10
  (``1Z999AA10123456784``).
- FedEx Express, 12 digits: 11-digit serial + check digit. The serial's digits are weighted
  1, 3, 7, 1, 3, 7, ... from the right; the check digit is ``sum % 11 % 10`` (``986578788855``).
- USPS IMpb, 22 digits: ``92`` + 3-digit service type code + 9-digit mailer id + 7-digit serial +
  the USPS mod-10 check digit (Publication 199): from the right of the 21 data digits, the 1st,
  3rd, ... digits are tripled, the others counted once; the check digit takes the sum up to the next
  multiple of 10 (``9400111201080805483016``).
- Generic: the carrier's code (letters, up to 4) + 12 digits + the same mod-10 check digit.

Serials come from the package's primary key plus a random part; ``issue`` checks the candidates
against every number already given (shipments, packages, voided labels of the carrier) and draws
again on a clash. The database's unique constraint on (carrier, tracking number) of a shipment
remains the last word: a caller that loses a race there simply buys again.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from ..enums import TrackingFormat

UPS_RE = re.compile(r"^1Z[0-9A-Z]{6}\d{2}\d{7}\d$")
FEDEX_RE = re.compile(r"^\d{12}$")
USPS_RE = re.compile(r"^92\d{20}$")
GENERIC_RE = re.compile(r"^[A-Z]{1,4}\d{13}$")

# UPS service codes printed in a 1Z number (UPS's published list), by our service code.
UPS_SERVICE_CODES = {
    "next_day_air": "01",
    "2nd_day_air": "02",
    "ground": "03",
    "3_day_select": "12",
    "next_day_air_saver": "13",
}
UPS_DEFAULT_SERVICE_CODE = "03"  # ground: what a service unknown to the table is printed as
# USPS IMpb service type codes, by our service code.
USPS_SERVICE_TYPE_CODES = {"ground_advantage": "001", "priority_mail": "055", "priority_mail_express": "701"}
USPS_DEFAULT_SERVICE_TYPE_CODE = "001"

MAX_DRAWS = 20


# --- check digits ----------------------------------------------------------------------------


def ups_check_digit(body: str) -> str:
    """The check digit of the 15 characters after ``1Z``."""
    total = 0
    for position, char in enumerate(body.upper()):
        value = int(char) if char.isdigit() else (ord(char) - 63) % 10
        total += value * (2 if position % 2 else 1)
    return str((10 - total % 10) % 10)


def fedex_check_digit(serial: str) -> str:
    """The check digit of an 11-digit FedEx Express serial."""
    weights = (1, 3, 7)
    total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(serial)))
    return str(total % 11 % 10)


def mod10_check_digit(data: str) -> str:
    """USPS Publication 199's mod 10: rightmost data digit (and every second one leftwards) x 3."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data)))
    return str((10 - total % 10) % 10)


def is_valid(number: str, tracking_format: str) -> bool:
    """Whether ``number`` has the format's shape and a correct check digit."""
    number = number.replace(" ", "").upper()
    if tracking_format == TrackingFormat.UPS:
        return bool(UPS_RE.match(number)) and ups_check_digit(number[2:-1]) == number[-1]
    if tracking_format == TrackingFormat.FEDEX:
        return bool(FEDEX_RE.match(number)) and fedex_check_digit(number[:-1]) == number[-1]
    if tracking_format == TrackingFormat.USPS:
        return bool(USPS_RE.match(number)) and mod10_check_digit(number[:-1]) == number[-1]
    match = GENERIC_RE.match(number)
    if not match:
        return False
    digits = number.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return mod10_check_digit(digits[:-1]) == digits[-1]


# --- building numbers ------------------------------------------------------------------------


def _serial(width: int, seed: int) -> str:
    """``width`` digits: the low digits of ``seed`` (a package's primary key) and 4 random ones,
    so numbers of different packages differ and a relabelled package gets a fresh number."""
    random_part = f"{secrets.randbelow(10**4):04d}"
    seed_width = width - 4
    seed_part = f"{seed % 10**seed_width:0{seed_width}d}" if seed_width > 0 else ""
    return seed_part + random_part


def ups_number(*, shipper: str, service_code: str, serial: str) -> str:
    body = f"{shipper}{service_code}{serial}"
    return f"1Z{body}{ups_check_digit(body)}"


def fedex_number(*, serial: str) -> str:
    return serial + fedex_check_digit(serial)


def usps_number(*, service_type: str, mailer_id: str, serial: str) -> str:
    data = f"92{service_type}{mailer_id}{serial}"
    return data + mod10_check_digit(data)


def generic_number(*, prefix: str, serial: str) -> str:
    return prefix + serial + mod10_check_digit(serial)


def _ups_shipper(account_number: str) -> str:
    shipper = re.sub(r"[^0-9A-Z]", "", (account_number or "").upper())
    if len(shipper) < 6:
        raise ValueError("A UPS carrier needs a 6-character shipper number in its account number.")
    return shipper[:6]


def _usps_mailer_id(account_number: str) -> str:
    digits = re.sub(r"\D", "", account_number or "")
    if not digits:
        raise ValueError("A USPS carrier needs its mailer id (digits) in its account number.")
    return digits[-9:].rjust(9, "0")


def candidate(*, carrier, service_code: str, seed: int) -> str:
    """One tracking number for a package of ``carrier`` in its format (not yet checked for reuse)."""
    fmt = carrier.tracking_format
    if fmt == TrackingFormat.UPS:
        return ups_number(
            shipper=_ups_shipper(carrier.account_number),
            service_code=UPS_SERVICE_CODES.get(service_code, UPS_DEFAULT_SERVICE_CODE),
            serial=_serial(7, seed),
        )
    if fmt == TrackingFormat.FEDEX:
        return fedex_number(serial=_serial(11, seed))
    if fmt == TrackingFormat.USPS:
        return usps_number(
            service_type=USPS_SERVICE_TYPE_CODES.get(service_code, USPS_DEFAULT_SERVICE_TYPE_CODE),
            mailer_id=_usps_mailer_id(carrier.account_number),
            serial=_serial(7, seed),
        )
    prefix = re.sub(r"[^A-Z]", "", carrier.code.upper())[:4] or "TRK"
    return generic_number(prefix=prefix[:4], serial=_serial(12, seed))


def _taken(carrier, numbers: Sequence[str]) -> set[str]:
    """Which of ``numbers`` the carrier has already issued (any tenant: plain managers, since a
    number is unique per carrier, not per client; only existence is read)."""
    from ..models import Package, Shipment, VoidedLabel

    numbers = list(numbers)
    taken = set(
        Shipment.all_objects.filter(carrier=carrier, tracking_number__in=numbers).values_list(
            "tracking_number", flat=True
        )
    )
    taken |= set(
        # a package's shipment may not name its carrier yet: any package's number counts
        Package._base_manager.filter(tracking_number__in=numbers).values_list("tracking_number", flat=True)
    )
    taken |= set(
        VoidedLabel._base_manager.filter(carrier=carrier, tracking_number__in=numbers).values_list(
            "tracking_number", flat=True
        )
    )
    return taken


def issue(*, carrier, service_code: str, seeds: Sequence[int]) -> list[str]:
    """One fresh tracking number per seed (package primary key), none ever issued before."""
    numbers = [candidate(carrier=carrier, service_code=service_code, seed=s) for s in seeds]
    for _ in range(MAX_DRAWS):
        clashes = _taken(carrier, numbers)
        duplicates = {n for n in numbers if numbers.count(n) > 1}
        if not clashes and not duplicates:
            return numbers
        seen: set[str] = set()
        for i, number in enumerate(numbers):
            if number in clashes or number in seen:
                numbers[i] = candidate(carrier=carrier, service_code=service_code, seed=seeds[i])
            seen.add(numbers[i])
    raise RuntimeError(f"Could not draw an unused tracking number for {carrier.code} in {MAX_DRAWS} tries.")
