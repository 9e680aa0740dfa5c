"""The alert sweeps: each rule opens one alert per occurrence and resolves it by itself when its
condition clears; per-client rules (disabled, another threshold, severity, visibility); the
announcement (webhook event for brand-visible alerts, immediate mail for critical ones) happens
once; the daily digest; the people's actions (acknowledge, assign, comment, resolve)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import Actor
from accounts.enums import Role
from inventory import services as inventory_services
from orders.enums import OrderStatus
from orders.services import order_cancel
from reporting import alert_services
from reporting.alerts import CONDITION_CLEARED, effective_rules, sweep_rule
from reporting.enums import AlertRule, Severity
from reporting.models import Alert, AlertComment
from reporting.notifications import send_digest
from shipments.enums import ShipmentStatus
from shipments.models import Event, Shipment
from shipments.services.shipping import buy_label, ship_out
from shipments.services.tracking import record_tracking_event
from tests.accounts.factories import UserFactory
from tests.inventory.factories import SYSTEM, make_asn, make_item, stock
from tests.orders.factories import make_order, make_world
from tests.shipments.shipping_support import make_carriers, packed_shipment

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York, before the 14:00 cutoff
SHIP_BY = datetime(2026, 3, 3, 4, 59, 59, 999999, tzinfo=UTC)  # Monday 23:59:59.999999 New York


@pytest.fixture
def world(db):
    w = make_world(regions=("nj",))
    manager = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="am@example.test")
    w.client.account_managers.add(manager)
    w.manager = manager
    w.item = make_item(w.client)
    stock(w.client, w.nj, w.item, 10)
    return w


def alerts(rule: str):
    return list(Alert.objects.filter(rule=rule).order_by("pk"))


def events(event_type: str) -> int:
    return Event.objects.filter(type=event_type).count()


def test_a_late_order_opens_one_alert_and_resolves_when_it_ships(world, django_capture_on_commit_callbacks):
    order = make_order(world.client, [(world.item, 1)], received_at=T0)
    assert order.ship_by == SHIP_BY
    assert sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY - timedelta(minutes=1)).matching == 0

    later = SHIP_BY + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = sweep_rule(AlertRule.ORDER_LATE, now=later)
    (alert,) = alerts(AlertRule.ORDER_LATE)
    assert first.opened == [alert.pk]
    assert (alert.object_type, alert.object_id, alert.occurrence) == (
        "order",
        str(order.pk),
        SHIP_BY.isoformat(),
    )
    assert alert.severity == Severity.CRITICAL and alert.client_visible and alert.notified_at == later
    assert order.number in alert.title
    # Announced once: one webhook event, one e-mail to the client's account manager.
    assert events("alert.opened") == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["am@example.test"]

    with django_capture_on_commit_callbacks(execute=True):
        again = sweep_rule(AlertRule.ORDER_LATE, now=later + timedelta(minutes=1))
    assert again.matching == 1 and again.opened == [] and again.resolved == []
    assert len(alerts(AlertRule.ORDER_LATE)) == 1 and events("alert.opened") == 1 and len(mail.outbox) == 1

    make_carriers()
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    ship_out(actor=SYSTEM, shipment=shipment)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    result = sweep_rule(AlertRule.ORDER_LATE, now=later + timedelta(minutes=2))
    alert.refresh_from_db()
    assert result.resolved == [alert.pk]
    assert alert.resolved_at == later + timedelta(minutes=2) and alert.resolved_by == CONDITION_CLEARED
    assert events("alert.resolved") == 1
    assert sweep_rule(AlertRule.ORDER_LATE, now=later + timedelta(minutes=3)).resolved == []
    assert events("alert.resolved") == 1


def test_an_order_at_risk_follows_the_clients_window_and_resolves_when_cancelled(world):
    order = make_order(world.client, [(world.item, 1)], received_at=T0)
    three_hours_before = SHIP_BY - timedelta(hours=3)
    assert sweep_rule(AlertRule.ORDER_AT_RISK, now=three_hours_before).matching == 0  # default: 2 hours
    sweep_rule(AlertRule.ORDER_AT_RISK, now=SHIP_BY - timedelta(hours=1))
    (alert,) = alerts(AlertRule.ORDER_AT_RISK)
    assert alert.severity == Severity.WARNING and not alert.client_visible
    assert events("alert.opened") == 0  # not shown to the brand: no webhook
    order_cancel(actor=SYSTEM, order=order)
    sweep_rule(AlertRule.ORDER_AT_RISK, now=SHIP_BY - timedelta(minutes=50))
    alert.refresh_from_db()
    assert alert.resolved_by == CONDITION_CLEARED

    other = make_order(world.client, [(world.item, 1)], received_at=T0)
    alert_services.rule_setting_update(
        actor=Actor.for_user(world.manager), client=world.client, rule=AlertRule.ORDER_AT_RISK, threshold=4
    )
    sweep_rule(AlertRule.ORDER_AT_RISK, now=three_hours_before)
    assert [a.object_id for a in alerts(AlertRule.ORDER_AT_RISK)] == [str(order.pk), str(other.pk)]


def test_at_risk_turns_into_late_when_the_deadline_passes(world):
    make_order(world.client, [(world.item, 1)], received_at=T0)
    sweep_rule(AlertRule.ORDER_AT_RISK, now=SHIP_BY - timedelta(hours=1))
    after = SHIP_BY + timedelta(minutes=5)
    sweep_rule(AlertRule.ORDER_AT_RISK, now=after)
    sweep_rule(AlertRule.ORDER_LATE, now=after)
    (at_risk,) = alerts(AlertRule.ORDER_AT_RISK)
    assert at_risk.resolved_at == after
    (late,) = alerts(AlertRule.ORDER_LATE)
    assert late.resolved_at is None


def test_a_disabled_rule_opens_nothing_and_other_clients_keep_theirs(world):
    other = make_world(regions=("nj",))
    other_item = make_item(other.client)
    stock(other.client, other.nj, other_item, 3)
    make_order(world.client, [(world.item, 1)], received_at=T0)
    make_order(other.client, [(other_item, 1)], received_at=T0)
    alert_services.rule_setting_update(
        actor=Actor.for_user(world.manager), client=world.client, rule=AlertRule.ORDER_LATE, enabled=False
    )
    sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY + timedelta(hours=1))
    assert [a.client_id for a in alerts(AlertRule.ORDER_LATE)] == [other.client.pk]


def test_severity_and_visibility_come_from_the_clients_rule(world):
    alert_services.rule_setting_update(
        actor=SYSTEM, client=world.client, rule=AlertRule.ORDER_LATE, severity="warning", client_visible=False
    )
    make_order(world.client, [(world.item, 1)], received_at=T0)
    sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY + timedelta(hours=1))
    (alert,) = alerts(AlertRule.ORDER_LATE)
    assert (alert.severity, alert.client_visible) == ("warning", False)
    assert events("alert.opened") == 0 and mail.outbox == []


def test_effective_rules_show_defaults_and_overrides_in_one_query(world):
    alert_services.rule_setting_update(
        actor=SYSTEM, client=world.client, rule=AlertRule.ASN_OVERDUE, threshold=3
    )
    with CaptureQueriesContext(connection) as queries:
        table = effective_rules([world.client.pk])[world.client.pk]
    assert len(queries) == 1
    assert table[AlertRule.ASN_OVERDUE].threshold == Decimal(3) and table[AlertRule.ASN_OVERDUE].overridden
    assert (
        table[AlertRule.ORDER_AT_RISK].threshold == Decimal(2)
        and not table[AlertRule.ORDER_AT_RISK].overridden
    )
    # The default threshold again: stored as "no override of the threshold".
    rule = alert_services.rule_setting_update(
        actor=SYSTEM, client=world.client, rule=AlertRule.ASN_OVERDUE, threshold="1"
    )
    assert rule.threshold == Decimal(1)


@pytest.mark.parametrize(
    ("rule", "fields", "field"),
    [
        (AlertRule.ORDER_LATE, {"threshold": 3}, "threshold"),  # a rule without a threshold
        (AlertRule.ASN_OVERDUE, {"threshold": "1.5"}, "threshold"),  # whole days
        (AlertRule.ORDER_AT_RISK, {"threshold": "-1"}, "threshold"),
        (AlertRule.ORDER_AT_RISK, {"threshold": "x"}, "threshold"),
        (AlertRule.ORDER_AT_RISK, {"severity": "panic"}, "severity"),
        (AlertRule.ORDER_AT_RISK, {"enabled": "yes"}, "enabled"),
        ("no_such_rule", {"enabled": False}, "rule"),
    ],
)
def test_bad_rule_settings_name_the_field_and_write_nothing(world, rule, fields, field):
    with pytest.raises(ValidationError) as exc:
        alert_services.rule_setting_update(actor=SYSTEM, client=world.client, rule=rule, **fields)
    assert field in exc.value.message_dict
    assert not world.client.alert_rules.exists()


def test_rules_are_edited_only_by_who_sees_the_client(world):
    stranger = UserFactory(role=Role.ACCOUNT_MANAGER, client=None)
    with pytest.raises(PermissionDenied):
        alert_services.rule_setting_update(
            actor=Actor.for_user(stranger), client=world.client, rule=AlertRule.ORDER_LATE, enabled=False
        )
    operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    operator.warehouses.add(world.nj.warehouse)
    with pytest.raises(PermissionDenied):
        alert_services.rule_setting_update(
            actor=Actor.for_user(operator), client=world.client, rule=AlertRule.ORDER_LATE, enabled=False
        )


def test_an_overdue_asn_opens_once_and_resolves_when_it_arrives(world):
    asn = make_asn(world.client, world.nj.warehouse, [(world.item, 5)], eta=date(2026, 3, 2))
    # Due Monday: still fine all of Tuesday (node time), overdue from Wednesday 00:00 New York.
    tuesday_late = datetime(2026, 3, 4, 4, 59, tzinfo=UTC)  # Tuesday 23:59 New York
    assert sweep_rule(AlertRule.ASN_OVERDUE, now=tuesday_late).matching == 0
    wednesday = datetime(2026, 3, 4, 5, 1, tzinfo=UTC)
    sweep_rule(AlertRule.ASN_OVERDUE, now=wednesday)
    sweep_rule(AlertRule.ASN_OVERDUE, now=wednesday + timedelta(minutes=5))
    (alert,) = alerts(AlertRule.ASN_OVERDUE)
    assert (alert.object_type, alert.object_id, alert.occurrence) == ("asn", str(asn.pk), "2026-03-02")
    inventory_services.asn_arrive(actor=SYSTEM, asn=asn)
    sweep_rule(AlertRule.ASN_OVERDUE, now=wednesday + timedelta(minutes=10))
    alert.refresh_from_db()
    assert alert.resolved_by == CONDITION_CLEARED


def test_asn_threshold_per_client(world):
    make_asn(world.client, world.nj.warehouse, [(world.item, 5)], eta=date(2026, 3, 2))
    alert_services.rule_setting_update(
        actor=SYSTEM, client=world.client, rule=AlertRule.ASN_OVERDUE, threshold=3
    )
    assert sweep_rule(AlertRule.ASN_OVERDUE, now=datetime(2026, 3, 5, 12, tzinfo=UTC)).matching == 0
    assert sweep_rule(AlertRule.ASN_OVERDUE, now=datetime(2026, 3, 6, 6, tzinfo=UTC)).matching == 1


def test_dock_to_stock_late_opens_and_resolves_when_stocked(world):
    asn = make_asn(world.client, world.nj.warehouse, [(world.item, 4)])
    asn = inventory_services.asn_arrive(actor=SYSTEM, asn=asn, arrived_at=T0)
    deadline = asn.dock_to_stock_deadline
    assert sweep_rule(AlertRule.DOCK_TO_STOCK_LATE, now=deadline - timedelta(minutes=1)).matching == 0
    sweep_rule(AlertRule.DOCK_TO_STOCK_LATE, now=deadline + timedelta(minutes=1))
    (alert,) = alerts(AlertRule.DOCK_TO_STOCK_LATE)
    assert alert.occurrence == deadline.isoformat()
    line = asn.lines.get()
    inventory_services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=4)
    inventory_services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=world.nj.bins[1], quantity=4)
    inventory_services.asn_complete_receiving(actor=SYSTEM, asn=asn)
    asn.refresh_from_db()
    assert asn.stocked_at
    sweep_rule(AlertRule.DOCK_TO_STOCK_LATE, now=deadline + timedelta(minutes=2))
    alert.refresh_from_db()
    assert alert.resolved_by == CONDITION_CLEARED


def test_low_stock_opens_once_across_days_and_resolves_when_stock_recovers(world):
    item = make_item(world.client, reorder_point=5)
    stock(world.client, world.nj, item, 3)
    sweep_rule(AlertRule.LOW_STOCK, now=T0)
    sweep_rule(AlertRule.LOW_STOCK, now=T0 + timedelta(days=1))  # another local day, same episode
    (alert,) = alerts(AlertRule.LOW_STOCK)
    assert alert.object_id == f"{item.pk}:{world.nj.warehouse.pk}" and alert.occurrence == "2026-03-02"
    assert alert.detail["available"] == 3 and alert.detail["reorder_point"] == 5
    stock(world.client, world.nj, item, 4)
    sweep_rule(AlertRule.LOW_STOCK, now=T0 + timedelta(days=2))
    alert.refresh_from_db()
    assert alert.resolved_by == CONDITION_CLEARED
    # The plain item (no reorder point) never alerts.
    assert all(a.object_id.startswith(f"{item.pk}:") for a in alerts(AlertRule.LOW_STOCK))


def test_out_of_stock_needs_open_demand_and_resolves_when_stock_arrives(
    world, django_capture_on_commit_callbacks
):
    item = make_item(world.client)
    stock(world.client, world.nj, item, 1)
    with django_capture_on_commit_callbacks(execute=True):
        first = make_order(world.client, [(item, 1)])  # allocated: takes the last unit
    first.refresh_from_db()
    assert first.status == OrderStatus.ALLOCATED
    assert sweep_rule(AlertRule.OUT_OF_STOCK, now=T0).matching == 0  # nothing waits for it
    with django_capture_on_commit_callbacks(execute=True):
        waiting = make_order(world.client, [(item, 2)])
    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.BACKORDERED
    sweep_rule(AlertRule.OUT_OF_STOCK, now=T0)
    (alert,) = alerts(AlertRule.OUT_OF_STOCK)
    assert alert.object_id == f"{item.pk}:{world.nj.warehouse.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        stock(world.client, world.nj, item, 5)  # the backorder is allocated, 3 left
    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.ALLOCATED
    sweep_rule(AlertRule.OUT_OF_STOCK, now=T0 + timedelta(hours=1))
    alert.refresh_from_db()
    assert alert.resolved_by == CONDITION_CLEARED


@pytest.fixture
def shipped(world):
    make_carriers()
    order = make_order(world.client, [(world.item, 1)], received_at=T0)
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    shipment = ship_out(actor=SYSTEM, shipment=shipment, at=T0 + timedelta(hours=1))
    Shipment.objects.filter(pk=shipment.pk).update(last_event_at=None)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.IN_TRANSIT and shipment.estimated_delivery_date
    return shipment


def _scan(shipment, status, at):
    return record_tracking_event(
        actor=SYSTEM, shipment=shipment, status=status, occurred_at=at, source="carrier"
    )


def test_a_stalled_shipment_opens_and_resolves_on_the_next_scan(shipped):
    # Shipped Monday: no scan by the end of Wednesday (2 business days) makes it stalled Thursday.
    assert sweep_rule(AlertRule.SHIPMENT_STALLED, now=datetime(2026, 3, 5, 4, tzinfo=UTC)).matching == 0
    thursday = datetime(2026, 3, 5, 14, tzinfo=UTC)
    sweep_rule(AlertRule.SHIPMENT_STALLED, now=thursday)
    (alert,) = alerts(AlertRule.SHIPMENT_STALLED)
    assert alert.occurrence == shipped.shipped_at.isoformat()
    _scan(shipped, "in_transit", thursday - timedelta(hours=1))
    sweep_rule(AlertRule.SHIPMENT_STALLED, now=thursday + timedelta(minutes=5))
    alert.refresh_from_db()
    assert alert.resolved_by == CONDITION_CLEARED


def test_a_late_shipment_and_a_carrier_exception(shipped):
    after_estimate = datetime.combine(
        shipped.estimated_delivery_date + timedelta(days=1), datetime.min.time(), UTC
    )
    after_estimate += timedelta(hours=12)
    _scan(shipped, "exception", after_estimate - timedelta(hours=2))
    sweep_rule(AlertRule.SHIPMENT_LATE, now=after_estimate)
    sweep_rule(AlertRule.CARRIER_EXCEPTION, now=after_estimate)
    (late,) = alerts(AlertRule.SHIPMENT_LATE)
    (exception,) = alerts(AlertRule.CARRIER_EXCEPTION)
    assert late.occurrence == shipped.estimated_delivery_date.isoformat()
    assert exception.occurrence == (after_estimate - timedelta(hours=2)).isoformat()
    _scan(shipped, "delivered", after_estimate - timedelta(hours=1))
    sweep_rule(AlertRule.SHIPMENT_LATE, now=after_estimate + timedelta(minutes=1))
    sweep_rule(AlertRule.CARRIER_EXCEPTION, now=after_estimate + timedelta(minutes=1))
    late.refresh_from_db()
    exception.refresh_from_db()
    assert late.resolved_by == CONDITION_CLEARED and exception.resolved_by == CONDITION_CLEARED


def test_kpi_under_target_fires_on_a_low_rate_and_never_on_na(world):
    now = datetime(2026, 3, 10, 11, tzinfo=UTC)  # Tuesday morning: the trailing 7 days are Mar 3-9
    assert sweep_rule(AlertRule.KPI_UNDER_TARGET, now=now).matching == 0  # nothing due: n/a
    make_order(world.client, [(world.item, 1)], received_at=datetime(2026, 3, 4, 15, tzinfo=UTC))
    sweep_rule(AlertRule.KPI_UNDER_TARGET, now=now)
    sweep_rule(AlertRule.KPI_UNDER_TARGET, now=now + timedelta(days=1))  # still under: same alert
    (alert,) = alerts(AlertRule.KPI_UNDER_TARGET)
    assert alert.object_type == "client" and alert.occurrence == "2026-03-10"
    assert alert.detail["value"] == "0.00" and alert.severity == Severity.CRITICAL


def test_a_resolved_occurrence_does_not_open_again(world):
    make_order(world.client, [(world.item, 1)], received_at=T0)
    later = SHIP_BY + timedelta(hours=1)
    sweep_rule(AlertRule.ORDER_LATE, now=later)
    (alert,) = alerts(AlertRule.ORDER_LATE)
    alert_services.alert_resolve(
        actor=Actor.for_user(world.manager), alert=alert, note="Carrier picked up late"
    )
    sweep_rule(AlertRule.ORDER_LATE, now=later + timedelta(minutes=1))
    assert len(alerts(AlertRule.ORDER_LATE)) == 1
    alert.refresh_from_db()
    assert alert.resolved_by == "am@example.test"
    assert AlertComment.objects.get(alert=alert).body == "Carrier picked up late"
    assert events("alert.resolved") == 1


def test_people_acknowledge_assign_comment_and_resolve(world):
    make_order(world.client, [(world.item, 1)], received_at=T0)
    sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY + timedelta(hours=1))
    (alert,) = alerts(AlertRule.ORDER_LATE)
    manager = Actor.for_user(world.manager)
    alert = alert_services.alert_acknowledge(actor=manager, alert=alert)
    assert alert.acknowledged_by == "am@example.test"
    alert = alert_services.alert_assign(actor=manager, alert=alert, user=world.manager)
    assert alert.assigned_to == world.manager
    stranger = UserFactory(role=Role.ACCOUNT_MANAGER, client=None)
    with pytest.raises(ValidationError) as exc:
        alert_services.alert_assign(actor=manager, alert=alert, user=stranger)
    assert "user" in exc.value.message_dict
    brand_user = UserFactory(role=Role.CLIENT_USER, client=world.client)
    with pytest.raises(ValidationError):
        alert_services.alert_assign(actor=manager, alert=alert, user=brand_user)
    with pytest.raises(PermissionDenied):
        alert_services.alert_acknowledge(actor=Actor.for_user(brand_user), alert=alert)
    comment = alert_services.alert_comment(
        actor=Actor.for_user(brand_user), alert=alert, body="  Any news?  "
    )
    assert comment.body == "Any news?" and comment.client_id == world.client.pk
    with pytest.raises(ValidationError):
        alert_services.alert_comment(actor=manager, alert=alert, body="   ")
    alert = alert_services.alert_resolve(actor=manager, alert=alert)
    with pytest.raises(ValidationError):
        alert_services.alert_resolve(actor=manager, alert=alert)


def test_the_digest_mails_each_manager_the_new_alerts_once(world):
    other_manager = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="other@example.test")
    other = make_world(regions=("nj",))
    other.client.account_managers.add(other_manager)
    make_order(world.client, [(world.item, 1)], received_at=T0)
    sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY + timedelta(hours=1))
    make_asn(world.client, world.nj.warehouse, [(world.item, 5)], eta=date(2026, 3, 2))
    sweep_rule(AlertRule.ASN_OVERDUE, now=datetime(2026, 3, 5, 12, tzinfo=UTC))
    mail.outbox.clear()
    assert send_digest() == 1
    (message,) = mail.outbox
    assert message.to == ["am@example.test"] and "2 alerts opened" in message.body
    assert all(a.digested_at for a in Alert.objects.all())
    assert send_digest() == 0 and len(mail.outbox) == 1


def test_a_storm_day_digest_lists_the_first_alerts_of_each_client_and_counts_the_rest(world):
    from reporting.notifications import DIGEST_EACH_UP_TO

    orders = [
        make_order(world.client, [(world.item, 1)], received_at=T0) for _ in range(DIGEST_EACH_UP_TO + 3)
    ]
    sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY + timedelta(hours=1))
    order_cancel(actor=SYSTEM, order=orders[0])
    sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY + timedelta(hours=2))  # the first one clears
    mail.outbox.clear()
    assert send_digest() == 1
    (message,) = mail.outbox
    total = len(orders)
    assert message.subject == f"Alert digest: {total} new alerts"
    assert f"{total} alerts opened since your last digest ({total - 1} still open)" in message.body
    assert f"{world.client.name}: {total} ({total - 1} still open)" in message.body
    assert sum(o.number in message.body for o in orders) == DIGEST_EACH_UP_TO
    assert orders[0].number in message.body and "(resolved)" in message.body
    assert f"... and 3 more: {settings.SITE_URL}/console/alerts/?client={world.client.pk}\n" in message.body
    assert Alert.objects.filter(digested_at__isnull=True).count() == 0


def test_a_storm_of_critical_alerts_is_one_summary_message_per_client(
    world, django_capture_on_commit_callbacks
):
    from reporting.notifications import MAIL_EACH_UP_TO

    orders = [make_order(world.client, [(world.item, 1)], received_at=T0) for _ in range(MAIL_EACH_UP_TO + 2)]
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_rule(AlertRule.ORDER_LATE, now=SHIP_BY + timedelta(hours=1))
    assert len(result.opened) == len(orders)
    # Not twelve messages: one, with the first ten alerts, the count and the client's inbox.
    (message,) = mail.outbox
    assert message.to == ["am@example.test"]
    assert message.subject == f"[Critical] {world.client.name}: {len(orders)} new alerts"
    assert f"{len(orders)} critical alerts opened at once" in message.body
    assert "... and 2 more" in message.body
    assert f"/console/alerts/?client={world.client.pk}&severity=critical&status=open" in message.body
    assert sum(o.number in message.body for o in orders) == MAIL_EACH_UP_TO
