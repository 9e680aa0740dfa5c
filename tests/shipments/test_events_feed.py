"""The events feed and the webhooks API and pages: the feed carries exactly what was delivered, in
order; the settle window; who may do what; the secret shown once; constant query counts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.actors import Actor
from shipments import webhooks
from shipments.events import emit, envelope
from shipments.models import Event, WebhookDelivery, WebhookSubscription
from tests.conftest import bearer

pytestmark = pytest.mark.django_db


def settle(client) -> None:
    """Events older than the feed's settle window."""
    Event.objects.filter(client=client).update(created_at=timezone.now() - timedelta(seconds=10))


def emit_events(tenant, on_commit, n: int, type: str = "order.created") -> list[Event]:
    with on_commit():
        for i in range(n):
            emit(client_id=tenant.client.pk, type=type, data={"i": i})
    return list(Event.objects.filter(client=tenant.client).order_by("pk"))


def test_the_feed_lists_exactly_the_delivered_bodies_in_order(
    tenant_a, tenant_b, receiver, on_commit, settings
):
    settings.EVENTS_FEED_SETTLE_SECONDS = 0  # the window has its own test; here bodies must match as sent
    webhooks.subscription_create(
        actor=Actor.for_user(tenant_a.admin), client=tenant_a.client, url=receiver.url
    )
    emit_events(tenant_b, on_commit, 2)  # another brand's events: in neither
    emit_events(tenant_a, on_commit, 5)
    delivered = [json.loads(body) for body in receiver.bodies]
    assert len(delivered) == 5

    response = tenant_a.api.get("/api/v1/events/", {"after": 0, "limit": 3})
    assert response.status_code == 200
    first = response.json()
    response = tenant_a.api.get("/api/v1/events/", {"after": first["next_cursor"], "limit": 3})
    second = response.json()
    items = first["results"] + second["results"]
    assert [{k: v for k, v in item.items() if k != "cursor"} for item in items] == delivered
    assert [item["cursor"] for item in items] == sorted(item["cursor"] for item in items)
    assert second["next_cursor"] == items[-1]["cursor"]
    # Caught up: nothing new, the cursor stays.
    again = tenant_a.api.get("/api/v1/events/", {"after": second["next_cursor"]}).json()
    assert again == {"results": [], "next_cursor": second["next_cursor"]}


def test_an_event_waits_out_the_settle_window(tenant_a, on_commit):
    (event,) = emit_events(tenant_a, on_commit, 1)
    assert tenant_a.api.get("/api/v1/events/").json()["results"] == []
    settle(tenant_a.client)
    event.refresh_from_db()
    assert tenant_a.api.get("/api/v1/events/").json()["results"] == [{**envelope(event), "cursor": event.pk}]


def test_the_feed_filters_by_type_and_rejects_bad_input(tenant_a, on_commit):
    emit_events(tenant_a, on_commit, 2)
    emit_events(tenant_a, on_commit, 1, type="asn.arrived")
    settle(tenant_a.client)
    results = tenant_a.api.get("/api/v1/events/", {"type": "asn.arrived"}).json()["results"]
    assert [r["type"] for r in results] == ["asn.arrived"]
    for params, field in [({"type": "nope"}, "type"), ({"after": "x"}, "after"), ({"limit": 5000}, "limit")]:
        response = tenant_a.api.get("/api/v1/events/", params)
        assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_staff_with_several_clients_must_name_one(
    tenant_a, tenant_b, account_manager, session_api, on_commit
):
    tenant_a.client.account_managers.add(account_manager)
    tenant_b.client.account_managers.add(account_manager)
    emit_events(tenant_a, on_commit, 1)
    settle(tenant_a.client)
    api = session_api(account_manager)
    response = api.get("/api/v1/events/")
    assert response.status_code == 400 and "client" in response.json()["error"]["fields"]
    assert len(api.get("/api/v1/events/", {"client": tenant_a.client.pk}).json()["results"]) == 1
    assert api.get("/api/v1/events/", {"client": 999_999}).json()["results"] == []


def test_a_client_user_reads_the_feed_but_not_the_subscriptions(tenant_a, session_api):
    api = session_api(tenant_a.user)
    assert api.get("/api/v1/events/").status_code == 200
    assert api.get("/api/v1/webhooks/").status_code == 403
    assert api.post("/api/v1/webhooks/", {"url": "https://example.com/h"}, format="json").status_code == 403


