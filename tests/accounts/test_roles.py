"""The role table, row by row: first as written in code, then as the API and the pages enforce it."""

from __future__ import annotations

import uuid

import pytest

from accounts.enums import Role
from accounts.roles import ROLE_PERMISSIONS, Perm
from tests.accounts.factories import ClientFactory, UserFactory, WarehouseFactory

OA, AM, WO, CA, CU = (
    Role.OPERATOR_ADMIN,
    Role.ACCOUNT_MANAGER,
    Role.WAREHOUSE_OPERATOR,
    Role.CLIENT_ADMIN,
    Role.CLIENT_USER,
)

# What DOMAIN.md's roles may do, written out independently of accounts/roles.py.
EXPECTED = {
    OA: set(Perm) - {Perm.PORTAL},
    AM: {
        Perm.CONSOLE,
        Perm.CLIENT_VIEW,
        Perm.CLIENT_UPDATE,
        Perm.WAREHOUSE_VIEW,
        Perm.USER_VIEW,
        Perm.USER_MANAGE,
        Perm.API_KEY_VIEW,
        Perm.STAFF_KEY_OWN,
        Perm.AUDIT_VIEW,
        Perm.INVENTORY_VIEW,
        Perm.ITEM_MANAGE,
        Perm.LOCATION_VIEW,
        Perm.ASN_MANAGE,
        Perm.ORDER_VIEW,
        Perm.ORDER_MANAGE,
        Perm.ORDER_REALLOCATE,
        Perm.WAVE_VIEW,
        Perm.SHIPMENT_VIEW,
        Perm.TRACKING_RECORD,
        Perm.CARRIER_VIEW,
        Perm.EVENT_VIEW,
        Perm.WEBHOOK_VIEW,
        Perm.WEBHOOK_MANAGE,
        Perm.REPORT_VIEW,
        Perm.ALERT_VIEW,
        Perm.ALERT_MANAGE,
        Perm.ALERT_RULES,
        Perm.ORDER_ERROR_RECORD,
        Perm.QBR_EDIT,
        Perm.EXPORT,
    },
    WO: {
        Perm.CONSOLE,
        Perm.CLIENT_VIEW,
        Perm.WAREHOUSE_VIEW,
        Perm.STAFF_KEY_OWN,
        Perm.WAREHOUSE_FLOOR,
        Perm.INVENTORY_VIEW,
        Perm.LOCATION_VIEW,
        Perm.STOCK_ADJUST,
        Perm.COUNT,
        Perm.ASN_RECEIVE,
        Perm.ORDER_VIEW,
        Perm.WAVE_VIEW,
        Perm.FULFILL,
        Perm.SHIPMENT_VIEW,
        Perm.TRACKING_RECORD,
        Perm.CARRIER_VIEW,
        Perm.REPORT_VIEW,
        Perm.ALERT_VIEW,
        Perm.ALERT_MANAGE,
        Perm.ORDER_ERROR_RECORD,
    },
    CA: {
        Perm.PORTAL,
        Perm.CLIENT_VIEW,
        Perm.WAREHOUSE_VIEW,
        Perm.USER_VIEW,
        Perm.USER_MANAGE,
        Perm.API_KEY_VIEW,
        Perm.API_KEY_MANAGE,
        Perm.AUDIT_VIEW,
        Perm.INVENTORY_VIEW,
        Perm.ITEM_MANAGE,
        Perm.ASN_MANAGE,
        Perm.ORDER_VIEW,
        Perm.ORDER_MANAGE,
        Perm.SHIPMENT_VIEW,
        Perm.CARRIER_VIEW,
        Perm.EVENT_VIEW,
        Perm.WEBHOOK_VIEW,
        Perm.WEBHOOK_MANAGE,
        Perm.REPORT_VIEW,
        Perm.ALERT_VIEW,
        Perm.EXPORT,
    },
    CU: {
        Perm.PORTAL,
        Perm.CLIENT_VIEW,
        Perm.WAREHOUSE_VIEW,
        Perm.USER_VIEW,
        Perm.INVENTORY_VIEW,
        Perm.ITEM_MANAGE,
        Perm.ASN_MANAGE,
        Perm.ORDER_VIEW,
        Perm.ORDER_MANAGE,
        Perm.SHIPMENT_VIEW,
        Perm.CARRIER_VIEW,
        Perm.EVENT_VIEW,
        Perm.REPORT_VIEW,
        Perm.ALERT_VIEW,
        Perm.EXPORT,
    },
}


@pytest.mark.parametrize("role", list(Role))
def test_role_table_row(role):
    assert set(ROLE_PERMISSIONS[role]) == EXPECTED[role]


@pytest.fixture
def world(db):
    """One client with a node; one user of each role, the staff ones attached to that client/node."""
    warehouse = WarehouseFactory()
    client = ClientFactory()
    client.warehouses.add(warehouse)
    users = {
        OA: UserFactory(role=OA, client=None),
        AM: UserFactory(role=AM, client=None),
        WO: UserFactory(role=WO, client=None),
        CA: UserFactory(role=CA, client=client),
        CU: UserFactory(role=CU, client=client),
    }
    client.account_managers.add(users[AM])
    users[WO].warehouses.add(warehouse)
    return {"client": client, "warehouse": warehouse, "users": users}


def _uid() -> str:
    return uuid.uuid4().hex[:8]


