"""Outbound webhooks against a local receiver: the outbox, signatures checked by an independent
implementation (``standardwebhooks``), retries until the receiver recovers, no retry on 4xx
(except 408/429), disabling with a notice, replay, test events, tenancy, and low stock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from accounts.actors import Actor
from accounts.models import AuditEvent
from inventory import services as inventory_services
from orders import services as order_services
from shipments import webhooks
from shipments.events import emit, emit_many, envelope
from shipments.models import Event, LowStockState, WebhookAttempt, WebhookDelivery, WebhookSubscription
from tests.inventory.factories import make_item, make_node, stock
from tests.orders.factories import make_order

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def subscribe(tenant, url: str, **fields) -> WebhookSubscription:
    return webhooks.subscription_create(
        actor=Actor.for_user(tenant.admin), client=tenant.client, url=url, **fields
    )


def order_event(tenant, on_commit) -> Event:
    with on_commit():
        emit(
            client_id=tenant.client.pk, type="order.created", data={"order_id": 1, "n": Event.objects.count()}
        )
    return Event.objects.filter(client=tenant.client).latest("pk")


def time_passes(delivery: WebhookDelivery) -> None:
    """The retry falls due (and the sweep's grace has passed): the sweep then sends it."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=2)
    )


def verify(subscription: WebhookSubscription, request) -> dict:
    return Webhook(subscription.secret).verify(request.body, request.headers)


def test_an_event_is_written_in_the_business_transaction_and_rolled_back_with_it(tenant_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(client_id=tenant_a.client.pk, type="order.created", data={})
        raise RuntimeError("the business transaction fails")
    assert not Event.objects.filter(client=tenant_a.client).exists()


def test_delivered_once_the_receiver_recovers_with_signatures_that_verify(tenant_a, receiver, on_commit):
    receiver.fail_first = 2
    subscription = subscribe(tenant_a, receiver.url)
    event = order_event(tenant_a, on_commit)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == "pending" and delivery.attempt_count == 1
    assert delivery.next_attempt_at > timezone.now()  # the countdown task ran early and left it alone

    with on_commit():
        assert webhooks.deliver_due() == 0  # not due yet
        time_passes(delivery)
        assert webhooks.deliver_due() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempt_count) == ("pending", 2)
        # The second delay is longer than the first (5 s, then 5 min).
        assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=300)
        time_passes(delivery)
        webhooks.deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_response_status) == ("succeeded", 3, 200)
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes on every attempt
    for request in receiver.requests:
        assert verify(subscription, request) == envelope(event)
        assert request.headers["webhook-id"] == f"evt_{event.pk}"
        assert request.headers["content-type"] == "application/json"
        assert "Fulfillment" in request.headers["user-agent"]
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("pk"))
    assert [a.response_status for a in attempts] == [500, 500, 200]
    assert attempts[0].response_body == "answer 1: 500" and attempts[2].error == ""
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0 and subscription.active

    # Run again (a redelivered task, the sweep): a succeeded delivery is never sent twice.
    with on_commit():
        assert webhooks.deliver(delivery_id=delivery.pk, client_id=tenant_a.client.pk) == "succeeded"
        webhooks.fan_out(event_id=event.pk, client_id=tenant_a.client.pk)
    assert len(receiver.requests) == 3
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_a_tampered_body_or_another_secret_does_not_verify(tenant_a, receiver, on_commit):
    subscription = subscribe(tenant_a, receiver.url)
    order_event(tenant_a, on_commit)
    request = receiver.requests[0]
    with pytest.raises(Exception, match="signature"):
        Webhook(subscription.secret).verify(request.body.replace(b"order", b"ordor"), request.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.new_webhook_secret()).verify(request.body, request.headers)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_4xx_fails_for_good(tenant_a, receiver, on_commit, status):
    receiver.fail_first, receiver.fail_status = 1, status
    subscribe(tenant_a, receiver.url)
    event = order_event(tenant_a, on_commit)
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.next_attempt_at, delivery.last_response_status) == (
        "failed",
        None,
        status,
    )
    with on_commit():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(hours=1)
        )
        webhooks.deliver_due()
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_408_429_and_5xx_are_retried(tenant_a, receiver, on_commit, status):
    receiver.fail_first, receiver.fail_status = 1, status
    subscribe(tenant_a, receiver.url)
    event = order_event(tenant_a, on_commit)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    with on_commit():
        time_passes(delivery)
        webhooks.deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and len(receiver.requests) == 2


def test_a_connection_error_is_retried_and_logged(tenant_a, receiver, on_commit):
    url = receiver.url
    receiver.stop()  # nothing listens there any more
    subscribe(tenant_a, url)
    delivery = WebhookDelivery.objects.get(event=order_event(tenant_a, on_commit))
    attempt = delivery.attempts.get()
    assert delivery.status == "pending" and attempt.response_status is None
    assert "ConnectError" in attempt.error
    receiver.start()  # a new port: the old URL still refuses
    receiver.stop()


