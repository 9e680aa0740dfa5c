"""The business calendar of DOMAIN.md: working days of a node, effective days and deadlines.

A business day is Monday to Friday, not a US federal holiday (the ``holidays`` package, observed
dates included) and not a closure date of the node. All arithmetic happens on local dates in the
node's time zone; a deadline is the end (23:59:59.999999) of a local day, converted back to UTC,
so daylight-saving changes never move it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

END_OF_DAY = time(23, 59, 59, 999999)


@lru_cache(maxsize=64)
def _federal_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("US", years=year).keys())


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str
    closures: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def for_warehouse(cls, warehouse) -> BusinessCalendar:
        return cls(warehouse.time_zone, frozenset(warehouse.closures.values_list("date", flat=True)))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in _federal_holidays(day.year) and day not in self.closures

    def next_business_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def add_business_days(self, day: date, n: int) -> date:
        """The n-th business day after ``day`` (``day`` itself when n = 0)."""
        for _ in range(n):
            day = self.next_business_day(day)
        return day

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            # astimezone() would read a naive value as the server's local time: refuse to guess.
            raise ValueError(f"{moment!r} is naive: pass an aware datetime.")
        return moment.astimezone(self.zone)

    def effective_day(self, moment: datetime, cutoff: time | None = None) -> date:
        """The day of ``moment`` if it is a business day (and before ``cutoff``, when given),
        otherwise the next business day."""
        local = self.local(moment)
        day = local.date()
        if self.is_business_day(day) and (cutoff is None or local.time() < cutoff):
            return day
        return self.next_business_day(day)

    def end_of_day(self, day: date) -> datetime:
        return datetime.combine(day, END_OF_DAY, tzinfo=self.zone).astimezone(UTC)

    def deadline(self, moment: datetime, business_days: int, cutoff: time | None = None) -> datetime:
        """End of the N-th business day after the effective day of ``moment`` (UTC)."""
        return self.end_of_day(self.add_business_days(self.effective_day(moment, cutoff), business_days))

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """Business days after start's local day up to and including end's local day."""
        first, last = self.local(start).date(), self.local(end).date()
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            count += self.is_business_day(day)
        return count


def closure_calendar(time_zone: str, closures: Iterable[date] = ()) -> BusinessCalendar:
    return BusinessCalendar(time_zone, frozenset(closures))
