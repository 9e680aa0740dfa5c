"""A request reads ahead the cache entries it will need, in the round trip of its rate limit, and
reads them from its own memory until it ends (``fulfillment.cache``, ``fulfillment.api.throttling``)."""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from accounts import node_cache
from fulfillment import cache as shared_cache
from shipments import subscription_cache
from tests.inventory.factories import make_item
from tests.orders.test_api import body

ORDERS_URL = "/api/v1/orders/"
redis_only = pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache), reason="the rate limit's round trip is Redis's"
)


def test_what_was_read_ahead_is_served_until_the_request_ends():
    cache.set("ahead-a", "in the cache")
    cache.set("ahead-c", "only in the cache")
    with shared_cache.read_ahead():
        shared_cache.remember_read({"ahead-a": "read ahead", "ahead-b": None})
        assert shared_cache.get("ahead-a") == "read ahead"
        assert shared_cache.get("ahead-b") is None  # read ahead: there was no entry
        assert shared_cache.get_many(["ahead-a", "ahead-b", "ahead-c"]) == {
            "ahead-a": "read ahead",
            "ahead-c": "only in the cache",
        }
    assert shared_cache.get("ahead-a") == "in the cache"
    shared_cache.remember_read({"ahead-a": "outside a request"})  # nothing to keep it in
    assert shared_cache.get("ahead-a") == "in the cache"


@pytest.mark.django_db
def test_an_entry_the_request_marks_stale_is_read_from_the_cache_again():
    with shared_cache.read_ahead():
        shared_cache.remember_read({"ahead-d": "read ahead"})
        shared_cache.mark_stale(["ahead-d"], 10)
        assert shared_cache.get("ahead-d") == shared_cache.STALE


@redis_only
def test_an_api_order_reads_its_nodes_and_webhook_flag_with_the_rate_limit(tenant_a, monkeypatch):
    make_item(tenant_a.client, "TEE")
    ahead = {
        node_cache.cache_key(tenant_a.client.pk),
        subscription_cache.cache_key(tenant_a.client.pk),
    }
    cache.delete_many(list(ahead))  # (the setup's changes marked them stale)
    first = tenant_a.api.post(ORDERS_URL, body("AHEAD-1"), format="json")
    assert first.status_code == 201, first.content  # (cached both entries)
    backend = caches["default"]
    asked: list[str] = []
    get, get_many = backend.get, backend.get_many
    monkeypatch.setattr(backend, "get", lambda key, *a, **kw: asked.append(key) or get(key, *a, **kw))
    monkeypatch.setattr(
        backend, "get_many", lambda keys, *a, **kw: asked.extend(keys) or get_many(keys, *a, **kw)
    )
    read: list[dict] = []
    remember_read = shared_cache.remember_read
    monkeypatch.setattr(
        "fulfillment.api.throttling.remember_read",
        lambda values: read.append(values) or remember_read(values),
    )

    second = tenant_a.api.post(ORDERS_URL, body("AHEAD-2"), format="json")

    assert second.status_code == 201, second.content
    assert not ahead & set(asked)  # neither read again in the request
    assert [set(values) for values in read] == [ahead]
    nodes = read[0][node_cache.cache_key(tenant_a.client.pk)]
    assert nodes == node_cache.cached(tenant_a.client.pk) == ((tenant_a.warehouse.pk, *nodes[0][1:]),)
    assert read[0][subscription_cache.cache_key(tenant_a.client.pk)] is False  # no webhook
    assert second.json()["ship_by"] is not None


@redis_only
def test_the_rate_limit_is_counted_when_reading_ahead(tenant_a, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    make_item(tenant_a.client, "TEE")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"principal": "2/min", "anonymous": "2/min"},
    }
    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        statuses = [
            tenant_a.api.post(ORDERS_URL, body(f"LIMIT-{n}"), format="json").status_code for n in range(3)
        ]
    finally:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"principal": "1200/min", "anonymous": "60/min"},
        }
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert statuses == [201, 201, 429]


@redis_only
def test_reading_ahead_survives_a_redis_that_lost_its_scripts(tenant_a):
    """A restarted Redis has no script loaded: the pipeline's EVALSHA fails, and the request runs
    the script alone (which loads it) and reads the entries after it."""
    make_item(tenant_a.client, "TEE")
    assert tenant_a.api.post(ORDERS_URL, body("FLUSH-1"), format="json").status_code == 201
    caches["default"]._cache.get_client(write=True).script_flush()
    response = tenant_a.api.post(ORDERS_URL, body("FLUSH-2"), format="json")
    assert response.status_code == 201, response.content
    assert tenant_a.api.post(ORDERS_URL, body("FLUSH-3"), format="json").status_code == 201
