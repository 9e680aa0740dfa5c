"""Daily inventory snapshots: on hand at each node's local midnight, from the ledger, once per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import InventorySnapshot
from inventory.tasks import take_inventory_snapshots
from tests.accounts.factories import WarehouseFactory
from tests.inventory.factories import SYSTEM, make_item, make_node

NJ, CA = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")


@pytest.fixture
def node(tenant_a):
    return make_node(tenant_a.warehouse)


@pytest.fixture
def west(tenant_a):
    warehouse = WarehouseFactory(
        time_zone="America/Los_Angeles", city="Ontario", state="CA", zip_code="91761"
    )
    tenant_a.client.warehouses.add(warehouse)
    return make_node(warehouse)


@pytest.fixture
def at(monkeypatch):
    """Post the next moves at ``moment`` (Move.created_at is auto_now_add and moves are immutable)."""

    def travel(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return travel


def adjust(client, item, location, quantity):
    services.stock_adjust(
        actor=SYSTEM,
        client=client,
        item=item,
        location=location,
        quantity=quantity,
        code="found" if quantity > 0 else "lost",
        note="snapshot test",
    )


def rows(warehouse=None, day=None) -> dict:
    qs = InventorySnapshot.objects.all()
    if warehouse is not None:
        qs = qs.filter(warehouse=warehouse)
    if day is not None:
        qs = qs.filter(date=day)
    return {(s.warehouse_id, s.item_id, s.date): s.on_hand for s in qs}


def test_on_hand_at_local_midnight_excludes_later_moves(tenant_a, tenant_b, node, at):
    tenant_b.client.warehouses.add(node.warehouse)
    soap, towel = make_item(tenant_a.client), make_item(tenant_a.client)
    theirs = make_item(tenant_b.client)
    wh = node.warehouse.pk
    at(datetime(2026, 3, 2, 10, 0, tzinfo=NJ))
    adjust(tenant_a.client, soap, node.bins[0], 10)
    adjust(tenant_a.client, towel, node.bins[1], 4)
    adjust(tenant_b.client, theirs, node.bins[2], 6)
    at(datetime(2026, 3, 2, 23, 59, 59, tzinfo=NJ))
    adjust(tenant_a.client, soap, node.reserve[0], 5)  # another bin, same node: summed
    at(datetime(2026, 3, 3, 0, 0, 0, tzinfo=NJ))
    adjust(tenant_a.client, soap, node.bins[0], -3)  # at midnight: the next day's
    adjust(tenant_a.client, towel, node.bins[1], -4)

    written = services.inventory_snapshot_take(now=datetime(2026, 3, 3, 6, 0, tzinfo=NJ), backfill_days=1)
    assert written == 3
    assert rows() == {
        (wh, soap.pk, date(2026, 3, 2)): 15,
        (wh, towel.pk, date(2026, 3, 2)): 4,
        (wh, theirs.pk, date(2026, 3, 2)): 6,
    }
    assert InventorySnapshot.objects.get(item=theirs).client_id == tenant_b.client.pk

    # idempotent: the same run again writes nothing and changes nothing
    assert services.inventory_snapshot_take(now=datetime(2026, 3, 3, 23, 0, tzinfo=NJ), backfill_days=1) == 0
    assert len(rows()) == 3

    # the next day: the midnight moves count, a fully shipped item stays at 0
    assert services.inventory_snapshot_take(now=datetime(2026, 3, 4, 0, 30, tzinfo=NJ)) == 3
    assert rows(day=date(2026, 3, 3)) == {
        (wh, soap.pk, date(2026, 3, 3)): 12,
        (wh, towel.pk, date(2026, 3, 3)): 0,
        (wh, theirs.pk, date(2026, 3, 3)): 6,
    }


def test_a_day_is_snapshotted_once_it_has_settled(tenant_a, node, at):
    """Five minutes after midnight: a transaction still running at midnight has committed by then."""
    item = make_item(tenant_a.client)
    at(datetime(2026, 3, 2, 10, 0, tzinfo=NJ))
    adjust(tenant_a.client, item, node.bins[0], 10)
    assert services.inventory_snapshot_take(now=datetime(2026, 3, 2, 23, 59, tzinfo=NJ), backfill_days=1) == 0
    assert (
        services.inventory_snapshot_take(now=datetime(2026, 3, 3, 0, 4, 59, tzinfo=NJ), backfill_days=1) == 0
    )
    assert services.inventory_snapshot_take(now=datetime(2026, 3, 3, 0, 5, tzinfo=NJ), backfill_days=1) == 1


def test_backfills_missed_days_up_to_the_limit(tenant_a, node, at):
    item = make_item(tenant_a.client)
    wh = node.warehouse.pk
    for day, quantity in ((1, 10), (5, 2), (12, 1)):
        at(datetime(2026, 3, day, 12, 0, tzinfo=NJ))
        adjust(tenant_a.client, item, node.bins[0], quantity)

    assert services.inventory_snapshot_take(now=datetime(2026, 3, 7, 1, 0, tzinfo=NJ), backfill_days=3) == 3
    assert rows() == {
        (wh, item.pk, date(2026, 3, 4)): 10,
        (wh, item.pk, date(2026, 3, 5)): 12,
        (wh, item.pk, date(2026, 3, 6)): 12,
    }
    # the task did not run for ten days: the last seven are filled, older ones are left out
    written = services.inventory_snapshot_take(now=datetime(2026, 3, 17, 1, 0, tzinfo=NJ), backfill_days=7)
    assert written == 7
    filled = rows()
    assert sorted(d for _, _, d in filled) == [date(2026, 3, d) for d in (4, 5, 6, *range(10, 17))]
    assert filled[wh, item.pk, date(2026, 3, 11)] == 12
    assert filled[wh, item.pk, date(2026, 3, 12)] == 13
    assert filled[wh, item.pk, date(2026, 3, 16)] == 13
    assert services.inventory_snapshot_take(now=datetime(2026, 3, 17, 9, 0, tzinfo=NJ), backfill_days=7) == 0


def test_nodes_in_different_time_zones_snapshot_at_their_own_midnight(tenant_a, node, west, at):
    item = make_item(tenant_a.client)
    east_wh, west_wh = node.warehouse.pk, west.warehouse.pk
    at(datetime(2026, 3, 1, 12, 0, tzinfo=CA))
    adjust(tenant_a.client, item, west.bins[0], 7)
    at(datetime(2026, 3, 1, 20, 0, tzinfo=CA))  # already 2 March in UTC (04:00Z), still 1 March in CA
    adjust(tenant_a.client, item, west.bins[0], 1)
    at(datetime(2026, 3, 2, 12, 0, tzinfo=NJ))
    adjust(tenant_a.client, item, node.bins[0], 5)
    at(datetime(2026, 3, 2, 12, 0, tzinfo=CA))
    adjust(tenant_a.client, item, west.bins[0], 2)

    # 06:00Z on 3 March: 01:00 in New Jersey (2 March is over), 22:00 on 2 March in California.
    instant = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    assert services.inventory_snapshot_take(now=instant, backfill_days=1) == 2
    assert rows() == {
        (east_wh, item.pk, date(2026, 3, 2)): 5,
        (west_wh, item.pk, date(2026, 3, 1)): 8,
    }
    # 08:05Z: midnight has passed (and settled) in California too
    assert services.inventory_snapshot_take(now=instant + timedelta(hours=2, minutes=5), backfill_days=1) == 1
    assert rows(warehouse=west.warehouse, day=date(2026, 3, 2)) == {(west_wh, item.pk, date(2026, 3, 2)): 10}


@pytest.mark.parametrize(
    ("day", "before", "after"),
    [
        # 8 March 2026 has 23 hours in New York; 1 November 2026 has 25.
        (date(2026, 3, 8), datetime(2026, 3, 8, 23, 30, tzinfo=NJ), datetime(2026, 3, 9, 0, 30, tzinfo=NJ)),
        (
            date(2026, 11, 1),
            datetime(2026, 11, 1, 23, 30, tzinfo=NJ),
            datetime(2026, 11, 2, 0, 30, tzinfo=NJ),
        ),
    ],
)
def test_a_dst_day_ends_at_its_own_local_midnight(tenant_a, node, at, day, before, after):
    item = make_item(tenant_a.client)
    at(before)
    adjust(tenant_a.client, item, node.bins[0], 3)
    at(after)
    adjust(tenant_a.client, item, node.bins[0], 4)
    services.inventory_snapshot_take(now=after + timedelta(hours=8), backfill_days=1)
    assert rows() == {(node.warehouse.pk, item.pk, day): 3}


def test_the_task_snapshots_yesterday(tenant_a, node, at):
    item = make_item(tenant_a.client)
    real_now = datetime.now(UTC)
    at(real_now - timedelta(days=3))
    adjust(tenant_a.client, item, node.bins[0], 9)
    at(real_now)
    written = take_inventory_snapshots()
    assert written == InventorySnapshot.objects.count() >= 1
    yesterday = (real_now - services.SNAPSHOT_SETTLE).astimezone(NJ).date() - timedelta(days=1)
    assert rows(day=yesterday) == {(node.warehouse.pk, item.pk, yesterday): 9}
    assert take_inventory_snapshots() == 0
