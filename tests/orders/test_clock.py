"""The ship-by clock of DOMAIN.md: table by table through ``orders.clock.ship_by``, then through the
services that move ``released_at`` (intake, holds, address fixes, backorders, routing)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import WarehouseClosure
from fulfillment.calendar import END_OF_DAY
from orders import allocation, clock, services
from orders.enums import HoldKind, OrderStatus
from tests.accounts.factories import ClientFactory
from tests.inventory.factories import SYSTEM, make_item, stock
from tests.orders.factories import (
    LA,
    NY,
    SHIP_TO_CA,
    SHIP_TO_NJ,
    SHIP_TO_NOWHERE,
    make_order,
    make_warehouse,
    make_world,
)

pytestmark = pytest.mark.django_db


def local(tz: str, *args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold)


def end_of(tz: str, day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2026: Mar 2 is a Monday, Mar 6 a Friday; DST starts Sunday Mar 8 and ends Sunday Nov 1.
# Federal holidays used: Memorial Day Mon May 25, Juneteenth Fri Jun 19, Labor Day Mon Sep 7,
# Thanksgiving Thu Nov 26.
CASES = [
    # id, node tz, released_at (local), SLA days, service level, closures, expected local ship-by day
    ("before cutoff", NY, (2026, 3, 2, 9, 0), 0, "standard", (), date(2026, 3, 2)),
    ("one second before cutoff", NY, (2026, 3, 2, 13, 59, 59), 0, "standard", (), date(2026, 3, 2)),
    ("at cutoff is after it", NY, (2026, 3, 2, 14, 0), 0, "standard", (), date(2026, 3, 3)),
    ("after cutoff", NY, (2026, 3, 2, 18, 30), 0, "standard", (), date(2026, 3, 3)),
    ("just before midnight", NY, (2026, 3, 2, 23, 59), 0, "standard", (), date(2026, 3, 3)),
    ("Friday before cutoff", NY, (2026, 3, 6, 10, 0), 0, "standard", (), date(2026, 3, 6)),
    ("Friday after cutoff: Monday", NY, (2026, 3, 13, 15, 0), 0, "standard", (), date(2026, 3, 16)),
    ("Saturday: Monday", NY, (2026, 3, 14, 9, 0), 0, "standard", (), date(2026, 3, 16)),
    ("Sunday: Monday", NY, (2026, 3, 15, 9, 0), 0, "standard", (), date(2026, 3, 16)),
    ("before Labor Day after cutoff", NY, (2026, 9, 4, 15, 0), 0, "standard", (), date(2026, 9, 8)),
    ("on Labor Day", NY, (2026, 9, 7, 9, 0), 0, "standard", (), date(2026, 9, 8)),
    ("before Thanksgiving after cutoff", NY, (2026, 11, 25, 16, 0), 0, "standard", (), date(2026, 11, 27)),
    ("before Juneteenth after cutoff", NY, (2026, 6, 18, 15, 0), 0, "standard", (), date(2026, 6, 22)),
    ("Friday before Memorial Day, late", NY, (2026, 5, 22, 15, 0), 0, "standard", (), date(2026, 5, 26)),
    ("SLA 1", NY, (2026, 3, 2, 9, 0), 1, "standard", (), date(2026, 3, 3)),
    ("SLA 2", NY, (2026, 3, 2, 9, 0), 2, "standard", (), date(2026, 3, 4)),
    ("SLA 1 after cutoff", NY, (2026, 3, 2, 15, 0), 1, "standard", (), date(2026, 3, 4)),
    ("SLA 2 from Thursday late", NY, (2026, 3, 5, 15, 0), 2, "standard", (), date(2026, 3, 10)),
    ("SLA 1 over Thanksgiving", NY, (2026, 11, 25, 9, 0), 1, "standard", (), date(2026, 11, 27)),
    ("SLA 2 over Thanksgiving", NY, (2026, 11, 25, 9, 0), 2, "standard", (), date(2026, 11, 30)),
    ("closure next day", NY, (2026, 3, 9, 15, 0), 0, "standard", (date(2026, 3, 10),), date(2026, 3, 11)),
    ("on a closure date", NY, (2026, 3, 10, 9, 0), 0, "standard", (date(2026, 3, 10),), date(2026, 3, 11)),
    ("SLA 1 over a closure", NY, (2026, 3, 9, 9, 0), 1, "standard", (date(2026, 3, 10),), date(2026, 3, 11)),
    (
        "closures back to back",
        NY,
        (2026, 3, 9, 15, 0),
        0,
        "standard",
        (date(2026, 3, 10), date(2026, 3, 11)),
        date(2026, 3, 12),
    ),
    (
        "closure on a weekend",
        NY,
        (2026, 3, 13, 15, 0),
        0,
        "standard",
        (date(2026, 3, 14),),
        date(2026, 3, 16),
    ),
    ("LA before cutoff", LA, (2026, 3, 4, 12, 30), 0, "standard", (), date(2026, 3, 4)),
    ("LA after cutoff", LA, (2026, 3, 4, 14, 30), 0, "standard", (), date(2026, 3, 5)),
]


@pytest.mark.parametrize(
    ("tz", "released", "sla", "level", "closures", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_ship_by(tz, released, sla, level, closures, expected):
    warehouse = make_warehouse("ca" if tz == LA else "nj")
    for day in closures:
        WarehouseClosure.objects.create(warehouse=warehouse, date=day)
    client = ClientFactory(ship_sla_days=sla)
    deadline = clock.ship_by(
        client=client, warehouse=warehouse, released_at=local(tz, *released), service_level=level
    )
    assert deadline == end_of(tz, expected)
    assert deadline.astimezone(ZoneInfo(tz)).date() == expected
    assert deadline.astimezone(ZoneInfo(tz)).time() == time(23, 59, 59, 999999)


@pytest.mark.parametrize(
    ("level", "expedited_cutoff", "released", "expected"),
    [
        ("standard", time(12, 0), (2026, 3, 2, 13, 0), date(2026, 3, 2)),  # standard keeps 14:00
        ("expedited", time(12, 0), (2026, 3, 2, 13, 0), date(2026, 3, 3)),
        ("two_day", time(12, 0), (2026, 3, 2, 13, 0), date(2026, 3, 3)),
        ("overnight", time(12, 0), (2026, 3, 2, 13, 0), date(2026, 3, 3)),
        ("overnight", time(12, 0), (2026, 3, 2, 11, 59), date(2026, 3, 2)),
        ("expedited", None, (2026, 3, 2, 13, 0), date(2026, 3, 2)),  # no own cutoff: the client's
        ("expedited", time(12, 0), (2026, 3, 6, 12, 0), date(2026, 3, 9)),  # Friday at the cutoff
    ],
)
def test_expedited_service_levels_use_the_expedited_cutoff(level, expedited_cutoff, released, expected):
    warehouse = make_warehouse("nj")
    client = ClientFactory(expedited_cutoff=expedited_cutoff)
    deadline = clock.ship_by(
        client=client, warehouse=warehouse, released_at=local(NY, *released), service_level=level
    )
    assert deadline == end_of(NY, expected)


@pytest.mark.parametrize(
    ("cutoff", "released", "expected"),
    [
        (time(16, 0), (2026, 3, 2, 15, 0), date(2026, 3, 2)),
        (time(16, 0), (2026, 3, 2, 16, 0), date(2026, 3, 3)),
        (time(9, 0), (2026, 3, 2, 9, 30), date(2026, 3, 3)),
    ],
)
def test_the_clients_own_cutoff(cutoff, released, expected):
    warehouse = make_warehouse("nj")
    client = ClientFactory(order_cutoff=cutoff)
    assert clock.ship_by(
        client=client, warehouse=warehouse, released_at=local(NY, *released), service_level="standard"
    ) == end_of(NY, expected)


@pytest.mark.parametrize(
    ("instant", "nj_day", "ca_day"),
    [
        # 15:30 in New Jersey (after the cutoff), 12:30 in California (before it).
        (utc(2026, 3, 4, 20, 30), date(2026, 3, 5), date(2026, 3, 4)),
        # Friday: Monday in New Jersey, Friday in California.
        (utc(2026, 3, 6, 20, 30), date(2026, 3, 9), date(2026, 3, 6)),
        # 09:00 in New Jersey, 06:00 in California: both before the cutoff.
        (utc(2026, 3, 4, 14, 0), date(2026, 3, 4), date(2026, 3, 4)),
        # 01:00 UTC Thursday is still Wednesday evening at both: after the cutoff.
        (utc(2026, 3, 5, 1, 0), date(2026, 3, 5), date(2026, 3, 5)),
        # 06:30 UTC Thursday: Thursday 01:30 in NJ (before cutoff), Wednesday 22:30 in CA (after).
        (utc(2026, 3, 5, 6, 30), date(2026, 3, 5), date(2026, 3, 5)),
    ],
)
def test_the_same_instant_is_a_different_day_at_nodes_in_different_time_zones(instant, nj_day, ca_day):
    nj, ca = make_warehouse("nj"), make_warehouse("ca")
    client = ClientFactory()
    at_nj = clock.ship_by(client=client, warehouse=nj, released_at=instant, service_level="standard")
    at_ca = clock.ship_by(client=client, warehouse=ca, released_at=instant, service_level="standard")
    assert at_nj == end_of(NY, nj_day)
    assert at_ca == end_of(LA, ca_day)


@pytest.mark.parametrize(
    ("tz", "released", "sla", "expected_utc"),
    [
        # Spring forward (Sunday 2026-03-08): EST is UTC-5, EDT UTC-4; PST UTC-8, PDT UTC-7.
        (NY, (2026, 3, 6, 15, 0), 0, utc(2026, 3, 10, 3, 59, 59, 999999)),  # Fri late -> Mon EDT
        (NY, (2026, 3, 6, 10, 0), 0, utc(2026, 3, 7, 4, 59, 59, 999999)),  # Fri EST
        (NY, (2026, 3, 6, 10, 0), 1, utc(2026, 3, 10, 3, 59, 59, 999999)),  # Fri +1 -> Mon EDT
        (NY, (2026, 3, 7, 12, 0), 0, utc(2026, 3, 10, 3, 59, 59, 999999)),  # Saturday
        (NY, (2026, 3, 8, 1, 30), 0, utc(2026, 3, 10, 3, 59, 59, 999999)),  # before the gap
        (NY, (2026, 3, 8, 3, 30), 0, utc(2026, 3, 10, 3, 59, 59, 999999)),  # after the gap
        (LA, (2026, 3, 6, 15, 0), 0, utc(2026, 3, 10, 6, 59, 59, 999999)),
        (LA, (2026, 3, 6, 13, 0), 0, utc(2026, 3, 7, 7, 59, 59, 999999)),
        # Fall back (Sunday 2026-11-01).
        (NY, (2026, 10, 30, 15, 0), 0, utc(2026, 11, 3, 4, 59, 59, 999999)),  # Fri late -> Mon EST
        (NY, (2026, 10, 30, 13, 0), 0, utc(2026, 10, 31, 3, 59, 59, 999999)),  # Fri EDT
        (NY, (2026, 10, 30, 13, 0), 1, utc(2026, 11, 3, 4, 59, 59, 999999)),
        (NY, (2026, 11, 1, 1, 30), 0, utc(2026, 11, 3, 4, 59, 59, 999999)),  # the repeated hour
        (LA, (2026, 10, 30, 15, 0), 0, utc(2026, 11, 3, 7, 59, 59, 999999)),
        (LA, (2026, 10, 30, 13, 0), 2, utc(2026, 11, 4, 7, 59, 59, 999999)),
    ],
)
@pytest.mark.parametrize("fold", [0, 1])
def test_daylight_saving_weekends_do_not_shift_the_deadline(tz, released, sla, expected_utc, fold):
    warehouse = make_warehouse("ca" if tz == LA else "nj")
    client = ClientFactory(ship_sla_days=sla)
    deadline = clock.ship_by(
        client=client,
        warehouse=warehouse,
        released_at=local(tz, *released, fold=fold),
        service_level="standard",
    )
    assert deadline == expected_utc
    assert deadline.astimezone(ZoneInfo(tz)).time() == END_OF_DAY


def test_without_a_node_the_clients_time_zone_decides():
    client = ClientFactory(time_zone=LA)
    deadline = clock.ship_by(
        client=client, warehouse=None, released_at=utc(2026, 3, 4, 20, 30), service_level="standard"
    )
    assert deadline == end_of(LA, date(2026, 3, 4))


# --- through the services ------------------------------------------------------------------------

AFTER_NJ_BEFORE_CA = utc(2026, 3, 4, 20, 30)  # Wednesday: 15:30 in New Jersey, 12:30 in California
NJ_THURSDAY = end_of(NY, date(2026, 3, 5))
CA_WEDNESDAY = end_of(LA, date(2026, 3, 4))


@pytest.fixture
def world():
    return make_world(regions=("nj", "ca"))


@pytest.mark.parametrize(("destination", "expected"), [(SHIP_TO_NJ, NJ_THURSDAY), (SHIP_TO_CA, CA_WEDNESDAY)])
def test_intake_sets_the_clock_at_the_nearest_node(world, destination, expected):
    order = make_order(
        world.client, [(make_item(world.client), 1)], ship_to=destination, received_at=AFTER_NJ_BEFORE_CA
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED
    assert order.received_at == order.released_at == AFTER_NJ_BEFORE_CA
    assert order.ship_by == expected


def test_intake_without_received_at_uses_now(world):
    before = timezone.now()
    order = make_order(world.client, [(make_item(world.client), 1)])
    assert before <= order.received_at == order.released_at <= timezone.now()
    assert order.ship_by == clock.ship_by(
        client=world.client,
        warehouse=world.nj.warehouse,
        released_at=order.released_at,
        service_level="standard",
    )


def _expected_ship_by(order, warehouse):
    return clock.ship_by(
        client=order.client,
        warehouse=warehouse,
        released_at=order.released_at,
        service_level=order.service_level,
    )


def test_releasing_a_client_hold_restarts_the_clock(world):
    brand = Actor.for_user(_client_user(world.client))
    order = make_order(world.client, [(make_item(world.client), 1)], received_at=AFTER_NJ_BEFORE_CA)
    services.order_hold(actor=brand, order=order, kind=HoldKind.CLIENT, reason="waiting for a gift note")
    before = timezone.now()
    order = services.order_release(actor=brand, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED
    assert before <= order.released_at <= timezone.now()
    assert order.received_at == AFTER_NJ_BEFORE_CA
    assert order.ship_by == _expected_ship_by(order, world.nj.warehouse) != NJ_THURSDAY


def test_releasing_an_operator_hold_keeps_the_clock(world):
    order = make_order(world.client, [(make_item(world.client), 1)], received_at=AFTER_NJ_BEFORE_CA)
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR, reason="fraud check")
    order = services.order_release(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR)
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED
    assert order.released_at == AFTER_NJ_BEFORE_CA
    assert order.ship_by == NJ_THURSDAY


def test_a_client_hold_released_before_an_operator_hold_still_restarts_the_clock(world):
    """The order becomes workable when its last hold goes; a brand's hold in that stay moves it."""
    order = make_order(world.client, [(make_item(world.client), 1)], received_at=AFTER_NJ_BEFORE_CA)
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.CLIENT, reason="brand asked")
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR, reason="fraud check")
    services.order_release(actor=SYSTEM, order=order, kind=HoldKind.CLIENT)
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and order.released_at == AFTER_NJ_BEFORE_CA
    before = timezone.now()
    services.order_release(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR)
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED
    assert before <= order.released_at <= timezone.now()


