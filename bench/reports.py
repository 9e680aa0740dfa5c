"""Reports: the client-quarter KPI report, the QBR page and the fleet view, beside bare aggregates.

The reports read the nightly KPI rollup (``reporting.DailyKPI``) for complete days, as they do in
production, where the nightly task has written a row per client and day since the client started.
The data set does not hold that rollup, so a figure first writes the rows it needs that are not
there yet with ``reporting.rollup.rollup_range`` (timed apart: ``rollup_ms`` and
``rollup_days_written`` in the details) and then measures the report.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, date, datetime, timedelta

from bench.core import Context, Measurement, figure, ms, timed

KPI_TARGET_MS = 300.0
QBR_TARGET_MS = 1000.0
FLEET_TARGET_MS = 500.0


def _runs(ctx: Context) -> int:
    return 3 if ctx.scale == "small" else 7


def _median_ms(fn, runs: int) -> tuple[float, dict]:
    """Median of ``runs`` timed calls (after a warm-up one), with the fastest and the slowest."""
    fn()
    samples = [timed(fn) for _ in range(runs)]
    return ms(statistics.median(samples)), {"runs": runs, "min": ms(min(samples)), "max": ms(max(samples))}


def ensure_rollup(client, first: date, last: date, now: datetime) -> dict:
    """Write the client's rollup rows of [first, last] that do not exist yet (one rollup over
    the span of the missing days); what was written and how long it took."""
    from django_scopes import scopes_disabled

    from reporting.models import DailyKPI
    from reporting.rollup import rollup_range

    with scopes_disabled():
        have = set(
            DailyKPI.objects.filter(
                client=client, day__gte=first, day__lte=last, shipping_rolled_up=True
            ).values_list("day", flat=True)
        )
    missing = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    missing = [d for d in missing if d not in have]
    if not missing:
        return {"rollup_days_written": 0, "rollup_ms": 0.0}
    started = time.perf_counter()
    written = rollup_range(client=client, first=min(missing), last=max(missing), now=now)
    return {"rollup_days_written": written, "rollup_ms": ms(time.perf_counter() - started)}


def _logged_in(user):
    from django.test import Client as HttpClient

    http = HttpClient()
    http.force_login(user)
    return http


def _page(http, url: str):
    response = http.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.content[:300]!r}")
    return response


@figure(
    "kpi_report",
    "Client-quarter KPI report, biggest client",
    "bare aggregate SQL: orders received and shipped in the quarter",
    target="under 300 ms",
    check=lambda m: m.ours < KPI_TARGET_MS,
)
def kpi_report(ctx: Context) -> Measurement:
    from django.db import connection
    from django_scopes import scopes_disabled

    from bench.reads import big_client
    from orders.models import Order
    from reporting.kpis import kpi_report as report
    from reporting.kpis import local_today

    client = big_client(ctx)
    end = local_today(client, ctx.now) - timedelta(days=1)
    start = end - timedelta(days=89)
    rollup = ensure_rollup(client, start, end, ctx.now)

    def ours_once():
        with scopes_disabled():
            report(client_ids=[client.pk], start=start, end=end, now=ctx.now)

    table = Order._meta.db_table
    since = datetime.combine(start, datetime.min.time(), UTC)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)

    def baseline_once():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT count(*) FILTER (WHERE received_at >= %(since)s AND received_at < %(until)s),
                       count(*) FILTER (WHERE shipped_at >= %(since)s AND shipped_at < %(until)s)
                FROM {table}
                WHERE client_id = %(client)s
                  AND ((received_at >= %(since)s AND received_at < %(until)s)
                       OR (shipped_at >= %(since)s AND shipped_at < %(until)s))
                """,
                {"client": client.pk, "since": since, "until": until},
            )
            return cursor.fetchone()

    runs = _runs(ctx)
    ours, spread = _median_ms(ours_once, runs)
    baseline, _ = _median_ms(baseline_once, runs)
    received, shipped = baseline_once()
    return Measurement(
        ours=ours,
        baseline=baseline,
        detail={
            "statistic": "median",
            **spread,
            "start": start.isoformat(),
            "end": end.isoformat(),
            **rollup,
            "orders_received": received,
            "orders_shipped": shipped,
        },
    )


