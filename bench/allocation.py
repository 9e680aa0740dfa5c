"""Allocation of the peak-day backlog: several worker processes drain the received orders side by
side through the batch task (``orders.tasks.allocate_waiting``), then SQL proves nothing was
oversold.

The baseline is the same reservations made by bare SQL over psycopg2 by as many processes: per
batch, a client claimed and its most urgent orders locked with ``FOR UPDATE SKIP LOCKED`` (the
same choice of batch as ours), their lines read, the candidate balances
locked in primary-key order, a minimal greedy plan in Python (the nearest node that fills the whole
order, else a backorder), then one UPDATE of the balances from VALUES, one INSERT of the
allocations and one UPDATE of the orders. It runs first, on the very backlog, and is then undone
with set-based SQL (and the touched tables vacuumed), so ours starts from the same logical state;
the dead rows it leaves behind can only slow ours, never flatter it. It writes no status events,
no outbox rows and computes no ship-by: that is the product's work, and shows in the ratio.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback

from bench.core import Context, Measurement, figure

WORKERS = 3  # processes side by side on the 2-core machine (the database needs the rest)
SWEEP_LOCK_CLASS = 71_001  # orders.allocation.SWEEP_LOCK_CLASS (the baseline claims clients the same way)
SAVED = "bench_allocation_saved"


def _batch_size(scale: str) -> int:
    return 100 if scale == "small" else 500


@figure(
    "allocation",
    "Allocation of the peak backlog, worker processes side by side (orders/s)",
    "the same reservations by bare SQL over psycopg2, as many processes: per batch one lock of the "
    "orders, one of the balances, one UPDATE of the balances from VALUES, one INSERT of the "
    "allocations, one UPDATE of the orders",
    target="≥ 1,000 orders/s, zero oversold",
    check=lambda m: m.ours >= 1000 and m.detail["oversold"]["total"] == 0,
)
def allocation(ctx: Context) -> Measurement:
    from django.db import connection

    from orders.allocation import SWEEP_LOCK_CLASS as claimed_by_ours

    assert claimed_by_ours == SWEEP_LOCK_CLASS, "the baseline must claim clients as ours does"
    batch = _batch_size(ctx.scale)
    first, last = ctx.summary["backlog_first_id"], ctx.summary["backlog_last_id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_order WHERE status = 'received'")
        waiting = cursor.fetchone()[0]
    before = _fingerprint()
    statements = _statements_per_batch(batch)

    # The baseline first, then undone: ours starts from the same backlog and stock.
    max_allocation = _save_waiting_orders()
    base_seconds, base_by_status = _run_workers(ctx, _baseline_worker, batch, _baseline_plan_inputs())
    base_counts = _status_counts(first, last)
    undo_seconds = _undo_baseline(max_allocation)
    if _fingerprint() != before:
        raise RuntimeError(f"undoing the baseline left a different state: {_fingerprint()} != {before}")

    seconds, task_counts = _run_workers(ctx, _ours_worker, batch, {})
    counts = _status_counts(first, last)
    oversold = _oversold_checks()
    if oversold["total"]:
        raise RuntimeError(f"allocation oversold or left inconsistent stock: {oversold}")
    drained = task_counts.get("allocated", 0) + task_counts.get("backordered", 0)
    base_drained = base_by_status["allocated"] + base_by_status["backordered"]
    return Measurement(
        ours=round(drained / seconds, 1),
        baseline=round(base_drained / base_seconds, 1),
        unit="orders/s",
        higher_is_better=True,
        detail={
            "workers": WORKERS,
            "batch_size": batch,
            "statements_per_batch": statements,
            "orders_waiting": waiting,
            "backlog": last - first + 1,
            "seconds": round(seconds, 2),
            "baseline_seconds": round(base_seconds, 2),
            "baseline_undo_seconds": round(undo_seconds, 2),
            "by_status": task_counts,
            "baseline_by_status": base_by_status,
            "backlog_afterwards": counts,
            "baseline_backlog_afterwards": base_counts,
            "oversold": oversold,
        },
    )


def _statements_per_batch(batch: int) -> dict[str, int]:
    """The SQL statements of one batch of ours, counted in a transaction that is rolled back."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from accounts.actors import Actor
    from orders.allocation import allocate_waiting

    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        orders = len(allocate_waiting(actor=Actor.system("bench"), limit=batch))
        transaction.set_rollback(True)
    savepoints = sum("SAVEPOINT" in q["sql"] for q in captured.captured_queries)
    return {"orders": orders, "statements": len(captured.captured_queries) - savepoints}


# --- running workers side by side ---------------------------------------------------------------


