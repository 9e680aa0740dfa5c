"""Outbound webhooks: fan-out of the outbox, signed delivery with retries, the delivery log,
disabling a failing subscription, replay, test events, and the low-stock check.

Delivery follows Standard Webhooks (https://www.standardwebhooks.com/): the body is the event's
envelope (the same bytes on every attempt), ``webhook-id`` is the event's id (the receiver's
idempotency key, also on a replay), ``webhook-timestamp`` the attempt's unix time and
``webhook-signature`` ``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.{body}`` keyed with the
base64-decoded secret after ``whsec_``. For a while after a rotation the header carries a second
signature, made with the previous secret (space-separated, as the standard allows), so a receiver
verifies with either while it switches.

Retries: 2xx succeeds; 4xx fails for good except 408 and 429; 5xx, timeouts and connection errors
are tried again after ``RETRY_DELAYS`` until the next attempt would fall more than
``RETRY_WINDOW`` after the delivery was created. A retry due within
``WEBHOOK_MAX_COUNTDOWN_SECONDS`` is a Celery countdown; later ones (and any whose task was lost)
are picked up by the every-minute sweep ``deliver_due``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Client, User
from accounts.roles import Perm
from accounts.services import audit_record

from . import subscription_cache
from .enums import DeliveryStatus, EventType
from .events import envelope
from .models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription, new_webhook_secret

logger = logging.getLogger(__name__)

USER_AGENT = "Fulfillment-Webhooks/1.0 (+https://www.standardwebhooks.com/)"
# Seconds to wait after the 1st, 2nd, ... failed attempt; the last one repeats.
RETRY_DELAYS: tuple[int, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
RETRY_WINDOW = timedelta(hours=24)
RETRYABLE_4XX = frozenset({408, 429})
BODY_EXCERPT = 500
SWEEP_BATCH = 1000
# The sweep leaves a due delivery alone this long: its own task (fan-out or countdown) is normally
# on its way, and a busy queue should not fill up with copies.
SWEEP_GRACE = timedelta(seconds=60)
SYSTEM = "webhooks"


# --- signing ----------------------------------------------------------------------------------


def body_bytes(event: Event) -> bytes:
    """The request body: compact JSON of the envelope, identical on every attempt."""
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")), as Standard Webhooks says."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def previous_secret_until(subscription: WebhookSubscription, now: datetime) -> datetime | None:
    """Until when the previous secret still signs beside the current one; None once it does not."""
    until = subscription.previous_secret_expires_at
    return until if subscription.previous_secret and until is not None and now < until else None


def signing_secrets(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The secret, and the previous one while its overlap after a rotation lasts."""
    if previous_secret_until(subscription, now) is None:
        return [subscription.secret]
    return [subscription.secret, subscription.previous_secret]


def request_headers(*, subscription: WebhookSubscription, event: Event, body: bytes, now: datetime) -> dict:
    timestamp = int(now.timestamp())
    signatures = [
        sign(secret=secret, msg_id=event.webhook_id, timestamp=timestamp, body=body)
        for secret in signing_secrets(subscription, now)
    ]
    return {
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


# --- which URLs may be called (SSRF) ----------------------------------------------------------


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why ``url`` may not receive webhooks, or None. Outside development only https to a public
    host: a subscription must not make us call our own network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter an http(s) URL."
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return None
    if parts.scheme != "https":
        return "Use an https:// URL."
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "The host must be public."
    try:
        return None if _public(host) else "The host must be public."
    except ValueError:
        pass  # a name, not an address
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return "The host name does not resolve."
    if not infos or not all(_public(info[4][0].split("%")[0]) for info in infos):
        return "The host must be public."
    return None


def clean_event_types(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"event_types": ["Give a list of event types."]})
    subscribable = subscribable_types()
    if unknown := sorted(set(value) - set(subscribable)):
        raise ValidationError(
            {
                "event_types": [
                    f"Unknown event type(s): {', '.join(unknown)}. Choose from {', '.join(subscribable)}."
                ]
            }
        )
    return sorted(set(value), key=subscribable.index)


def subscribable_types() -> list[str]:
    return [t for t in EventType.values if t != EventType.WEBHOOK_TEST]


def wants(subscription: WebhookSubscription, event_type: str) -> bool:
    return not subscription.event_types or event_type in subscription.event_types


# --- subscriptions ----------------------------------------------------------------------------


