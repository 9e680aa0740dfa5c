"""The nightly rollup: a report read from the rollup equals the one computed live; the rollup is
idempotent and follows late changes; the task is scheduled; the SQLite percentile path agrees."""

from __future__ import annotations

from datetime import date, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from reporting import kpis, tasks
from reporting.kpis import kpi_report
from reporting.models import DailyKPI
from reporting.rollup import rollup, rollup_day
from reporting.services import order_error_record
from tests.reporting.kpi_support import MON, NOW, SUN, build_week
from tests.shipments.shipping_support import SYSTEM

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(db):
    return build_week()


def _report(week, granularity="day"):
    return kpi_report(
        client_ids=[week.client.pk, week.la_client.pk], start=MON, end=SUN, granularity=granularity, now=NOW
    )


@pytest.mark.parametrize("granularity", ["day", "week", None])
def test_a_report_from_the_rollup_equals_the_live_one(week, granularity):
    live = _report(week, granularity)
    assert not DailyKPI.objects.exists()
    written = rollup(days_back=30, now=NOW)
    assert written == 60  # 2 clients x 30 complete days before 03-20
    rolled = _report(week, granularity)
    assert rolled.totals == live.totals
    assert rolled.series == live.series
    assert rolled.breakdowns == live.breakdowns
    assert live.totals["orders_shipped"].value == 5


def test_a_rolled_up_report_reads_rows_not_orders(week):
    rollup(days_back=30, now=NOW)
    # With every day rolled up, no order or shipment table is counted per day: the same number of
    # queries for a week as for the 30 days.
    counts = []
    for end in (MON + timedelta(days=6), MON + timedelta(days=17)):
        with CaptureQueriesContext(connection) as ctx:
            kpi_report(client_ids=[week.client.pk], start=MON, end=end, granularity="day", now=NOW)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_the_rollup_is_idempotent_and_follows_late_changes(week):
    rollup(days_back=30, now=NOW)
    first = list(DailyKPI.objects.order_by("client", "day").values())
    rollup(days_back=30, now=NOW)
    assert DailyKPI.objects.count() == len(first)
    again = list(DailyKPI.objects.order_by("client", "day").values())
    strip = lambda rows: [{k: v for k, v in r.items() if k != "computed_at"} for r in rows]  # noqa: E731
    assert strip(again) == strip(first)
    # An error recorded later against Monday's O1: the day's row follows once recomputed.
    monday = DailyKPI.objects.get(client=week.client, day=MON)
    assert (monday.orders_shipped, monday.shipped_with_error, monday.perfect_orders) == (1, 0, 1)
    order_error_record(actor=SYSTEM, order=Order.objects.get(pk=week.orders["O1"].pk), kind="damaged")
    rollup_day(client_id=week.client.pk, day=MON, now=NOW)
    monday.refresh_from_db()
    assert (monday.orders_shipped, monday.shipped_with_error, monday.perfect_orders) == (1, 1, 0)
    assert (
        kpi_report(client_ids=[week.client.pk], start=MON, end=MON, now=NOW).totals["order_accuracy"].value
        == 0
    )


def test_today_is_never_rolled_up_and_is_counted_live(week):
    # On Wednesday 03-04 (New York), the rollup writes up to Tuesday.
    rollup(days_back=5, now=NOW.replace(day=4))
    assert DailyKPI.objects.filter(client=week.client).order_by("day").last().day == date(2026, 3, 3)


def test_the_task_runs_the_rollup_and_is_scheduled_nightly(week):
    assert tasks.rollup_kpis.acks_late
    entry = settings.CELERY_BEAT_SCHEDULE["kpi-rollup"]
    assert entry["task"] == "reporting.tasks.rollup_kpis"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({10}, {15})
    assert tasks.rollup_kpis.delay(days_back=3).get() == 6  # eager in tests: 2 clients x 3 days


def test_the_sqlite_percentile_path_gives_postgresqls_numbers(week, monkeypatch):
    on_postgres = _report(week)
    monkeypatch.setattr(kpis, "_is_postgres", lambda: False)
    in_python = _report(week)
    keys = [
        "click_to_ship_median_hours",
        "click_to_ship_p90_hours",
        "dock_to_stock_median_hours",
        "transit_days_p90",
    ]
    assert [in_python.totals[k] for k in keys] == [on_postgres.totals[k] for k in keys]
    for (day_pg, pg), (day_py, py) in zip(on_postgres.series, in_python.series, strict=True):
        assert day_pg == day_py
        assert [py[k] for k in keys] == [pg[k] for k in keys]
    assert in_python.breakdowns == on_postgres.breakdowns


def test_the_command_backfills_a_longer_window(week):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    with mock.patch("reporting.rollup.timezone.now", return_value=NOW):
        call_command("rollup_kpis", "--days-back", "40", stdout=out)
    assert out.getvalue().strip() == "80 client-days rolled up."
    assert DailyKPI.objects.filter(shipping_rolled_up=True).count() == 80
    with pytest.raises(CommandError, match="--days-back"):
        call_command("rollup_kpis", "--days-back", "0")


def test_the_rollup_and_the_reports_open_no_tenant_scope_themselves(week):
    """A worker runs them without a scope: every read of theirs must be scope-free by itself."""
    from django_scopes import scope

    with scope():  # scoping on, no client: any read that needs a scope would raise
        assert rollup(days_back=30, now=NOW) == 60
        report = kpi_report(client_ids=[week.client.pk], start=MON, end=SUN, granularity="week", now=NOW)
        assert report.totals["orders_shipped"].value == 4
        assert kpis.movers(client_ids=[week.client.pk], start=MON, end=SUN)[0]
