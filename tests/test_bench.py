"""The benchmark still works: ``python -m bench.run --scale small`` on a database of its own builds a
consistent data set, measures every figure and writes the JSON. No timing is asserted here (speed
targets live in ``bench/`` and docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {
    "order_list",
    "order_detail",
    "inventory_list",
    "events_feed",
    "kpi_report",
    "qbr_page",
    "fleet_view",
    "sla_sweep",
    "kpi_rollup_day",
    "allocation",
    "api_intake",
    "bulk_intake",
    "csv_intake",
    "web_memory",
    "worker_memory",
}


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("the benchmark needs PostgreSQL (DATABASE_URL)")
    return url


def _drop(server: str, name: str) -> None:
    conn = psycopg2.connect(urlunsplit(urlsplit(server)._replace(path="/postgres")))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


@pytest.mark.xdist_group("bench")
def test_small_benchmark_builds_a_consistent_data_set_and_reports_every_figure(tmp_path):
    server = _server_url()
    database = f"fulfillment_bench_test_{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER")}
    env["DATABASE_URL"] = server
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.run",
                "--scale",
                "small",
                "--database",
                database,
                "--requests",
                "20",
                "--results-dir",
                str(tmp_path),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=420,
        )
    finally:
        _drop(server, database)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| figure" in proc.stdout and "| our result" in proc.stdout
    assert f"Dropped database {database}." in proc.stdout

    [path] = tmp_path.glob("small-*.json")
    result = json.loads(path.read_text())
    assert result["scale"] == "small"
    assert result["ledger_differences"] == 0 and result["ledger_differences_after"] == 0
    assert {f["key"] for f in result["figures"]} == FIGURES
    for fig in result["figures"]:
        assert fig["ours"] > 0 and fig["baseline"] > 0 and fig["ratio"] > 0, fig
    rows = result["dataset"]["rows"]
    assert rows["orders.Order"] == 5_000 + 500  # the year's orders and the backlog
    for model in ("shipments.Shipment", "shipments.TrackingEvent", "orders.OrderEvent", "shipments.Event"):
        assert rows[model] > 0, model
    assert rows["inventory.InventorySnapshot"] > 0
    figures = {f["key"]: f for f in result["figures"]}
    assert figures["order_list"]["detail"]["rows_in_page"] == 50
    assert figures["allocation"]["detail"]["oversold"]["total"] == 0