def _require_manage(actor: Actor, client_id: int) -> None:
    actor.require(Perm.WEBHOOK_MANAGE, client_id=client_id)


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if unknown := set(fields) - {"url", "description", "event_types"}:
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    cleaned = dict(fields)
    if "url" in cleaned:
        cleaned["url"] = (cleaned["url"] or "").strip()
        if problem := url_problem(cleaned["url"]):
            raise ValidationError({"url": [problem]})
    if "event_types" in cleaned:
        cleaned["event_types"] = clean_event_types(cleaned["event_types"])
    if "description" in cleaned:
        cleaned["description"] = (cleaned["description"] or "").strip()
    return cleaned


@transaction.atomic
def subscription_create(
    *, actor: Actor, client: Client, url: str, event_types: list[str] | None = None, description: str = ""
) -> WebhookSubscription:
    _require_manage(actor, client.pk)
    cleaned = _clean_fields({"url": url, "event_types": event_types or [], "description": description})
    subscription = WebhookSubscription(client=client, **cleaned, **_stamp(actor))
    _full_clean(subscription)
    subscription.save()
    audit_record(
        actor=actor,
        action="webhook.created",
        target=subscription,
        client_id=client.pk,
        changes={"url": [None, subscription.url], "event_types": [None, subscription.event_types]},
    )
    return subscription


def _full_clean(subscription: WebhookSubscription) -> None:
    """The model's own checks on what ``_clean_fields`` does not already cover."""
    subscription.full_clean(
        exclude=["client", "secret", "event_types", "actor_user", "actor_api_key"], validate_unique=False
    )


def _stamp(actor: Actor) -> dict[str, Any]:
    return {"actor_user": actor.user, "actor_api_key": actor.api_key, "actor_label": actor.label[:200]}


def _lock(subscription: WebhookSubscription) -> WebhookSubscription:
    with scope(client=subscription.client_id):
        return WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)


@transaction.atomic
def subscription_update(
    *, actor: Actor, subscription: WebhookSubscription, **fields: Any
) -> WebhookSubscription:
    _require_manage(actor, subscription.client_id)
    cleaned = _clean_fields(fields)
    subscription = _lock(subscription)
    changes = {}
    for name, value in cleaned.items():
        if getattr(subscription, name) != value:
            changes[name] = [getattr(subscription, name), value]
            setattr(subscription, name, value)
    if changes:
        _full_clean(subscription)
        subscription.save()
        audit_record(
            actor=actor,
            action="webhook.updated",
            target=subscription,
            client_id=subscription.client_id,
            changes=changes,
        )
    return subscription


@transaction.atomic
def subscription_delete(*, actor: Actor, subscription: WebhookSubscription) -> None:
    _require_manage(actor, subscription.client_id)
    audit_record(
        actor=actor,
        action="webhook.deleted",
        target=subscription,
        client_id=subscription.client_id,
        changes={"url": [subscription.url, None]},
    )
    with scope(client=subscription.client_id):
        subscription.delete()


MAX_SECRET_OVERLAP_HOURS = 7 * 24


@transaction.atomic
def subscription_rotate_secret(
    *, actor: Actor, subscription: WebhookSubscription, overlap_hours: int | None = None
) -> WebhookSubscription:
    """A new secret at once: every attempt from now on (retries too) is signed with it, and for
    ``overlap_hours`` (default ``WEBHOOK_SECRET_OVERLAP_HOURS``; 0: none) with the old one as
    well, a second signature, so the receiver can switch without refusing a delivery. Rotating
    again during an overlap ends it: only the secret being replaced keeps signing."""
    _require_manage(actor, subscription.client_id)
    if overlap_hours is None:
        overlap_hours = settings.WEBHOOK_SECRET_OVERLAP_HOURS
    if isinstance(overlap_hours, bool) or not isinstance(overlap_hours, int):
        raise ValidationError({"overlap_hours": ["Give a whole number of hours."]})
    if not 0 <= overlap_hours <= MAX_SECRET_OVERLAP_HOURS:
        raise ValidationError({"overlap_hours": [f"Between 0 and {MAX_SECRET_OVERLAP_HOURS} hours."]})
    subscription = _lock(subscription)
    if overlap_hours:
        subscription.previous_secret = subscription.secret
        subscription.previous_secret_expires_at = timezone.now() + timedelta(hours=overlap_hours)
    else:
        subscription.previous_secret, subscription.previous_secret_expires_at = "", None
    subscription.secret = new_webhook_secret()
    subscription.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    audit_record(
        actor=actor,
        action="webhook.secret_rotated",
        target=subscription,
        client_id=subscription.client_id,
        changes={"secret": ["…", "…"], "overlap_hours": overlap_hours},  # never the secret itself
    )
    return subscription