# (operation, method, path builder, body builder, {role: expected status})
OPERATIONS = [
    (
        "list clients",
        "get",
        lambda w: "/api/v1/clients/",
        None,
        {OA: 200, AM: 200, WO: 200, CA: 200, CU: 200},
    ),
    (
        "create client",
        "post",
        lambda w: "/api/v1/clients/",
        lambda w: {"name": "New", "slug": f"new-{_uid()}"},
        {OA: 201, AM: 403, WO: 403, CA: 403, CU: 403},
    ),
    (
        "update client SLA",
        "patch",
        lambda w: f"/api/v1/clients/{w['client'].pk}/",
        lambda w: {"ship_sla_days": 1},
        {OA: 200, AM: 200, WO: 403, CA: 403, CU: 403},
    ),
    (
        "assign account managers",
        "patch",
        lambda w: f"/api/v1/clients/{w['client'].pk}/",
        lambda w: {"account_managers": [w["users"][AM].pk]},
        {OA: 200, AM: 403, WO: 403, CA: 403, CU: 403},
    ),
    (
        "list warehouses",
        "get",
        lambda w: "/api/v1/warehouses/",
        None,
        {OA: 200, AM: 200, WO: 200, CA: 200, CU: 200},
    ),
    (
        "create warehouse",
        "post",
        lambda w: "/api/v1/warehouses/",
        lambda w: {
            "code": f"X{_uid()[:5].upper()}",
            "name": "New node",
            "address_line1": "1 Road",
            "city": "Reno",
            "state": "NV",
            "zip_code": "89501",
            "time_zone": "America/Los_Angeles",
        },
        {OA: 201, AM: 403, WO: 403, CA: 403, CU: 403},
    ),
    ("list users", "get", lambda w: "/api/v1/users/", None, {OA: 200, AM: 200, WO: 403, CA: 200, CU: 200}),
    (
        "invite a client user",
        "post",
        lambda w: "/api/v1/users/",
        lambda w: {"email": f"new-{_uid()}@example.test", "role": "client_user", "client": w["client"].pk},
        {OA: 201, AM: 201, WO: 403, CA: 201, CU: 403},
    ),
    (
        "invite a staff user",
        "post",
        lambda w: "/api/v1/users/",
        lambda w: {"email": f"staff-{_uid()}@example.test", "role": "account_manager"},
        {OA: 201, AM: 403, WO: 403, CA: 403, CU: 403},
    ),
    (
        "list API keys",
        "get",
        lambda w: "/api/v1/api-keys/",
        None,
        {OA: 200, AM: 200, WO: 200, CA: 200, CU: 403},
    ),
    (
        "create a client key",
        "post",
        lambda w: "/api/v1/api-keys/",
        lambda w: {"name": "ERP", "client": w["client"].pk},
        {OA: 201, AM: 403, WO: 403, CA: 201, CU: 403},
    ),
    (
        "create an own staff key",
        "post",
        lambda w: "/api/v1/api-keys/",
        lambda w: {"name": "scanner"},
        {OA: 201, AM: 201, WO: 201, CA: 201, CU: 403},
    ),
    (
        "audit trail",
        "get",
        lambda w: "/api/v1/audit-events/",
        None,
        {OA: 200, AM: 200, WO: 403, CA: 200, CU: 403},
    ),
    ("console page", "get", lambda w: "/console/", None, {OA: 200, AM: 200, WO: 200, CA: 403, CU: 403}),
    ("portal page", "get", lambda w: "/portal/", None, {OA: 403, AM: 403, WO: 403, CA: 200, CU: 200}),
    (
        "portal API keys page",
        "get",
        lambda w: "/portal/api-keys/",
        None,
        {OA: 403, AM: 403, WO: 403, CA: 200, CU: 403},
    ),
    ("admin site", "get", lambda w: "/admin/", None, {OA: 200, AM: 302, WO: 302, CA: 302, CU: 302}),
]


@pytest.mark.parametrize("role", list(Role))
def test_role_can_do_exactly_its_row(world, session_api, role):
    """Each role's row: every operation answers as the table says."""
    api = session_api(world["users"][role])
    mismatches = []
    for name, method, path, body, expected in OPERATIONS:
        kwargs = {"format": "json"} if body else {}
        response = getattr(api, method)(path(world), body(world) if body else None, **kwargs)
        if response.status_code != expected[role]:
            mismatches.append(f"{name}: expected {expected[role]}, got {response.status_code}")
    assert not mismatches, f"{role}: " + "; ".join(mismatches)


def test_account_manager_sees_only_assigned_clients(world, session_api):
    other = ClientFactory()
    api = session_api(world["users"][AM])
    slugs = {c["slug"] for c in api.get("/api/v1/clients/").json()["results"]}
    assert slugs == {world["client"].slug}
    assert api.get(f"/api/v1/clients/{other.pk}/").status_code == 404
    assert api.patch(f"/api/v1/clients/{other.pk}/", {"ship_sla_days": 2}, format="json").status_code == 404


def test_warehouse_operator_sees_its_nodes_and_the_clients_served_there(world, session_api):
    elsewhere = WarehouseFactory()
    other_client = ClientFactory()
    other_client.warehouses.add(elsewhere)
    api = session_api(world["users"][WO])
    codes = {w["code"] for w in api.get("/api/v1/warehouses/").json()["results"]}
    assert codes == {world["warehouse"].code}
    slugs = {c["slug"] for c in api.get("/api/v1/clients/").json()["results"]}
    assert slugs == {world["client"].slug}


def test_client_user_sees_its_own_client_only(world, session_api):
    other = ClientFactory()
    api = session_api(world["users"][CU])
    assert [c["slug"] for c in api.get("/api/v1/clients/").json()["results"]] == [world["client"].slug]
    assert api.get(f"/api/v1/clients/{other.pk}/").status_code == 404
