"""Run the scale benchmark: ``python -m bench.run --scale small|full``.

Creates a database of its own (``--database``, default ``fulfillment_bench``) on the server named by
``DATABASE_URL``, migrates it, builds the data set (``bench.dataset``), then measures each registered
``Figure`` side by side with its baseline (the same work done by the bare SQL) and prints a table
(figure, our result, baseline, ratio) and writes it as JSON under ``bench/results/``. The database is
dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


# The database of its own -------------------------------------------------------------------------


def _server_url() -> str:
    return (
        os.environ.get("DATABASE_URL", "")
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else DEFAULT_SERVER
    )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _maintenance(url: str, sql: str) -> None:
    """Run one statement on the ``postgres`` maintenance database (CREATE/DROP DATABASE)."""
    import psycopg2

    conn = psycopg2.connect(_with_database(url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"Unsafe database name: {name!r}")
    return f'"{name}"'


def create_database(server: str, name: str) -> None:
    _maintenance(server, f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    _maintenance(server, f"CREATE DATABASE {_quote(name)}")


def drop_database(server: str, name: str) -> None:
    _maintenance(server, f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")


# Figures -----------------------------------------------------------------------------------------


@dataclass
class Measurement:
    """One figure's result: ``ours`` and ``baseline`` in ``unit`` (lower is better), plus details."""

    ours: float
    baseline: float
    unit: str = "ms"
    detail: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return round(self.ours / self.baseline, 2) if self.baseline else None


@dataclass
class Context:
    scale: str
    big_client_id: int
    now: datetime
    requests: int


@dataclass
class Figure:
    key: str
    title: str
    baseline: str
    measure: Callable[[Context], Measurement]


FIGURES: list[Figure] = []


def figure(key: str, title: str, baseline: str):
    def register(fn: Callable[[Context], Measurement]) -> Callable[[Context], Measurement]:
        FIGURES.append(Figure(key, title, baseline, fn))
        return fn

    return register


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": _ms(cuts[49]), "p95": _ms(cuts[94]), "p99": _ms(cuts[98])}


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


@figure(
    "order_list",
    "Order list API, page of 50, status filter (p95)",
    "the SQL the endpoint ran, executed directly (p95)",
)
def order_list(ctx: Context) -> Measurement:
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scopes_disabled

    from accounts.actors import Actor
    from accounts.enums import KeyScope
    from accounts.models import Client
    from accounts.services import api_key_create

    with scopes_disabled():
        client = Client.objects.get(pk=ctx.big_client_id)
    key = api_key_create(
        actor=Actor.system("bench"), name="bench order list", client=client, scope=KeyScope.READ_ONLY
    )
    http = HttpClient(headers={"authorization": f"Bearer {key.secret}"})
    url = f"/api/v1/orders/?page_size=50&status=delivered&client={client.pk}"

    def request():
        response = http.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.content[:300]!r}")
        return response

    request()  # warm up (connection, caches, first-use imports)
    with CaptureQueriesContext(connection) as captured:
        response = request()
    queries = [q["sql"] for q in captured.captured_queries]
    ours = [_timed(request) for _ in range(ctx.requests)]

    def direct():
        with connection.cursor() as cursor:
            for sql in queries:
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()

    direct()
    baseline = [_timed(direct) for _ in range(ctx.requests)]
    ours_p, base_p = _percentiles(ours), _percentiles(baseline)
    return Measurement(
        ours=ours_p["p95"],
        baseline=base_p["p95"],
        detail={
            "requests": ctx.requests,
            "queries_per_request": len(queries),
            "rows_in_page": len(response.json().get("results", [])),
            "ours": ours_p,
            "baseline": base_p,
        },
    )


@figure(
    "kpi_report",
    "Client-quarter KPI report, biggest client",
    "bare aggregate SQL: orders received and shipped in the quarter",
)
def kpi_report(ctx: Context) -> Measurement:
    from django.db import connection
    from django_scopes import scopes_disabled

    from accounts.models import Client
    from orders.models import Order
    from reporting.kpis import kpi_report as report
    from reporting.kpis import local_today
    from reporting.rollup import rollup_range

    with scopes_disabled():
        client = Client.objects.get(pk=ctx.big_client_id)
    end = local_today(client, ctx.now) - timedelta(days=1)
    start = end - timedelta(days=89)
    rollup_started = time.perf_counter()
    written = rollup_range(client=client, first=start, last=end, now=ctx.now)
    rollup_seconds = time.perf_counter() - rollup_started

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

    ours_once()
    baseline_once()
    runs = 5
    ours = statistics.median(_timed(ours_once) for _ in range(runs))
    baseline = statistics.median(_timed(baseline_once) for _ in range(runs))
    received, shipped = baseline_once()
    return Measurement(
        ours=_ms(ours),
        baseline=_ms(baseline),
        detail={
            "runs": runs,
            "statistic": "median",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "rollup_days_written": written,
            "rollup_ms": _ms(rollup_seconds),
            "orders_received": received,
            "orders_shipped": shipped,
        },
    )


