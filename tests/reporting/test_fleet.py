"""The fleet view (the console home): per-client SLA health, today's queues per node, open alerts,
inbound, sorting, tenancy and a query count that does not grow with the number of clients."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.actors import Actor
from inventory import services as inventory_services
from orders import allocation
from orders import services as order_services
from orders.enums import OrderStatus
from orders.models import Order
from reporting import dashboards
from reporting.enums import AlertRule, Severity
from reporting.models import Alert
from tests.accounts.factories import ClientFactory
from tests.inventory.factories import SYSTEM, make_asn, make_item, stock
from tests.orders.factories import SHIP_TO_NJ, SHIP_TO_TX, make_order, make_world

pytestmark = pytest.mark.django_db

# A Wednesday: 10:00 in New Jersey, 09:00 in Texas.
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def _with_ship_by(order: Order, ship_by: datetime) -> Order:
    """Allocate the order (routing it to a node; intake does that on commit) and pin its deadline
    so the test does not depend on today's calendar."""
    order.refresh_from_db()
    if order.status == OrderStatus.RECEIVED:
        allocation.allocate(actor=SYSTEM, order=order)
    Order.objects.filter(pk=order.pk).update(ship_by=ship_by)
    order.refresh_from_db()
    return order


def _alert(client, severity: str, *, n: int, resolved: bool = False) -> Alert:
    return Alert.objects.create(
        client=client,
        rule=AlertRule.ORDER_LATE,
        severity=severity,
        object_type="order",
        object_id=str(n),
        title=f"Alert {n}",
        opened_at=NOW - timedelta(hours=1),
        resolved_at=NOW if resolved else None,
    )


@pytest.fixture
def world(account_manager):
    """A brand at a New Jersey and a Texas node with stock at both, managed by ``account_manager``."""
    world = make_world(regions=("nj", "tx"), name="Acme Outdoor", slug="acme-outdoor")
    world.client.account_managers.add(account_manager)
    world.item = make_item(world.client, "TENT")
    stock(world.client, world.nj, world.item, 50)
    stock(world.client, world.tx, world.item, 50)
    return world


def _row(rows, client) -> dashboards.FleetRow:
    return next(r for r in rows if r.client.pk == client.pk)


def test_queues_count_due_today_at_risk_and_late_per_node(world, account_manager):
    end_of_nj_day = datetime(2026, 3, 4, 23, 59, 59, tzinfo=NY)
    due_later = _with_ship_by(make_order(world.client, [(world.item, 1)]), end_of_nj_day)
    at_risk = _with_ship_by(make_order(world.client, [(world.item, 1)]), NOW + timedelta(hours=1))
    late_tx = _with_ship_by(
        make_order(world.client, [(world.item, 1)], ship_to=SHIP_TO_TX), NOW - timedelta(hours=1)
    )
    tomorrow = _with_ship_by(make_order(world.client, [(world.item, 1)]), end_of_nj_day + timedelta(days=1))
    cancelled = _with_ship_by(make_order(world.client, [(world.item, 1)]), end_of_nj_day)
    order_services.order_cancel(actor=SYSTEM, order=cancelled, reason="changed mind")
    # Yesterday's deadline, never routed (no stock of this item anywhere): late, not due today.
    unrouted = make_order(world.client, [(make_item(world.client, "NONE"), 1)])
    _with_ship_by(unrouted, NOW - timedelta(days=1))
    assert {due_later.warehouse_id, at_risk.warehouse_id, tomorrow.warehouse_id} == {world.nj.warehouse.pk}
    assert late_tx.warehouse_id == world.tx.warehouse.pk
    assert Order.objects.get(pk=unrouted.pk).warehouse_id is None

    row = _row(dashboards.fleet_rows(actor=Actor.for_user(account_manager), now=NOW), world.client)

    nodes = {n.code: n for n in row.nodes}
    nj, tx = nodes[world.nj.warehouse.code], nodes[world.tx.warehouse.code]
    assert (nj.due_today, nj.due_open, nj.at_risk, nj.late) == (2, 2, 1, 0)
    assert (tx.due_today, tx.at_risk, tx.late) == (1, 0, 1)  # 08:00 in Texas is still its today
    assert (nodes[""].due_today, nodes[""].late) == (0, 1)
    assert (row.due_today, row.at_risk, row.late) == (3, 1, 2)


def test_due_today_is_the_nodes_local_day(world, account_manager):
    """01:30 UTC on Thursday is still Wednesday evening in Texas and in New Jersey."""
    now = datetime(2026, 3, 5, 1, 30, tzinfo=UTC)
    wed_tx = _with_ship_by(
        make_order(world.client, [(world.item, 1)], ship_to=SHIP_TO_TX),
        datetime(2026, 3, 4, 23, 59, 59, tzinfo=ZoneInfo("America/Chicago")),
    )
    thu_nj = _with_ship_by(
        make_order(world.client, [(world.item, 1)], ship_to=SHIP_TO_NJ),
        datetime(2026, 3, 5, 23, 59, 59, tzinfo=NY),
    )
    assert wed_tx.ship_by > now and thu_nj.ship_by > now

    row = _row(dashboards.fleet_rows(actor=Actor.for_user(account_manager), now=now), world.client)

    nodes = {n.code: n for n in row.nodes}
    assert nodes[world.tx.warehouse.code].due_today == 1
    assert world.nj.warehouse.code not in nodes  # Thursday's order is not due on Wednesday


