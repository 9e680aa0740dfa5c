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


def test_an_over_long_value_every_row_shares_is_refused_too(tenant_a):
    order = make_order(tenant_a.client, "BULK-3", [("TEE", 1)])
    rows = [_line(order, "X" * 65) for _ in range(3)]  # the same sku in every row: sent once
    with pytest.raises(DataError, match="too long"), transaction.atomic():
        bulk.insert_returning(OrderLine, FIELDS, rows)
    assert OrderLine.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("price", [Decimal("1.50"), None])
def test_a_value_every_row_shares_is_sent_once_and_every_row_still_written(tenant_a, price):
    order = make_order(tenant_a.client, "BULK-4", [("TEE", 1)])
    same = (order.client_id, order.pk, "SAME", None, 2, price, None)
    sql, params = bulk._insert(OrderLine, FIELDS, ("id",), (), [same] * 4)
    if price is None:  # every column shared: the first still an array, so that there are 4 rows
        assert "FROM UNNEST(%s::bigint[]) AS u(c0)" in sql
        assert params == [order.pk, "SAME", None, 2, None, None, [order.client_id] * 4]
    else:  # a Decimal is never given once (1.5 and 1.50 are equal, and differ)
        assert "FROM UNNEST(%s::numeric[]) AS u(c5)" in sql
        assert params == [order.client_id, order.pk, "SAME", None, 2, None, [price] * 4]

    ids = [pk for (pk,) in bulk.insert_returning(OrderLine, FIELDS, [same] * 4)]
    assert len(set(ids)) == 4
    written = OrderLine.objects.filter(pk__in=ids)
    assert {(w.client_id, w.order_id, w.sku, w.item_id, w.quantity, w.unit_price) for w in written} == {
        (order.client_id, order.pk, "SAME", None, 2, price)
    }


def test_mixed_types_that_compare_equal_are_not_folded(tenant_a):
    order = make_order(tenant_a.client, "BULK-5", [("TEE", 1)])
    rows = [
        (order.client_id, order.pk, "A", None, 1, Decimal("1"), None),
        (order.client_id, order.pk, "A", None, True, Decimal("1"), None),
    ]
    _sql, params = bulk._insert(OrderLine, FIELDS, ("id",), (), rows)
    assert [1, True] in params  # 1 == True, but not the same value to give once


def test_instance_is_the_models_own_construction(tenant_a):
    from django.db.models.signals import post_init, pre_init
    from django.utils import timezone

    from shipments.models import Event

    now = timezone.now()
    values = {
        "id": 7,
        "client_id": tenant_a.client.pk,
        "type": "order.created",
        "payload": {"a": 1},
        "created_at": now,
    }
    built = bulk.instance(Event, values.items())
    assert built.__dict__.keys() == Event(**values).__dict__.keys()
    assert (built.pk, built.client_id, built.payload, built._state.adding, built._state.db) == (
        7,
        tenant_a.client.pk,
        {"a": 1},
        True,
        None,
    )
    loaded = bulk.instance(Event, values.items(), db="default")
    assert (loaded._state.adding, loaded._state.db) == (False, "default")
    assert loaded.client == tenant_a.client  # the foreign key reads through as usual
    for model in (Event, Order):
        assert not pre_init.has_listeners(model) and not post_init.has_listeners(model)


def test_json_values_are_given_once_only_when_written_the_same(tenant_a):
    from orders.bulk import _shared

    assert _shared([{}, {}, {}]) and _shared([["vip"], ["vip"]])
    assert not _shared([{"a": 1}, {"a": True}])  # equal, and different documents
    assert not _shared([{"a": 1}, {"a": 1.0}])
    assert not _shared([[1], [True]])
    assert not _shared([Decimal("1.5"), Decimal("1.50")])
    assert _shared(["api", "api"]) and not _shared([1, True])


def test_statements_sent_before_run_first_in_the_same_round_trip(tenant_a):
    from orders.models import OrderEvent
    from shipments.models import Event

    order = make_order(tenant_a.client, "BULK-BEFORE", [("TEE", 1)])
    status = bulk.insert_statement(
        OrderEvent,
        ("client_id", "order_id", "from_status", "to_status", "reason", "actor_label", "created_at"),
        [
            (order.client_id, order.pk, "received", "received", f"note {i}", "tests", order.created_at)
            for i in range(2)
        ],
    )
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        ids = bulk.insert_returning(
            Event,
            ("client_id", "type", "payload", "created_at"),
            [(order.client_id, "order.noted", '{"n": 1}', order.created_at)],
            before=[None, status],
        )
    assert len(queries) == 1
    [(event_id,)] = ids  # the last statement's rows
    assert Event.objects.filter(pk=event_id, type="order.noted").exists()
    assert sorted(
        OrderEvent.objects.filter(order=order, reason__startswith="note").values_list("reason", flat=True)
    ) == [
        "note 0",
        "note 1",
    ]
    assert bulk.insert_statement(OrderEvent, ("client_id",), []) is None


def test_a_failing_statement_sent_before_fails_the_whole_round_trip(tenant_a):
    from shipments.models import Event

    order = make_order(tenant_a.client, "BULK-BEFORE-2", [("TEE", 1)])
    bad = bulk.insert_statement(OrderLine, FIELDS, [_line(order, "X" * 65)])
    with pytest.raises(DataError, match="too long"), transaction.atomic():
        bulk.insert_returning(
            Event,
            ("client_id", "type", "payload", "created_at"),
            [(order.client_id, "order.noted", "{}", order.created_at)],
            before=[bad],
        )
    assert not Event.objects.filter(client=tenant_a.client, type="order.noted").exists()


def test_made_is_the_models_own_construction_with_its_related_objects(tenant_a):
    """``bulk.made`` leaves an instance as ``Model.__init__`` does given the related objects."""
    from django.utils import timezone

    from orders.models import OrderEvent

    item = make_item(tenant_a.client, "TEE")
    order = make_order(tenant_a.client, "BULK-MADE", [("TEE", 1)])
    for it in (item, None):
        own = OrderLine(
            id=5,
            client=tenant_a.client,
            order=order,
            sku="TEE",
            item=it,
            quantity=2,
            unit_price=Decimal("1.5"),
        )
        built = bulk.made(
            OrderLine,
            {
                "id": 5,
                "client_id": tenant_a.client.pk,
                "order_id": order.pk,
                "sku": "TEE",
                "item_id": it.pk if it else None,
                "quantity": 2,
                "unit_price": Decimal("1.5"),
            },
            {"client": tenant_a.client, "order": order, "item": it},
        )
        assert {k: v for k, v in built.__dict__.items() if k != "_state"} == {
            k: v for k, v in own.__dict__.items() if k != "_state"
        }
        assert built._state.fields_cache == own._state.fields_cache
        assert (built._state.adding, built._state.db) == (True, None)
        assert built.item is it and built.order is order  # no query: cached
    now = timezone.now()
    event = bulk.made(
        OrderEvent, {"order_id": order.pk, "client_id": order.client_id, "created_at": now}, db="default"
    )
    own = OrderEvent(order=order, client=tenant_a.client, created_at=now)
    assert {k: v for k, v in event.__dict__.items() if k != "_state"} == {
        k: v for k, v in own.__dict__.items() if k != "_state"
    }
    assert (event._state.adding, event._state.db) == (False, "default")
