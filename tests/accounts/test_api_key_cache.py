"""Authentication keeps a key in the cache for a few seconds, and every change that bears on it
(revocation, its client's or staff user's change or deactivation) takes effect on the next request."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import api_key_cache
from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import APIKey
from accounts.services import api_key_revoke, client_update, user_set_active
from tests.accounts.factories import UserFactory, make_api_key
from tests.conftest import bearer

URL = "/api/v1/clients/"


def _key_reads(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get(URL).status_code == 200
    return sum(q["sql"].startswith('SELECT "accounts_apikey"."id"') for q in queries.captured_queries)


def test_a_known_key_is_not_read_again_while_cached(tenant_a):
    key, secret = make_api_key(client=tenant_a.client)
    api = bearer(secret)
    assert _key_reads(api) == 1
    assert _key_reads(api) == 0
    assert api_key_cache.cached(key.prefix).pk == key.pk


def test_a_cached_prefix_with_a_wrong_secret_is_refused(tenant_a):
    _key, secret = make_api_key(client=tenant_a.client)
    assert bearer(secret).get(URL).status_code == 200
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert bearer(forged).get(URL).status_code == 401


def test_revocation_takes_effect_on_the_next_request(tenant_a):
    key, secret = make_api_key(client=tenant_a.client)
    assert bearer(secret).get(URL).status_code == 200  # cached now
    api_key_revoke(actor=Actor.system("test"), api_key=key)
    assert bearer(secret).get(URL).status_code == 401


def test_a_key_read_before_its_revocation_is_not_put_back(tenant_a):
    key, secret = make_api_key(client=tenant_a.client)
    stale = APIKey.all_objects.select_related("client", "staff_user").get(pk=key.pk)
    api_key_revoke(actor=Actor.system("test"), api_key=key)
    api_key_cache.remember(stale)  # a request that read the key just before the revocation
    assert api_key_cache.cached(key.prefix) is None
    assert bearer(secret).get(URL).status_code == 401


def test_deactivating_the_client_or_the_staff_user_takes_effect_at_once(tenant_a):
    staff = UserFactory(role=Role.ACCOUNT_MANAGER, client=None)
    _, staff_secret = make_api_key(staff_user=staff)
    admin = UserFactory(role=Role.OPERATOR_ADMIN, client=None)
    assert bearer(staff_secret).get(URL).status_code == 200
    assert tenant_a.api.get(URL).status_code == 200
    user_set_active(actor=Actor.for_user(admin), user=staff, active=False)
    assert bearer(staff_secret).get(URL).status_code == 401
    client_update(actor=Actor.for_user(admin), client=tenant_a.client, active=False)
    assert tenant_a.api.get(URL).status_code == 401


def test_a_client_setting_change_reaches_the_cached_key(tenant_a):
    """The cached key carries its client (the SLA clock reads its cutoff): a change is seen."""
    admin = UserFactory(role=Role.OPERATOR_ADMIN, client=None)
    assert tenant_a.api.get(URL).status_code == 200
    client_update(actor=Actor.for_user(admin), client=tenant_a.client, ship_sla_days=3)
    from accounts.authentication import authenticate_key

    assert authenticate_key(tenant_a.secret).client.ship_sla_days == 3