def test_open_alerts_count_and_worst_severity(world, account_manager):
    _alert(world.client, Severity.WARNING, n=1)
    _alert(world.client, Severity.CRITICAL, n=2)
    _alert(world.client, Severity.CRITICAL, n=3, resolved=True)
    quiet = ClientFactory(name="Quiet Co")
    quiet.account_managers.add(account_manager)
    _alert(quiet, Severity.INFO, n=4)

    rows = dashboards.fleet_rows(actor=Actor.for_user(account_manager), now=NOW)

    assert (_row(rows, world.client).alerts_open, _row(rows, world.client).alerts_worst) == (2, "critical")
    assert (_row(rows, quiet).alerts_open, _row(rows, quiet).alerts_worst) == (1, "info")


def test_asns_arriving_today_tomorrow_and_not_stocked(world, account_manager):
    today = NOW.astimezone(NY).date()
    make_asn(world.client, world.nj.warehouse, [(world.item, 5)], eta=today)
    make_asn(world.client, world.nj.warehouse, [(world.item, 5)], eta=today + timedelta(days=1))
    make_asn(world.client, world.nj.warehouse, [(world.item, 5)], eta=today, submit=False)  # a draft
    arrived = make_asn(world.client, world.nj.warehouse, [(world.item, 5)], eta=today)
    inventory_services.asn_arrive(actor=SYSTEM, asn=arrived)

    row = _row(dashboards.fleet_rows(actor=Actor.for_user(account_manager), now=NOW), world.client)

    # The two stocked ASNs of the fixture are stocked: they wait for nothing.
    assert (row.asns_today, row.asns_tomorrow, row.asns_waiting) == (1, 1, 1)


def test_an_account_manager_sees_only_their_clients(world, account_manager, client):
    other = make_world(regions=("nj",), name="Hidden Brand", slug="hidden-brand")
    hidden = make_order(other.client, [("X", 1)])
    _with_ship_by(hidden, NOW - timedelta(hours=1))
    _alert(other.client, Severity.CRITICAL, n=9)

    rows = dashboards.fleet_rows(actor=Actor.for_user(account_manager), now=NOW)
    assert [r.client.pk for r in rows] == [world.client.pk]

    client.force_login(account_manager)
    html = client.get("/console/").content.decode()
    assert "Acme Outdoor" in html and "Hidden Brand" not in html


def test_the_page_links_each_client_to_its_dashboard_and_alerts(world, account_manager, client):
    _alert(world.client, Severity.WARNING, n=1)
    client.force_login(account_manager)

    html = client.get("/console/").content.decode()

    assert f'href="/console/clients/{world.client.pk}/dashboard/"' in html
    assert re.search(r'data-client="acme-outdoor"', html)
    assert "1 open" in html


def _sorted_names(rows, sort):
    return [r.client.name for r in dashboards.sort_fleet(rows, sort)]


def _fake_rate(value):
    return None if value is None else type("Rate", (), {"value": value})()


def test_sorting_is_by_column_then_name_and_n_a_last():
    names = ["Delta", "alpha", "Charlie", "Bravo"]
    rows = [dashboards.FleetRow(client=ClientFactory.build(pk=i + 1, name=n)) for i, n in enumerate(names)]
    late = {"Delta": 3, "alpha": 0, "Charlie": 3, "Bravo": 1}
    rates = {"Delta": None, "alpha": 0.5, "Charlie": 1, "Bravo": None}
    for r in rows:
        r.nodes = [dashboards.NodeQueues("N1", late=late[r.client.name])]
        r.on_time_7d = _fake_rate(rates[r.client.name])

    assert _sorted_names(rows, "client") == ["alpha", "Bravo", "Charlie", "Delta"]
    assert _sorted_names(rows, "-client") == ["Delta", "Charlie", "Bravo", "alpha"]
    assert _sorted_names(rows, "-late") == ["Charlie", "Delta", "Bravo", "alpha"]  # ties by name
    assert _sorted_names(rows, "late") == ["alpha", "Bravo", "Charlie", "Delta"]
    assert _sorted_names(rows, "on_time_7d") == ["alpha", "Charlie", "Bravo", "Delta"]  # n/a last
    assert _sorted_names(rows, "-on_time_7d") == ["Charlie", "alpha", "Bravo", "Delta"]
    assert _sorted_names(rows, "nonsense") == _sorted_names(rows, dashboards.DEFAULT_FLEET_SORT)


