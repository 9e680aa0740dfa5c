"""The API conventions every endpoint inherits: errors, pagination, ordering, throttling, idempotency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.enums import Role
from accounts.models import APIKey, User
from fulfillment.models import IdempotencyRecord
from fulfillment.tasks import purge_idempotency_keys
from tests.accounts.factories import ClientFactory, UserFactory, WarehouseFactory, make_api_key
from tests.conftest import bearer

# --- the error shape ---------------------------------------------------------------------------


def test_validation_error_names_the_field(tenant_a):
    response = tenant_a.api.post("/api/v1/users/", {"email": "not-an-email", "role": "nope"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"email", "role"}
    assert error["message"].startswith("Invalid input. ")


def test_nested_errors_use_dotted_field_names(operator_admin, session_api):
    body = {
        "code": "ZZ1",
        "name": "Z",
        "address_line1": "1 Rd",
        "city": "Reno",
        "state": "XX",
        "zip_code": "123",
        "time_zone": "Mars/Olympus",
        "closures": [{"date": "2026-12-24"}, {"date": "not-a-date"}],
    }
    response = session_api(operator_admin).post("/api/v1/warehouses/", body, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"state", "zip_code", "time_zone", "closures.1.date"} <= set(fields)


def test_service_validation_is_a_400_and_writes_nothing(operator_admin, session_api):
    api = session_api(operator_admin)
    manager = UserFactory(role=Role.CLIENT_USER)  # not an account manager
    before = (User.objects.count(), APIKey.all_objects.count())
    response = api.post(
        "/api/v1/clients/", {"name": "X", "slug": "x-brand", "account_managers": [manager.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "account_managers" in response.json()["error"]["fields"]
    assert not api.get("/api/v1/clients/?slug=x-brand").json()["results"]
    assert before == (User.objects.count(), APIKey.all_objects.count())


def test_unknown_api_path_is_a_json_404(db):
    response = bearer("fk_x").get("/api/v1/does-not-exist/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unauthenticated_is_401_in_the_error_shape(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/clients/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


# --- pagination and ordering -------------------------------------------------------------------


def test_lists_page_with_a_stable_order(operator_admin, session_api):
    for i in range(7):
        ClientFactory(name="Same name", slug=f"same-{i}")
    api = session_api(operator_admin)
    seen = []
    url = "/api/v1/clients/?ordering=name&page_size=3&q=same"
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 3
        seen += [c["slug"] for c in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7


def test_page_size_is_capped(operator_admin, session_api):
    response = session_api(operator_admin).get("/api/v1/clients/?page_size=100000")
    assert response.status_code == 200  # capped at API_MAX_PAGE_SIZE, not refused


def test_filters_apply(operator_admin, session_api):
    ClientFactory(slug="alpha-one", active=True)
    ClientFactory(slug="beta-two", active=False)
    api = session_api(operator_admin)
    assert [c["slug"] for c in api.get("/api/v1/clients/?active=false").json()["results"]] == ["beta-two"]
    assert [c["slug"] for c in api.get("/api/v1/clients/?q=alpha").json()["results"]] == ["alpha-one"]


def _populate(n: int) -> None:
    for _ in range(n):
        warehouse = WarehouseFactory()
        client = ClientFactory()
        client.warehouses.add(warehouse)
        client.account_managers.add(UserFactory(role=Role.ACCOUNT_MANAGER, client=None))
        UserFactory(role=Role.CLIENT_ADMIN, client=client)
        make_api_key(client=client)
        warehouse.closures.create(date="2026-12-24")


LIST_ENDPOINTS = [
    "/api/v1/clients/",
    "/api/v1/warehouses/",
    "/api/v1/users/",
    "/api/v1/api-keys/",
    "/api/v1/audit-events/",
]


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_list_query_count_does_not_grow_with_page_size(operator_admin, path):
    _populate(12)
    _, secret = make_api_key(staff_user=operator_admin)
    api = bearer(secret)
    api.get(path)  # the key's first use records last_used_at: not part of the list's cost
    counts = []
    for size in (2, 10):
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(f"{path}?page_size={size}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], f"{path}: {counts} queries at page sizes 2 and 10"
    assert counts[1] <= 10


def test_console_query_count_does_not_grow_with_clients(
    operator_admin, client, django_assert_max_num_queries
):
    client.force_login(operator_admin)
    _populate(3)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/console/").status_code == 200
    _populate(15)
    with CaptureQueriesContext(connection) as large:
        assert client.get("/console/").status_code == 200
    assert len(small.captured_queries) == len(large.captured_queries)


# --- throttling --------------------------------------------------------------------------------


def test_throttle_per_key_returns_429_with_retry_after(tenant_a, tenant_b, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"principal": "3/min", "anonymous": "3/min"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        statuses = [tenant_a.api.get("/api/v1/clients/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = tenant_a.api.get("/api/v1/clients/")
        assert limited.json()["error"]["code"] == "throttled"
        assert 0 < int(limited["Retry-After"]) <= 60
        # Another key has its own budget.
        assert tenant_b.api.get("/api/v1/clients/").status_code == 200
    finally:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"principal": "1200/min", "anonymous": "60/min"},
        }
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


# --- idempotency -------------------------------------------------------------------------------


def _post_key(api, name: str, key: str):
    return api.post("/api/v1/api-keys/", {"name": name}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_idempotent_replay_returns_the_first_response(tenant_a):
    first = _post_key(tenant_a.api, "ERP", "k-1")
    second = _post_key(tenant_a.api, "ERP", "k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert APIKey.all_objects.filter(client=tenant_a.client, name="ERP").count() == 1


def test_same_key_different_body_is_422(tenant_a):
    _post_key(tenant_a.api, "ERP", "k-2")
    response = _post_key(tenant_a.api, "CRM", "k-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert not APIKey.all_objects.filter(name="CRM").exists()


def test_same_key_in_flight_is_409(tenant_a):
    response = _post_key(tenant_a.api, "ERP", "k-3")  # learn the fingerprint the way a request makes it
    record = IdempotencyRecord.objects.get(key="k-3")
    record.key = "k-4"
    record.state = IdempotencyRecord.State.IN_FLIGHT
    record.locked_at = timezone.now()
    record.save()
    response = _post_key(tenant_a.api, "ERP", "k-4")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's commit setting")
def test_a_claim_in_autocommit_commits_without_waiting_for_the_disk_and_only_itself():
    """The claim's own transaction skips the WAL flush (the request's durable commit flushes past
    it); the session's setting is untouched, and a claim inside a transaction changes nothing."""
    from django.db import transaction

    from fulfillment.api import idempotency

    fields = {"principal": "key:1", "fingerprint": "f" * 64, "method": "POST", "path": "/x"}
    fields["locked_at"] = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        record = idempotency._claim(key="async-1", **fields)
    [sql] = [q["sql"] for q in queries.captured_queries]
    assert sql.startswith("SET LOCAL synchronous_commit TO OFF; INSERT INTO")
    assert IdempotencyRecord.objects.filter(pk=record.pk, state="in_flight").exists()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        idempotency._claim(key="async-2", **fields)
    assert not any("synchronous_commit" in q["sql"] for q in queries.captured_queries)
    with pytest.raises(IntegrityError):
        idempotency._claim(key="async-1", **fields)