@figure(
    "qbr_page",
    "QBR page (console HTML), biggest client, last full quarter",
    "bare aggregate SQL: the quarter's and the previous quarter's orders received and shipped per week",
    target="under 1 s",
    check=lambda m: m.ours < QBR_TARGET_MS,
)
def qbr_page(ctx: Context) -> Measurement:
    """``/console/clients/<big>/qbr/<year>/q<n>/`` as the client's account manager: two KPI
    reports (the quarter by week, and the previous one), movers, alerts, charts, the template."""
    from django.db import connection
    from django.utils import timezone

    from accounts.enums import Role
    from bench.reads import big_client, staff_user
    from orders.models import Order
    from reporting.kpis import local_today
    from reporting.qbr import Quarter

    client = big_client(ctx)
    quarter = Quarter.containing(local_today(client, ctx.now)).previous
    previous = quarter.previous
    # Both quarters, and every complete day since (days of supply reads the trailing 28 days; the
    # page runs on the wall clock, which a kept data set may be days behind).
    now = timezone.now()
    rollup = ensure_rollup(client, previous.start, local_today(client, now) - timedelta(days=1), now)
    manager = staff_user(Role.ACCOUNT_MANAGER, email="bench-am@bench.test", clients=[client])
    http = _logged_in(manager)
    url = f"/console/clients/{client.pk}/qbr/{quarter.year}/q{quarter.quarter}/"
    runs = _runs(ctx)
    ours, spread = _median_ms(lambda: _page(http, url), runs)
    html = _page(http, url)

    table = Order._meta.db_table
    since, _ = previous.window(client)
    _, until = quarter.window(client)

    def baseline_once():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT week, sum(received), sum(shipped) FROM (
                    SELECT date_trunc('week', received_at AT TIME ZONE %(zone)s) AS week,
                           1 AS received, 0 AS shipped
                    FROM {table}
                    WHERE client_id = %(client)s AND received_at >= %(since)s AND received_at < %(until)s
                    UNION ALL
                    SELECT date_trunc('week', shipped_at AT TIME ZONE %(zone)s), 0, 1
                    FROM {table}
                    WHERE client_id = %(client)s AND shipped_at >= %(since)s AND shipped_at < %(until)s
                ) o GROUP BY week ORDER BY week
                """,
                {"client": client.pk, "since": since, "until": until, "zone": client.time_zone},
            )
            return cursor.fetchall()

    baseline, _ = _median_ms(baseline_once, runs)
    weeks = baseline_once()
    return Measurement(
        ours=ours,
        baseline=baseline,
        detail={
            "statistic": "median",
            **spread,
            "url": url,
            "quarter": quarter.label,
            "html_bytes": len(html.content),
            **rollup,
            "weeks_in_both_quarters": len(weeks),
            "orders_received": sum(int(w[1]) for w in weeks),
            "orders_shipped": sum(int(w[2]) for w in weeks),
        },
    )


@figure(
    "fleet_view",
    "Fleet view (console home), every client",
    "bare aggregate SQL: late, at-risk and due-today orders and open alerts per client",
    target="under 500 ms",
    check=lambda m: m.ours < FLEET_TARGET_MS,
)
def fleet_view(ctx: Context) -> Measurement:
    """``/console/`` as an operator admin: every client's on-time rates (today, 7 days), today's
    queues per node, open alerts and inbound, first page sorted by late orders."""
    from django.db import connection
    from django.utils import timezone

    from accounts.enums import Role
    from bench.reads import staff_user
    from orders.models import Order
    from orders.selectors import AT_RISK_WINDOW, NOT_YET_SHIPPED_EXCLUDED, PACKED_OR_LATER
    from reporting.models import Alert

    admin = staff_user(Role.OPERATOR_ADMIN, email="bench-operator@bench.test")
    http = _logged_in(admin)
    url = "/console/"
    runs = _runs(ctx)
    ours, spread = _median_ms(lambda: _page(http, url), runs)
    html = _page(http, url)

    orders, alerts = Order._meta.db_table, Alert._meta.db_table

    def baseline_once():
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT o.client_id,
                       count(*) FILTER (WHERE o.ship_by < %(now)s AND o.status <> ALL(%(shipped)s)),
                       count(*) FILTER (WHERE o.ship_by >= %(now)s AND o.ship_by <= %(soon)s
                                        AND o.status <> ALL(%(packed)s)),
                       count(*) FILTER (WHERE o.ship_by >= %(today)s AND o.ship_by < %(tomorrow)s
                                        AND o.status <> 'cancelled'),
                       (SELECT count(*) FROM {alerts} a
                        WHERE a.client_id = o.client_id AND a.resolved_at IS NULL)
                FROM {orders} o
                WHERE o.status <> ALL(%(shipped)s) OR (o.ship_by >= %(today)s AND o.ship_by < %(tomorrow)s)
                GROUP BY o.client_id
                """,
                {
                    "now": now,
                    "soon": now + AT_RISK_WINDOW,
                    "today": now.replace(hour=0, minute=0, second=0, microsecond=0),
                    "tomorrow": now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1),
                    "shipped": list(NOT_YET_SHIPPED_EXCLUDED),
                    "packed": list(PACKED_OR_LATER),
                },
            )
            return cursor.fetchall()

    baseline, _ = _median_ms(baseline_once, runs)
    rows = baseline_once()
    return Measurement(
        ours=ours,
        baseline=baseline,
        detail={
            "statistic": "median",
            **spread,
            "url": url,
            "html_bytes": len(html.content),
            "clients_with_open_orders": len(rows),
            "late": sum(r[1] for r in rows),
            "at_risk": sum(r[2] for r in rows),
        },
    )