@transaction.atomic
def subscription_set_active(
    *, actor: Actor, subscription: WebhookSubscription, active: bool
) -> WebhookSubscription:
    """Enable (clearing the failure count and reason) or disable by hand."""
    _require_manage(actor, subscription.client_id)
    subscription = _lock(subscription)
    if subscription.active == active:
        return subscription
    if active:
        subscription.active = True
        subscription.consecutive_failures = 0
        subscription.disabled_at = None
        subscription.disabled_reason = ""
        subscription.save()
        audit_record(
            actor=actor,
            action="webhook.enabled",
            target=subscription,
            client_id=subscription.client_id,
            changes={"active": [False, True]},
        )
        return subscription
    _disable(subscription, reason=f"Disabled by {actor.label}"[:300], actor=actor, notify=False)
    subscription.refresh_from_db()
    return subscription


def _disable(
    subscription: WebhookSubscription,
    *,
    reason: str,
    actor: Actor | None = None,
    notify: bool = True,
    keep: int | None = None,
) -> bool:
    """Turn a subscription off (once: a conditional update), fail its pending deliveries (a replay
    sends them again after it is enabled), audit it and, when it was not a person's choice, e-mail
    the client's admins after commit. ``keep``: the delivery being recorded by the caller."""
    now = timezone.now()
    with scope(client=subscription.client_id):
        changed = WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(
            active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now
        )
        if not changed:
            return False
        # An UPDATE sends no signal: the fan-out's cached answer is dropped here.
        subscription_cache.forget([subscription.client_id])
        WebhookDelivery.objects.filter(
            subscription_id=subscription.pk, status=DeliveryStatus.PENDING
        ).exclude(pk=keep).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="The subscription was disabled."
        )
    audit_record(
        actor=actor or Actor.system(SYSTEM),
        action="webhook.disabled",
        target=subscription,
        client_id=subscription.client_id,
        changes={"active": [True, False], "disabled_reason": ["", reason[:300]]},
    )
    if notify:
        subscription_id, client_id = subscription.pk, subscription.client_id
        transaction.on_commit(lambda: notify_disabled(subscription_id=subscription_id, client_id=client_id))
    return True


def notify_disabled(*, subscription_id: int, client_id: int) -> int:
    """E-mail the client's active admins that a subscription was switched off, and why."""
    with scope(client=client_id):
        subscription = WebhookSubscription.objects.select_related("client").filter(pk=subscription_id).first()
    if subscription is None:
        return 0
    recipients = list(
        User.objects.filter(client_id=client_id, role=Role.CLIENT_ADMIN, is_active=True)
        .order_by("pk")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    from django.urls import reverse

    link = settings.SITE_URL.rstrip("/") + reverse("portal-webhook", args=[subscription.pk])
    context = {"subscription": subscription, "client": subscription.client, "link": link}
    return send_mail(
        subject=f"Webhook disabled: {subscription.url}"[:200],
        message=render_to_string("emails/webhook_disabled.txt", context),
        from_email=None,
        recipient_list=recipients,
    )


# --- fan-out ----------------------------------------------------------------------------------


def _enqueue(delivery_ids: list[int], client_id: int, countdown: float | None = None) -> None:
    from .tasks import deliver_webhook

    for delivery_id in delivery_ids:
        if countdown:
            deliver_webhook.apply_async((delivery_id, client_id), countdown=countdown)
        else:
            deliver_webhook.delay(delivery_id, client_id)


def fan_out(*, event_id: int, client_id: int) -> int:
    """One first delivery per active subscription of the event's client that wants its type, then
    send each. Safe to run again: the unique (subscription, event) first delivery is not doubled,
    and only deliveries never attempted are sent from here. Test events go to one subscription
    (``send_test``), never through here."""
    with transaction.atomic(), scope(client=client_id):
        event = Event.objects.filter(pk=event_id, client_id=client_id).first()
        if event is None or event.type == EventType.WEBHOOK_TEST:
            return 0
        subscriptions = [
            s
            for s in WebhookSubscription.objects.filter(client_id=client_id, active=True)
            if wants(s, event.type)
        ]
        if not subscriptions:
            return 0
        now = timezone.now()
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(client_id=client_id, subscription=s, event=event, next_attempt_at=now)
                for s in subscriptions
            ],
            ignore_conflicts=True,
        )
        ids = list(
            WebhookDelivery.objects.filter(
                event=event, replay=False, status=DeliveryStatus.PENDING, attempt_count=0
            ).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: _enqueue(ids, client_id))
    return len(ids)


