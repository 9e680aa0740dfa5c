"""Two sweeps of the same rule at the same moment, each in its own transaction on PostgreSQL:
the unique constraint keeps one alert, the announcement claim one notification."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection, connections

from accounts.enums import Role
from reporting import alerts as engine
from reporting.enums import AlertRule
from reporting.models import Alert
from shipments.models import Event
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 New York: ship-by that night


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_open_one_alert_and_notify_once(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and the unique index race need PostgreSQL")
    world = make_world(regions=("nj",))
    world.client.account_managers.add(UserFactory(role=Role.ACCOUNT_MANAGER, client=None))
    item = make_item(world.client)
    stock(world.client, world.nj, item, 5)
    order = make_order(world.client, [(item, 1)], received_at=T0)
    now = order.ship_by + timedelta(hours=1)

    # Both sweeps have read their candidates before either writes: they race for the insert.
    barrier = threading.Barrier(2, timeout=20)
    spec = engine.RULES[AlertRule.ORDER_LATE]

    def candidates(at, rules):
        hits = spec.candidates(at, rules)
        barrier.wait()
        return hits

    monkeypatch.setitem(engine.RULES, AlertRule.ORDER_LATE, engine.RuleSpec(candidates))
    results, errors = [], []

    def run():
        try:
            results.append(engine.sweep_rule(AlertRule.ORDER_LATE, now=now))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert [r.matching for r in results] == [1, 1]
    (alert,) = Alert.objects.filter(rule=AlertRule.ORDER_LATE)
    assert sorted(len(r.opened) for r in results) == [0, 1]
    assert Event.objects.filter(type="alert.opened").count() == 1
    assert len(mail.outbox) == 1 and alert.title in mail.outbox[0].subject
