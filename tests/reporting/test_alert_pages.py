"""The alert inbox pages (console and portal), the htmx actions in place, a client's rules
page, tenancy (a brand sees only its client-visible alerts) and constant query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.enums import Role
from reporting.enums import AlertRule
from reporting.models import Alert, AlertComment, AlertRuleSetting
from tests.accounts.factories import UserFactory

from .alert_support import open_alerts

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(tenant_a):
    user = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="am-pages@example.test")
    tenant_a.client.account_managers.add(user)
    return user


def test_console_inbox_filters_and_detail(client, tenant_a, tenant_b, manager):
    mine = open_alerts(tenant_a.client, tenant_a.warehouse)
    theirs = open_alerts(tenant_b.client, tenant_b.warehouse)
    client.force_login(manager)
    page = client.get(reverse("console-alerts")).content.decode()
    late = next(a for a in mine if a.rule == AlertRule.ORDER_LATE)
    assert late.title in page and "am-pages" in page
    assert not any(a.title in page for a in theirs)
    resolved = client.get(reverse("console-alerts"), {"status": "resolved"}).content.decode()
    assert "Order at risk" in resolved and late.title not in resolved
    rows = client.get(reverse("console-alerts"), {"rule": "order_late"}, HTTP_HX_REQUEST="true")
    assert rows.templates[0].name == "reporting/alerts/_rows.html"
    assert client.get(reverse("console-alert", args=[late.pk])).status_code == 200
    assert client.get(reverse("console-alert", args=[theirs[0].pk])).status_code == 404


def test_htmx_actions_update_the_panel_in_place(client, tenant_a, manager):
    late = next(a for a in open_alerts(tenant_a.client, tenant_a.warehouse) if a.rule == AlertRule.ORDER_LATE)
    client.force_login(manager)

    def act(action, **data):
        return client.post(
            reverse("console-alert-action", args=[late.pk, action]), data, HTTP_HX_REQUEST="true"
        )

    response = act("acknowledge")
    assert response.templates[0].name == "reporting/alerts/_panel.html"
    assert "Acknowledged." in response.content.decode()
    assert "am-pages@example.test" in act("assign", user=manager.pk).content.decode()
    assert "Choose an active staff member" in act("assign", user=tenant_a.admin.pk).content.decode()
    assert "Write a comment." in act("comment", body=" ").content.decode()
    assert "On it" in act("comment", body="On it").content.decode()
    act("resolve", note="")
    late.refresh_from_db()
    assert late.resolved_by == "am-pages@example.test" and late.assigned_to == manager
    # Without htmx: the form posts and comes back to the page.
    other = client.post(reverse("console-alert-action", args=[late.pk, "comment"]), {"body": "Closed."})
    assert other.status_code == 302 and AlertComment.objects.filter(alert=late).count() == 2


def test_the_portal_shows_the_brands_visible_alerts_and_takes_comments(client, tenant_a, tenant_b):
    mine = open_alerts(tenant_a.client, tenant_a.warehouse)
    theirs = open_alerts(tenant_b.client, tenant_b.warehouse)
    visible = next(a for a in mine if a.client_visible)
    hidden = next(a for a in mine if not a.client_visible)
    client.force_login(tenant_a.user)
    page = client.get(reverse("portal-alerts"), {"status": "all"}).content.decode()
    assert visible.title in page and hidden.title not in page
    assert not any(a.title in page for a in theirs)
    assert client.get(reverse("portal-alert", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("portal-alert", args=[theirs[0].pk])).status_code == 404
    detail = client.get(reverse("portal-alert", args=[visible.pk])).content.decode()
    assert "Acknowledge" not in detail and "Add a comment" in detail
    posted = client.post(reverse("portal-alert-action", args=[visible.pk, "comment"]), {"body": "Thanks"})
    assert posted.status_code == 302
    assert client.post(reverse("portal-alert-action", args=[visible.pk, "resolve"])).status_code == 404
    assert client.get(reverse("console-alerts")).status_code == 403


def test_the_rules_page_saves_a_row_and_names_bad_input(client, tenant_a, tenant_b, manager):
    client.force_login(manager)
    url = reverse("console-alert-rules", args=[tenant_a.client.pk])
    page = client.get(url).content.decode()
    assert "Order at risk" in page and "hours before ship-by" in page
    saved = client.post(
        url, {"rule": "order_at_risk", "enabled": "on", "severity": "critical", "threshold": "3"}
    )
    assert saved.status_code == 302
    setting = AlertRuleSetting.objects.get(client=tenant_a.client, rule="order_at_risk")
    assert (setting.severity, setting.threshold, setting.client_visible) == ("critical", 3, False)
    bad = client.post(
        url, {"rule": "asn_overdue", "enabled": "on", "severity": "warning", "threshold": "1.5"}
    )
    assert bad.status_code == 400 and "Enter a whole number." in bad.content.decode()
    assert client.get(reverse("console-alert-rules", args=[tenant_b.client.pk])).status_code == 404
    client.force_login(tenant_a.admin)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("orders", [2, 12])
def test_inbox_pages_take_constant_queries(client, tenant_a, manager, django_assert_max_num_queries, orders):
    alerts = open_alerts(tenant_a.client, tenant_a.warehouse, orders=orders)
    AlertComment.objects.bulk_create(
        AlertComment(client=tenant_a.client, alert=a, body="x", actor_label="t") for a in alerts
    )
    client.force_login(manager)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("console-alerts"), {"status": "all", "per_page": 100}).status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(reverse("console-alert", args=[alerts[0].pk])).status_code == 200
    client.force_login(tenant_a.user)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("portal-alerts"), {"status": "all", "per_page": 100}).status_code == 200
    assert Alert.objects.filter(client=tenant_a.client).count() == 2 * orders
