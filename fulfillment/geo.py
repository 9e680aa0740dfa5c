"""US ZIP centroids (the packaged ``zipcodes`` data set, offline) and great-circle distances."""

from __future__ import annotations

import math
from functools import lru_cache

import zipcodes

EARTH_RADIUS_MILES = 3958.8


@lru_cache(maxsize=65536)
def zip_point(zip_code: str) -> tuple[float, float] | None:
    """(latitude, longitude) of a US ZIP code's centroid, or None if unknown."""
    five = (zip_code or "").strip()[:5]
    if len(five) != 5 or not five.isdigit():
        return None
    try:
        matches = zipcodes.matching(five)
    except (ValueError, TypeError):
        return None
    if not matches or not matches[0].get("lat"):
        return None
    return float(matches[0]["lat"]), float(matches[0]["long"])


def distance_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(h))


def zip_distance(from_zip: str, to_zip: str) -> float | None:
    a, b = zip_point(from_zip), zip_point(to_zip)
    return None if a is None or b is None else distance_miles(a, b)
