"""Reads at full volume: each endpoint through the Django stack beside the same SQL run directly.

Every figure sends ``ctx.requests`` GETs through ``django.test.Client`` (the whole middleware, DRF,
authentication with a real API key, serialization; no network) and times each. Its baseline is the
SQL statements one such request ran (captured with ``CaptureQueriesContext``), executed directly on
the cursor with every row fetched: what the database needs for the same answer. Each figure also
records the queries per request at two page sizes (or two objects of different sizes), to show that
the count does not grow with the page.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta

from bench.core import Context, Measurement, figure, percentiles, timed

LIST_TARGET_MS = 50.0


# --- helpers shared by the read and report figures ---------------------------------------------


def big_client(ctx: Context):
    from django_scopes import scopes_disabled

    from accounts.models import Client

    with scopes_disabled():
        return Client.objects.get(pk=ctx.big_client_id)


def api_client(*, client=None, staff_user=None, name: str = "bench reads"):
    """A test client sending a read-only API key of ``client`` (the brand) or ``staff_user``."""
    from django.test import Client as HttpClient

    from accounts.actors import Actor
    from accounts.enums import KeyScope
    from accounts.services import api_key_create

    key = api_key_create(
        actor=Actor.system("bench"), name=name, client=client, staff_user=staff_user, scope=KeyScope.READ_ONLY
    )
    return HttpClient(headers={"authorization": f"Bearer {key.secret}"})


def staff_user(role: str, *, email: str, clients=None):
    """A bench staff user of ``role`` (kept across ``--reuse`` runs), managing ``clients``."""
    from django_scopes import scopes_disabled

    from accounts.models import User

    with scopes_disabled():
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email, password=None, role=role, full_name=f"Bench {role}", client=None
        )
        if clients is not None:
            user.managed_clients.add(*clients)
    return user


def get(http, url: str):
    response = http.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.content[:300]!r}")
    return response


def captured(http, url: str) -> tuple[object, list[str]]:
    """One request (after a warm-up one) and the SQL it ran."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    get(http, url)  # warm up: connection, first-use imports, the key's last_used_at
    with CaptureQueriesContext(connection) as queries:
        response = get(http, url)
    return response, [q["sql"] for q in queries.captured_queries]


