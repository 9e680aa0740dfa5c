from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.enums import Role
from accounts.models import APIKey, AuditEvent
from tests.accounts.factories import ClientFactory, UserFactory, make_api_key
from tests.conftest import bearer


def _database_contains(text: str) -> list[str]:
    """Every (table, column) whose text contains ``text``: a scan of the whole schema."""
    hits = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb')"
        )
        for table, column in cursor.fetchall():
            cursor.execute(f'SELECT 1 FROM "{table}" WHERE "{column}"::text LIKE %s LIMIT 1', [f"%{text}%"])
            if cursor.fetchone():
                hits.append(f"{table}.{column}")
    return hits


def test_key_is_hashed_at_rest_and_shown_once(tenant_a):
    response = tenant_a.api.post("/api/v1/api-keys/", {"name": "ERP"}, format="json")
    assert response.status_code == 201
    secret = response.json()["key"]
    prefix = response.json()["prefix"]
    assert secret.startswith(f"fk_{prefix}_")
    # Nowhere in the database: not the key, not its secret part.
    assert _database_contains(secret) == []
    assert _database_contains(secret.split("_", 2)[2]) == []
    # Never again in the API.
    assert "key" not in tenant_a.api.get(f"/api/v1/api-keys/{response.json()['id']}/").json()
    assert secret not in tenant_a.api.get("/api/v1/api-keys/").content.decode()
    # And it works.
    assert bearer(secret).get("/api/v1/clients/").status_code == 200


def test_revoked_key_is_refused(tenant_a):
    key, secret = make_api_key(client=tenant_a.client)
    assert bearer(secret).get("/api/v1/clients/").status_code == 200
    response = tenant_a.api.post(f"/api/v1/api-keys/{key.pk}/revoke/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    refused = bearer(secret).get("/api/v1/clients/")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"
    assert refused["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer fk_nope_nope", "Bearer", "Bearer a b", "Bearer fk_abcdefgh_" + "x" * 43],
)
def test_malformed_or_unknown_keys_are_401(db, header):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/clients/")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_wrong_secret_with_a_real_prefix_is_refused(tenant_a):
    forged = tenant_a.secret[:-4] + ("AAAA" if not tenant_a.secret.endswith("AAAA") else "BBBB")
    assert bearer(forged).get("/api/v1/clients/").status_code == 401


def test_read_only_key_reads_but_cannot_write(tenant_a):
    api = bearer(tenant_a.ro_secret)
    assert api.get("/api/v1/users/").status_code == 200
    response = api.post("/api/v1/users/", {"email": "x@example.test", "role": "client_user"}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]
    assert api.post(f"/api/v1/api-keys/{tenant_a.key.pk}/revoke/").status_code == 403
    tenant_a.key.refresh_from_db()
    assert tenant_a.key.revoked_at is None


def test_key_of_inactive_client_or_user_stops_working(tenant_a):
    staff = UserFactory(role=Role.ACCOUNT_MANAGER, client=None)
    _, staff_secret = make_api_key(staff_user=staff)
    assert bearer(staff_secret).get("/api/v1/clients/").status_code == 200
    staff.is_active = False
    staff.save()
    assert bearer(staff_secret).get("/api/v1/clients/").status_code == 401
    tenant_a.client.active = False
    tenant_a.client.save()
    assert tenant_a.api.get("/api/v1/clients/").status_code == 401


def test_last_used_is_recorded(tenant_a):
    assert tenant_a.key.last_used_at is None
    tenant_a.api.get("/api/v1/clients/")
    tenant_a.key.refresh_from_db()
    assert tenant_a.key.last_used_at is not None


def test_staff_key_acts_as_its_owner(db):
    manager = UserFactory(role=Role.ACCOUNT_MANAGER, client=None)
    mine, _not_mine = ClientFactory(), ClientFactory()
    mine.account_managers.add(manager)
    _, secret = make_api_key(staff_user=manager)
    slugs = [c["slug"] for c in bearer(secret).get("/api/v1/clients/").json()["results"]]
    assert slugs == [mine.slug]


def test_client_admin_cannot_create_a_key_for_another_client(tenant_a, tenant_b):
    response = tenant_a.api.post(
        "/api/v1/api-keys/", {"name": "x", "client": tenant_b.client.pk}, format="json"
    )
    assert response.status_code == 400
    assert "client" in response.json()["error"]["fields"]
    assert not APIKey.all_objects.filter(client=tenant_b.client, name="x").exists()


def test_key_creation_and_revocation_are_audited(tenant_a):
    created = tenant_a.api.post("/api/v1/api-keys/", {"name": "Audited"}, format="json").json()
    tenant_a.api.post(f"/api/v1/api-keys/{created['id']}/revoke/")
    events = AuditEvent.objects.filter(target_type="accounts.apikey", target_id=str(created["id"]))
    assert sorted(events.values_list("action", flat=True)) == ["api_key.created", "api_key.revoked"]
    assert all(e.actor_api_key_id == tenant_a.key.pk and e.client_id == tenant_a.client.pk for e in events)
    assert created["key"] not in str(list(events.values_list("changes", flat=True)))


def test_create_api_key_command_prints_the_key_alone_on_the_last_line(tenant_a):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "--client", tenant_a.client.slug, "--read-only", stdout=out, stderr=err)
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("fk_") and " " not in secret
    key = APIKey.all_objects.get(prefix=secret.split("_")[1])
    assert key.read_only and key.client == tenant_a.client
    assert bearer(secret).post("/api/v1/api-keys/", {"name": "x"}, format="json").status_code == 403


def test_create_api_key_command_for_staff(db):
    admin = UserFactory(role=Role.OPERATOR_ADMIN, client=None, email="ops@example.test")
    out = io.StringIO()
    call_command("create_api_key", "--staff", "OPS@example.test", stdout=out, stderr=io.StringIO())
    secret = out.getvalue().strip().splitlines()[-1]
    assert APIKey.all_objects.get(prefix=secret.split("_")[1]).staff_user == admin
    assert bearer(secret).get("/api/v1/users/").status_code == 200


def test_create_api_key_command_rejects_unknown_owner(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No client"):
        call_command("create_api_key", "--client", "nope", stdout=io.StringIO(), stderr=io.StringIO())