def test_an_earlier_client_hold_does_not_restart_a_later_operator_hold(world):
    order = make_order(world.client, [(make_item(world.client), 1)], received_at=AFTER_NJ_BEFORE_CA)
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.CLIENT, reason="brand asked")
    services.order_release(actor=SYSTEM, order=order)
    order.refresh_from_db()
    moved = order.released_at
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR, reason="fraud check")
    services.order_release(actor=SYSTEM, order=order)
    order.refresh_from_db()
    assert order.released_at == moved


def test_fixing_the_address_releases_the_address_hold_and_starts_the_clock(world):
    order = make_order(
        world.client, [(make_item(world.client), 1)], ship_to=SHIP_TO_NOWHERE, received_at=AFTER_NJ_BEFORE_CA
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert order.released_at is None and order.ship_by is None
    hold = order.holds.get()
    assert hold.kind == HoldKind.ADDRESS and "00000" in hold.reason
    before = timezone.now()
    order = services.order_update_address(
        actor=SYSTEM, order=order, **{k: v for k, v in SHIP_TO_CA.items() if k != "ship_to_name"}
    )
    order.refresh_from_db()
    hold.refresh_from_db()
    assert hold.released_at is not None
    assert order.status == OrderStatus.RECEIVED
    assert before <= order.released_at <= timezone.now()
    assert order.ship_by == _expected_ship_by(order, world.ca.warehouse)  # the CA node is now nearest


def test_a_backorder_allocated_later_restarts_the_clock_at_allocation(world):
    item = make_item(world.client)
    order = make_order(world.client, [(item, 2)], received_at=AFTER_NJ_BEFORE_CA)
    assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.BACKORDERED
    order.refresh_from_db()
    assert order.released_at == AFTER_NJ_BEFORE_CA and order.ship_by == NJ_THURSDAY
    stock(world.client, world.nj, item, 2)
    before = timezone.now()
    assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.ALLOCATED
    order.refresh_from_db()
    assert before <= order.released_at <= order.allocated_at <= timezone.now()
    assert order.ship_by == _expected_ship_by(order, world.nj.warehouse)
    assert order.ever_backordered


def test_routing_to_a_node_in_another_time_zone_recomputes_ship_by(world):
    item = make_item(world.client)
    stock(world.client, world.ca, item, 3)  # only California has it
    order = make_order(world.client, [(item, 3)], ship_to=SHIP_TO_NJ, received_at=AFTER_NJ_BEFORE_CA)
    order.refresh_from_db()
    assert order.ship_by == NJ_THURSDAY  # provisional: the nearest node, New Jersey
    assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.ALLOCATED
    order.refresh_from_db()
    assert order.warehouse == world.ca.warehouse
    assert order.released_at == AFTER_NJ_BEFORE_CA  # routing does not restart the clock
    assert order.ship_by == CA_WEDNESDAY  # 12:30 in California: before its cutoff


def _client_user(client):
    from tests.accounts.factories import UserFactory

    return UserFactory(role="client_user", client=client)
