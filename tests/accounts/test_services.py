"""Services: validation before writing, nothing half-written, and an audit row for every write."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services
from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import AuditEvent, Client, User, Warehouse
from tests.accounts.factories import ClientFactory, WarehouseFactory


@pytest.fixture
def admin_actor(operator_admin):
    return Actor.for_user(operator_admin)


def _actions(**filters) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("pk").values_list("action", flat=True))


def test_client_defaults_follow_domain_md(admin_actor):
    client = services.client_create(actor=admin_actor, name="Nova", slug="nova")
    assert client.order_cutoff == time(14, 0)
    assert client.ship_sla_days == 0
    assert client.dock_to_stock_days == 2
    targets = [
        client.target_on_time_ship,
        client.target_order_accuracy,
        client.target_inventory_accuracy,
        client.target_dock_to_stock,
        client.target_receiving_accuracy,
        client.target_carrier_on_time,
    ]
    assert [str(t) for t in targets] == ["99.50", "99.90", "99.50", "95.00", "99.00", "95.00"]


def test_every_service_write_is_audited_with_who_what_and_changes(admin_actor, operator_admin):
    warehouse = services.warehouse_create(
        actor=admin_actor,
        code="NV1",
        name="Reno",
        address_line1="1 Rd",
        city="Reno",
        state="NV",
        zip_code="89501",
        time_zone="America/Los_Angeles",
        closures=[{"date": date(2026, 12, 24), "reason": "Eve"}],
    )
    services.warehouse_update(actor=admin_actor, warehouse=warehouse, name="Reno North")
    client = services.client_create(actor=admin_actor, name="Nova", slug="nova", warehouse_ids=[warehouse.pk])
    services.client_update(actor=admin_actor, client=client, ship_sla_days=1)
    user = services.user_invite(
        actor=admin_actor, email="Ann@Nova.test", role=Role.CLIENT_ADMIN, client=client
    )
    services.user_update(actor=admin_actor, user=user, full_name="Ann")
    services.user_set_active(actor=admin_actor, user=user, active=False)
    services.user_set_active(actor=admin_actor, user=user, active=True)
    new = services.api_key_create(actor=admin_actor, name="ERP", client=client)
    services.api_key_revoke(actor=admin_actor, api_key=new.api_key)

    assert _actions(client=client) == [
        "client.created",
        "client.updated",
        "user.invited",
        "user.updated",
        "user.deactivated",
        "user.reactivated",
        "api_key.created",
        "api_key.revoked",
    ]
    assert _actions(target_type="accounts.warehouse") == ["warehouse.created", "warehouse.updated"]
    events = AuditEvent.objects.all()
    assert {e.actor_user_id for e in events} == {operator_admin.pk}
    assert {e.actor_label for e in events} == {operator_admin.email}
    update = AuditEvent.objects.get(action="client.updated")
    assert update.changes == {"ship_sla_days": [0, 1]}
    assert update.target_id == str(client.pk) and update.target_repr == "Nova"
    assert User.objects.get(pk=user.pk).email == "ann@nova.test"


def test_an_unchanged_update_writes_no_audit_row(admin_actor):
    client = services.client_create(actor=admin_actor, name="Nova", slug="nova")
    services.client_update(actor=admin_actor, client=client, name="Nova")
    assert _actions(client=client) == ["client.created"]


def test_invalid_input_names_the_field_and_writes_nothing(admin_actor):
    before = (Client.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as exc:
        services.client_create(actor=admin_actor, name="Nova", slug="Nova Brand", time_zone="Mars/Base")
    assert {"slug", "time_zone"} <= set(exc.value.message_dict)
    with pytest.raises(ValidationError) as exc:
        services.client_create(actor=admin_actor, name="Nova", slug="nova", warehouse_ids=[999999])
    assert "warehouses" in exc.value.message_dict
    assert (Client.objects.count(), AuditEvent.objects.count()) == before


def test_invitation_email_carries_a_set_password_link(admin_actor, django_capture_on_commit_callbacks):
    client = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_invite(
            actor=admin_actor, email="new@brand.test", role=Role.CLIENT_USER, client=client
        )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "/accounts/reset/" in mail.outbox[0].body
    assert not user.has_usable_password()


def test_client_admin_invites_only_into_its_own_client(tenant_a, tenant_b):
    actor = Actor.for_user(tenant_a.admin)
    user = services.user_invite(actor=actor, email="x@a.test", role=Role.CLIENT_USER, client=tenant_b.client)
    assert user.client == tenant_a.client
    with pytest.raises(PermissionDenied):
        services.user_invite(actor=actor, email="y@a.test", role=Role.ACCOUNT_MANAGER)


def test_users_cannot_deactivate_or_demote_themselves(tenant_a):
    actor = Actor.for_user(tenant_a.admin)
    with pytest.raises(ValidationError):
        services.user_set_active(actor=actor, user=tenant_a.admin, active=False)
    with pytest.raises(ValidationError):
        services.user_update(actor=actor, user=tenant_a.admin, role=Role.CLIENT_USER)


def test_roles_do_not_cross_between_operator_and_client(admin_actor, tenant_a):
    with pytest.raises(ValidationError) as exc:
        services.user_update(actor=admin_actor, user=tenant_a.user, role=Role.ACCOUNT_MANAGER)
    assert "role" in exc.value.message_dict


def test_account_managers_are_assigned_by_operator_admins_only(account_manager):
    client = ClientFactory()
    client.account_managers.add(account_manager)
    with pytest.raises(PermissionDenied):
        services.client_update(
            actor=Actor.for_user(account_manager), client=client, account_manager_ids=[account_manager.pk]
        )


def test_closures_replace_the_previous_set(admin_actor):
    warehouse = WarehouseFactory()
    services.warehouse_update(
        actor=admin_actor,
        warehouse=warehouse,
        closures=[{"date": date(2026, 12, 24)}, {"date": date(2026, 12, 31)}],
    )
    services.warehouse_update(actor=admin_actor, warehouse=warehouse, closures=[{"date": date(2026, 12, 31)}])
    assert list(Warehouse.objects.get(pk=warehouse.pk).closures.values_list("date", flat=True)) == [
        date(2026, 12, 31)
    ]
    with pytest.raises(ValidationError):
        services.warehouse_update(
            actor=admin_actor,
            warehouse=warehouse,
            closures=[{"date": date(2027, 1, 1)}, {"date": date(2027, 1, 1)}],
        )


def test_database_keeps_client_users_tied_to_a_client(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="loose@x.test", role=Role.CLIENT_USER, client=None)])
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create(
            [User(email="staff@x.test", role=Role.ACCOUNT_MANAGER, client=ClientFactory())]
        )


def test_client_admin_sees_its_audit_trail_and_the_operator_sees_all(
    tenant_a, tenant_b, operator_admin, session_api
):
    tenant_a.api.post("/api/v1/api-keys/", {"name": "A's"}, format="json")
    tenant_b.api.post("/api/v1/api-keys/", {"name": "B's"}, format="json")
    a_events = session_api(tenant_a.admin).get("/api/v1/audit-events/").json()["results"]
    assert a_events and {e["client"] for e in a_events} == {tenant_a.client.pk}
    all_events = session_api(operator_admin).get("/api/v1/audit-events/?page_size=500").json()["results"]
    assert {tenant_a.client.pk, tenant_b.client.pk} <= {e["client"] for e in all_events}
    # The audit trail is read-only through the API.
    api = session_api(operator_admin)
    assert api.delete(f"/api/v1/audit-events/{a_events[0]['id']}/").status_code == 405


def test_seed_demo_is_idempotent(db):
    import io

    from django.core.management import call_command

    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    counts = (
        Client.objects.count(),
        User.objects.count(),
        Warehouse.objects.count(),
        AuditEvent.objects.count(),
    )
    second = io.StringIO()
    call_command("seed_demo", stdout=second)
    assert counts == (5, 14, 3, AuditEvent.objects.count())  # 4 staff + an admin and a user per brand
    assert counts[:3] == (Client.objects.count(), User.objects.count(), Warehouse.objects.count())
    assert "fk_" in first.getvalue() and "fk_" not in second.getvalue()
    assert "admin@demo.fulfillment.test" in second.getvalue()
    assert len({w.time_zone for w in Warehouse.objects.all()}) == 3