# --- one attempt ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: int | None
    body: str
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        if self.status is None:
            return True  # timeout, connection refused, TLS error...
        return self.status >= 500 or self.status in RETRYABLE_4XX


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One POST with a short timeout and no redirects (a 3xx is a failure the subscriber must fix)."""
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.monotonic()
    try:
        if problem := url_problem(url):  # DNS may point elsewhere than when it was subscribed
            raise httpx.UnsupportedProtocol(problem)
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client:
            response = client.post(url, content=body, headers=headers)
            text = response.text[:BODY_EXCERPT]
            status = response.status_code
            error = "" if 200 <= status < 300 else f"HTTP {status}"
            if 300 <= status < 400:
                error = f"HTTP {status}: redirects are not followed"
    except httpx.TimeoutException as exc:
        status, text, error = None, "", f"Timed out after {timeout:g} s ({exc.__class__.__name__})"
    except (httpx.HTTPError, OSError) as exc:
        status, text, error = None, "", f"{exc.__class__.__name__}: {exc}"[:BODY_EXCERPT]
    return Outcome(status, text, error, int((time.monotonic() - started) * 1000))


def next_attempt_at(delivery: WebhookDelivery, now: datetime) -> datetime | None:
    """When to try again after ``delivery.attempt_count`` failed attempts, or None when that
    would be more than a day after the delivery began."""
    delay = RETRY_DELAYS[min(delivery.attempt_count, len(RETRY_DELAYS)) - 1]
    when = now + timedelta(seconds=delay)
    return None if when > delivery.created_at + RETRY_WINDOW else when


def deliver(*, delivery_id: int, client_id: int, now: datetime | None = None) -> str:
    """Make one attempt of a due, pending delivery and record it. The row stays locked while the
    request runs, so two workers never send it at once, and a succeeded or failed delivery is not
    sent again (a task run twice, the sweep and a countdown racing). Returns what happened."""
    now = now or timezone.now()
    with transaction.atomic(), scope(client=client_id):
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription", "event")
            .filter(pk=delivery_id, client_id=client_id)
            .first()
        )
        if delivery is None:
            return "busy"  # locked by another worker (or gone)
        if delivery.status != DeliveryStatus.PENDING:
            return delivery.status
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return "not_due"
        subscription = delivery.subscription
        if not subscription.active:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.last_error = "The subscription was disabled."
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return delivery.status
        body = body_bytes(delivery.event)
        headers = request_headers(subscription=subscription, event=delivery.event, body=body, now=now)
        outcome = post(subscription.url, body, headers)
        _record(delivery, outcome, now)
        status = delivery.status
        if status == DeliveryStatus.PENDING:
            _schedule(delivery, now)
    return status


def _record(delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> None:
    subscription = delivery.subscription
    WebhookAttempt.objects.create(
        client_id=delivery.client_id,
        delivery=delivery,
        attempted_at=now,
        response_status=outcome.status,
        response_body=outcome.body,
        error=outcome.error[:BODY_EXCERPT],
        duration_ms=outcome.duration_ms,
    )
    delivery.attempt_count += 1
    delivery.last_attempt_at = now
    delivery.last_response_status = outcome.status
    delivery.last_error = outcome.error[:500]
    subscriptions = WebhookSubscription.objects.filter(pk=subscription.pk)
    if outcome.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
        subscriptions.filter(consecutive_failures__gt=0).update(consecutive_failures=0)
    else:
        subscriptions.update(consecutive_failures=F("consecutive_failures") + 1)
        failures = subscriptions.values_list("consecutive_failures", flat=True).first() or 0
        retry_at = next_attempt_at(delivery, now) if outcome.retryable else None
        delivery.next_attempt_at = retry_at
        if retry_at is None:
            delivery.status = DeliveryStatus.FAILED
        limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
        if failures >= limit:
            _disable(
                subscription,
                reason=f"{failures} consecutive failed attempts (last: {outcome.error})",
                keep=delivery.pk,
            )
        elif outcome.retryable and retry_at is None:
            _disable(
                subscription,
                reason=f"{delivery.event.webhook_id} could not be delivered for 24 hours (last: {outcome.error})",
                keep=delivery.pk,
            )
        if delivery.status == DeliveryStatus.PENDING and failures >= limit:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    delivery.save()


def _schedule(delivery: WebhookDelivery, now: datetime) -> None:
    """A countdown for a retry due soon; the sweep takes the ones further out."""
    delay = (delivery.next_attempt_at - now).total_seconds()
    if delay <= settings.WEBHOOK_MAX_COUNTDOWN_SECONDS:
        ids, client_id = [delivery.pk], delivery.client_id
        transaction.on_commit(lambda: _enqueue(ids, client_id, countdown=max(delay, 0.1)))


def deliver_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """The sweep: send every pending delivery that has been due for ``SWEEP_GRACE`` (one set-based
    query, oldest first). A copy of a task still queued is harmless: ``deliver`` checks again."""
    now = now or timezone.now()
    with scope(client=None):
        due = list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now - SWEEP_GRACE
            )
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "client_id")[:limit]
        )
    for delivery_id, client_id in due:
        _enqueue([delivery_id], client_id)
    return len(due)


# --- replay and test events -------------------------------------------------------------------


def _new_deliveries(
    subscription: WebhookSubscription, events: list[Event], *, replay: bool
) -> list[WebhookDelivery]:
    now = timezone.now()
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                client_id=subscription.client_id,
                subscription=subscription,
                event=e,
                replay=replay,
                next_attempt_at=now,
            )
            for e in events
        ]
    )
    ids = [d.pk for d in rows]
    client_id = subscription.client_id
    transaction.on_commit(lambda: _enqueue(ids, client_id))
    return rows


def _require_active(subscription: WebhookSubscription) -> None:
    if not subscription.active:
        raise ValidationError({"subscription": ["The subscription is disabled; enable it first."]})


@transaction.atomic
def replay(
    *,
    actor: Actor,
    subscription: WebhookSubscription,
    event_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[WebhookDelivery]:
    """Send events again to one subscription: one event, or every event of the types it wants
    created in [since, until) (at most ``WEBHOOK_REPLAY_MAX_EVENTS``). New deliveries marked
    ``replay``, with the events' own ids, so a receiver that has one already can skip it."""
    _require_manage(actor, subscription.client_id)
    _require_active(subscription)
    with scope(client=subscription.client_id):
        events_of_client = Event.objects.filter(client_id=subscription.client_id)
        if event_id is not None:
            if since is not None or until is not None:
                raise ValidationError({"event": ["Give either an event or a time range, not both."]})
            event = events_of_client.filter(pk=event_id).first()
            if event is None:
                raise ValidationError({"event": ["No such event."]})
            sent_here = WebhookDelivery.objects.filter(subscription=subscription, event=event).exists()
            if event.type == EventType.WEBHOOK_TEST and not sent_here:
                raise ValidationError({"event": ["That test event was sent to another subscription."]})
            if not wants(subscription, event.type) and not sent_here:
                raise ValidationError({"event": ["This subscription does not receive that event type."]})
            events = [event]
        else:
            if since is None:
                raise ValidationError({"since": ["Give an event, or the start of a time range."]})
            until = until or timezone.now()
            if until <= since:
                raise ValidationError({"until": ["The end must be after the start."]})
            selected = events_of_client.filter(created_at__gte=since, created_at__lt=until).exclude(
                type=EventType.WEBHOOK_TEST
            )
            if subscription.event_types:
                selected = selected.filter(type__in=subscription.event_types)
            cap = settings.WEBHOOK_REPLAY_MAX_EVENTS
            events = list(selected.order_by("pk")[: cap + 1])
            if len(events) > cap:
                raise ValidationError(
                    {"since": [f"More than {cap:,} events in this range; replay a shorter one."]}
                )
        rows = _new_deliveries(subscription, events, replay=True)
    audit_record(
        actor=actor,
        action="webhook.replayed",
        target=subscription,
        client_id=subscription.client_id,
        changes={
            "events": [None, len(rows)],
            **({"event": [None, event_id]} if event_id is not None else {}),
            **({"since": [None, since], "until": [None, until]} if event_id is None else {}),
        },
    )
    return rows


