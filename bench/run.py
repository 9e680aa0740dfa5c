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
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
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


# Running -----------------------------------------------------------------------------------------

# The figure modules, in the order they run: reads first, then reports and sweeps, then the figures
# that write (allocation of the backlog, intake), then memory, which reads what the others left.
FIGURE_MODULES = ["bench.reads", "bench.reports", "bench.sweeps", "bench.allocation", "bench.intake"]
META_TABLE = "bench_dataset"


def _table(rows: list[dict]) -> str:
    header = ("figure", "our result", "baseline", "ratio", "target", "")
    body = [
        (
            r["title"],
            f"{r['ours']} {r['unit']}",
            f"{r['baseline']} {r['unit']}",
            "-" if r["ratio"] is None else f"{r['ratio']}x",
            r["target"] or "-",
            {True: "met", False: "MISSED", None: ""}[r["met"]],
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]

    def fmt(line):
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)) + " |"

    return "\n".join([fmt(header), "| " + " | ".join("-" * w for w in widths) + " |", *map(fmt, body)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "medium", "full"], default="full")
    parser.add_argument("--database", default="fulfillment_bench", help="created, and dropped at the end")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on a database kept by an earlier --keep run instead of building one (implies --keep)",
    )
    parser.add_argument("--only", default="", help="comma-separated figure keys to measure (default: all)")
    parser.add_argument("--requests", type=int, default=None, help="requests per latency figure")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.reuse:
        args.keep = True

    server = _server_url()
    if not args.reuse:
        print(f"Creating database {args.database} ...", flush=True)
        create_database(server, args.database)
    os.environ["DATABASE_URL"] = _with_database(server, args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfillment.settings")
    # Redis for the cache (throttling) and the broker, as in production (docker-compose.yml).
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Alert mail and events run in this process instead of queueing for a worker that is not there.
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    try:
        return _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(server, args.database)
            print(f"Dropped database {args.database}.")
        else:
            print(f"Kept database {args.database}.")


def _dataset(args, started: float) -> tuple[dict, datetime]:
    """Build the data set (and remember its summary in the database), or read a kept one's."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from bench.dataset import SCALES, build

    if args.reuse:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT summary FROM {META_TABLE}")
            raw = cursor.fetchone()[0]
        summary = json.loads(raw) if isinstance(raw, str) else raw  # Django hands jsonb back as text
        print(f"Reusing the {summary['scale']} data set of {args.database}.", flush=True)
        return summary, datetime.fromisoformat(summary["now"])
    call_command("migrate", verbosity=0, interactive=False)
    print(
        f"Migrated in {time.monotonic() - started:.1f} s. Building the {args.scale} data set ...", flush=True
    )
    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    summary = asdict(build(SCALES[args.scale], now=now))
    summary["now"] = now.isoformat()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {META_TABLE} (summary jsonb NOT NULL)")
        cursor.execute(f"INSERT INTO {META_TABLE} VALUES (%s)", [json.dumps(summary)])
    return summary, now


def _run(args) -> int:
    import importlib

    import django

    django.setup()
    # Eager tasks log one line each at INFO: thousands of lines that would bury the table.
    logging.getLogger("celery").setLevel(logging.WARNING)
    from bench.core import FIGURES, Context
    from inventory.selectors import ledger_differences

    for module in FIGURE_MODULES:
        importlib.import_module(module)
    started = time.monotonic()
    summary, now = _dataset(args, started)
    differences = ledger_differences()
    print(f"Data set ready in {summary['seconds']} s; ledger differences: {len(differences)}", flush=True)

    ctx = Context(
        scale=summary["scale"],
        big_client_id=summary["big_client_id"],
        now=now,
        requests=args.requests or (50 if summary["scale"] == "small" else 200),
        database_url=os.environ["DATABASE_URL"],
        summary=summary,
    )
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    unknown = only - {f.key for f in FIGURES}
    if unknown:
        raise SystemExit(f"Unknown figure(s): {', '.join(sorted(unknown))}")
    rows = []
    for fig in FIGURES:
        if only and fig.key not in only:
            continue
        print(f"Measuring {fig.key} ...", flush=True)
        figure_started = time.monotonic()
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
                "higher_is_better": m.higher_is_better,
                "target": fig.target,
                "met": fig.check(m) if fig.check else None,
                "seconds": round(time.monotonic() - figure_started, 1),
                "detail": m.detail,
            }
        )
    after = ledger_differences()
    print()
    print(_table(rows))
    print(f"\nLedger differences after the figures that write: {len(after)}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "scale": summary["scale"],
        "recorded_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "postgresql": _server_version(),
        },
        "dataset": summary,
        "ledger_differences": len(differences),
        "ledger_differences_after": len(after),
        "figures": rows,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{summary['scale']}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nResults written to {path}")
    return 0 if not differences and not after else 1


def _server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