def test_the_retry_schedule_stops_after_24_hours():
    delivery = WebhookDelivery(created_at=timezone.now(), attempt_count=1)
    now, when = delivery.created_at, []
    while True:
        at = webhooks.next_attempt_at(delivery, now)
        if at is None:
            break
        when.append(at - delivery.created_at)
        now, delivery.attempt_count = at, delivery.attempt_count + 1
    assert [int(w.total_seconds()) for w in when] == [5, 305, 2105, 9305, 27305, 63305]
    assert when[-1] <= timedelta(hours=24)


def test_after_repeated_failures_the_subscription_is_disabled_with_one_email(
    tenant_a, receiver, on_commit, settings
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    receiver.fail_first = 100
    subscription = subscribe(tenant_a, receiver.url)
    for _ in range(3):
        order_event(tenant_a, on_commit)
    subscription.refresh_from_db()
    assert not subscription.active and subscription.disabled_at is not None
    assert "3 consecutive failed attempts" in subscription.disabled_reason
    assert set(
        WebhookDelivery.objects.filter(subscription=subscription).values_list("status", flat=True)
    ) == {"failed"}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [tenant_a.admin.email]  # the client admin, not the client user
    assert subscription.url in mail.outbox[0].body and "disabled" in mail.outbox[0].subject.lower()
    assert AuditEvent.objects.filter(client=tenant_a.client, action="webhook.disabled").count() == 1
    # Disabled: new events are not sent to it.
    order_event(tenant_a, on_commit)
    assert len(receiver.requests) == 3 and len(mail.outbox) == 1


def test_a_delivery_that_fails_for_24_hours_gives_up_and_disables(tenant_a, receiver, on_commit):
    receiver.fail_first = 100
    subscription = subscribe(tenant_a, receiver.url)
    delivery = WebhookDelivery.objects.get(event=order_event(tenant_a, on_commit))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(hours=18), attempt_count=6
    )
    with on_commit():
        time_passes(delivery)
        webhooks.deliver_due()
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempt_count == 7
    assert not subscription.active and "24 hours" in subscription.disabled_reason
    assert len(mail.outbox) == 1


def test_enable_resets_the_count_and_a_success_resets_failures(tenant_a, receiver, on_commit):
    receiver.fail_first = 1
    subscription = subscribe(tenant_a, receiver.url)
    order_event(tenant_a, on_commit)
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 1
    order_event(tenant_a, on_commit)
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0
    actor = Actor.for_user(tenant_a.admin)
    webhooks.subscription_set_active(actor=actor, subscription=subscription, active=False)
    subscription = webhooks.subscription_set_active(actor=actor, subscription=subscription, active=True)
    assert subscription.active and subscription.disabled_reason == "" and subscription.disabled_at is None


def test_a_brand_never_receives_another_brands_event(tenant_a, tenant_b, receiver, other_receiver, on_commit):
    subscribe(tenant_a, receiver.url)
    subscribe(tenant_b, other_receiver.url)
    a_event = order_event(tenant_a, on_commit)
    b_event = order_event(tenant_b, on_commit)
    assert [json.loads(b)["id"] for b in receiver.bodies] == [a_event.webhook_id]
    assert [json.loads(b)["id"] for b in other_receiver.bodies] == [b_event.webhook_id]
    assert {json.loads(b)["client"] for b in receiver.bodies} == {tenant_a.client.pk}


def test_only_the_subscribed_event_types_are_sent(tenant_a, receiver, other_receiver, on_commit):
    subscribe(tenant_a, receiver.url, event_types=["asn.arrived"])
    subscribe(tenant_a, other_receiver.url)
    order_event(tenant_a, on_commit)
    assert receiver.requests == [] and len(other_receiver.requests) == 1


def test_a_test_event_goes_to_that_subscription_only(tenant_a, receiver, other_receiver, on_commit):
    first = subscribe(tenant_a, receiver.url)
    subscribe(tenant_a, other_receiver.url)
    with on_commit():
        delivery = webhooks.send_test(actor=Actor.for_user(tenant_a.admin), subscription=first)
    assert other_receiver.requests == []
    body = verify(first, receiver.requests[0])
    assert body["type"] == "webhook.test" and body["data"]["subscription_id"] == first.pk
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_replay_of_one_event_and_of_a_range_resends_with_the_same_id(tenant_a, receiver, on_commit):
    subscription = subscribe(tenant_a, receiver.url)
    events = [order_event(tenant_a, on_commit) for _ in range(3)]
    actor = Actor.for_user(tenant_a.admin)
    with on_commit():
        webhooks.replay(actor=actor, subscription=subscription, event_id=events[1].pk)
    assert receiver.requests[-1].headers["webhook-id"] == events[1].webhook_id
    assert verify(subscription, receiver.requests[-1]) == envelope(events[1])
    with on_commit():
        rows = webhooks.replay(
            actor=actor, subscription=subscription, since=events[0].created_at, until=timezone.now()
        )
    assert len(rows) == 3 and all(r.replay for r in rows)
    assert [r.headers["webhook-id"] for r in receiver.requests[-3:]] == [e.webhook_id for e in events]
    assert WebhookDelivery.objects.filter(subscription=subscription, replay=True).count() == 4