def _run_workers(ctx: Context, target, batch: int, inputs: dict) -> tuple[float, dict[str, int]]:
    """Start ``WORKERS`` processes, wait until each is connected and ready, release them at once;
    the time is from the release to the last one's end (process start-up and exit excluded)."""
    from django.db import connections

    connections.close_all()  # nothing shared with the children
    mp = multiprocessing.get_context("spawn")
    ready, results, start = mp.Queue(), mp.Queue(), mp.Event()
    processes = [
        mp.Process(target=target, args=(ctx.database_url, batch, inputs, ready, start, results), daemon=True)
        for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            message = ready.get(timeout=120)
            if isinstance(message, str):
                raise RuntimeError(f"an allocation worker failed to start:\n{message}")
        began = time.monotonic()
        start.set()
        totals: dict[str, int] = {}
        ended = began
        for _ in processes:
            outcome = results.get(timeout=1800)
            if isinstance(outcome, str):
                raise RuntimeError(f"an allocation worker failed:\n{outcome}")
            counts, finished = outcome
            ended = max(ended, finished)
            for status, n in counts.items():
                totals[status] = totals.get(status, 0) + n
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return ended - began, totals


def _ours_worker(database_url, batch, _inputs, ready, start, results) -> None:
    """One worker process: Django set up, its own connection, then the batch task until the
    backlog is drained (several of these take disjoint batches side by side)."""
    try:
        os.environ["DATABASE_URL"] = database_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfillment.settings")
        os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
        import logging

        import django

        django.setup()
        logging.getLogger("celery").setLevel(logging.WARNING)
        logging.getLogger("kombu").setLevel(logging.ERROR)
        from django.db import connection

        from orders import tasks

        connection.ensure_connection()
        _warm_up()
    except BaseException:
        ready.put(traceback.format_exc())
        return
    ready.put(os.getpid())
    start.wait()
    try:
        counts = tasks.allocate_waiting(batch_size=batch, idle_seconds=0, max_seconds=3600)
        results.put(({str(k): v for k, v in counts.items()}, time.monotonic()))
    except BaseException:
        results.put(traceback.format_exc())


def _warm_up() -> None:
    """What a long-running worker has loaded before its first batch: the ZIP centroid table (its
    first lookup reads the whole packaged data set, about 2 s) and the holiday calendar."""
    from datetime import UTC, datetime

    from fulfillment.calendar import BusinessCalendar
    from fulfillment.geo import zip_point
    from shipments import events  # noqa: F401  (the outbox, imported on the first transition)

    zip_point("10001")
    BusinessCalendar("America/New_York").deadline(datetime.now(UTC), 1)


# --- the baseline -------------------------------------------------------------------------------


def _baseline_plan_inputs() -> dict:
    """What the bare planner looks up instead of computing: each (client, ZIP) of a waiting order
    with the client's active nodes nearest first, and the sellable location types."""
    from django.db import connection

    from fulfillment.geo import zip_distance
    from inventory.enums import SELLABLE_LOCATION_TYPES

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cw.client_id, w.id, w.zip_code FROM accounts_client_warehouses cw "
            "JOIN accounts_warehouse w ON w.id = cw.warehouse_id WHERE w.active ORDER BY w.id"
        )
        nodes_of: dict[int, list[tuple[int, str]]] = {}
        for client_id, node_id, node_zip in cursor.fetchall():
            nodes_of.setdefault(client_id, []).append((node_id, node_zip))
        cursor.execute("SELECT DISTINCT client_id, ship_to_zip FROM orders_order WHERE status = 'received'")
        routes = {}
        for client_id, ship_to_zip in cursor.fetchall():

            def nearest(node, zip_code=ship_to_zip):
                miles = zip_distance(node[1], zip_code)
                return (miles is None, miles or 0.0, node[0])

            routes[(client_id, ship_to_zip)] = [
                n for n, _z in sorted(nodes_of.get(client_id, []), key=nearest)
            ]
    return {"routes": routes, "sellable": sorted(str(t) for t in SELLABLE_LOCATION_TYPES)}


