from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from accounts.enums import Role
from tests.accounts.factories import ClientFactory, UserFactory, WarehouseFactory, make_api_key


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """A cache key prefix per test: throttles and other cached state never leak between tests
    (or between xdist workers sharing one Redis), without flushing anyone else's keys."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_inline():
    """Tasks enqueued on commit run at once in the committing thread (the boot test runs a real worker)."""
    from fulfillment.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's cost is the point in production and pure waste in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _unscoped_test_body():
    """Test bodies set up and inspect data across tenants; requests still open their own scope."""
    with scopes_disabled():
        yield


def bearer(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


@dataclass
class Tenant:
    """One brand with a node, an admin, a user, and a read-write and a read-only key."""

    client: object
    warehouse: object
    admin: object
    user: object
    key: object
    secret: str
    ro_key: object
    ro_secret: str

    @property
    def api(self) -> APIClient:
        return bearer(self.secret)


def make_tenant(label: str) -> Tenant:
    warehouse = WarehouseFactory()
    client = ClientFactory(name=f"Tenant {label}", slug=f"tenant-{label.lower()}-{uuid.uuid4().hex[:6]}")
    client.warehouses.add(warehouse)
    admin = UserFactory(role=Role.CLIENT_ADMIN, client=client, email=f"admin-{client.slug}@example.test")
    user = UserFactory(role=Role.CLIENT_USER, client=client, email=f"user-{client.slug}@example.test")
    key, secret = make_api_key(client=client, name=f"key of {label}")
    ro_key, ro_secret = make_api_key(client=client, name=f"read-only key of {label}", read_only=True)
    return Tenant(client, warehouse, admin, user, key, secret, ro_key, ro_secret)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant("A")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant("B")


@pytest.fixture
def operator_admin(db):
    return UserFactory(role=Role.OPERATOR_ADMIN, client=None)


@pytest.fixture
def account_manager(db):
    return UserFactory(role=Role.ACCOUNT_MANAGER, client=None)


@pytest.fixture
def warehouse_operator(db):
    return UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)


@pytest.fixture
def session_api():
    """An APIClient logged in as ``user`` via the session (the browser's way)."""

    def make(user) -> APIClient:
        api = APIClient()
        api.force_login(user)
        return api

    return make
