"""Each KPI against the hand-computed week of ``kpi_support`` (table-driven), with the edge cases:
no orders, orders due but not yet shipped, cancellations, weekends, time zones, percentiles and a
client set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from inventory.models import Balance
from reporting.kpis import (
    KPIValue,
    inventory_health,
    kpi_keys,
    kpi_report,
    percentile_cont,
    slow_movers,
    top_movers,
)
from tests.accounts.factories import ClientFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_world
from tests.reporting.kpi_support import MON, NOW, SUN, build_week, est

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(db):
    return build_week()


# (key, value, numerator, denominator) for brand A over Mon 03-02 .. Sun 03-08, computed by hand
# from the fixture's story (kpi_support's docstring):
WEEK_A = [
    ("orders_received", "6", 6, None),  # O1..O6
    ("orders_shipped", "4", 4, None),  # O1, O2, O3, O4 (O5 cancelled, O6 never shipped)
    ("units_shipped", "7", 7, None),  # 1 + 2 + 3 + 1
    # due in the week, not cancelled: O1 (Mon), O2, O3 (Tue), O6 (Thu; past ship-by, unshipped);
    # O4 is due Mon 03-09, O5 cancelled. On time: O1, O3 -> 2 / 4
    ("on_time_ship_rate", "50.00", 2, 4),
    # received on a business day before 14:00, not cancelled: O1, O3, O6 (O2 after the cutoff, O4 on a
    # Saturday, O5 cancelled); shipped that local day: O1, O3 -> 2 / 3
    ("same_day_ship_rate", "66.67", 2, 3),
    # click-to-ship of O1..O4: 2 h, 42 h (Mon 15:00 -> Wed 09:00), 4 h, 1 h -> sorted 1, 2, 4, 42:
    # median (2 + 4) / 2 = 3; p90 at position 0.9 x 3 = 2.7: 4 + 0.7 x (42 - 4) = 30.6
    ("click_to_ship_median_hours", "3.00", None, None),
    ("click_to_ship_p90_hours", "30.60", None, None),
    # ASNs stocked: 6 h (in time) and 72 h (after its deadline): median 39 h, 1 / 2 in time
    ("dock_to_stock_median_hours", "39.00", None, None),
    ("dock_to_stock_in_time_rate", "50.00", 1, 2),
    # ASN lines received: 100 of 100 (clean), 8 of 10 (short) -> 1 / 2
    ("receiving_accuracy", "50.00", 1, 2),
    ("order_accuracy", "75.00", 3, 4),  # 1 - 1 (O3's mis-pick) / 4
    ("inventory_accuracy", None, 0, 0),  # no count approved in the week: n/a, never 0 % or 100 %
    ("inventory_unit_accuracy", None, 0, 0),
    # closed in the week: O1..O4 shipped in full (7 units, 4 lines) and O5 cancelled (2 units, 1 line)
    ("unit_fill_rate", "77.78", 7, 9),
    ("line_fill_rate", "80.00", 4, 5),
    ("backorder_rate", "0.00", 0, 6),
    # on time, complete, no error: O1 and O4 (shipped Sat, due Mon); O2 late, O3 has an error -> 2 / 4
    ("perfect_order_rate", "50.00", 2, 4),
    ("shipping_cost_per_order", "10.00", Decimal("40.00"), 4),  # (10 + 12.50 + 8 + 9.50) / 4
    # delivered in the week: O1 Wed (estimate Wed) and O3 Fri (estimate Wed) -> 1 / 2
    ("carrier_on_time_delivery", "50.00", 1, 2),
    ("transit_days_mean", "2.50", 5, 2),  # 2 and 3 business days
    ("transit_days_p90", "2.90", None, None),  # 2 + 0.9 x (3 - 2)
    # 7 units shipped / mean end-of-day on hand 100 (snapshots of every day of the week)
    ("inventory_turns", "0.07", 7, Decimal("100.00")),
    ("units_on_hand", "100", 100, None),  # Sunday's snapshot
]


@pytest.mark.parametrize(("key", "value", "numerator", "denominator"), WEEK_A, ids=[r[0] for r in WEEK_A])
def test_each_kpi_of_the_week_matches_the_hand_computation(week, key, value, numerator, denominator):
    report = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW)
    kpi = report.totals[key]
    assert kpi.value == (None if value is None else Decimal(value))
    assert kpi.numerator == numerator
    assert kpi.denominator == denominator


def test_the_report_has_every_kpi_in_display_order_with_targets_for_one_client(week):
    report = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW)
    assert list(report.totals) == [k for k, _label, _unit in kpi_keys()]
    on_time = report.totals["on_time_ship_rate"]
    assert on_time.target == Decimal("99.50") and on_time.meets_target is False
    assert on_time.display == "50.00%"
    assert report.totals["click_to_ship_median_hours"].display == "3.0 h"
    assert report.totals["shipping_cost_per_order"].display == "$10.00"
    assert report.totals["inventory_accuracy"].display == "n/a"
    assert report.totals["inventory_accuracy"].meets_target is None


def test_an_order_due_later_today_and_not_shipped_is_in_neither_count(week):
    # Thursday 20:00 in New York: O6 is due at 23:59:59 and not shipped: not yet measured.
    thursday_evening = est(5, 20)
    report = kpi_report(client_ids=[week.client.pk], start=MON, end=date(2026, 3, 5), now=thursday_evening)
    assert (report.totals["on_time_ship_rate"].numerator, report.totals["on_time_ship_rate"].denominator) == (
        2,
        3,
    )
    # Once its ship-by has passed it counts as late.
    report = kpi_report(client_ids=[week.client.pk], start=MON, end=date(2026, 3, 5), now=est(6, 8))
    assert (report.totals["on_time_ship_rate"].numerator, report.totals["on_time_ship_rate"].denominator) == (
        2,
        4,
    )


def test_a_day_series_counts_each_local_day(week):
    report = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, granularity="day", now=NOW)
    days = dict(report.series)
    assert list(days) == [MON + timedelta(days=i) for i in range(7)]
    shipped = {d: v["orders_shipped"].value for d, v in days.items()}
    # O1 Mon, O3 Tue, O2 Wed, O4 Sat
    assert shipped == {
        date(2026, 3, 2): 1,
        date(2026, 3, 3): 1,
        date(2026, 3, 4): 1,
        date(2026, 3, 5): 0,
        date(2026, 3, 6): 0,
        date(2026, 3, 7): 1,
        date(2026, 3, 8): 0,
    }
    # Saturday: O4 received on a weekend is not same-day eligible.
    assert days[date(2026, 3, 7)]["same_day_ship_rate"].value is None
    assert days[date(2026, 3, 2)]["same_day_ship_rate"].value == Decimal(
        "100.00"
    )  # O1 only (O2 after cutoff)
    # percentiles per day: Monday's only shipped order took 2 h
    assert days[date(2026, 3, 2)]["click_to_ship_median_hours"].value == Decimal("2.00")
    assert "days_of_supply" not in days[MON]  # a "now" KPI: in the totals only


def test_a_week_series_starts_on_mondays_and_sums_to_the_totals(week):
    report = kpi_report(
        client_ids=[week.client.pk],
        start=date(2026, 3, 1),
        end=date(2026, 3, 10),
        granularity="week",
        now=NOW,
    )
    assert [p for p, _ in report.series] == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
    assert (
        sum(v["orders_shipped"].value for _, v in report.series) == report.totals["orders_shipped"].value == 4
    )


def test_los_angeles_23_30_counts_on_that_local_day(week):
    b = week.la_client.pk
    monday = kpi_report(client_ids=[b], start=MON, end=MON, now=NOW)
    tuesday = kpi_report(client_ids=[b], start=date(2026, 3, 3), end=date(2026, 3, 3), now=NOW)
    assert monday.totals["orders_shipped"].value == 1  # 23:30 PST Monday (07:30 UTC Tuesday)
    assert tuesday.totals["orders_shipped"].value == 0
    # received at 20:00, after the cutoff: not same-day eligible; due Tuesday, shipped before it
    assert monday.totals["same_day_ship_rate"].value is None
    assert tuesday.totals["on_time_ship_rate"].value == Decimal("100.00")


def test_a_client_set_sums_each_clients_own_days(week):
    both = kpi_report(client_ids=[week.client.pk, week.la_client.pk], start=MON, end=SUN, now=NOW)
    assert both.totals["orders_shipped"].value == 5  # 4 + 1
    assert both.totals["orders_received"].value == 7  # 6 + 1
    on_time = both.totals["on_time_ship_rate"]
    assert (on_time.numerator, on_time.denominator) == (3, 5)  # A 2 / 4, B 1 / 1
    cost = both.totals["shipping_cost_per_order"]
    assert cost.value == Decimal("9.40")  # (40 + 7) / 5
    assert on_time.target is None  # targets are per client: none for a set


def test_shipping_breakdowns(week):
    report = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW)
    by_zone = report.breakdowns["shipping_by_zone"]
    assert sum(r["orders"] for r in by_zone) == 4
    assert sum(r["cost"] for r in by_zone) == Decimal("40.00")
    assert sum(r["shipments_delivered"] for r in by_zone) == 2
    rows = report.breakdowns["shipping_by_carrier"]
    assert sum(r["shipments"] for r in rows) == 4
    assert all(r["label"] for r in rows)


def test_no_orders_every_rate_is_na(db):
    client = ClientFactory()
    report = kpi_report(client_ids=[client.pk], start=MON, end=SUN, granularity="day", now=NOW)
    for key, _label, unit in kpi_keys():
        kpi: KPIValue = report.totals[key]
        if unit in ("%", "hours", "days", "USD", "turns"):
            assert kpi.value is None, key
            assert kpi.display == "n/a"
        else:
            assert kpi.value == 0, key
    for _day, values in report.series:
        assert values["on_time_ship_rate"].value is None


def test_aged_inventory_and_days_of_supply(db):
    world = make_world(regions=("nj",))
    fresh, old, ancient = (make_item(world.client) for _ in range(3))
    for item, units in ((fresh, 5), (old, 7), (ancient, 11)):
        stock(world.client, world.nj, item, units)
    now = datetime(2026, 6, 15, 16, tzinfo=UTC)
    # Receipt times come from the ledger's real clock; the fixture ages the balances.
    Balance.objects.filter(item=fresh).update(received_at=now - timedelta(days=10))
    Balance.objects.filter(item=old).update(received_at=now - timedelta(days=45))
    Balance.objects.filter(item=ancient).update(received_at=now - timedelta(days=200))
    totals = kpi_report(
        client_ids=[world.client.pk], start=date(2026, 6, 1), end=date(2026, 6, 14), now=now
    ).totals
    assert [totals[k].value for k in ("aged_0_30", "aged_31_90", "aged_91_180", "aged_over_180")] == [
        5,
        7,
        0,
        11,
    ]
    assert totals["days_of_supply"].value is None  # nothing shipped in 28 days: n/a
    assert totals["days_of_supply"].numerator == 23


def test_days_of_supply_and_inventory_health(week):
    totals = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW).totals
    # Trailing 28 days before Fri 03-20: 7 units shipped -> 0.25 a day. Available now: WIDGET 100 - 7
    # shipped = 93 (O6 was never allocated), GADGET 8 -> 101 units / 0.25 = 404 days.
    dos = totals["days_of_supply"]
    assert (dos.numerator, dos.denominator, dos.value) == (101, Decimal("0.25"), Decimal("404.00"))
    rows = {r["sku"]: r for r in inventory_health(client_ids=[week.client.pk], today=date(2026, 3, 20))}
    assert rows["WIDGET"]["units_shipped_28d"] == 7
    assert rows["WIDGET"]["days_of_supply"] == Decimal("372.00")  # 93 / 0.25
    assert rows["GADGET"]["days_of_supply"] is None


def test_top_and_slow_movers(week):
    top = top_movers(client_ids=[week.client.pk], start=MON, end=SUN)
    assert [(r["sku"], r["units_shipped"]) for r in top] == [("WIDGET", 7)]
    slow = slow_movers(client_ids=[week.client.pk], start=MON, end=SUN)
    assert [r["sku"] for r in slow] == ["GADGET", "WIDGET"]


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([1, 2, 4, 42], 0.5, 3.0),
        ([1, 2, 4, 42], 0.9, 30.6),
        ([5], 0.9, 5.0),
        ([], 0.5, None),
        ([3, 1, 2], 0.5, 2.0),
    ],
)
def test_percentile_cont_interpolates_like_postgresql(values, fraction, expected):
    result = percentile_cont(values, fraction)
    assert result == pytest.approx(expected) if expected is not None else result is None