@transaction.atomic
def send_test(*, actor: Actor, subscription: WebhookSubscription) -> WebhookDelivery:
    """A ``webhook.test`` event for this one subscription (not fanned out to the others)."""
    _require_manage(actor, subscription.client_id)
    _require_active(subscription)
    with scope(client=subscription.client_id):
        event = Event.objects.create(
            client_id=subscription.client_id,
            type=EventType.WEBHOOK_TEST,
            payload={
                "subscription_id": subscription.pk,
                "message": "A test event sent from the fulfillment platform.",
                "sent_by": actor.label,
            },
        )
        (delivery,) = _new_deliveries(subscription, [event], replay=False)
    return delivery


# --- inventory.low_stock ----------------------------------------------------------------------


def _available_by_node(client_id: int, item_ids: list[int] | None) -> dict[tuple[int, int], tuple[int, int]]:
    """(item, node) -> (available in sellable bins, reorder point), for items with a reorder point,
    at every node where the item has a balance row: one grouped query."""
    from django.db.models import Q, Sum

    from inventory.enums import SELLABLE_LOCATION_TYPES
    from inventory.models import Balance

    sellable = Q(location__type__in=SELLABLE_LOCATION_TYPES)
    rows = Balance.objects.filter(client_id=client_id, item__reorder_point__gt=0)
    if item_ids is not None:
        rows = rows.filter(item_id__in=item_ids)
    rows = (
        rows.values("item_id", "warehouse_id", "item__reorder_point")
        .annotate(
            on_hand=Sum("on_hand", filter=sellable, default=0),
            allocated=Sum("allocated", filter=sellable, default=0),
        )
        .order_by()
    )
    return {
        (r["item_id"], r["warehouse_id"]): (r["on_hand"] - r["allocated"], r["item__reorder_point"])
        for r in rows
    }


