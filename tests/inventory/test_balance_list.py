"""The balances list (``GET /api/v1/inventory/``) at volume: pages in the order of the balance's
unique index (client, item, location, lot), so a page never sorts the whole client, and rows
built by the fast path exactly as DRF builds them."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from accounts.actors import Actor
from inventory import selectors
from inventory.api.serializers import BalanceSerializer
from tests.inventory.factories import make_item, make_node, stock

BALANCES = "/api/v1/inventory/"


def test_balances_page_by_item_location_and_lot_without_joined_names(tenant_a):
    node = make_node(tenant_a.warehouse)
    # Created so that SKU order and id order differ.
    zed, alpha = make_item(tenant_a.client, "ZED"), make_item(tenant_a.client, "ALPHA")
    stock(tenant_a.client, node, zed, 3, location=node.bins[1])
    stock(tenant_a.client, node, alpha, 2, location=node.bins[0])
    stock(tenant_a.client, node, zed, 1, location=node.bins[0])
    api = tenant_a.api
    api.get(BALANCES)
    with CaptureQueriesContext(connection) as captured:
        body = api.get(BALANCES, {"page_size": 50}).json()
    rows = [(r["item"], r["location"], r["lot_code"]) for r in body["results"]]
    assert rows == sorted(rows) and {r[0] for r in rows} == {zed.pk, alpha.pk}
    assert rows.index((zed.pk, node.bins[0].pk, "")) < rows.index((zed.pk, node.bins[1].pk, ""))
    (page,) = [q["sql"] for q in captured.captured_queries if "LIMIT 51" in q["sql"]]
    order_by = page.split("ORDER BY")[1]
    assert '"inventory_balance"."item_id" ASC' in order_by and "sku" not in order_by
    by_sku = api.get(BALANCES, {"ordering": "item__sku"}).json()["results"]
    assert by_sku[0]["sku"] == "ALPHA"


def test_balance_rows_are_what_drf_builds_field_by_field(tenant_a):
    node = make_node(tenant_a.warehouse)
    item = make_item(tenant_a.client, "PLAIN")
    stock(tenant_a.client, node, item, 4)
    balances = list(selectors.balance_list(actor=Actor.for_api_key(tenant_a.key)).order_by("pk"))
    assert len(balances) > 1  # the dock emptied by putaway, and the pick bin
    listed = BalanceSerializer(balances, many=True).data
    for balance, fast in zip(balances, listed, strict=True):
        assert fast == serializers.Serializer.to_representation(BalanceSerializer(balance), balance)