@figure(
    "sla_sweep",
    "SLA sweep: order late + at risk alerts, all clients",
    "bare SELECT count(*) of late orders",
)
def sla_sweep(ctx: Context) -> Measurement:
    from django.db import connection
    from django_scopes import scopes_disabled

    from orders.models import Order
    from orders.selectors import late_q
    from reporting.alerts import sweep
    from reporting.enums import AlertRule

    rules = [AlertRule.ORDER_LATE, AlertRule.ORDER_AT_RISK]
    started = time.perf_counter()
    first = sweep(rules, now=ctx.now)
    first_seconds = time.perf_counter() - started
    steady_seconds = _timed(lambda: sweep(rules, now=ctx.now))

    with scopes_disabled():
        sql, params = Order.objects.filter(late_q(ctx.now)).order_by().values("pk").query.sql_with_params()
    count_sql = f"SELECT count(*) FROM ({sql}) late"

    def baseline_once():
        with connection.cursor() as cursor:
            cursor.execute(count_sql, params)
            return cursor.fetchone()[0]

    late = baseline_once()
    baseline = statistics.median(_timed(baseline_once) for _ in range(5))
    with scopes_disabled():
        open_orders = Order.objects.exclude(status__in=["shipped", "delivered", "cancelled"]).count()
    return Measurement(
        ours=_ms(first_seconds),
        baseline=_ms(baseline),
        detail={
            "open_orders": open_orders,
            "late_orders": late,
            "matching": {r.rule: r.matching for r in first},
            "opened": {r.rule: len(r.opened) for r in first},
            "steady_state_ms": _ms(steady_seconds),
        },
    )


# Running -----------------------------------------------------------------------------------------


def _table(rows: list[dict]) -> str:
    header = ("figure", "our result", "baseline", "ratio")
    body = [
        (
            r["title"],
            f"{r['ours']} {r['unit']}",
            f"{r['baseline']} {r['unit']}",
            "-" if r["ratio"] is None else f"{r['ratio']}x",
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(4)]

    def fmt(line):
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)) + " |"

    return "\n".join([fmt(header), "| " + " | ".join("-" * w for w in widths) + " |", *map(fmt, body)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    parser.add_argument("--database", default="fulfillment_bench", help="created, and dropped at the end")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--requests", type=int, default=None, help="requests per latency figure")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    server = _server_url()
    print(f"Creating database {args.database} ...", flush=True)
    create_database(server, args.database)
    os.environ["DATABASE_URL"] = _with_database(server, args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfillment.settings")
    # Alert mail and events run in this process instead of queueing for a worker that is not there.
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    try:
        return _run(args, server)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(server, args.database)
            print(f"Dropped database {args.database}.")
        else:
            print(f"Kept database {args.database}.")


def _run(args, server: str) -> int:
    import django

    django.setup()
    # Eager tasks log one line each at INFO: thousands of lines that would bury the table.
    logging.getLogger("celery").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.utils import timezone

    from bench.dataset import SCALES, build
    from inventory.selectors import ledger_differences

    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    print(
        f"Migrated in {time.monotonic() - started:.1f} s. Building the {args.scale} data set ...", flush=True
    )
    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    summary = build(SCALES[args.scale], now=now)
    differences = ledger_differences()
    print(f"Data set built in {summary.seconds} s; ledger differences: {len(differences)}", flush=True)

    ctx = Context(
        scale=args.scale,
        big_client_id=summary.big_client_id,
        now=now,
        requests=args.requests or (50 if args.scale == "small" else 200),
    )
    rows = []
    for fig in FIGURES:
        print(f"Measuring {fig.key} ...", flush=True)
        m = fig.measure(ctx)
        rows.append(
            {
                "key": fig.key,
                "title": fig.title,
                "baseline_is": fig.baseline,
                "unit": m.unit,
                "ours": m.ours,
                "baseline": m.baseline,
                "ratio": m.ratio,
                "detail": m.detail,
            }
        )
    print()
    print(_table(rows))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "scale": args.scale,
        "recorded_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "dataset": asdict(summary),
        "ledger_differences": len(differences),
        "figures": rows,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{args.scale}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nResults written to {path}")
    return 0 if not differences else 1


if __name__ == "__main__":
    sys.exit(main())