def test_fan_out_is_idempotent_and_skips_inactive_subscriptions(
    tenant_a, receiver, other_receiver, on_commit
):
    subscribe(tenant_a, receiver.url)
    off = subscribe(tenant_a, other_receiver.url)
    webhooks.subscription_set_active(actor=Actor.for_user(tenant_a.admin), subscription=off, active=False)
    event = order_event(tenant_a, on_commit)
    with on_commit():
        assert webhooks.fan_out(event_id=event.pk, client_id=tenant_a.client.pk) == 0
    assert WebhookDelivery.objects.filter(event=event).count() == 1
    assert len(receiver.requests) == 1 and other_receiver.requests == []


def test_urls_must_be_public_https_outside_development(tenant_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    for url, problem in [
        ("ftp://example.com/x", "http(s)"),
        ("http://example.com/hooks", "https"),
        ("https://127.0.0.1/hooks", "public"),
        ("https://10.1.2.3/hooks", "public"),
        ("https://169.254.169.254/latest", "public"),
        ("https://[::1]/hooks", "public"),
        ("https://localhost/hooks", "public"),
    ]:
        assert problem in (webhooks.url_problem(url) or ""), url
    assert webhooks.url_problem("https://93.184.215.14/hooks") is None
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    assert webhooks.url_problem("http://127.0.0.1:8080/hooks") is None


def test_orders_and_asns_emit_their_events(tenant_a, on_commit):
    node = make_node(tenant_a.warehouse)
    item = make_item(tenant_a.client, "EVT-1")
    with on_commit():
        stock(tenant_a.client, node, item, 5)
        allocated = make_order(tenant_a.client, [(item, 2)])
        short = make_order(tenant_a.client, [(item, 10)])
    with on_commit():
        order_services.order_cancel(actor=SYSTEM, order=allocated, reason="changed mind")
    types = list(Event.objects.filter(client=tenant_a.client).order_by("pk").values_list("type", flat=True))
    assert types[:2] == ["asn.arrived", "asn.received"]
    assert types.count("order.created") == 2
    assert {"order.allocated", "order.backordered", "order.cancelled"} <= set(types)
    backordered = Event.objects.get(client=tenant_a.client, type="order.backordered")
    assert backordered.payload["order_id"] == short.pk and backordered.payload["status"] == "backordered"


def test_low_stock_is_emitted_once_per_crossing(tenant_a, on_commit):
    node = make_node(tenant_a.warehouse)
    item = make_item(tenant_a.client, "LOW-1", reorder_point=5)
    other = make_item(tenant_a.client, "NOPOINT-1")

    def low_events():
        return list(Event.objects.filter(client=tenant_a.client, type="inventory.low_stock").order_by("pk"))

    with on_commit():
        stock(tenant_a.client, node, item, 6)
        stock(tenant_a.client, node, other, 1)
    assert low_events() == []
    with on_commit():
        make_order(tenant_a.client, [(item, 2)])  # available 4 < 5
    (event,) = low_events()
    assert event.payload == {
        "item_id": item.pk,
        "sku": "LOW-1",
        "warehouse": tenant_a.warehouse.code,
        "available": 4,
        "reorder_point": 5,
    }
    with on_commit():
        make_order(tenant_a.client, [(item, 1)])  # still low: no new event
    assert len(low_events()) == 1
    with on_commit():
        inventory_services.stock_adjust(
            actor=SYSTEM,
            client=tenant_a.client,
            item=item,
            location=node.bins[1],
            quantity=10,
            code="found",
            note="found",
        )
    state = LowStockState.objects.get(item=item)
    assert state.low_since is None  # recovered
    with on_commit():
        inventory_services.stock_adjust(
            actor=SYSTEM,
            client=tenant_a.client,
            item=item,
            location=node.bins[1],
            quantity=-9,
            code="damaged",
            note="broken",
        )  # available 13 - 9 = 4: low again
    assert len(low_events()) == 2
    assert webhooks.low_stock_sweep() == 0  # the backstop agrees: nothing new


def test_emit_many_writes_every_event_with_one_insert_and_fans_out_only_subscribed_clients(
    tenant_a, tenant_b, receiver, on_commit, django_assert_num_queries
):
    subscription = subscribe(tenant_a, receiver.url)
    events = [(tenant_a.client.pk, "order.created", {"order_id": n}) for n in (1, 2)]
    events.append((tenant_b.client.pk, "order.created", {"order_id": 3}))  # tenant B subscribes nothing
    with on_commit():
        with transaction.atomic(), django_assert_num_queries(2):  # the INSERT and the subscription check
            written = emit_many(events)
        assert [e.payload["order_id"] for e in written] == [1, 2, 3]
    assert sorted(
        Event.objects.filter(pk__in=[e.pk for e in written]).values_list("client_id", flat=True)
    ) == [
        tenant_a.client.pk,
        tenant_a.client.pk,
        tenant_b.client.pk,
    ]
    # Only tenant A's two events went to its subscription; tenant B's stay in its feed.
    assert sorted(verify(subscription, r)["data"]["order_id"] for r in receiver.requests) == [1, 2]
    assert not WebhookDelivery.objects.filter(event__client=tenant_b.client).exists()
    assert emit_many([]) == []