WAITING = """
    o.status = 'received'
    AND NOT EXISTS (SELECT 1 FROM orders_orderhold h WHERE h.order_id = o.id AND h.released_at IS NULL)
    AND NOT EXISTS (SELECT 1 FROM orders_orderline l WHERE l.order_id = o.id AND l.item_id IS NULL)
"""
BASELINE_CLIENTS = f"""
    SELECT c.id FROM accounts_client c CROSS JOIN LATERAL (
        SELECT o.ship_by FROM orders_order o WHERE o.client_id = c.id AND {WAITING}
        ORDER BY o.ship_by NULLS LAST LIMIT 1
    ) w ORDER BY w.ship_by NULLS LAST, c.id
"""
BASELINE_ORDERS = f"""
    SELECT o.id, o.client_id, o.ship_to_zip FROM orders_order o
    WHERE o.client_id = ANY(%s) AND {WAITING}
    ORDER BY o.ship_by NULLS LAST, o.received_at, o.id
    LIMIT %s FOR UPDATE OF o SKIP LOCKED
"""
BASELINE_BALANCES = """
    SELECT b.id, b.warehouse_id, b.item_id, b.location_id, b.lot_code, b.on_hand - b.allocated
    FROM inventory_balance b JOIN inventory_location l ON l.id = b.location_id
    WHERE b.item_id = ANY(%s) AND l.type = ANY(%s) AND l.active AND b.on_hand > b.allocated
    ORDER BY b.id FOR UPDATE OF b
"""


def _baseline_worker(database_url, batch, inputs, ready, start, results) -> None:
    try:
        import psycopg2
        from psycopg2.extras import execute_values

        conn = psycopg2.connect(database_url)
        routes, sellable = inputs["routes"], inputs["sellable"]
    except BaseException:
        ready.put(traceback.format_exc())
        return
    ready.put(os.getpid())
    start.wait()
    counts = {"allocated": 0, "backordered": 0}
    try:
        while True:
            with conn, conn.cursor() as cursor:
                # The same choice of batch as ours: a client no other worker is draining, else any.
                cursor.execute(BASELINE_CLIENTS)
                clients = [c for (c,) in cursor.fetchall()]
                orders = []
                for client_id in clients:
                    cursor.execute(
                        "SELECT pg_try_advisory_xact_lock(%s, %s::int)", [SWEEP_LOCK_CLASS, client_id]
                    )
                    if cursor.fetchone()[0]:
                        cursor.execute(BASELINE_ORDERS, [[client_id], batch])
                        if orders := cursor.fetchall():
                            break
                if not orders and clients:
                    cursor.execute(BASELINE_ORDERS, [clients, batch])
                    orders = cursor.fetchall()
                if not orders:
                    break
                cursor.execute(
                    "SELECT order_id, id, item_id, quantity FROM orders_orderline WHERE order_id = ANY(%s) "
                    "ORDER BY id",
                    [[o[0] for o in orders]],
                )
                lines: dict[int, list[tuple]] = {}
                for order_id, line_id, item_id, quantity in cursor.fetchall():
                    lines.setdefault(order_id, []).append((line_id, item_id, quantity))
                cursor.execute(
                    BASELINE_BALANCES, [list({line[1] for ls in lines.values() for line in ls}), sellable]
                )
                stock: dict[tuple[int, int], list[list]] = {}
                for pk, node, item, location, lot, free in cursor.fetchall():
                    stock.setdefault((node, item), []).append([pk, location, lot, free])
                deltas: dict[int, int] = {}
                rows, updates = [], []
                for order_id, client_id, ship_to_zip in orders:
                    needs: dict[int, int] = {}
                    for _line, item, quantity in lines.get(order_id, []):
                        needs[item] = needs.get(item, 0) + quantity
                    node = next(
                        (
                            n
                            for n in routes.get((client_id, ship_to_zip), [])
                            if all(sum(b[3] for b in stock.get((n, i), [])) >= q for i, q in needs.items())
                        ),
                        None,
                    )
                    if node is None:
                        updates.append((order_id, "backordered", None))
                        continue
                    for line_id, item, quantity in lines[order_id]:
                        for b in stock[(node, item)]:
                            take = min(quantity, b[3])
                            if take <= 0:
                                continue
                            b[3] -= take
                            quantity -= take
                            deltas[b[0]] = deltas.get(b[0], 0) + take
                            rows.append((client_id, order_id, line_id, item, b[0], node, b[1], b[2], take))
                            if not quantity:
                                break
                    updates.append((order_id, "allocated", node))
                execute_values(
                    cursor,
                    "UPDATE inventory_balance b SET allocated = b.allocated + v.delta "
                    "FROM (VALUES %s) AS v(id, delta) WHERE b.id = v.id",
                    sorted(deltas.items()),
                    template="(%s::bigint, %s::integer)",
                    page_size=len(deltas) or 1,
                )
                execute_values(
                    cursor,
                    "INSERT INTO orders_allocation (client_id, order_id, line_id, item_id, balance_id, "
                    "warehouse_id, location_id, lot_code, quantity, created_at) VALUES %s",
                    rows,
                    template="(%s, %s, %s, %s, %s, %s, %s, %s, %s, now())",
                    page_size=len(rows) or 1,
                )
                execute_values(
                    cursor,
                    "UPDATE orders_order o SET status = v.status, warehouse_id = v.node, "
                    "allocated_at = CASE WHEN v.node IS NULL THEN NULL ELSE now() END, "
                    "ever_backordered = o.ever_backordered OR v.node IS NULL, updated_at = now() "
                    "FROM (VALUES %s) AS v(id, status, node) WHERE o.id = v.id",
                    updates,
                    template="(%s::bigint, %s::varchar, %s::bigint)",
                    page_size=len(updates),
                )
                for _id, status, _node in updates:
                    counts[status] += 1
        results.put((counts, time.monotonic()))
    except BaseException:
        results.put(traceback.format_exc())
    finally:
        conn.close()


