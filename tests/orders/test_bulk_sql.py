"""``orders.bulk``: the set-based writes keep every value exactly, or refuse it as the column would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction

from orders import bulk
from orders.models import Order, OrderLine
from tests.inventory.factories import make_item
from tests.orders.test_api import make_order

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the UNNEST and VALUES statements are PostgreSQL's"
)

FIELDS = ("client_id", "order_id", "sku", "item_id", "quantity", "unit_price", "customs_value")


def _line(order, sku: str) -> tuple:
    return (order.client_id, order.pk, sku, None, 1, Decimal("1.2345"), None)


@pytest.mark.parametrize("count", [1, 3])
def test_an_over_long_value_is_refused_not_cut(tenant_a, count):
    order = make_order(tenant_a.client, "BULK-1", [("TEE", 1)])
    rows = [_line(order, f"SKU-{i}") for i in range(count - 1)] + [_line(order, "X" * 65)]
    with pytest.raises(DataError, match="too long"), transaction.atomic():
        bulk.insert_returning(OrderLine, FIELDS, rows)
    assert OrderLine.objects.filter(order=order).count() == 1  # the order's own line only


@pytest.mark.parametrize("count", [1, 3])
def test_rows_are_written_as_given_and_their_ids_returned_in_order(tenant_a, count):
    item = make_item(tenant_a.client, "TEE")
    order = make_order(tenant_a.client, "BULK-2", [("TEE", 1)])
    rows = [
        (order.client_id, order.pk, f"SKU-{i}", item.pk, i + 1, Decimal("1.2345"), None) for i in range(count)
    ]
    ids = [pk for (pk,) in bulk.insert_returning(OrderLine, FIELDS, rows)]
    written = {line.pk: line for line in OrderLine.objects.filter(pk__in=ids)}
    assert [(written[pk].sku, written[pk].quantity, written[pk].unit_price) for pk in ids] == [
        (f"SKU-{i}", i + 1, Decimal("1.2345")) for i in range(count)
    ]


def test_an_over_long_value_in_a_set_based_update_is_refused(tenant_a):
    orders = [make_order(tenant_a.client, f"BULK-U{i}", [("TEE", 1)]) for i in range(2)]
    orders[0].ship_to_state = "X" * 200  # the first row: the one whose values carry the casts
    with pytest.raises(DataError, match="too long"), transaction.atomic():
        bulk.update_fields(Order, orders, ["ship_to_state"])
    assert Order.objects.get(pk=orders[0].pk).ship_to_state != "X" * 200
