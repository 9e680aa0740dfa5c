"""Rotating a webhook secret: for an overlap after the rotation the old secret signs too (a second
signature in ``webhook-signature``), so a receiver switches without refusing a delivery; checked
with an independent implementation (``standardwebhooks``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from accounts.actors import Actor
from accounts.models import AuditEvent
from shipments import webhooks
from shipments.models import WebhookSubscription
from tests.shipments.test_webhooks import order_event, subscribe

pytestmark = pytest.mark.django_db


def _accepts(secret: str, request) -> bool:
    try:
        Webhook(secret).verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


def _delivered(tenant, receiver, on_commit):
    before = len(receiver.requests)
    order_event(tenant, on_commit)
    assert len(receiver.requests) == before + 1
    return receiver.requests[-1]


def test_the_old_secret_signs_beside_the_new_one_until_the_overlap_ends(tenant_a, receiver, on_commit):
    subscription = subscribe(tenant_a, receiver.url)
    old = subscription.secret
    response = tenant_a.api.post(f"/api/v1/webhooks/{subscription.pk}/rotate-secret/", {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    subscription.refresh_from_db()
    new = body["secret"]
    assert new == subscription.secret != old and subscription.previous_secret == old
    until = subscription.previous_secret_expires_at
    assert abs(until - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
    assert body["previous_secret_expires_at"] == until.isoformat().replace("+00:00", "Z")
    detail = tenant_a.api.get(f"/api/v1/webhooks/{subscription.pk}/").json()
    assert detail["previous_secret_expires_at"] == body["previous_secret_expires_at"]
    assert old not in tenant_a.api.get(f"/api/v1/webhooks/{subscription.pk}/").content.decode()

    during = _delivered(tenant_a, receiver, on_commit)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert _accepts(old, during) and _accepts(new, during)

    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    after = _delivered(tenant_a, receiver, on_commit)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert _accepts(new, after) and not _accepts(old, after)

    audit = AuditEvent.objects.filter(action="webhook.secret_rotated").latest("pk")
    assert audit.changes["overlap_hours"] == 24 and old not in str(audit.changes)


def test_no_overlap_retires_the_old_secret_at_once(tenant_a, receiver, on_commit):
    subscription = subscribe(tenant_a, receiver.url)
    old = subscription.secret
    body = tenant_a.api.post(
        f"/api/v1/webhooks/{subscription.pk}/rotate-secret/", {"overlap_hours": 0}, format="json"
    ).json()
    assert body["previous_secret_expires_at"] is None
    subscription.refresh_from_db()
    assert subscription.previous_secret == "" and subscription.previous_secret_expires_at is None
    request = _delivered(tenant_a, receiver, on_commit)
    assert _accepts(body["secret"], request) and not _accepts(old, request)


def test_rotating_again_ends_the_overlap_still_running(tenant_a, receiver, on_commit):
    subscription = subscribe(tenant_a, receiver.url)
    first = subscription.secret
    actor = Actor.for_user(tenant_a.admin)
    second = webhooks.subscription_rotate_secret(
        actor=actor, subscription=subscription, overlap_hours=2
    ).secret
    third = webhooks.subscription_rotate_secret(actor=actor, subscription=subscription).secret
    request = _delivered(tenant_a, receiver, on_commit)
    assert _accepts(third, request) and _accepts(second, request) and not _accepts(first, request)


@pytest.mark.parametrize("overlap", [-1, 24 * 7 + 1, "soon", 1.5])
def test_a_bad_overlap_is_a_400_naming_it_and_changes_nothing(tenant_a, overlap):
    subscription = subscribe(tenant_a, "https://example.com/hooks")
    response = tenant_a.api.post(
        f"/api/v1/webhooks/{subscription.pk}/rotate-secret/", {"overlap_hours": overlap}, format="json"
    )
    assert response.status_code == 400
    assert "overlap_hours" in response.json()["error"]["fields"]
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == subscription.secret


def test_another_clients_subscription_cannot_be_rotated(tenant_a, tenant_b):
    theirs = subscribe(tenant_b, "https://example.com/hooks")
    response = tenant_a.api.post(f"/api/v1/webhooks/{theirs.pk}/rotate-secret/", {}, format="json")
    assert response.status_code == 404
    assert WebhookSubscription.objects.get(pk=theirs.pk).secret == theirs.secret


def test_the_portal_says_until_when_the_old_secret_signs(tenant_a, client):
    subscription = subscribe(tenant_a, "https://example.com/hooks")
    client.force_login(tenant_a.admin)
    page = client.get(reverse("portal-webhook", args=[subscription.pk])).content.decode()
    assert "keeps signing beside it for 24 hours" in page and 'id="previous-secret"' not in page
    response = client.post(reverse("portal-webhook-action", args=[subscription.pk, "rotate"]), follow=True)
    html = response.content.decode()
    assert "The old one also signs until" in html and 'id="previous-secret"' in html
