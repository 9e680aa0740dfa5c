"""The console and the portal, driven through a real browser (Debian's Chromium) on the live server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from accounts.enums import Role
from accounts.models import APIKey, User
from tests.accounts.factories import TEST_PASSWORD, ClientFactory, UserFactory

pytestmark = pytest.mark.e2e

# No proxy from the environment may stand between the test and the live server.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api_get(url: str, secret: str | None = None) -> tuple[int, dict]:
    headers = {"Accept": "application/json"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    try:
        with _direct.open(urllib.request.Request(url, headers=headers), timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_account_manager_signs_in_and_sees_only_their_clients(transactional_db, page, login):
    manager = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="am@example.test")
    for name, slug in (("Alpine Socks", "alpine-socks"), ("Birch Tea", "birch-tea")):
        client = ClientFactory(name=name, slug=slug)
        client.account_managers.add(manager)
    other_manager = UserFactory(role=Role.ACCOUNT_MANAGER, client=None)
    ClientFactory(name="Cobalt Cycles", slug="cobalt-cycles").account_managers.add(other_manager)
    ClientFactory(name="Dawn Dairy", slug="dawn-dairy")  # nobody's

    login(manager.email, TEST_PASSWORD)

    assert page.url.endswith("/console/")
    table = page.get_by_role("table", name="Clients")
    table.wait_for()
    slugs = table.locator("tbody tr[data-client]").evaluate_all("rows => rows.map(r => r.dataset.client)")
    assert sorted(slugs) == ["alpine-socks", "birch-tea"]
    assert page.get_by_role("link", name="Alpine Socks").is_visible()
    assert page.get_by_role("link", name="Birch Tea").is_visible()
    html = page.content()
    assert "Cobalt Cycles" not in html
    assert "Dawn Dairy" not in html
    assert "am@example.test" in page.locator("header .who").inner_text()
    page.screenshot(path="/tmp/e2e-console.png", full_page=True)


def test_client_admin_creates_an_api_key_that_is_shown_once_and_works(
    transactional_db, page, login, live_server
):
    client = ClientFactory(name="Harbor Home", slug="harbor-home")
    ClientFactory(name="Other Brand", slug="other-brand")
    admin = UserFactory(role=Role.CLIENT_ADMIN, client=client, email="admin@harbor.example.test")

    login(admin.email, TEST_PASSWORD)
    assert page.url.endswith("/portal/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.wait_for_url("**/portal/api-keys/")
    assert page.get_by_text("No keys yet.").is_visible()

    page.get_by_label("Name").fill("Shopify sync")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Create key").click()
    assert "no-store" in (navigation.value.headers.get("cache-control") or "")

    secret = page.locator("#new-key-secret").inner_text().strip()
    assert secret.startswith("fk_")
    key = APIKey.objects.get(client=client, name="Shopify sync")
    assert secret.startswith(f"fk_{key.prefix}_")
    assert page.locator(f'tr[data-prefix="{key.prefix}"]').is_visible()
    page.screenshot(path="/tmp/e2e-portal-api-keys.png", full_page=True)

    # The secret is a working key for this client's data only.
    status, body = api_get(f"{live_server.url}/api/v1/clients/", secret)
    assert status == 200, body
    assert [c["slug"] for c in body["results"]] == ["harbor-home"]
    status, _ = api_get(f"{live_server.url}/api/v1/clients/")
    assert status in (401, 403)

    # Revisiting the page never shows the secret again; the key is listed by its prefix.
    page.goto("/portal/api-keys/")
    assert page.locator("#new-key-secret").count() == 0
    html = page.content()
    assert secret not in html
    assert secret.split("_", 2)[2] not in html  # not even the random part on its own
    row = page.locator(f'tr[data-prefix="{key.prefix}"]')
    assert row.is_visible()
    assert "Shopify sync" in row.inner_text()
    assert f"{key.prefix}…" in row.inner_text()


def test_client_admin_invites_a_user_who_is_then_listed(transactional_db, page, login):
    client = ClientFactory(name="Juniper Jams", slug="juniper-jams")
    admin = UserFactory(role=Role.CLIENT_ADMIN, client=client, email="admin@juniper.example.test")

    login(admin.email, TEST_PASSWORD)
    page.goto("/portal/users/")
    page.get_by_label("E-mail").fill("Picker@Juniper.example.test")
    page.get_by_label("Full name").fill("Pat Picker")
    page.get_by_label("Role").select_option(Role.CLIENT_USER.value)
    with page.expect_navigation():
        page.get_by_role("button", name="Send invitation").click()

    assert page.url.endswith("/portal/users/")
    assert "Invitation sent to picker@juniper.example.test" in page.get_by_role("status").inner_text()
    invited = User.objects.get(email="picker@juniper.example.test")
    assert invited.client_id == client.pk
    assert invited.role == Role.CLIENT_USER
    row = page.locator(f"#user-{invited.pk}")
    assert row.is_visible()
    assert "Pat Picker" in row.inner_text()
    assert "Client user" in row.inner_text()


def test_wrong_password_shows_an_error_and_does_not_sign_in(transactional_db, page, login):
    user = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="am2@example.test")

    login(user.email, "not-the-password-1")

    assert "/accounts/login/" in page.url
    error = page.locator(".errors[role=alert]")
    assert error.is_visible()
    assert "correct" in error.inner_text().lower()
    assert page.get_by_label("E-mail").input_value() == user.email
    assert page.get_by_label("Password").input_value() == ""
    page.goto("/console/")
    assert "/accounts/login/" in page.url  # still signed out
