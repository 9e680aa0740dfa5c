"""The business calendar of DOMAIN.md, table by table, and the dock-to-stock deadline it sets on ASNs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.services import client_update, warehouse_update
from fulfillment.calendar import END_OF_DAY, BusinessCalendar, closure_calendar
from inventory import services
from tests.accounts.factories import WarehouseFactory
from tests.inventory.factories import SYSTEM, make_asn, make_item

NY, LA = "America/New_York", "America/Los_Angeles"
NYC = BusinessCalendar(NY)
CUTOFF = time(14, 0)


def ny(*args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(NY), fold=fold)


def la(*args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(LA), fold=fold)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- business days -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "closures", "business"),
    [
        (date(2026, 3, 9), (), True),  # Monday
        (date(2026, 3, 13), (), True),  # Friday
        (date(2026, 3, 7), (), False),  # Saturday
        (date(2026, 3, 8), (), False),  # Sunday
        (date(2026, 1, 1), (), False),  # New Year's Day
        (date(2026, 1, 19), (), False),  # Martin Luther King Jr. Day
        (date(2026, 2, 16), (), False),  # Washington's Birthday
        (date(2026, 5, 25), (), False),  # Memorial Day
        (date(2026, 6, 19), (), False),  # Juneteenth
        (date(2026, 7, 3), (), False),  # Independence Day observed (the 4th is a Saturday)
        (date(2026, 7, 4), (), False),
        (date(2026, 7, 6), (), True),
        (date(2026, 9, 7), (), False),  # Labor Day
        (date(2026, 10, 12), (), False),  # Columbus Day
        (date(2026, 11, 11), (), False),  # Veterans Day
        (date(2026, 11, 26), (), False),  # Thanksgiving
        (date(2026, 11, 27), (), True),  # the Friday after is not a federal holiday
        (date(2026, 12, 24), (), True),
        (date(2026, 12, 25), (), False),
        (date(2021, 12, 31), (), False),  # New Year's Day 2022 observed in 2021
        (date(2027, 12, 31), (), False),  # New Year's Day 2028 observed in 2027
        (date(2022, 12, 26), (), False),  # Christmas observed on a Monday
        (date(2028, 11, 10), (), False),  # Veterans Day observed on a Friday
        (date(2026, 3, 10), (date(2026, 3, 10),), False),  # the node's closure date
        (date(2026, 3, 11), (date(2026, 3, 10),), True),
    ],
)
def test_business_day(day, closures, business):
    assert closure_calendar(NY, closures).is_business_day(day) is business


@pytest.mark.parametrize(
    ("day", "n", "closures", "expected"),
    [
        (date(2026, 3, 9), 0, (), date(2026, 3, 9)),
        (date(2026, 3, 7), 0, (), date(2026, 3, 7)),  # n = 0: the day itself, whatever it is
        (date(2026, 3, 6), 1, (), date(2026, 3, 9)),  # Friday -> Monday
        (date(2026, 3, 6), 5, (), date(2026, 3, 13)),
        (date(2026, 11, 25), 1, (), date(2026, 11, 27)),  # over Thanksgiving
        (date(2026, 11, 25), 2, (), date(2026, 11, 30)),
        (date(2026, 7, 2), 1, (), date(2026, 7, 6)),  # over the observed Independence Day
        (date(2026, 12, 24), 1, (), date(2026, 12, 28)),  # over Christmas and a weekend
        (date(2021, 12, 30), 1, (), date(2022, 1, 3)),  # over the observed New Year's Day
        (date(2026, 3, 9), 1, (date(2026, 3, 10), date(2026, 3, 11)), date(2026, 3, 12)),
    ],
)
def test_add_business_days(day, n, closures, expected):
    assert closure_calendar(NY, closures).add_business_days(day, n) == expected


# --- effective day -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "cutoff", "closures", "expected"),
    [
        (ny(2026, 3, 9, 13, 59, 59), CUTOFF, (), date(2026, 3, 9)),  # before the cutoff
        (ny(2026, 3, 9, 14, 0), CUTOFF, (), date(2026, 3, 10)),  # at the cutoff: the next day
        (ny(2026, 3, 9, 18, 0), CUTOFF, (), date(2026, 3, 10)),
        (ny(2026, 3, 9, 18, 0), None, (), date(2026, 3, 9)),  # no cutoff: the day itself
        (ny(2026, 3, 9, 23, 59, 59), None, (), date(2026, 3, 9)),
        (ny(2026, 3, 9, 0, 0), CUTOFF, (), date(2026, 3, 9)),
        (ny(2026, 3, 6, 15, 0), CUTOFF, (), date(2026, 3, 9)),  # Friday after cutoff -> Monday
        (ny(2026, 3, 6, 15, 0), None, (), date(2026, 3, 6)),
        (ny(2026, 3, 7, 9, 0), CUTOFF, (), date(2026, 3, 9)),  # Saturday morning
        (ny(2026, 3, 7, 9, 0), None, (), date(2026, 3, 9)),
        (ny(2026, 3, 8, 23, 0), None, (), date(2026, 3, 9)),  # Sunday (the DST change) night
        (ny(2026, 7, 3, 9, 0), CUTOFF, (), date(2026, 7, 6)),  # observed holiday, before cutoff
        (ny(2026, 7, 3, 9, 0), None, (), date(2026, 7, 6)),
        (ny(2026, 11, 25, 15, 0), CUTOFF, (), date(2026, 11, 27)),  # eve of Thanksgiving
        (ny(2026, 11, 25, 15, 0), None, (), date(2026, 11, 25)),
        (ny(2026, 3, 10, 9, 0), None, (date(2026, 3, 10),), date(2026, 3, 11)),  # closure date
        (ny(2026, 3, 9, 15, 0), CUTOFF, (date(2026, 3, 10),), date(2026, 3, 11)),
        # UTC instants read in the node's zone: 03:30Z on the 10th is 23:30 on the 9th in New York.
        (utc(2026, 3, 10, 3, 30), None, (), date(2026, 3, 9)),
        (utc(2026, 3, 10, 3, 30), CUTOFF, (), date(2026, 3, 10)),
        (utc(2026, 3, 9, 17, 59), CUTOFF, (), date(2026, 3, 9)),  # 13:59 EDT
        (utc(2026, 3, 9, 18, 0), CUTOFF, (), date(2026, 3, 10)),  # 14:00 EDT
        (utc(2026, 3, 6, 18, 59), CUTOFF, (), date(2026, 3, 6)),  # 13:59 EST (before the change)
        (utc(2026, 3, 6, 19, 0), CUTOFF, (), date(2026, 3, 9)),
    ],
)
def test_effective_day(moment, cutoff, closures, expected):
    assert closure_calendar(NY, closures).effective_day(moment, cutoff) == expected


def test_effective_day_depends_on_the_nodes_zone():
    moment = utc(2026, 3, 10, 3, 30)  # Mon 23:30 in New York, Mon 20:30 in Los Angeles
    assert BusinessCalendar(NY).effective_day(moment, time(22, 0)) == date(2026, 3, 10)
    assert BusinessCalendar(LA).effective_day(moment, time(22, 0)) == date(2026, 3, 9)


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError, match="naive"):
        NYC.effective_day(datetime(2026, 3, 9, 12, 0))


# --- deadlines and daylight saving -------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "moment", "n", "cutoff", "local_day", "utc_deadline"),
    [
        # March: clocks go forward on Sunday 2026-03-08. Friday (EST) + 2 = Tuesday (EDT).
        (NY, ny(2026, 3, 6, 10, 0), 2, None, date(2026, 3, 10), utc(2026, 3, 11, 3, 59, 59, 999999)),
        (NY, ny(2026, 3, 6, 10, 0), 0, None, date(2026, 3, 6), utc(2026, 3, 7, 4, 59, 59, 999999)),
        (NY, ny(2026, 3, 7, 10, 0), 0, None, date(2026, 3, 9), utc(2026, 3, 10, 3, 59, 59, 999999)),
        (NY, ny(2026, 3, 6, 15, 0), 0, CUTOFF, date(2026, 3, 9), utc(2026, 3, 10, 3, 59, 59, 999999)),
        (LA, la(2026, 3, 6, 10, 0), 1, None, date(2026, 3, 9), utc(2026, 3, 10, 6, 59, 59, 999999)),
        # November: clocks go back on Sunday 2026-11-01. Friday (EDT) + 1 = Monday (EST).
        (NY, ny(2026, 10, 30, 10, 0), 1, None, date(2026, 11, 2), utc(2026, 11, 3, 4, 59, 59, 999999)),
        (NY, ny(2026, 10, 30, 10, 0), 0, None, date(2026, 10, 30), utc(2026, 10, 31, 3, 59, 59, 999999)),
        (LA, la(2026, 10, 30, 20, 0), 1, None, date(2026, 11, 2), utc(2026, 11, 3, 7, 59, 59, 999999)),
        (NY, ny(2026, 11, 1, 1, 30, fold=1), 0, None, date(2026, 11, 2), utc(2026, 11, 3, 4, 59, 59, 999999)),
        # Holidays and weekends.
        (NY, ny(2026, 11, 25, 15, 0), 2, CUTOFF, date(2026, 12, 1), utc(2026, 12, 2, 4, 59, 59, 999999)),
        (NY, ny(2026, 7, 2, 9, 0), 1, CUTOFF, date(2026, 7, 6), utc(2026, 7, 7, 3, 59, 59, 999999)),
    ],
)
def test_deadline_is_the_end_of_the_right_local_day(zone, moment, n, cutoff, local_day, utc_deadline):
    deadline = BusinessCalendar(zone).deadline(moment, n, cutoff)
    assert deadline == utc_deadline
    assert deadline.tzinfo == UTC
    local = deadline.astimezone(ZoneInfo(zone))
    assert (local.date(), local.time()) == (local_day, END_OF_DAY)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (ny(2026, 3, 6, 10, 0), ny(2026, 3, 9, 9, 0), 1),  # Friday -> Monday
        (ny(2026, 3, 6, 10, 0), ny(2026, 3, 6, 23, 0), 0),
        (ny(2026, 11, 25, 10, 0), ny(2026, 11, 30, 10, 0), 2),  # Thanksgiving skipped
        (ny(2026, 3, 9, 10, 0), ny(2026, 3, 6, 10, 0), 0),  # backwards counts nothing
    ],
)
def test_business_days_between(start, end, expected):
    assert NYC.business_days_between(start, end) == expected


@settings(max_examples=150, deadline=None, database=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2021, 1, 1), max_value=datetime(2029, 12, 1), timezones=st.just(UTC)
    ),
    n=st.integers(min_value=0, max_value=12),
    zone=st.sampled_from([NY, LA, "America/Chicago", "America/Denver", "America/Phoenix"]),
    with_cutoff=st.booleans(),
)
def test_deadline_properties(moment, n, zone, with_cutoff):
    """Any moment, any zone: the deadline is 23:59:59.999999 local on a business day, n business
    days after the effective day, and never before the moment itself."""
    calendar = BusinessCalendar(zone)
    cutoff = CUTOFF if with_cutoff else None
    deadline = calendar.deadline(moment, n, cutoff)
    local = deadline.astimezone(ZoneInfo(zone))
    assert local.time() == END_OF_DAY
    assert calendar.is_business_day(local.date())
    effective = calendar.effective_day(moment, cutoff)
    assert effective >= moment.astimezone(ZoneInfo(zone)).date()
    assert calendar.is_business_day(effective)
    between = sum(
        calendar.is_business_day(effective + timedelta(days=i))
        for i in range(1, (local.date() - effective).days + 1)
    )
    assert between == n
    assert deadline > moment


# --- dock-to-stock deadlines through asn_arrive ------------------------------------------------
# In 2025 (arrivals cannot be in the future): clocks go forward on Sunday 9 March and back on
# Sunday 2 November; Thanksgiving is Thursday 27 November; 4 July is a Friday.

FRI_AFTERNOON = ny(2025, 3, 7, 16, 30)
SATURDAY = ny(2025, 3, 8, 10, 0)
THANKSGIVING_EVE = ny(2025, 11, 26, 15, 0)
BEFORE_CLOSURE = ny(2025, 6, 2, 17, 0)  # Monday; the node is closed Tuesday 2025-06-03
ON_CLOSURE = ny(2025, 6, 3, 9, 0)
BEFORE_THE_FOURTH = ny(2025, 7, 3, 11, 0)
LATE_MONDAY = utc(2025, 3, 11, 3, 30)  # Monday 23:30 EDT: still Monday at the node
CLOSED = [date(2025, 6, 3)]


@pytest.mark.parametrize(
    ("arrived_at", "days", "closures", "deadline"),
    [
        (FRI_AFTERNOON, 0, [], utc(2025, 3, 8, 4, 59, 59, 999999)),  # Fri 23:59:59.999999 EST
        (FRI_AFTERNOON, 1, [], utc(2025, 3, 11, 3, 59, 59, 999999)),  # Mon (EDT from Sunday)
        (FRI_AFTERNOON, 2, [], utc(2025, 3, 12, 3, 59, 59, 999999)),  # Tue
        (SATURDAY, 0, [], utc(2025, 3, 11, 3, 59, 59, 999999)),  # Mon
        (SATURDAY, 1, [], utc(2025, 3, 12, 3, 59, 59, 999999)),  # Tue
        (SATURDAY, 2, [], utc(2025, 3, 13, 3, 59, 59, 999999)),  # Wed
        (THANKSGIVING_EVE, 0, [], utc(2025, 11, 27, 4, 59, 59, 999999)),  # Wed itself (no cutoff)
        (THANKSGIVING_EVE, 1, [], utc(2025, 11, 29, 4, 59, 59, 999999)),  # Fri
        (THANKSGIVING_EVE, 2, [], utc(2025, 12, 2, 4, 59, 59, 999999)),  # Mon
        (BEFORE_CLOSURE, 0, CLOSED, utc(2025, 6, 3, 3, 59, 59, 999999)),  # Mon itself
        (BEFORE_CLOSURE, 1, CLOSED, utc(2025, 6, 5, 3, 59, 59, 999999)),  # Wed
        (BEFORE_CLOSURE, 2, CLOSED, utc(2025, 6, 6, 3, 59, 59, 999999)),  # Thu
        (BEFORE_CLOSURE, 1, [], utc(2025, 6, 4, 3, 59, 59, 999999)),  # Tue when the node is open
        (ON_CLOSURE, 0, CLOSED, utc(2025, 6, 5, 3, 59, 59, 999999)),  # effective Wed
        (BEFORE_THE_FOURTH, 1, [], utc(2025, 7, 8, 3, 59, 59, 999999)),  # over the 4th: Mon
        (LATE_MONDAY, 0, [], utc(2025, 3, 11, 3, 59, 59, 999999)),
        (LATE_MONDAY, 1, [], utc(2025, 3, 12, 3, 59, 59, 999999)),
    ],
)
def test_dock_to_stock_deadline_set_on_arrival(tenant_a, arrived_at, days, closures, deadline):
    warehouse_update(actor=SYSTEM, warehouse=tenant_a.warehouse, closures=[{"date": d} for d in closures])
    client_update(actor=SYSTEM, client=tenant_a.client, dock_to_stock_days=days)
    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(make_item(tenant_a.client), 5)])
    asn = services.asn_arrive(actor=SYSTEM, asn=asn, arrived_at=arrived_at)
    asn.refresh_from_db()
    assert asn.arrived_at == arrived_at
    assert asn.dock_to_stock_deadline == deadline


def test_dock_to_stock_deadline_uses_the_nodes_zone(tenant_a):
    """The same instant, Friday 20:00 in Los Angeles (Saturday 03:00Z; Friday 23:00 in New York)."""
    west = WarehouseFactory(time_zone=LA)
    tenant_a.client.warehouses.add(west)
    client_update(actor=SYSTEM, client=tenant_a.client, dock_to_stock_days=1)
    item = make_item(tenant_a.client)
    moment = la(2025, 10, 31, 20, 0)
    deadlines = {}
    for warehouse in (tenant_a.warehouse, west):
        asn = make_asn(tenant_a.client, warehouse, [(item, 1)])
        deadlines[warehouse.time_zone] = services.asn_arrive(
            actor=SYSTEM, asn=asn, arrived_at=moment
        ).dock_to_stock_deadline
    assert deadlines[LA] == utc(2025, 11, 4, 7, 59, 59, 999999)  # Monday 23:59:59.999999 PST
    assert deadlines[NY] == utc(2025, 11, 4, 4, 59, 59, 999999)  # Monday 23:59:59.999999 EST


def test_default_dock_to_stock_is_two_business_days(tenant_a):
    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(make_item(tenant_a.client), 1)])
    asn = services.asn_arrive(actor=SYSTEM, asn=asn, arrived_at=FRI_AFTERNOON)
    assert asn.dock_to_stock_deadline == utc(2025, 3, 12, 3, 59, 59, 999999)


def test_arrival_without_a_time_is_now_and_in_the_future_is_refused(tenant_a):
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from inventory.models import ASN

    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(make_item(tenant_a.client), 1)])
    with pytest.raises(ValidationError) as exc:
        services.asn_arrive(actor=SYSTEM, asn=asn, arrived_at=timezone.now() + timedelta(days=1))
    assert "arrived_at" in exc.value.message_dict
    refused = ASN.objects.get(pk=asn.pk)
    assert (refused.status, refused.arrived_at, refused.dock_to_stock_deadline) == ("submitted", None, None)
    before = timezone.now()
    arrived = services.asn_arrive(actor=SYSTEM, asn=asn)
    assert before <= arrived.arrived_at <= timezone.now()
    assert arrived.dock_to_stock_deadline == BusinessCalendar(NY).deadline(arrived.arrived_at, 2)
