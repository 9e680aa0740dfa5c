"""Alerts for the API, page and tenancy tests, opened by the sweeps themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reporting.alerts import sweep_rule
from reporting.enums import AlertRule
from reporting.models import Alert
from tests.inventory.factories import make_item, make_node, stock
from tests.orders.factories import make_order

RECEIVED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 New York


def open_alerts(client, warehouse, *, orders: int = 1, node=None) -> list[Alert]:
    """``orders`` late orders of ``client`` (critical, shown to the brand), each of them at
    risk before (warning, staff only, resolved since): two alerts per order: every kind of row an inbox shows."""
    node = node or make_node(warehouse)
    item = make_item(client)
    stock(client, node, item, orders + 1)
    made = [make_order(client, [(item, 1)], received_at=RECEIVED) for _ in range(orders)]
    ship_by = made[0].ship_by
    sweep_rule(AlertRule.ORDER_AT_RISK, now=ship_by - timedelta(hours=1))
    sweep_rule(AlertRule.ORDER_AT_RISK, now=ship_by + timedelta(hours=1))
    sweep_rule(AlertRule.ORDER_LATE, now=ship_by + timedelta(hours=1))
    return list(Alert.objects.filter(client=client).order_by("-client_visible", "pk"))
