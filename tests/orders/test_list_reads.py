"""The order list at volume: no DISTINCT, a count that stops at the limit, pages that reach the
end without it, rows built by the fast path exactly as DRF would build them, and constant queries
whatever the filters and page size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from accounts.actors import Actor
from orders import selectors
from orders.api.serializers import OrderListSerializer
from orders.models import Order
from tests.inventory.factories import make_item, make_node
from tests.orders.test_api import ORDERS, make_order, results


@pytest.fixture
def node(tenant_a):
    return make_node(tenant_a.warehouse)


@pytest.fixture
def orders(tenant_a, node):
    """Seven orders: one routed, one late, one at risk, one on hold for an unknown SKU."""
    make_item(tenant_a.client, "TEE")
    made = [make_order(tenant_a.client, f"L-{i}", [("TEE", i + 1), ("GHOST", 1)]) for i in range(6)]
    made.append(make_order(tenant_a.client, "L-6", [("TEE", 2)]))
    now = timezone.now()
    Order.objects.filter(pk=made[0].pk).update(warehouse=tenant_a.warehouse)
    Order.objects.filter(pk=made[1].pk).update(ship_by=now - timedelta(hours=1))
    Order.objects.filter(pk=made[2].pk).update(ship_by=now + timedelta(minutes=30))
    return made


def _listing(api, query: dict) -> tuple[dict, list[str]]:
    api.get(ORDERS, query)  # warm up: the key's first use records last_used_at
    with CaptureQueriesContext(connection) as captured:
        response = api.get(ORDERS, query)
    assert response.status_code == 200, response.content[:300]
    return response.json(), [q["sql"] for q in captured.captured_queries]


def test_status_filter_needs_no_distinct_and_the_count_stops_at_the_limit(tenant_a, orders):
    statuses = sorted({o.status for o in Order.objects.filter(client=tenant_a.client)})
    body, sql = _listing(tenant_a.api, {"status": statuses, "page_size": 2})
    assert body["count"] == len(orders)
    assert not [q for q in sql if "DISTINCT" in q.upper()]
    (count,) = [q for q in sql if q.startswith("SELECT COUNT(*)")]
    assert "LIMIT 10001" in count and "orderline" not in count  # the line totals are the page's only


def test_count_is_null_above_the_limit_and_next_still_reaches_the_end(tenant_a, orders, settings):
    settings.API_COUNT_LIMIT = 3
    seen, url, pages = [], f"{ORDERS}?page_size=2", 0
    while url:
        body = tenant_a.api.get(url).json()
        assert body["count"] is None
        seen += [o["id"] for o in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 4 and sorted(seen) == sorted(o.pk for o in orders)
    assert tenant_a.api.get(ORDERS, {"page": "last"}).status_code == 404  # unknown above the limit
    assert tenant_a.api.get(ORDERS, {"late": "true"}).json()["count"] == 1  # exact below it


def test_pages_link_both_ways_and_a_page_past_the_end_is_a_404(tenant_a, orders):
    first = tenant_a.api.get(ORDERS, {"page_size": 3}).json()
    assert (first["count"], first["previous"]) == (7, None)
    second = tenant_a.api.get(first["next"]).json()
    assert "page=1" not in second["previous"] and "page=2" in first["next"]
    last = tenant_a.api.get(ORDERS, {"page_size": 3, "page": "last"}).json()
    assert (len(last["results"]), last["next"]) == (1, None)
    assert "page=2" in last["previous"]
    for page in ("4", "0", "x"):
        assert tenant_a.api.get(ORDERS, {"page_size": 3, "page": page}).status_code == 404


@pytest.mark.parametrize(
    "query",
    [{}, {"status": "on_hold"}, {"sku": "TEE"}, {"late": "true"}, {"ordering": "ship_by"}],
    ids=["default", "status", "sku", "late", "ordering"],
)
def test_order_list_queries_do_not_grow_with_the_page_size(tenant_a, orders, query):
    _, small = _listing(tenant_a.api, {**query, "page_size": 1})
    body, large = _listing(tenant_a.api, {**query, "page_size": 50})
    assert len(small) == len(large) <= 4, (len(small), len(large))
    assert body["results"]


def test_sku_filter_finds_lines_by_the_sku_given_and_by_the_item_it_resolved_to(tenant_a, node):
    mug = make_item(tenant_a.client, "MUG")
    given = make_order(tenant_a.client, "S-1", [("MUG", 1)])
    other = make_order(tenant_a.client, "S-2", [("TEE-UNKNOWN", 1)])  # stays on the line, no item
    assert given.lines.get().item_id == mug.pk and other.lines.get().item_id is None

    def ids(sku: str) -> set[int]:
        return {o["id"] for o in results(tenant_a.api.get(ORDERS, {"sku": sku}))}

    assert ids("MUG") == {given.pk}
    assert ids("TEE-UNKNOWN") == {other.pk}
    assert ids("NONE") == set()


def test_list_rows_are_what_drf_builds_field_by_field(tenant_a, orders):
    """The fast path (``FastRowsMixin``) against DRF's own ``Serializer.to_representation``."""
    rows = list(selectors.order_rows(actor=Actor.for_api_key(tenant_a.key)).order_by("pk"))
    listed = OrderListSerializer(rows, many=True).data
    for order, fast in zip(rows, listed, strict=True):
        slow = serializers.Serializer.to_representation(OrderListSerializer(order), order)
        assert fast == slow
    assert {(o["late"], o["at_risk"]) for o in listed} == {(False, False), (True, False), (False, True)}
    assert {o["warehouse_code"] for o in listed} == {None, tenant_a.warehouse.code}
