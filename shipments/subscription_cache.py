"""Whether a client has an active webhook subscription, kept in the shared cache for a minute.

Every batch of outbox events (``events.fan_out_after_commit``: each API order intake writes one)
fans out only the events of clients with an active subscription, and asked the database which
those are on every emit. The cache holds the answer per client (``webhook-subscribed:<client id>``
-> ``True``/``False``); the clients of a batch are read with one ``get_many``, and those not cached
with one query for all of them.

Every save or delete of a subscription (creation, enabling, editing, deletion), through a service,
the admin site or a shell, marks its client's entry stale at once and again after the commit (the
receiver below: cache coherence, not domain logic). A stale entry sends the fan-out to the database
until it expires, and an entry is only ever added where none is (``cache.add``), so a fan-out that
read the subscriptions just before the change cannot put the old answer back. A bulk write that
sends no signal (``QuerySet.update()``) must call ``forget`` itself (``webhooks._disable`` does when
it switches a subscription off); otherwise it waits for ``TTL_SECONDS``. The receiver is connected
in every process by ``ShipmentsConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_scopes import scopes_disabled

from fulfillment import cache as shared_cache
from fulfillment.cache import mark_stale

from .models import WebhookSubscription

TTL_SECONDS = 60


def cache_key(client_id: int) -> str:
    return f"webhook-subscribed:{client_id}"


def subscribed_clients(client_ids: Iterable[int]) -> set[int]:
    """Those of these clients with an active webhook subscription: from the cache, and the clients
    not cached (or stale) from one query, the answers for the uncached ones then added."""
    keys = {cache_key(client_id): client_id for client_id in set(client_ids)}
    if not keys:
        return set()
    found = shared_cache.get_many(keys)  # (or as the request read them ahead)
    subscribed = {keys[key] for key, value in found.items() if value is True}
    unknown = {client_id for key, client_id in keys.items() if not isinstance(found.get(key), bool)}
    if unknown:
        with scopes_disabled():
            active = set(
                WebhookSubscription.objects.filter(client_id__in=unknown, active=True)
                .order_by()
                .values_list("client_id", flat=True)
                .distinct()
            )
        subscribed |= active
        # Only where no entry is: a stale one stays until it expires.
        remember(
            {client_id: client_id in active for client_id in unknown if cache_key(client_id) not in found}
        )
    return subscribed


def remember(answers: dict[int, bool]) -> None:
    """Keep what the fan-out just read from the database (except over a stale or present entry)."""
    for client_id, subscribed in answers.items():
        cache.add(cache_key(client_id), bool(subscribed), TTL_SECONDS)


def forget(client_ids: Iterable[int]) -> None:
    """Mark these clients' entries stale now and after the commit of the change that calls it."""
    mark_stale((cache_key(client_id) for client_id in client_ids), TTL_SECONDS)


@receiver([post_save, post_delete], sender=WebhookSubscription, dispatch_uid="subscription_cache")
def _subscription_changed(sender, instance: WebhookSubscription, **kwargs) -> None:
    forget([instance.client_id])
