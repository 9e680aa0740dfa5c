"""The authenticated API key of a request, kept in the shared cache for a few seconds.

An integration posting hundreds of orders a second would otherwise read its key (and its client,
or its staff user) from the database on every request. The cache holds the key as authentication
read it, by its prefix; the secret is still checked against the key's hash on every request.

Every save or delete of what a cached key carries (the key itself: revocation; its client: settings,
deactivation; its staff user: role, deactivation), through a service, the admin site or a shell,
marks the key's entry stale at once and again after the commit (the ``post_save`` and
``post_delete`` receivers below: cache coherence, not domain logic). A stale entry sends
authentication to the database until it expires, and an entry is only ever added where none is
(``cache.add``), so a request that read the key just before the change cannot put the old key back.
Only a bulk ``QuerySet.update()`` of those rows (which sends no signal) waits for ``TTL_SECONDS``.
The receivers are connected in every process by ``AccountsConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fulfillment.cache import mark_stale

from .models import APIKey, Client, User

TTL_SECONDS = 10


def _cache_key(prefix: str) -> str:
    return f"api-key:{prefix}"


def cached(prefix: str) -> APIKey | None:
    """The key of this prefix as authentication last read it, unless stale or expired."""
    value = cache.get(_cache_key(prefix))
    return value if isinstance(value, APIKey) else None


def remember(key: APIKey) -> None:
    """Keep the key authentication just read from the database (unless its entry is stale)."""
    cache.add(_cache_key(key.prefix), key, TTL_SECONDS)


def forget(prefixes: Iterable[str]) -> None:
    """Mark these keys' entries stale now and after the commit of the change that calls it."""
    mark_stale((_cache_key(prefix) for prefix in prefixes), TTL_SECONDS)


def forget_keys_of(*, client_id: int | None = None, staff_user_id: int | None = None) -> None:
    """``forget`` every key of a client or of a staff user."""
    keys = APIKey.all_objects.none()
    if client_id is not None:
        keys = APIKey.all_objects.filter(client_id=client_id)
    elif staff_user_id is not None:
        keys = APIKey.all_objects.filter(staff_user_id=staff_user_id)
    forget(keys.values_list("prefix", flat=True))


@receiver([post_save, post_delete], sender=APIKey, dispatch_uid="api_key_cache.key")
def _key_changed(sender, instance: APIKey, created: bool = False, **kwargs) -> None:
    if not created:  # a new key's prefix is new: nothing to forget
        forget([instance.prefix])


@receiver([post_save, post_delete], sender=Client, dispatch_uid="api_key_cache.client")
def _client_changed(sender, instance: Client, created: bool = False, **kwargs) -> None:
    if not created:
        forget_keys_of(client_id=instance.pk)


@receiver([post_save, post_delete], sender=User, dispatch_uid="api_key_cache.user")
def _user_changed(sender, instance: User, created: bool = False, update_fields=None, **kwargs) -> None:
    if created or (update_fields is not None and set(update_fields) <= {"last_login", "password"}):
        return  # nothing a key acts with (a sign-in, a new password)
    forget_keys_of(staff_user_id=instance.pk)