def test_the_secret_is_shown_on_create_and_rotate_only(tenant_a):
    response = tenant_a.api.post(
        "/api/v1/webhooks/",
        {"url": "https://example.com/hooks", "event_types": ["order.shipped"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["event_types"] == ["order.shipped"]
    subscription = WebhookSubscription.objects.get(pk=created["id"])
    assert subscription.secret == created["secret"]
    listed = tenant_a.api.get("/api/v1/webhooks/").json()["results"]
    assert "secret" not in listed[0] and listed[0]["secret_hint"].endswith(created["secret"][-4:])
    assert created["secret"] not in tenant_a.api.get(f"/api/v1/webhooks/{created['id']}/").content.decode()
    rotated = tenant_a.api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").json()
    subscription.refresh_from_db()
    assert rotated["secret"] == subscription.secret != created["secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/x", "event_types": ["order.eaten"]}, "event_types"),
        ({}, "url"),
    ],
)
def test_bad_subscriptions_are_refused_naming_the_field(tenant_a, body, field):
    response = tenant_a.api.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert any(name.split(".")[0] == field for name in response.json()["error"]["fields"])
    assert not WebhookSubscription.objects.filter(client=tenant_a.client).exists()


def test_private_hosts_are_refused_in_production(tenant_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    response = tenant_a.api.post("/api/v1/webhooks/", {"url": "https://192.168.1.10/hooks"}, format="json")
    assert response.status_code == 400 and "public" in response.json()["error"]["fields"]["url"][0]


def test_api_test_replay_enable_and_the_delivery_log(tenant_a, receiver, on_commit):
    receiver.fail_first = 1
    created = tenant_a.api.post("/api/v1/webhooks/", {"url": receiver.url}, format="json").json()
    base = f"/api/v1/webhooks/{created['id']}"
    with on_commit():
        response = tenant_a.api.post(f"{base}/test/")
    assert response.status_code == 202 and response.json()["event_type"] == "webhook.test"
    event = emit_events(tenant_a, on_commit, 1)[-1]
    log = tenant_a.api.get(f"{base}/deliveries/").json()["results"]
    assert [d["event_type"] for d in log] == ["order.created", "webhook.test"]
    test_delivery = log[1]
    assert test_delivery["status"] == "pending" and test_delivery["attempts"][0]["response_status"] == 500
    assert log[0]["status"] == "succeeded" and log[0]["attempts"][0]["duration_ms"] >= 0
    pending = tenant_a.api.get(f"{base}/deliveries/", {"status": "pending"}).json()["results"]
    assert [d["id"] for d in pending] == [test_delivery["id"]]

    with on_commit():
        response = tenant_a.api.post(f"{base}/replay/", {"event": f"evt_{event.pk}"}, format="json")
    assert response.status_code == 202 and response.json()["deliveries"] == 1
    assert receiver.requests[-1].headers["webhook-id"] == event.webhook_id
    response = tenant_a.api.post(f"{base}/replay/", {}, format="json")
    assert response.status_code == 400 and "event" in response.json()["error"]["fields"]

    assert tenant_a.api.post(f"{base}/disable/").json()["active"] is False
    response = tenant_a.api.post(f"{base}/test/")
    assert response.status_code == 400
    enabled = tenant_a.api.post(f"{base}/enable/").json()
    assert enabled["active"] is True and enabled["consecutive_failures"] == 0


def test_a_range_replay_is_capped(tenant_a, on_commit, settings):
    settings.WEBHOOK_REPLAY_MAX_EVENTS = 2
    created = tenant_a.api.post(
        "/api/v1/webhooks/", {"url": "https://example.com/hooks"}, format="json"
    ).json()
    events = emit_events(tenant_a, on_commit, 3)
    since = (events[0].created_at - timedelta(seconds=1)).isoformat()
    response = tenant_a.api.post(f"/api/v1/webhooks/{created['id']}/replay/", {"since": since}, format="json")
    assert response.status_code == 400 and "since" in response.json()["error"]["fields"]
    assert not WebhookDelivery.objects.filter(replay=True).exists()


def test_another_tenants_subscription_is_a_404(tenant_a, tenant_b):
    created = tenant_a.api.post(
        "/api/v1/webhooks/", {"url": "https://example.com/hooks"}, format="json"
    ).json()
    for method, path in [
        ("get", f"/api/v1/webhooks/{created['id']}/"),
        ("get", f"/api/v1/webhooks/{created['id']}/deliveries/"),
        ("post", f"/api/v1/webhooks/{created['id']}/test/"),
        ("post", f"/api/v1/webhooks/{created['id']}/replay/"),
        ("delete", f"/api/v1/webhooks/{created['id']}/"),
    ]:
        assert getattr(tenant_b.api, method)(path).status_code == 404, path
    assert WebhookSubscription.objects.filter(pk=created["id"]).exists()


def _subscriptions_with_deliveries(tenant, n: int) -> WebhookSubscription:
    subscription = None
    for i in range(n):
        subscription = WebhookSubscription.objects.create(
            client=tenant.client, url=f"https://example.com/{i}", actor_label="t"
        )
    events = [
        Event.objects.create(client=tenant.client, type="order.created", payload={"i": i}) for i in range(n)
    ]
    for event in events:
        delivery = WebhookDelivery.objects.create(
            client=tenant.client, subscription=subscription, event=event
        )
        delivery.attempts.create(client=tenant.client, attempted_at=timezone.now(), response_status=500)
    return subscription


@pytest.mark.parametrize("size", [2, 20])
def test_webhook_lists_take_constant_queries(tenant_a, size, django_assert_max_num_queries):
    subscription = _subscriptions_with_deliveries(tenant_a, 20)
    settle(tenant_a.client)
    with django_assert_max_num_queries(8):
        assert len(tenant_a.api.get("/api/v1/webhooks/", {"page_size": size}).json()["results"]) == size
    with django_assert_max_num_queries(9):
        response = tenant_a.api.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/", {"page_size": size})
        assert len(response.json()["results"]) == size
    with django_assert_max_num_queries(6):
        assert len(tenant_a.api.get("/api/v1/events/", {"limit": size}).json()["results"]) == size


def test_a_read_only_key_reads_but_does_not_write(tenant_a):
    api = bearer(tenant_a.ro_secret)
    assert api.get("/api/v1/webhooks/").status_code == 200
    assert api.get("/api/v1/events/").status_code == 200
    assert api.post("/api/v1/webhooks/", {"url": "https://example.com/h"}, format="json").status_code == 403


# --- pages ----------------------------------------------------------------------------------------


def test_portal_subscribe_shows_the_secret_once_and_the_log(tenant_a, client, receiver, on_commit):
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("portal-webhooks"), {"url": receiver.url, "event_types": ["order.created"]}
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get(client=tenant_a.client)
    assert subscription.secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    page = client.get(reverse("portal-webhooks")).content.decode()
    assert receiver.url in page and subscription.secret not in page

    with on_commit():
        response = client.post(reverse("portal-webhook-action", args=[subscription.pk, "test"]))
    assert response.status_code == 302
    detail = client.get(reverse("portal-webhook", args=[subscription.pk])).content.decode()
    assert "webhook.test" in detail and "HTTP 200" in detail and "Send test event" in detail
    partial = client.get(
        reverse("portal-webhook", args=[subscription.pk]),
        {"status": "failed"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="delivery-log",
    ).content.decode()
    assert partial.startswith('<div id="delivery-log">') and "No deliveries with this status" in partial

    client.post(reverse("portal-webhook-action", args=[subscription.pk, "disable"]))
    subscription.refresh_from_db()
    assert not subscription.active
    assert "Disabled" in client.get(reverse("portal-webhooks")).content.decode()
    client.post(reverse("portal-webhook-action", args=[subscription.pk, "enable"]))
    old = subscription.secret
    client.post(reverse("portal-webhook-action", args=[subscription.pk, "rotate"]))
    subscription.refresh_from_db()
    assert subscription.active and subscription.secret != old
    assert (
        subscription.secret in client.get(reverse("portal-webhook", args=[subscription.pk])).content.decode()
    )
    assert (
        subscription.secret
        not in client.get(reverse("portal-webhook", args=[subscription.pk])).content.decode()
    )


def test_portal_replay_forms(tenant_a, client, receiver, on_commit):
    client.force_login(tenant_a.admin)
    subscription = webhooks.subscription_create(
        actor=Actor.for_user(tenant_a.admin), client=tenant_a.client, url=receiver.url
    )
    events = emit_events(tenant_a, on_commit, 2)
    with on_commit():
        client.post(
            reverse("portal-webhook-action", args=[subscription.pk, "replay-event"]),
            {"event": f"evt_{events[0].pk}"},
        )
        client.post(
            reverse("portal-webhook-action", args=[subscription.pk, "replay-range"]),
            {"since": (events[0].created_at - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")},
        )
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [
        events[0].webhook_id,
        events[1].webhook_id,
        events[0].webhook_id,
        events[0].webhook_id,
        events[1].webhook_id,
    ]


def test_another_tenants_portal_page_is_a_404(tenant_a, tenant_b, client):
    subscription = WebhookSubscription.objects.create(
        client=tenant_a.client, url="https://example.com/h", actor_label="t"
    )
    client.force_login(tenant_b.admin)
    assert client.get(reverse("portal-webhook", args=[subscription.pk])).status_code == 404
    assert client.post(reverse("portal-webhook-action", args=[subscription.pk, "test"])).status_code == 404
