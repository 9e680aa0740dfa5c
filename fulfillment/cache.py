"""The Redis cache backend, with one Redis client per connection pool.

Django's ``RedisCacheClient`` builds a ``redis.Redis`` for every cache operation, and building one
copies redis-py's table of response callbacks: about 0.1 ms of CPU per ``get`` or ``set``, more
than the round trip itself. A client is thread-safe (it takes a connection from its pool for each
command), so one per pool serves every operation of the backend.

A request can also read ahead (``read_ahead``): entries it will need are fetched in the round trip
that checks its rate limit (``fulfillment.api.throttling``), and ``get`` serves them from the
request's own memory until it ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.db import transaction

STALE = "stale"


def mark_stale(keys: Iterable[str], ttl: int) -> None:
    """Mark these entries of a cache with invalidation (``accounts.api_key_cache``,
    ``accounts.node_cache``, ``shipments.subscription_cache``) stale now and again after the commit of
    the change that calls it. Readers only ever ``add`` an entry, so one that read the old value
    before the change cannot put it back; a stale entry sends them to the database until it
    expires."""
    stale = dict.fromkeys(keys, STALE)
    if not stale:
        return
    forget_read_ahead(stale)
    cache.set_many(stale, ttl)
    transaction.on_commit(lambda: cache.set_many(stale, ttl))


# The entries read ahead for the request this thread serves (key -> value, None where there was no
# entry), or None outside a request that reads ahead.
_read_ahead: ContextVar[dict[str, Any] | None] = ContextVar("cache_read_ahead", default=None)


@contextmanager
def read_ahead() -> Iterator[None]:
    """A request's span (``PlatformAPIMixin.dispatch``): what it reads ahead (``remember_read``)
    ``get`` serves until the span ends."""
    token = _read_ahead.set({})
    try:
        yield
    finally:
        _read_ahead.reset(token)


def remember_read(values: dict[str, Any]) -> None:
    """Keep entries just read from the cache (None for an absent one) for the rest of the request."""
    found = _read_ahead.get()
    if found is not None:
        found.update(values)


def forget_read_ahead(keys: Iterable[str]) -> None:
    """Drop entries read ahead (the request itself changed them: ``mark_stale``)."""
    found = _read_ahead.get()
    if found:
        for key in keys:
            found.pop(key, None)


def get(key: str) -> Any:
    """``cache.get(key)``, or the value read ahead for this request."""
    found = _read_ahead.get()
    if found and key in found:
        return found[key]
    return cache.get(key)


def get_many(keys: Iterable[str]) -> dict[str, Any]:
    """``cache.get_many(keys)``, taking what was read ahead for this request from it."""
    keys = list(keys)
    found = _read_ahead.get() or {}
    ahead = {key: found[key] for key in keys if key in found}
    rest = [key for key in keys if key not in ahead]
    values = {key: value for key, value in ahead.items() if value is not None}
    if rest:
        values.update(cache.get_many(rest))
    return values


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