def check_low_stock(*, client_id: int, item_ids: list[int] | None = None) -> int:
    """Compare available units with the reorder point for these items (all of the client's when
    None) and emit ``inventory.low_stock`` once per crossing below it; a level back at or above it
    clears the state, so the next crossing is announced again. Returns the events emitted."""
    from inventory.models import Item

    from .events import emit
    from .models import LowStockState

    emitted = 0
    with transaction.atomic(), scope(client=client_id):
        levels = _available_by_node(client_id, item_ids)
        states = LowStockState.objects.filter(client_id=client_id)
        if item_ids is not None:
            states = states.filter(item_id__in=item_ids)
        known = {(s.item_id, s.warehouse_id): s for s in states}
        now = timezone.now()
        recovered = [
            s.pk
            for key, s in known.items()
            if s.low_since and (key not in levels or levels[key][0] >= levels[key][1])
        ]
        if recovered:
            LowStockState.objects.filter(pk__in=recovered).update(low_since=None)
        low = {key: level for key, level in levels.items() if level[0] < level[1]}
        missing = [key for key in low if key not in known]
        if missing:
            LowStockState.objects.bulk_create(
                [LowStockState(client_id=client_id, item_id=i, warehouse_id=w) for i, w in missing],
                ignore_conflicts=True,
            )
        if not low:
            return 0
        items = Item.objects.in_bulk({i for i, _w in low})
        from accounts.models import Warehouse

        nodes = Warehouse.objects.in_bulk({w for _i, w in low})
        for (item_id, warehouse_id), (available, reorder_point) in sorted(low.items()):
            # The conditional update is the once-only switch: two checks racing emit one event.
            became_low = LowStockState.objects.filter(
                client_id=client_id, item_id=item_id, warehouse_id=warehouse_id, low_since__isnull=True
            ).update(low_since=now)
            if not became_low:
                continue
            item = items[item_id]
            emit(
                client_id=client_id,
                type=EventType.INVENTORY_LOW_STOCK,
                data={
                    "item_id": item_id,
                    "sku": item.sku,
                    "warehouse": nodes[warehouse_id].code,
                    "available": available,
                    "reorder_point": reorder_point,
                },
            )
            emitted += 1
    return emitted


def low_stock_sweep() -> int:
    """The hourly backstop: every client with a reorder point set anywhere."""
    from inventory.models import Item

    with scope(client=None):
        client_ids = list(
            Item.objects.filter(reorder_point__gt=0).order_by().values_list("client_id", flat=True).distinct()
        )
    return sum(check_low_stock(client_id=client_id) for client_id in client_ids)
