"""Sign-in, password reset and the console and portal pages (server side; the browser tests drive them too)."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.enums import Role
from accounts.models import APIKey, AuditEvent, User
from tests.accounts.factories import TEST_PASSWORD, ClientFactory, UserFactory


def _login(client, email: str, password: str):
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_login_is_by_email_case_insensitively(client, account_manager):
    response = _login(client, account_manager.email.upper(), TEST_PASSWORD)
    assert response.status_code == 302
    assert client.get("/").url == "/console/"


def test_client_users_land_in_the_portal(client, tenant_a):
    _login(client, tenant_a.user.email, TEST_PASSWORD)
    assert client.get("/").url == "/portal/"


def test_login_is_throttled_after_repeated_failures(client, account_manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, account_manager.email, "wrong password")
        assert response.status_code == 200
        assert "enter a correct" in response.content.decode().lower()
    assert _login(client, account_manager.email, "wrong password").status_code == 429
    # Locked: even the right password is refused until the cool-off passes.
    locked = _login(client, account_manager.email, TEST_PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_by_email(client, tenant_a):
    response = client.post("/accounts/password-reset/", {"email": tenant_a.user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    new_password = "a-new-long-passphrase-42"
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert done.status_code == 302
    assert _login(client, tenant_a.user.email, new_password).status_code == 302


def test_password_reset_does_not_reveal_unknown_addresses(client, db):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_console_lists_only_the_managers_clients_and_filters(client, account_manager):
    mine = [ClientFactory(name="Alpha Goods"), ClientFactory(name="Beta Brands")]
    for c in mine:
        c.account_managers.add(account_manager)
    ClientFactory(name="Gamma Hidden")
    client.force_login(account_manager)
    page = client.get("/console/clients/").content.decode()
    assert "Alpha Goods" in page and "Beta Brands" in page and "Gamma Hidden" not in page
    filtered = client.get("/console/clients/?q=beta", HTTP_HX_REQUEST="true").content.decode()
    assert "Beta Brands" in filtered and "Alpha Goods" not in filtered
    assert "<html" not in filtered  # htmx gets the rows only


def test_console_client_page_is_404_for_a_client_not_assigned(client, account_manager):
    other = ClientFactory()
    client.force_login(account_manager)
    assert client.get(f"/console/clients/{other.pk}/").status_code == 404


def test_console_client_page_shows_users_keys_and_activity(client, operator_admin, tenant_a):
    client.force_login(operator_admin)
    page = client.get(f"/console/clients/{tenant_a.client.pk}/").content.decode()
    assert tenant_a.admin.email in page
    assert tenant_a.key.prefix in page
    assert "14:00" in page


def test_portal_api_key_secret_is_shown_once(client, tenant_a):
    client.force_login(tenant_a.admin)
    response = client.post("/portal/api-keys/", {"name": "Warehouse ERP", "scope": "read_only"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-key-secret">(fk_[^<]+)<', response.content.decode()).group(1)
    key = APIKey.all_objects.get(prefix=secret.split("_")[1])
    assert key.read_only and key.client == tenant_a.client
    again = client.get("/portal/api-keys/").content.decode()
    assert secret not in again and key.prefix in again


def test_portal_api_key_form_errors_are_next_to_the_field(client, tenant_a):
    client.force_login(tenant_a.admin)
    page = client.post("/portal/api-keys/", {"name": "", "scope": "bogus"}).content.decode()
    assert page.count('class="error"') >= 2
    assert 'id="new-key-secret"' not in page


def test_portal_revokes_a_key(client, tenant_a):
    client.force_login(tenant_a.admin)
    response = client.post(f"/portal/api-keys/{tenant_a.key.pk}/revoke/")
    assert response.status_code == 302
    tenant_a.key.refresh_from_db()
    assert tenant_a.key.revoked_at is not None


def test_portal_cannot_revoke_another_clients_key(client, tenant_a, tenant_b):
    client.force_login(tenant_a.admin)
    assert client.post(f"/portal/api-keys/{tenant_b.key.pk}/revoke/").status_code == 404
    tenant_b.key.refresh_from_db()
    assert tenant_b.key.revoked_at is None


def test_portal_invites_and_deactivates_users(client, tenant_a, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/portal/users/", {"email": "picker@brand.test", "full_name": "Pat", "role": Role.CLIENT_USER}
        )
    assert response.status_code == 302
    user = User.objects.get(email="picker@brand.test")
    assert user.client == tenant_a.client and len(mail.outbox) == 1
    row = client.post(f"/portal/users/{user.pk}/deactivate/", HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and "Deactivated" in row.content.decode()
    user.refresh_from_db()
    assert not user.is_active
    assert AuditEvent.objects.filter(action="user.deactivated", target_id=str(user.pk)).exists()


def test_portal_user_cannot_invite(client, tenant_a):
    client.force_login(tenant_a.user)
    page = client.get("/portal/users/").content.decode()
    assert "Invite a user" not in page
    response = client.post("/portal/users/", {"email": "x@brand.test", "role": Role.CLIENT_USER})
    assert response.status_code == 403
    assert not User.objects.filter(email="x@brand.test").exists()


def test_duplicate_invite_shows_the_error_on_the_email_field(client, tenant_a):
    client.force_login(tenant_a.admin)
    page = client.post("/portal/users/", {"email": tenant_a.user.email, "role": Role.CLIENT_USER})
    assert page.status_code == 200
    assert "already exists" in page.content.decode()


def test_admin_shows_the_audit_trail_read_only(client, operator_admin, tenant_a):
    client.force_login(operator_admin)
    tenant_a.api.post("/api/v1/api-keys/", {"name": "audited"}, format="json")
    event = AuditEvent.objects.first()
    assert client.get("/admin/accounts/auditevent/").status_code == 200
    change = client.get(f"/admin/accounts/auditevent/{event.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "path", ["/console/", "/portal/", "/portal/users/", "/portal/api-keys/", "/console/audit/"]
)
def test_pages_require_sign_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_staff_user_factory_roles(db):
    assert UserFactory(role=Role.ACCOUNT_MANAGER, client=None).client is None
