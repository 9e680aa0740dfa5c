"""Reads of the webhooks area: subscriptions, their delivery log, and the events feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from accounts.actors import Actor
from accounts.roles import Perm

from .enums import EventType
from .events import envelope
from .models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription

FEED_DEFAULT_LIMIT = 100
FEED_MAX_LIMIT = 1000


def subscription_list(*, actor: Actor) -> QuerySet[WebhookSubscription]:
    """The actor's subscriptions with their last delivery's status and time (two subqueries)."""
    actor.require(Perm.WEBHOOK_VIEW)
    last = WebhookDelivery.objects.filter(subscription=OuterRef("pk")).order_by("-pk")
    return (
        WebhookSubscription.objects.filter(actor.client_q())
        .select_related("client")
        .annotate(
            last_delivery_status=Subquery(last.values("status")[:1]),
            last_delivery_at=Subquery(last.values("created_at")[:1]),
            last_response_status=Subquery(last.values("last_response_status")[:1]),
        )
        .order_by("pk")
    )


def subscription_get(*, actor: Actor, pk: Any) -> WebhookSubscription:
    try:
        return subscription_list(actor=actor).get(pk=int(pk))
    except (WebhookSubscription.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def delivery_list(
    *,
    actor: Actor,
    subscription: WebhookSubscription,
    status: str | None = None,
    event_type: str | None = None,
) -> QuerySet[WebhookDelivery]:
    """A subscription's delivery log, newest first, each with its event and attempts (prefetched)."""
    actor.require(Perm.WEBHOOK_VIEW, client_id=subscription.client_id)
    qs = WebhookDelivery.objects.filter(subscription=subscription, client_id=subscription.client_id)
    if status:
        qs = qs.filter(status=status)
    if event_type:
        qs = qs.filter(event__type=event_type)
    return (
        qs.select_related("event")
        .prefetch_related(Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("pk")))
        .order_by("-pk")
    )


@dataclass
class FeedPage:
    items: list[dict[str, Any]]
    next_cursor: int


class FeedClientRequired(Exception):
    """A staff actor who sees several clients did not say whose feed to read."""


def feed_client_id(*, actor: Actor, client: int | None) -> int | None:
    """Whose events to list: a client actor's own; staff name one (or see exactly one). None when
    the named client is not one the actor sees: an empty feed, like a client that does not exist."""
    if actor.is_client:
        return actor.client_id if client in (None, actor.client_id) else None
    if client is not None:
        return client if actor.sees_client(client) else None
    scope = actor.client_scope
    if isinstance(scope, list) and len(scope) == 1:
        return scope[0]
    raise FeedClientRequired


def event_feed(
    *,
    actor: Actor,
    client_id: int | None,
    after: int = 0,
    limit: int = FEED_DEFAULT_LIMIT,
    types: list[str] | None = None,
    now: datetime | None = None,
) -> FeedPage:
    """Events with an id above ``after``, in id order, that are at least the settle window old.

    Ids are handed out at insert but transactions commit in their own order: an event younger
    than ``EVENTS_FEED_SETTLE_SECONDS`` may still have an uncommitted neighbour with a smaller id,
    so it waits; a reader's cursor then never jumps over an event that commits a moment later.
    Test events (one subscription's pings) are not business events and are not listed."""
    actor.require(Perm.EVENT_VIEW)
    if client_id is None or not actor.sees_client(client_id):
        return FeedPage([], after)
    now = now or timezone.now()
    settled = now - timedelta(seconds=settings.EVENTS_FEED_SETTLE_SECONDS)
    qs = Event.objects.filter(client_id=client_id, pk__gt=after, created_at__lte=settled).exclude(
        type=EventType.WEBHOOK_TEST
    )
    if types:
        qs = qs.filter(type__in=types)
    events = list(qs.order_by("pk")[:limit])
    items = [{**envelope(e), "cursor": e.pk} for e in events]
    return FeedPage(items, events[-1].pk if events else after)