def test_keys_are_per_principal(tenant_a, tenant_b):
    assert _post_key(tenant_a.api, "ERP", "shared").status_code == 201
    second = _post_key(tenant_b.api, "ERP", "shared")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert second.json()["client"] == tenant_b.client.pk


def test_a_failed_request_can_be_retried_with_its_key(tenant_a):
    bad = tenant_a.api.post("/api/v1/users/", {"email": "bad"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert bad.status_code == 400
    # A 4xx is an answer too: it is replayed, not re-run.
    again = tenant_a.api.post("/api/v1/users/", {"email": "bad"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert again.status_code == 400 and again["Idempotent-Replayed"] == "true"


def test_keys_expire_after_24_hours(tenant_a):
    _post_key(tenant_a.api, "ERP", "k-6")
    IdempotencyRecord.objects.filter(key="k-6").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_idempotency_keys() == 1
    assert purge_idempotency_keys() == 0
    assert _post_key(tenant_a.api, "ERP", "k-6").status_code == 201
    assert APIKey.all_objects.filter(client=tenant_a.client, name="ERP").count() == 2


def test_overlong_idempotency_key_is_a_400(tenant_a):
    response = _post_key(tenant_a.api, "ERP", "x" * 300)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_object():
    """Eight concurrent POSTs with the same key: one creates, the rest replay it or get 409."""
    from tests.conftest import make_tenant

    tenant = make_tenant("C")
    barrier = threading.Barrier(8)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def worker():
        from django.db import connection as thread_connection

        try:
            api = bearer(tenant.secret)
            barrier.wait()
            response = _post_key(api, "Concurrent", "same-key")
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(s for s, _ in results)
    assert len(results) == 8
    assert set(statuses) <= {201, 409}, statuses
    created_ids = {body["id"] for s, body in results if s == 201}
    assert len(created_ids) == 1, results
    assert APIKey.all_objects.filter(client=tenant.client, name="Concurrent").count() == 1


def test_throttle_admits_exactly_the_rate_under_concurrent_requests(settings):
    """The window is checked and recorded in one atomic step: requests at the same moment cannot
    each see room for themselves (DRF's read-modify-write of one cache entry could)."""
    from types import SimpleNamespace

    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    from fulfillment.api.throttling import PrincipalRateThrottle

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"principal": "5/min", "anonymous": "5/min"},
    }
    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        key = SimpleNamespace(pk=987654, key_hash="x")
        request = SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=None), auth=key, META={})
        start, results = threading.Barrier(20), []

        def hit():
            start.wait()
            throttle = PrincipalRateThrottle()
            results.append((throttle.allow_request(request, None), throttle.wait()))

        threads = [threading.Thread(target=hit) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(allowed for allowed, _ in results) == 5
        assert all(0 < wait <= 60 for allowed, wait in results if not allowed), results
    finally:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"principal": "1200/min", "anonymous": "60/min"},
        }
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
