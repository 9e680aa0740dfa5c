"""The fan-out reads which clients have an active webhook subscription from the cache, and every
change to a subscription (creation, disabling by hand or after failures, enabling, deletion) takes
effect on the next batch of events."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import Actor
from shipments import subscription_cache, webhooks
from shipments.events import emit_many, fan_out_after_commit
from shipments.models import WebhookSubscription

pytestmark = pytest.mark.django_db


def expire(*clients) -> None:
    """``TTL_SECONDS`` pass: the entries (and the stale marks of the setup's changes) are gone.
    Each test has a key prefix of its own (tests/conftest.py), so nothing else is under it."""
    cache.delete_many([f"webhook-subscribed:{c.pk}" for c in clients])


@pytest.fixture
def fans_out(django_capture_on_commit_callbacks):
    """Whether the fan-out of an event of this client, just written, delivers it after commit."""

    def check(client) -> bool:
        with django_capture_on_commit_callbacks() as callbacks:
            fan_out_after_commit([(1, client.pk)])
        return len(callbacks) == 1  # its task is enqueued after commit (no change happens here)

    return check


def subscribe(tenant, url: str) -> WebhookSubscription:
    return webhooks.subscription_create(actor=Actor.for_user(tenant.admin), client=tenant.client, url=url)


def test_a_cached_answer_issues_no_query(tenant_a, tenant_b, receiver):
    subscribe(tenant_a, receiver.url)
    expire(tenant_a.client, tenant_b.client)
    clients = {tenant_a.client.pk, tenant_b.client.pk}
    with CaptureQueriesContext(connection) as first:
        assert subscription_cache.subscribed_clients(clients) == {tenant_a.client.pk}
    assert len(first) == 1  # both clients in one query
    with CaptureQueriesContext(connection) as second:
        assert subscription_cache.subscribed_clients(clients) == {tenant_a.client.pk}
    assert len(second) == 0


def test_only_the_clients_not_cached_are_queried(tenant_a, tenant_b, receiver):
    subscribe(tenant_b, receiver.url)
    expire(tenant_a.client, tenant_b.client)
    assert subscription_cache.subscribed_clients({tenant_a.client.pk}) == set()
    with CaptureQueriesContext(connection) as queries:
        assert subscription_cache.subscribed_clients({tenant_a.client.pk, tenant_b.client.pk}) == {
            tenant_b.client.pk
        }
    assert len(queries) == 1
    assert f"IN ({tenant_b.client.pk})" in queries.captured_queries[0]["sql"]


def test_a_new_subscription_is_fanned_out_to_at_once(tenant_a, tenant_b, receiver, fans_out):
    expire(tenant_a.client, tenant_b.client)
    assert not fans_out(tenant_a.client) and not fans_out(tenant_b.client)  # cached: nobody subscribes
    subscribe(tenant_a, receiver.url)
    assert fans_out(tenant_a.client) and not fans_out(tenant_b.client)


def test_disabling_by_hand_or_after_failures_and_enabling_take_effect_at_once(tenant_a, receiver, fans_out):
    subscription = subscribe(tenant_a, receiver.url)
    expire(tenant_a.client)
    assert fans_out(tenant_a.client)  # cached: subscribed
    webhooks.subscription_set_active(
        actor=Actor.for_user(tenant_a.admin), subscription=subscription, active=False
    )
    assert not fans_out(tenant_a.client)
    expire(tenant_a.client)
    assert not fans_out(tenant_a.client)  # cached: not subscribed
    webhooks.subscription_set_active(
        actor=Actor.for_user(tenant_a.admin), subscription=subscription, active=True
    )
    assert fans_out(tenant_a.client)
    expire(tenant_a.client)
    assert fans_out(tenant_a.client)  # cached: subscribed
    # Switched off by the delivery worker after too many failures (a conditional UPDATE: no signal).
    assert webhooks._disable(subscription, reason="Too many failures", notify=False)
    assert not fans_out(tenant_a.client)


def test_a_second_subscription_switched_off_leaves_the_client_subscribed(tenant_a, receiver, fans_out):
    first = subscribe(tenant_a, receiver.url)
    subscribe(tenant_a, receiver.url + "other/")
    expire(tenant_a.client)
    assert fans_out(tenant_a.client)
    webhooks.subscription_set_active(actor=Actor.for_user(tenant_a.admin), subscription=first, active=False)
    assert fans_out(tenant_a.client)


def test_a_deleted_subscription_is_no_longer_fanned_out_to(tenant_a, receiver, fans_out):
    subscription = subscribe(tenant_a, receiver.url)
    expire(tenant_a.client)
    assert fans_out(tenant_a.client)
    webhooks.subscription_delete(actor=Actor.for_user(tenant_a.admin), subscription=subscription)
    assert not fans_out(tenant_a.client)


def test_an_answer_read_before_a_change_is_not_put_back(tenant_a, receiver, fans_out):
    expire(tenant_a.client)
    # A fan-out read "not subscribed" just before the subscription was created...
    subscribe(tenant_a, receiver.url)
    subscription_cache.remember({tenant_a.client.pk: False})  # ... and caches it after
    assert fans_out(tenant_a.client)
    assert cache.get(f"webhook-subscribed:{tenant_a.client.pk}") not in (True, False)


def test_the_entry_is_marked_stale_again_after_the_commit(
    tenant_a, receiver, django_capture_on_commit_callbacks
):
    expire(tenant_a.client)
    with django_capture_on_commit_callbacks(execute=True):
        subscribe(tenant_a, receiver.url)
        expire(tenant_a.client)  # the first mark lost (expired, evicted) before the commit
    subscription_cache.remember({tenant_a.client.pk: False})
    assert subscription_cache.subscribed_clients({tenant_a.client.pk}) == {tenant_a.client.pk}


def test_events_after_a_new_subscription_reach_it(tenant_a, receiver, on_commit):
    expire(tenant_a.client)
    with on_commit():
        emit_many([(tenant_a.client.pk, "order.created", {"order_id": 1})])  # caches "not subscribed"
    subscribe(tenant_a, receiver.url)
    with on_commit():
        emit_many([(tenant_a.client.pk, "order.created", {"order_id": 2})])
    assert [json.loads(r.body)["data"]["order_id"] for r in receiver.requests] == [2]
