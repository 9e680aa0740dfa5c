"""Intake reads a client's active nodes (ZIP, time zone, closures) from the cache, and every change
that bears on them (a closure, a node's activity, ZIP or time zone, the client's set of nodes from
either side) takes effect on the next intake."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import node_cache
from accounts.actors import Actor
from accounts.models import WarehouseClosure
from accounts.services import client_update, warehouse_update
from orders import services as order_services
from tests.accounts.factories import ClientFactory, WarehouseFactory
from tests.inventory.factories import make_item
from tests.orders.factories import make_order, make_warehouse
from tests.orders.test_api import body

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")
ORDERS_URL = "/api/v1/orders/"
OLD_NODES = ((1, "07094", "America/New_York", ()),)  # what an intake read before the change
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="intake reads the nodes through the cache on PostgreSQL"
)


def nodes(client) -> list[tuple[int, str, str, list[date]]]:
    """What the SLA clock reads of each node that intake places the client's orders at."""
    return [
        (n.pk, n.zip_code, n.time_zone, sorted(c.date for c in n.closures.all()))
        for n in order_services._active_nodes(client)
    ]


def nodes_reads(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        nodes(client)
    return len(queries)


def expire(client) -> None:
    """``TTL_SECONDS`` pass: the entry (and the stale mark of the setup's changes) is gone. Each
    test has a key prefix of its own (tests/conftest.py), so nothing else is cached under it."""
    cache.delete(f"client-nodes:{client.pk}")


def warm(client) -> None:
    """An intake cached the client's nodes as they were before the change (on PostgreSQL intake
    would serve these until the entry is dropped; on every database the receivers must drop it)."""
    expire(client)
    node_cache.remember(client.pk, OLD_NODES)
    assert node_cache.cached(client.pk) == OLD_NODES


@pytest.fixture
def client_with_two_nodes():
    client = ClientFactory()
    nj, tx = make_warehouse("nj"), make_warehouse("tx")
    client.warehouses.add(nj, tx)
    return client, nj, tx


# --- reads ---------------------------------------------------------------------------------------


@postgresql_only
def test_a_clients_nodes_are_read_once_then_from_the_cache(client_with_two_nodes):
    client, nj, tx = client_with_two_nodes
    WarehouseClosure.objects.create(warehouse=nj, date=date(2030, 1, 2))
    expire(client)
    assert nodes_reads(client) == 1
    assert nodes_reads(client) == 0
    assert nodes(client) == [
        (nj.pk, "07094", "America/New_York", [date(2030, 1, 2)]),
        (tx.pk, "75038", "America/Chicago", []),
    ]
    assert node_cache.cached(client.pk) == (
        (nj.pk, "07094", "America/New_York", (date(2030, 1, 2),)),
        (tx.pk, "75038", "America/Chicago", ()),
    )


@postgresql_only
def test_an_api_order_reads_the_nodes_from_the_cache_after_the_first(tenant_a):
    make_item(tenant_a.client, "TEE")
    expire(tenant_a.client)

    def node_statements(reference: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = tenant_a.api.post(ORDERS_URL, body(reference), format="json")
        assert response.status_code == 201, response.content
        return sum("COALESCE(ARRAY(" in q["sql"] for q in queries.captured_queries)

    assert node_statements("N-1") == 1
    assert node_statements("N-2") == 0


def test_the_cached_nodes_are_the_nodes_read_from_the_database(client_with_two_nodes):
    """The same values, cached or not, on every database (the ORM's reading is the reference)."""
    client, _nj, tx = client_with_two_nodes
    WarehouseClosure.objects.create(warehouse=tx, date=date(2030, 1, 3))
    WarehouseClosure.objects.create(warehouse=tx, date=date(2030, 1, 2))
    expected = [
        (w.pk, w.zip_code, w.time_zone, sorted(c.date for c in w.closures.all()))
        for w in client.warehouses.filter(active=True).prefetch_related("closures").order_by("pk")
    ]
    assert nodes(client) == expected
    assert nodes(client) == expected  # the second from the cache on PostgreSQL


# --- invalidation --------------------------------------------------------------------------------


def test_a_closure_added_reaches_the_next_intakes_ship_by(db):
    client = ClientFactory()
    warehouse = make_warehouse("nj")
    client.warehouses.add(warehouse)
    make_item(client, "TEE")
    expire(client)
    first = make_order(client, [("TEE", 1)])  # caches the nodes on PostgreSQL
    assert first.ship_by is not None
    closed = first.ship_by.astimezone(ZoneInfo(warehouse.time_zone)).date()
    WarehouseClosure.objects.create(warehouse=warehouse, date=closed)
    second = make_order(client, [("TEE", 1)])
    assert second.ship_by.astimezone(ZoneInfo(warehouse.time_zone)).date() != closed
    assert second.ship_by > first.ship_by


def test_closures_changed_by_the_warehouse_service_reach_intake(client_with_two_nodes):
    client, nj, _tx = client_with_two_nodes
    warm(client)
    warehouse_update(actor=SYSTEM, warehouse=nj, closures=[{"date": date(2030, 7, 4), "reason": "July 4"}])
    assert node_cache.cached(client.pk) is None
    assert nodes(client)[0][3] == [date(2030, 7, 4)]
    warm(client)
    warehouse_update(actor=SYSTEM, warehouse=nj, closures=[])
    assert node_cache.cached(client.pk) is None
    assert nodes(client)[0][3] == []


def test_a_closure_deleted_reaches_intake(client_with_two_nodes):
    client, nj, _tx = client_with_two_nodes
    closure = WarehouseClosure.objects.create(warehouse=nj, date=date(2030, 1, 2))
    warm(client)
    closure.delete()
    assert node_cache.cached(client.pk) is None
    assert nodes(client)[0][3] == []


def test_deactivating_a_node_drops_it_from_every_client_it_serves(client_with_two_nodes):
    client, nj, tx = client_with_two_nodes
    other = ClientFactory()
    other.warehouses.add(nj)
    warm(client)
    warm(other)
    warehouse_update(actor=SYSTEM, warehouse=nj, active=False)
    assert node_cache.cached(client.pk) is None
    assert node_cache.cached(other.pk) is None
    assert [n[0] for n in nodes(client)] == [tx.pk]
    assert nodes(other) == []


def test_a_nodes_zip_and_time_zone_change_reaches_intake(client_with_two_nodes):
    client, nj, _tx = client_with_two_nodes
    warm(client)
    nj.zip_code, nj.time_zone = "90040", "America/Los_Angeles"
    nj.save()
    assert node_cache.cached(client.pk) is None
    assert nodes(client)[0][1:3] == ("90040", "America/Los_Angeles")


def test_a_deleted_node_is_dropped(client_with_two_nodes):
    client, nj, tx = client_with_two_nodes
    warm(client)
    tx.delete()
    assert node_cache.cached(client.pk) is None
    assert [n[0] for n in nodes(client)] == [nj.pk]


def _remove(client, warehouse, how: str) -> None:
    if how == "client.warehouses.remove":
        client.warehouses.remove(warehouse)
    elif how == "client.warehouses.set":
        client.warehouses.set([w for w in client.warehouses.all() if w.pk != warehouse.pk])
    elif how == "client.warehouses.clear":
        client.warehouses.clear()
    elif how == "warehouse.clients.remove":
        warehouse.clients.remove(client)
    elif how == "warehouse.clients.set":
        warehouse.clients.set([])
    elif how == "warehouse.clients.clear":
        warehouse.clients.clear()
    elif how == "client_update":
        keep = [w.pk for w in client.warehouses.all() if w.pk != warehouse.pk]
        client_update(actor=SYSTEM, client=client, warehouse_ids=keep)


@pytest.mark.parametrize(
    "how",
    [
        "client.warehouses.remove",
        "client.warehouses.set",
        "client.warehouses.clear",
        "warehouse.clients.remove",
        "warehouse.clients.set",
        "warehouse.clients.clear",
        "client_update",
    ],
)
def test_a_node_taken_from_a_client_is_dropped_whichever_side_takes_it(client_with_two_nodes, how):
    client, nj, tx = client_with_two_nodes
    warm(client)
    _remove(client, tx, how)
    assert node_cache.cached(client.pk) is None
    assert [n[0] for n in nodes(client)] == ([] if how == "client.warehouses.clear" else [nj.pk])


@pytest.mark.parametrize("side", ["client.warehouses.add", "warehouse.clients.add"])
def test_a_node_given_to_a_client_is_added_whichever_side_gives_it(client_with_two_nodes, side):
    client, nj, tx = client_with_two_nodes
    ca = make_warehouse("ca")
    warm(client)
    if side == "client.warehouses.add":
        client.warehouses.add(ca)
    else:
        ca.clients.add(client)
    assert node_cache.cached(client.pk) is None
    assert [n[0] for n in nodes(client)] == [nj.pk, tx.pk, ca.pk]


def test_a_change_to_another_clients_node_leaves_this_clients_entry(client_with_two_nodes):
    client, _nj, _tx = client_with_two_nodes
    warm(client)
    elsewhere = WarehouseFactory()
    ClientFactory().warehouses.add(elsewhere)
    WarehouseClosure.objects.create(warehouse=elsewhere, date=date(2030, 1, 2))
    elsewhere.save()
    assert node_cache.cached(client.pk) == OLD_NODES


# --- races ---------------------------------------------------------------------------------------


def test_nodes_read_before_a_change_are_not_put_back(client_with_two_nodes):
    client, nj, _tx = client_with_two_nodes
    WarehouseClosure.objects.create(warehouse=nj, date=date(2030, 1, 2))
    before = [(nj.pk, nj.zip_code, nj.time_zone, [date(2030, 1, 2)])]  # an intake read the nodes...
    WarehouseClosure.objects.create(warehouse=nj, date=date(2030, 1, 3))
    node_cache.remember(client.pk, before)  # ... and caches them after the closure was added
    assert node_cache.cached(client.pk) is None
    assert nodes(client)[0][3] == [date(2030, 1, 2), date(2030, 1, 3)]


def test_the_entry_is_marked_stale_again_after_the_commit(
    client_with_two_nodes, django_capture_on_commit_callbacks
):
    """A read between the change and its commit sees the old rows; it cannot cache them after
    the commit either, even if the mark made at the change were gone by then."""
    client, nj, _tx = client_with_two_nodes
    with django_capture_on_commit_callbacks(execute=True):
        WarehouseClosure.objects.create(warehouse=nj, date=date(2030, 1, 2))
        cache.delete(f"client-nodes:{client.pk}")  # the first mark lost (expired, evicted)
    node_cache.remember(client.pk, OLD_NODES)
    assert node_cache.cached(client.pk) is None


def test_a_stale_entry_expires_and_is_then_filled_again(client_with_two_nodes):
    client, _nj, _tx = client_with_two_nodes
    node_cache.forget([client.pk])
    assert node_cache.cached(client.pk) is None
    cache.delete(f"client-nodes:{client.pk}")  # TTL_SECONDS later
    node_cache.remember(client.pk, OLD_NODES)
    assert node_cache.cached(client.pk) == OLD_NODES
