"""Reports at volume: the shipping breakdowns and the movers read from the nightly rollup equal
the live ones, transit p90 from histograms is percentile_cont, days of supply reads the rollup,
and a QBR's previous quarter leaves out what the page never shows."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import Actor
from reporting import dashboards, kpis
from reporting.kpis import kpi_report, movers
from reporting.models import DailyItemShipped, DailyKPI, DailyShipping
from reporting.rollup import rollup, rollup_range
from tests.reporting.kpi_support import MON, NOW, SUN, build_week

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(db):
    return build_week()


def test_breakdowns_from_the_rollup_equal_the_live_ones_and_read_no_shipment(week):
    scope = kpis._Scope([week.client, week.la_client], MON, SUN)
    live = kpis.shipping_breakdowns(scope, now=NOW)
    assert sum(r["shipments"] for r in live["shipping_by_carrier"]) > 0
    assert any(r["transit_days_p90"] is not None for r in live["shipping_by_zone"])
    rollup(days_back=30, now=NOW)
    assert DailyShipping.objects.filter(client=week.client).exists()
    with CaptureQueriesContext(connection) as captured:
        rolled = kpis.shipping_breakdowns(scope, now=NOW)
    assert rolled == live
    assert not any('"shipments_shipment"' in q["sql"] for q in captured.captured_queries)


def test_days_rolled_up_before_the_breakdowns_existed_are_counted_live(week):
    live = kpis.shipping_breakdowns(kpis._Scope([week.client], MON, SUN), now=NOW)
    rollup(days_back=30, now=NOW)
    # As a row written before DailyShipping existed: marked not rolled up, no breakdown rows.
    DailyKPI.objects.filter(client=week.client, day=MON + timedelta(days=1)).update(shipping_rolled_up=False)
    DailyShipping.objects.filter(client=week.client, day=MON + timedelta(days=1)).delete()
    assert kpis.shipping_breakdowns(kpis._Scope([week.client], MON, SUN), now=NOW) == live


@pytest.mark.parametrize(
    "values", [[3], [1, 2], [1, 1, 1, 5, 9, 9, 12], [*range(20), 40, 40, 40], [0, 0, 7], [2] * 11]
)
def test_transit_p90_from_a_histogram_is_percentile_cont(values):
    histogram = Counter(values)
    ours = kpis._histogram_percentile(histogram, 0.9)
    assert ours == kpis.percentile_cont(values, 0.9)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY v * 1.0) FROM unnest(%s::int[]) AS v",
                [values],
            )
            assert ours == cursor.fetchone()[0]
    assert kpis._histogram_percentile({}, 0.9) is None


@pytest.mark.parametrize("rolled", ["every day", "some days"])
def test_days_of_supply_reads_the_rollup_like_the_live_count(week, rolled):
    live = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW).totals["days_of_supply"]
    today = kpis.local_today(week.client, NOW)
    first, last = today - timedelta(days=40), today
    if rolled == "some days":  # the rows of a week in the middle of the trailing 28 days
        first, last = today - timedelta(days=20), today - timedelta(days=14)
    rollup_range(client=week.client, first=first, last=last, now=NOW)
    with CaptureQueriesContext(connection) as captured:
        rolled_kpi = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW).totals[
            "days_of_supply"
        ]
    assert (rolled_kpi.value, rolled_kpi.numerator, rolled_kpi.denominator) == (
        live.value,
        live.numerator,
        live.denominator,
    )
    trailing = 'SELECT COALESCE(SUM("shipments_packageline"."quantity"), 0) AS "n"'
    live_counts = [q for q in captured.captured_queries if q["sql"].startswith(trailing)]
    assert len(live_counts) == (0 if rolled == "every day" else 1)


def test_movers_rank_like_before_from_grouped_reads(week):
    top, slow = movers(client_ids=[week.client.pk], start=MON, end=SUN)
    assert [(r["sku"], r["units_shipped"]) for r in top] == [("WIDGET", 7)]
    assert [r["sku"] for r in slow] == ["GADGET", "WIDGET"]
    assert set(top[0]) == {"pk", "client_id", "sku", "name", "units_shipped", "on_hand"}
    assert top[0]["on_hand"] == next(r["on_hand"] for r in slow if r["sku"] == "WIDGET")


def test_a_comparison_report_leaves_out_the_breakdowns_and_todays_stock(week):
    full = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW)
    with CaptureQueriesContext(connection) as captured:
        lean = kpi_report(
            client_ids=[week.client.pk], start=MON, end=SUN, now=NOW, breakdowns=False, stock=False
        )
    assert all(rows == [] for rows in lean.breakdowns.values())
    for key, value in lean.totals.items():
        if kpis.KPI_BY_KEY[key].now:
            assert value.value is None, key
        else:
            assert value == full.totals[key], key
    assert not [
        q for q in captured.captured_queries if "shipments_shipment" in q["sql"] and "GROUPING" in q["sql"]
    ]


def test_the_fleets_order_reads_bound_ship_by_and_name_the_statuses(week, operator_admin):
    """Both order queries of the fleet view select by a ship-by range and ``status IN (...)`` (what
    the (status, ship_by) index reads); the exact queues are counted in their FILTER clauses."""
    with CaptureQueriesContext(connection) as captured:
        rows = dashboards.fleet_rows(actor=Actor.for_user(operator_admin), now=NOW)
    assert {r.client.pk for r in rows} >= {week.client.pk, week.la_client.pk}
    reads = [q["sql"] for q in captured.captured_queries if 'FROM "orders_order"' in q["sql"]]
    assert len(reads) == 2
    for sql in reads:
        where = sql.rsplit('FROM "orders_order"', 1)[1]
        assert '"orders_order"."ship_by" >=' in where and '"orders_order"."status" IN' in where
        assert "NOT (" not in where


def test_transit_p90_from_the_histograms_is_percentile_cont_over_the_shipments(week):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from shipments.models import Shipment

    zone = ZoneInfo(week.client.time_zone)
    since = datetime.combine(MON, time(0), zone)
    until = datetime.combine(SUN + timedelta(days=1), time(0), zone)
    values = list(
        Shipment.all_objects.filter(
            client=week.client, delivered_at__gte=since, delivered_at__lt=until, transit_days__isnull=False
        ).values_list("transit_days", flat=True)
    )
    assert values
    for rolled in (False, True):
        if rolled:
            rollup(days_back=30, now=NOW)
        totals = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, now=NOW).totals
        assert totals["transit_days_p90"].value == kpis._dec(
            kpis.percentile_cont([float(v) for v in values], 0.9)
        )


def test_movers_from_the_rollup_equal_the_live_ones_and_read_no_package_line(week):
    ids = [week.client.pk, week.la_client.pk]
    with mock.patch("reporting.kpis.timezone.now", return_value=NOW):
        live = movers(client_ids=ids, start=MON, end=SUN)
        assert live[0] and live[0][0]["units_shipped"] > 0
        rollup(days_back=30, now=NOW)
        assert DailyItemShipped.objects.filter(client=week.client).exists()
        with CaptureQueriesContext(connection) as captured:
            rolled = movers(client_ids=ids, start=MON, end=SUN)
        assert rolled == live
        assert not any('"shipments_packageline"' in q["sql"] for q in captured.captured_queries)
        # A day whose item rows are missing (rolled up before they existed) is counted live.
        DailyKPI.objects.filter(client=week.client, day=MON).update(shipping_rolled_up=False)
        DailyItemShipped.objects.filter(client=week.client, day=MON).delete()
        assert movers(client_ids=ids, start=MON, end=SUN) == live