def run_sql(statements: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            if cursor.description:
                cursor.fetchall()


def round_robin(calls: list[Callable[[], object]], n: int) -> list[float]:
    """Time ``n`` calls taken in turn from ``calls`` (after one warm-up of each)."""
    for call in calls:
        call()
    return [timed(call) for call in itertools.islice(itertools.cycle(calls), n)]


def api_read(
    http, urls: list[str], n: int, *, budget_s: float | None = None
) -> tuple[dict, dict, list[dict]]:
    """p50/p95/p99 of ``n`` requests over ``urls`` in turn, and of their captured SQL run directly;
    and per URL its query count and rows. With ``budget_s``, a slow URL gets fewer requests (at
    least 5): about that many seconds' worth, so one slow variant cannot eat the run's time."""
    per_url, statements = [], []
    for url in urls:
        started = time.perf_counter()
        response, sql = captured(http, url)
        if budget_s is not None:
            each = (time.perf_counter() - started) / 2
            n = max(5, min(n, int(budget_s / max(each, 1e-3))))
        statements.append(sql)
        body = response.json() if response.get("content-type", "").startswith("application/json") else {}
        rows = body.get("results") if isinstance(body, dict) else None
        per_url.append(
            {
                "url": url,
                "queries": len(sql),
                "rows": None if rows is None else len(rows),
                **({"requests": n} if budget_s is not None else {}),
            }
        )
    ours = round_robin([lambda u=u: get(http, u) for u in urls], n)
    baseline = round_robin([lambda s=s: run_sql(s) for s in statements], n)
    return percentiles(ours), percentiles(baseline), per_url


# --- the figures -------------------------------------------------------------------------------


@figure(
    "order_list",
    "Order list API, page of 50, status filter (p95)",
    "the SQL the endpoint ran, executed directly (p95)",
    target="p95 under 50 ms, queries per request constant",
    check=lambda m: m.ours < LIST_TARGET_MS and m.detail["queries_constant"],
)
def order_list(ctx: Context) -> Measurement:
    """A brand's key listing its delivered orders, newest first (the page most integrations read);
    the other filters a console user combines are timed too (in the details), each over a quarter of
    the requests, or about 5 seconds' worth when a variant is slow."""
    from accounts.enums import Role

    client = big_client(ctx)
    brand = api_client(client=client, name="bench order list")
    base = "/api/v1/orders/"
    url = f"{base}?page_size=50&status=delivered&client={client.pk}"
    ours, baseline, _ = api_read(brand, [url], ctx.requests)

    staff = api_client(
        staff_user=staff_user(Role.OPERATOR_ADMIN, email="bench-operator@bench.test"), name="bench console"
    )
    since = (ctx.now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (ctx.now - timedelta(days=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
    variants = {
        "staff, client + status": (staff, f"{base}?page_size=50&client={client.pk}&status=delivered"),
        "staff, every client, status backordered, by ship-by": (
            staff,
            f"{base}?page_size=50&status=backordered&ordering=ship_by",
        ),
        "staff, every client, newest first": (staff, f"{base}?page_size=50"),
        "brand, one week received, by ship-by": (
            brand,
            f"{base}?page_size=50&received_after={since}&received_before={until}&ordering=-ship_by",
        ),
        "brand, late": (brand, f"{base}?page_size=50&late=true"),
        "brand, SKU": (brand, f"{base}?page_size=50&sku=__SKU__"),
    }
    sku = _a_sku(client)
    detail_variants = {}
    for name, (http, variant) in variants.items():
        v_ours, v_base, (info,) = api_read(
            http, [variant.replace("__SKU__", sku)], max(ctx.requests // 4, 5), budget_s=5.0
        )
        detail_variants[name] = {
            "url": info["url"],
            "requests": info["requests"],
            "queries": info["queries"],
            "rows": info["rows"],
            "ours": v_ours,
            "baseline": v_base,
        }
    small_url = url.replace("page_size=50", "page_size=5")
    _, small_sql = captured(brand, small_url)
    response, large_sql = captured(brand, url)
    body = response.json()
    return Measurement(
        ours=ours["p95"],
        baseline=baseline["p95"],
        detail={
            "requests": ctx.requests,
            "url": url,
            "queries_per_request": len(large_sql),
            "queries_at_page_size": {"5": len(small_sql), "50": len(large_sql)},
            "queries_constant": len(small_sql) == len(large_sql),
            "rows_in_page": len(body["results"]),
            "count": body["count"],
            "ours": ours,
            "baseline": baseline,
            "variants": detail_variants,
        },
    )


def _a_sku(client) -> str:
    from django_scopes import scopes_disabled

    from orders.models import OrderLine

    with scopes_disabled():
        return OrderLine.objects.filter(client=client).order_by("pk").values_list("sku", flat=True).first()


@figure(
    "order_detail",
    "Order detail API, orders of the biggest client (p95)",
    "the SQL the endpoint ran, executed directly (p95)",
    target="queries per request constant",
    check=lambda m: m.detail["queries_constant"],
)
def order_detail(ctx: Context) -> Measurement:
    """Orders of 1 and of the most lines, delivered, in transit and still open (a backordered one
    also lists the ASNs that will fill it), in turn."""
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from orders.enums import OrderStatus
    from orders.models import Order

    client = big_client(ctx)
    http = api_client(client=client, name="bench order detail")
    with scopes_disabled():
        orders = Order.objects.filter(client=client).annotate(n=Count("lines")).order_by("-received_at")
        picks = [
            orders.filter(status=OrderStatus.DELIVERED, n=1).first(),
            orders.filter(status=OrderStatus.DELIVERED).order_by("-n", "-received_at").first(),
            orders.filter(status=OrderStatus.SHIPPED).order_by("-n", "-received_at").first(),
            orders.filter(status=OrderStatus.ALLOCATED).first(),
            orders.filter(status=OrderStatus.BACKORDERED).first(),
        ]
    picks = [o for o in picks if o is not None]
    urls = [f"/api/v1/orders/{o.pk}/" for o in picks]
    ours, baseline, per_url = api_read(http, urls, ctx.requests)
    for info, order in zip(per_url, picks, strict=True):
        info |= {"status": order.status, "lines": order.n}
    # The same status, one line against the most: the query count must not follow the lines.
    delivered = [i["queries"] for i in per_url if i["status"] == OrderStatus.DELIVERED]
    return Measurement(
        ours=ours["p95"],
        baseline=baseline["p95"],
        detail={
            "requests": ctx.requests,
            "orders": per_url,
            "queries_constant": len(set(delivered)) == 1,
            "ours": ours,
            "baseline": baseline,
        },
    )


@figure(
    "inventory_list",
    "Inventory (balances) list API, page of 50, biggest client (p95)",
    "the SQL the endpoint ran, executed directly (p95)",
    target="queries per request constant",
    check=lambda m: m.detail["queries_constant"],
)
def inventory_list(ctx: Context) -> Measurement:
    """``GET /api/v1/inventory/``: the brand's balances (item x node x location x lot) in their
    default order, and the sellable ones with stock available."""
    client = big_client(ctx)
    http = api_client(client=client, name="bench inventory list")
    url = "/api/v1/inventory/?page_size=50"
    urls = [url, f"{url}&available=true&location_type=pick"]
    ours, baseline, per_url = api_read(http, urls, ctx.requests)
    _, small_sql = captured(http, url.replace("page_size=50", "page_size=5"))
    return Measurement(
        ours=ours["p95"],
        baseline=baseline["p95"],
        detail={
            "requests": ctx.requests,
            "pages": per_url,
            "queries_at_page_size": {"5": len(small_sql), "50": per_url[0]["queries"]},
            "queries_constant": len(small_sql) == per_url[0]["queries"],
            "ours": ours,
            "baseline": baseline,
        },
    )


@figure(
    "events_feed",
    "Events feed API, 100 events from a cursor mid-feed (p95)",
    "the SQL the endpoint ran, executed directly (p95)",
    target="queries per request constant",
    check=lambda m: m.detail["queries_constant"],
)
def events_feed(ctx: Context) -> Measurement:
    """``GET /api/v1/events/?after=<cursor>``: what an integration reconciling its webhooks reads,
    from a cursor in the middle of the biggest client's feed."""
    from django_scopes import scopes_disabled

    from shipments.models import Event

    client = big_client(ctx)
    with scopes_disabled():
        ids = Event.objects.filter(client=client).order_by("pk").values_list("pk", flat=True)
        total = ids.count()
        if not total:
            raise RuntimeError("The data set has no outbox events (shipments.Event) for the events feed.")
        middle = ids[total // 2]
    http = api_client(client=client, name="bench events feed")
    url = f"/api/v1/events/?after={middle}&limit=100"
    ours, baseline, _ = api_read(http, [url], ctx.requests)
    response, sql = captured(http, url)
    _, small_sql = captured(http, url.replace("limit=100", "limit=10"))
    return Measurement(
        ours=ours["p95"],
        baseline=baseline["p95"],
        detail={
            "requests": ctx.requests,
            "url": url,
            "events_of_client": total,
            "events_in_page": len(response.json()["results"]),
            "queries_at_limit": {"10": len(small_sql), "100": len(sql)},
            "queries_constant": len(small_sql) == len(sql),
            "ours": ours,
            "baseline": baseline,
        },
    )
