"""The set-based sweep on PostgreSQL writes exactly what the Python builders describe: the order
rules' hits (title, occurrence, detail) built in SQL equal ``orders_late`` / ``orders_at_risk``,
and the ``alert.opened`` / ``alert.resolved`` payloads built in SQL equal ``alert_payload``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django_scopes import scopes_disabled

from orders.models import Order
from reporting import alerts as engine
from reporting.enums import AlertRule
from reporting.models import Alert
from shipments.enums import EventType
from shipments.models import Event
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # the day after New York leaves daylight time


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the SQL path is PostgreSQL's")


def sql_hits(rule: str, now: datetime) -> set[tuple]:
    spec = engine.RULES[rule]
    scope = engine.RuleScope.load(rule)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {engine.HITS_TABLE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {engine.HITS_TABLE} (client_id integer, object_type varchar(24), "
            "object_id varchar(64), occurrence varchar(64), title text, detail jsonb)"
        )
        spec.fill_sql(cursor, now, scope)
        cursor.execute(
            f"SELECT client_id, object_type, object_id, occurrence, title, detail::text FROM {engine.HITS_TABLE}"
        )
        rows = {(*row[:5], json.dumps(json.loads(row[5]), sort_keys=True)) for row in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {engine.HITS_TABLE}")
    return rows


def python_hits(rule: str, now: datetime) -> set[tuple]:
    with scopes_disabled():
        hits = engine.RULES[rule].candidates(now, engine.RuleScope.load(rule))
    return {
        (h.client_id, h.object_type, h.object_id, h.occurrence, h.title, json.dumps(h.detail, sort_keys=True))
        for h in hits
    }


def test_order_hits_built_in_sql_equal_the_python_ones():
    east = make_world(regions=("nj", "ca"))
    west = make_world(regions=("ca",), time_zone="America/Los_Angeles")
    item, west_item = make_item(east.client), make_item(west.client)
    stock(east.client, east.nj, item, 50)
    stock(west.client, west.ca, west_item, 50)
    orders = [make_order(east.client, [(item, 1)], reference=f"E-{n}") for n in range(6)]
    orders += [
        make_order(west.client, [(west_item, 1)], reference=f"W-{n}-%s {{ref}} 'quoted'") for n in range(3)
    ]
    deadlines = [
        NOW - timedelta(days=40),  # in daylight time
        NOW - timedelta(hours=29, microseconds=1),  # 01:59 EST, the second 01:59 of that night
        NOW - timedelta(minutes=1),
        NOW + timedelta(minutes=30),  # at risk
        NOW + timedelta(hours=1, seconds=59, microseconds=999999),  # at risk
        NOW + timedelta(hours=5),  # neither
        NOW - timedelta(days=200),
        NOW + timedelta(minutes=90),
        NOW - timedelta(seconds=1),
    ]
    with scopes_disabled():
        for order, ship_by in zip(orders, deadlines, strict=True):
            Order.objects.filter(pk=order.pk).update(ship_by=ship_by)
        # Not routed yet: the client's time zone names the ship-by.
        Order.objects.filter(pk__in=[orders[1].pk, orders[7].pk]).update(warehouse=None)
        Order.objects.filter(pk=orders[2].pk).update(warehouse=east.ca.warehouse)

    for rule in (AlertRule.ORDER_LATE, AlertRule.ORDER_AT_RISK):
        expected = python_hits(rule, NOW)
        assert expected, rule
        assert sql_hits(rule, NOW) == expected
    late_titles = {row[4] for row in python_hits(AlertRule.ORDER_LATE, NOW)}
    assert any(title.endswith(" EST") for title in late_titles)
    assert any(title.endswith(" EDT") for title in late_titles)
    assert any(title.endswith(" PST") for title in late_titles)


def test_sql_formats_large_numbers_and_timestamps_as_python_does():
    moments = [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 7, 4, 3, 2, 1, 5, tzinfo=UTC),
        datetime(2026, 7, 4, 3, 2, 1, 999999, tzinfo=UTC),
    ]
    with connection.cursor() as cursor:
        for moment in moments:
            cursor.execute(f"SELECT {engine._sql_iso('t.x')} FROM (SELECT %s::timestamptz AS x) t", [moment])
            assert cursor.fetchone()[0] == moment.isoformat()
        for pk in (1, 1234567, 12345678):
            cursor.execute(
                f"SELECT {engine._sql_number('ORD-', 't.x', 7)} FROM (SELECT %s::bigint AS x) t", [pk]
            )
            assert cursor.fetchone()[0] == f"ORD-{pk:07d}"


def test_event_payloads_built_in_sql_equal_alert_payload():
    world = make_world(regions=("nj",))
    item = make_item(world.client)
    stock(world.client, world.nj, item, 5)
    orders = [make_order(world.client, [(item, 1)]) for _ in range(3)]
    with scopes_disabled():
        Order.objects.filter(pk__in=[o.pk for o in orders]).update(ship_by=NOW - timedelta(hours=1))
    engine.sweep_rule(AlertRule.ORDER_LATE, now=NOW + timedelta(microseconds=250))
    with scopes_disabled():
        first, second, third = Alert.objects.filter(rule=AlertRule.ORDER_LATE).order_by("pk")
        engine.resolve_alerts([first.pk], now=NOW + timedelta(hours=1), by=engine.CONDITION_CLEARED)
        engine.resolve_alerts([second.pk], now=NOW + timedelta(hours=2), by="Pat Manager")
        engine.announce([third.pk], EventType.ALERT_OPENED)  # announced again, still open
        by_alert = {}
        for event in Event.objects.filter(type__startswith="alert.").order_by("pk"):
            by_alert.setdefault(event.payload["alert_id"], []).append(event)
        for alert in Alert.objects.filter(rule=AlertRule.ORDER_LATE):
            payload = by_alert[alert.pk][-1].payload
            assert payload == json.loads(json.dumps(engine.alert_payload(alert)))
    assert [e.payload["resolution"] for e in by_alert[first.pk]] == [None, "condition_cleared"]
    assert by_alert[second.pk][-1].payload["resolution"] == "resolved_by_operator"
    assert by_alert[first.pk][0].payload["opened_at"] == "2026-11-02T12:00:00.000250Z"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a partial index of PostgreSQL's")
def test_alerts_assigned_to_someone_are_found_by_the_index_of_assigned_alerts_only(operator_admin):
    """A sweep opens alerts unassigned: the index holds only assigned ones, and still serves the
    "assigned to" filter (and the user's deletion, which looks alerts up the same way)."""
    query = Alert.objects.filter(assigned_to=operator_admin).values("pk").query
    sql, params = query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [Alert._meta.db_table, "%(assigned_to_id)%"],
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert "alert_assigned" in plan, plan
    assert len(definitions) == 1 and "WHERE (assigned_to_id IS NOT NULL)" in definitions[0], definitions