def test_the_page_sorts_server_side(account_manager, client):
    for name, slug in (("Zeta", "zeta"), ("Alpha", "alpha"), ("Mu", "mu")):
        ClientFactory(name=name, slug=slug).account_managers.add(account_manager)
    client.force_login(account_manager)

    def order(sort):
        html = client.get(f"/console/?sort={sort}").content.decode()
        return re.findall(r'<tr data-client="([a-z-]+)"', html)

    assert order("client") == ["alpha", "mu", "zeta"]
    assert order("-client") == ["zeta", "mu", "alpha"]
    html = client.get("/console/?sort=-client").content.decode()
    assert 'aria-sort="descending"' in html


def _add_clients(account_manager, first: int, count: int) -> None:
    """Brands at two nodes, each with an order due, a late one, an open alert and an ASN due."""
    for i in range(first, first + count):
        world = make_world(regions=("nj", "tx"), name=f"Brand {i}", slug=f"brand-{i}")
        world.client.account_managers.add(account_manager)
        make_order(world.client, [("SKU", 1)])
        _with_ship_by(make_order(world.client, [("SKU", 1)], ship_to=SHIP_TO_TX), timezone.now())
        _alert(world.client, Severity.WARNING, n=100 + i)
        make_asn(world.client, world.nj.warehouse, [(make_item(world.client), 1)], eta=timezone.now().date())


def _fleet_queries(client) -> int:
    client.get("/console/")  # warm the session and the actor
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/console/")
    assert response.status_code == 200
    return len(queries), response.content.decode().count("<tr data-client=")


def test_query_count_is_the_same_for_two_and_six_clients(client, account_manager):
    client.force_login(account_manager)
    _add_clients(account_manager, 0, 2)
    few, rows = _fleet_queries(client)
    assert rows == 2
    _add_clients(account_manager, 2, 4)
    many, rows = _fleet_queries(client)
    assert rows == 6
    assert few == many <= 16


def test_on_time_rates_equal_kpi_report_client_by_client(account_manager):
    """The fleet's grouped on-time query and the KPI engine are one definition: for each client,
    today and the trailing 7 days give the same numbers as ``kpi_report(client_ids=[client])``."""
    from reporting.kpis import kpi_report

    now = NOW
    worlds = []
    for i, tz in enumerate(("America/New_York", "America/Los_Angeles", "America/Chicago")):
        world = make_world(regions=("nj",), name=f"Rate {i}", slug=f"rate-{i}", time_zone=tz)
        world.client.account_managers.add(account_manager)
        item = make_item(world.client)
        stock(world.client, world.nj, item, 20)
        worlds.append((world, item))
    (a, a_item), (b, b_item), (_c, _) = worlds  # the third has nothing due: n/a
    # a: due today and shipped in time (measured, on time); due 3 days ago, never shipped (late).
    on_time = _with_ship_by(make_order(a.client, [(a_item, 1)]), now + timedelta(hours=3))
    Order.objects.filter(pk=on_time.pk).update(
        shipped_at=now - timedelta(minutes=5), status=OrderStatus.SHIPPED
    )
    _with_ship_by(make_order(a.client, [(a_item, 1)]), now - timedelta(days=3))
    # b: due later today, not shipped (not measured yet); shipped late 2 days ago.
    _with_ship_by(make_order(b.client, [(b_item, 1)]), now + timedelta(minutes=30))
    shipped_late = _with_ship_by(make_order(b.client, [(b_item, 1)]), now - timedelta(days=2))
    Order.objects.filter(pk=shipped_late.pk).update(
        shipped_at=now - timedelta(days=1), status=OrderStatus.SHIPPED
    )
    # A cancelled order due today counts nowhere.
    cancelled = _with_ship_by(make_order(b.client, [(b_item, 1)]), now - timedelta(minutes=1))
    order_services.order_cancel(actor=SYSTEM, order=cancelled, reason="no longer wanted")

    rows = {r.client.pk: r for r in dashboards.fleet_rows(actor=Actor.for_user(account_manager), now=now)}

    for world, _ in worlds:
        today = dashboards.local_today(world.client.time_zone, now)
        row = rows[world.client.pk]
        for shown, first in ((row.on_time_today, today), (row.on_time_7d, today - timedelta(days=6))):
            engine = kpi_report(client_ids=[world.client.pk], start=first, end=today, now=now).totals[
                "on_time_ship_rate"
            ]
            assert (shown.value, shown.numerator, shown.denominator, shown.display, shown.meets_target) == (
                engine.value,
                engine.numerator,
                engine.denominator,
                engine.display,
                engine.meets_target,
            ), (world.client.name, first)
    assert rows[a.client.pk].on_time_7d.display == "50.00%"
    assert rows[b.client.pk].on_time_today.display == "n/a"
    assert rows[worlds[2][0].client.pk].on_time_7d.display == "n/a"