def _save_waiting_orders() -> int:
    """Keep what the baseline changes of the waiting orders; returns the last allocation id."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SAVED}")
        cursor.execute(
            f"CREATE TABLE {SAVED} AS SELECT id, status, warehouse_id, allocated_at, ever_backordered, "
            "updated_at FROM orders_order WHERE status = 'received'"
        )
        cursor.execute("SELECT coalesce(max(id), 0) FROM orders_allocation")
        return cursor.fetchone()[0]


def _undo_baseline(max_allocation: int) -> float:
    """Give back the baseline's reservations, delete them and put its orders back as they were."""
    from django.db import connection, transaction

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_balance b SET allocated = b.allocated - s.units FROM ("
            "SELECT balance_id, sum(quantity) AS units FROM orders_allocation WHERE id > %s GROUP BY balance_id"
            ") s WHERE b.id = s.balance_id",
            [max_allocation],
        )
        cursor.execute("DELETE FROM orders_allocation WHERE id > %s", [max_allocation])
        cursor.execute(
            f"UPDATE orders_order o SET status = s.status, warehouse_id = s.warehouse_id, "
            f"allocated_at = s.allocated_at, ever_backordered = s.ever_backordered, updated_at = s.updated_at "
            f"FROM {SAVED} s WHERE o.id = s.id"
        )
        cursor.execute(f"DROP TABLE {SAVED}")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) orders_order, orders_allocation, inventory_balance")
    return time.monotonic() - started


def _fingerprint() -> tuple:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM orders_order WHERE status = 'received'), "
            "(SELECT sum(allocated) FROM inventory_balance), "
            "(SELECT count(*) FROM orders_allocation WHERE released_at IS NULL)"
        )
        return tuple(cursor.fetchone())


def _status_counts(first: int, last: int) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, count(*) FROM orders_order WHERE id BETWEEN %s AND %s GROUP BY status",
            [first, last],
        )
        counts = dict(cursor.fetchall())
    return {
        "allocated": counts.pop("allocated", 0),
        "backordered": counts.pop("backordered", 0),
        "left": counts.pop("received", 0),
        **counts,
    }


def _oversold_checks() -> dict[str, int]:
    """Afterwards, in SQL: every count must be zero (and the ledger audit empty)."""
    from django.db import connection

    from inventory.selectors import ledger_differences

    checks = {
        "allocated_above_on_hand": "SELECT count(*) FROM inventory_balance WHERE allocated > on_hand",
        "allocated_not_sum_of_allocations": """
            SELECT count(*) FROM inventory_balance b LEFT JOIN (
                SELECT balance_id, sum(quantity) AS units FROM orders_allocation
                WHERE released_at IS NULL GROUP BY balance_id
            ) a ON a.balance_id = b.id
            WHERE b.allocated <> coalesce(a.units, 0)""",
        "lines_allocated_beyond_quantity": """
            SELECT count(*) FROM (
                SELECT line_id, item_id, sum(quantity) AS units FROM orders_allocation
                WHERE released_at IS NULL GROUP BY line_id, item_id
            ) a JOIN orders_orderline l ON l.id = a.line_id
            LEFT JOIN inventory_kitcomponent k ON k.kit_id = l.item_id AND k.component_id = a.item_id
            WHERE a.units > l.quantity * coalesce(k.quantity, 1)""",
        "allocated_orders_not_covered": """
            SELECT count(*) FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
            LEFT JOIN inventory_kitcomponent k ON k.kit_id = l.item_id
            LEFT JOIN (
                SELECT line_id, item_id, sum(quantity) AS units FROM orders_allocation
                WHERE released_at IS NULL GROUP BY line_id, item_id
            ) a ON a.line_id = l.id AND a.item_id = coalesce(k.component_id, l.item_id)
            WHERE o.status = 'allocated' AND coalesce(a.units, 0) <> l.quantity * coalesce(k.quantity, 1)""",
    }
    result = {}
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql)
            result[name] = cursor.fetchone()[0]
    result["ledger_differences"] = len(ledger_differences())
    result["total"] = sum(result.values())
    return result
