"""The alerts API: filters, an alert with its comments, the actions, brands' view (their visible
alerts only; another client's alert is a 404), the rules endpoint, and constant query counts."""

from __future__ import annotations

import pytest

from accounts.enums import Role
from reporting.enums import AlertRule
from reporting.models import Alert, AlertRuleSetting
from tests.accounts.factories import UserFactory
from tests.conftest import bearer

from .alert_support import open_alerts

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(tenant_a):
    user = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="am-api@example.test")
    tenant_a.client.account_managers.add(user)
    return user


def test_staff_list_every_alert_and_brands_only_the_visible_ones(tenant_a, tenant_b, manager, session_api):
    mine = open_alerts(tenant_a.client, tenant_a.warehouse)
    theirs = open_alerts(tenant_b.client, tenant_b.warehouse)
    staff = session_api(manager).get("/api/v1/alerts/").json()
    assert {r["id"] for r in staff["results"]} == {a.pk for a in mine}
    brand = tenant_a.api.get("/api/v1/alerts/").json()
    visible = [a.pk for a in mine if a.client_visible]
    assert [r["id"] for r in brand["results"]] == visible and visible
    assert tenant_a.api.get(f"/api/v1/alerts/{theirs[0].pk}/").status_code == 404
    hidden = next(a for a in mine if not a.client_visible)
    assert tenant_a.api.get(f"/api/v1/alerts/{hidden.pk}/").status_code == 404


def test_filters(tenant_a, manager, session_api):
    open_alerts(tenant_a.client, tenant_a.warehouse)
    api = session_api(manager)
    rows = api.get("/api/v1/alerts/", {"status": "resolved"}).json()["results"]
    assert [r["rule"] for r in rows] == ["order_at_risk"] and rows[0]["status"] == "resolved"
    rows = api.get("/api/v1/alerts/", {"status": "open", "severity": "critical"}).json()["results"]
    assert [r["rule"] for r in rows] == ["order_late"]
    assert api.get("/api/v1/alerts/", {"assigned_to_me": "true"}).json()["results"] == []
    assert api.get("/api/v1/alerts/", {"rule": "nonsense"}).status_code == 400


def test_actions_and_comments(tenant_a, manager, session_api):
    late = next(a for a in open_alerts(tenant_a.client, tenant_a.warehouse) if a.rule == AlertRule.ORDER_LATE)
    api = session_api(manager)
    body = api.post(f"/api/v1/alerts/{late.pk}/acknowledge/").json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == "am-api@example.test"
    body = api.post(f"/api/v1/alerts/{late.pk}/assign/", {"user": manager.pk}, format="json").json()
    assert body["assigned_to"] == manager.pk
    stranger = UserFactory(role=Role.ACCOUNT_MANAGER, client=None)
    bad = api.post(f"/api/v1/alerts/{late.pk}/assign/", {"user": stranger.pk}, format="json")
    assert bad.status_code == 400 and "user" in bad.json()["error"]["fields"]
    answer = tenant_a.api.post(
        f"/api/v1/alerts/{late.pk}/comment/", {"body": "When will it ship?"}, format="json"
    )
    assert answer.status_code == 201
    assert [c["body"] for c in answer.json()["comments"]] == ["When will it ship?"]
    assert answer.json()["assigned_to"] is None  # brands do not see who handles it
    assert tenant_a.api.post(f"/api/v1/alerts/{late.pk}/resolve/", {}, format="json").status_code == 403
    empty = api.post(f"/api/v1/alerts/{late.pk}/comment/", {"body": ""}, format="json")
    assert empty.status_code == 400 and "body" in empty.json()["error"]["fields"]
    done = api.post(f"/api/v1/alerts/{late.pk}/resolve/", {"note": "Shipped by hand"}, format="json").json()
    assert done["status"] == "resolved" and len(done["comments"]) == 2
    again = api.post(f"/api/v1/alerts/{late.pk}/resolve/", {}, format="json")
    assert again.status_code == 400
    assert (
        bearer(tenant_a.ro_secret).post(f"/api/v1/alerts/{late.pk}/comment/", {"body": "x"}).status_code
        == 403
    )


def test_alert_rules_endpoint(tenant_a, tenant_b, manager, session_api):
    api = session_api(manager)
    url = f"/api/v1/clients/{tenant_a.client.pk}/alert-rules/"
    rows = api.get(url).json()
    assert [r["rule"] for r in rows] == list(AlertRule.values)
    at_risk = rows[0]
    assert at_risk["threshold"] == "2.00" and at_risk["overridden"] is False
    changed = api.patch(f"{url}order_at_risk/", {"threshold": "4", "severity": "critical"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["threshold"] == "4.00" and changed.json()["overridden"] is True
    assert AlertRuleSetting.objects.get(client=tenant_a.client).severity == "critical"
    bad = api.put(f"{url}order_late/", {"threshold": "3"}, format="json")
    assert bad.status_code == 400 and "threshold" in bad.json()["error"]["fields"]
    assert api.get(f"{url}no_such_rule/").status_code == 404
    assert api.get(f"/api/v1/clients/{tenant_b.client.pk}/alert-rules/").status_code == 404
    assert tenant_a.api.get(url).status_code == 403


@pytest.mark.parametrize("orders", [2, 12])
def test_the_list_and_an_alert_take_constant_queries(
    tenant_a, manager, session_api, django_assert_max_num_queries, orders
):
    alerts = open_alerts(tenant_a.client, tenant_a.warehouse, orders=orders)
    api = session_api(manager)
    for alert in alerts[:3]:
        api.post(f"/api/v1/alerts/{alert.pk}/comment/", {"body": "noted"}, format="json")
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/alerts/", {"page_size": 100})
    assert response.json()["count"] == Alert.objects.filter(client=tenant_a.client).count()
    with django_assert_max_num_queries(8):
        assert api.get(f"/api/v1/alerts/{alerts[0].pk}/").status_code == 200
    with django_assert_max_num_queries(8):
        assert tenant_a.api.get("/api/v1/alerts/", {"page_size": 100}).status_code == 200
