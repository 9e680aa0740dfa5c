"""The QBR: a quarter against the previous one with the KPI engine's numbers, alerts and
exceptions, notes and action items (QBR_EDIT, audited), the console and portal pages (another
client's QBR is a 404), the API, and a query count that does not grow with the quarter's data."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import Actor
from accounts.models import AuditEvent
from reporting import qbr_services
from reporting.kpis import kpi_report
from reporting.models import QBRActionItem, QBRReport
from reporting.qbr import Quarter, build_qbr
from tests.reporting.qbr_support import make_brand

pytestmark = pytest.mark.django_db

ROW = re.compile(
    r'<tr data-kpi="([a-z0-9_]+)">\s*<th scope="row">[^<]*</th>\s*<td class="num" data-value>([^<]*)</td>',
    re.S,
)


def page_values(html: str) -> dict[str, str]:
    return {key: unescape(value) for key, value in ROW.findall(html)}


@pytest.fixture
def brand(account_manager):
    world, item, quarter = make_brand()
    world.client.account_managers.add(account_manager)
    return world, item, quarter


def test_quarters_and_their_previous():
    assert (Quarter(2025, 1).start, Quarter(2025, 1).end) == (date(2025, 1, 1), date(2025, 3, 31))
    assert (Quarter(2024, 4).start, Quarter(2024, 4).end) == (date(2024, 10, 1), date(2024, 12, 31))
    assert Quarter(2025, 1).previous == Quarter(2024, 4)
    assert Quarter.containing(date(2025, 8, 15)) == Quarter(2025, 3)
    with pytest.raises(ValueError):
        Quarter(2025, 5)


def test_the_qbr_compares_the_quarter_with_the_previous_one(brand):
    world, _item, quarter = brand
    qbr = build_qbr(client=world.client, quarter=quarter)
    current = kpi_report(client_ids=[world.client.pk], start=quarter.start, end=quarter.end)
    previous = kpi_report(
        client_ids=[world.client.pk], start=quarter.previous.start, end=quarter.previous.end
    )
    shipped = qbr.comparison("orders_shipped")
    assert shipped.current.value == current.totals["orders_shipped"].value == 4
    assert shipped.previous.value == previous.totals["orders_shipped"].value == 2
    assert shipped.change == 2 and shipped.change_display == "+2"
    on_time = qbr.comparison("on_time_ship_rate")
    assert on_time.value == current.totals["on_time_ship_rate"].display
    assert on_time.current.target == 99 and on_time.meets_target is False
    assert qbr.comparison("units_shipped").value == "8"
    # Weekly volumes: the four weeks with their orders, summing to the quarter's.
    assert sum(w["orders_shipped"] for w in qbr.weeks) == 4
    assert [w["week"].weekday() for w in qbr.weeks] == [0] * len(qbr.weeks)
    # Alerts: two opened, one resolved after 4 hours; none the quarter before.
    assert qbr.alerts.total == 2 and qbr.alerts.resolved == 1
    assert qbr.alerts.mttr_display == "4.0 h"
    assert {(r["rule"], r["severity"], r["count"]) for r in qbr.alerts.rows} == {
        ("order_late", "critical", 1),
        ("low_stock", "info", 1),
    }
    assert qbr.previous_alerts.total == 0 and qbr.previous_alerts.mttr_display == "n/a"
    assert [m["units_shipped"] for m in qbr.top_movers] == [8]
    carriers = qbr.shipping["shipping_by_carrier"]
    assert sum(r["orders"] for r in carriers) == 4


def test_an_empty_quarter_shows_na_not_zero(brand):
    world, _item, _quarter = brand
    early = Quarter(2001, 1)
    qbr = build_qbr(client=world.client, quarter=early)
    assert qbr.comparison("on_time_ship_rate").value == "n/a"
    assert qbr.comparison("on_time_ship_rate").change_display == "—"
    assert qbr.comparison("orders_shipped").value == "0"


def test_the_console_page_shows_the_engines_numbers(brand, account_manager, client):
    world, _item, quarter = brand
    client.force_login(account_manager)
    url = f"/console/clients/{world.client.pk}/qbr/{quarter.year}/q{quarter.quarter}/"
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    qbr = build_qbr(client=world.client, quarter=quarter)
    shown = page_values(html)
    for key in (
        "orders_shipped",
        "on_time_ship_rate",
        "click_to_ship_median_hours",
        "shipping_cost_per_order",
    ):
        assert shown[key] == qbr.comparison(key).value
    assert 'data-chart="weekly_orders"' in html and 'data-chart="on_time_ship_rate"' in html
    assert "<svg" in html and world.client.name in html and quarter.label in html
    assert f"/console/clients/{world.client.pk}/qbr/{quarter.year}/q{quarter.quarter}/pdf/" in html
    index = client.get(f"/console/clients/{world.client.pk}/qbr/")
    assert index.status_code == 200 and url in index.content.decode()


def test_another_clients_qbr_is_a_404(brand, account_manager, client, tenant_b):
    world, _item, quarter = brand
    client.force_login(account_manager)
    path = f"/console/clients/{tenant_b.client.pk}/qbr/{quarter.year}/q{quarter.quarter}/"
    assert client.get(path).status_code == 404
    assert client.get(path + "pdf/").status_code == 404
    assert client.get(f"/console/clients/{world.client.pk}/qbr/{quarter.year}/q5/").status_code == 404


def test_the_brand_sees_its_own_qbr_read_only_in_the_portal(brand, account_manager, client):
    world, _item, quarter = brand
    qbr_services.qbr_notes_update(
        actor=Actor.for_user(account_manager),
        client=world.client,
        year=quarter.year,
        quarter=quarter.quarter,
        notes="Great quarter for jams.",
    )
    from tests.accounts.factories import UserFactory

    brand_user = UserFactory(role="client_user", client=world.client)
    client.force_login(brand_user)
    html = client.get(f"/portal/qbr/{quarter.year}/q{quarter.quarter}/").content.decode()
    assert "Great quarter for jams." in html and "<textarea" not in html and "Add action item" not in html
    assert page_values(html)["orders_shipped"] == "4"
    assert client.get("/portal/qbr/").status_code == 200
    pdf = client.get(f"/portal/qbr/{quarter.year}/q{quarter.quarter}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    # Brands do not get the console's page, nor may they write.
    assert (
        client.get(f"/console/clients/{world.client.pk}/qbr/{quarter.year}/q{quarter.quarter}/").status_code
        == 403
    )


def test_notes_and_action_items_are_kept_with_the_report_and_audited(brand, account_manager, client):
    world, _item, quarter = brand
    client.force_login(account_manager)
    base = f"/console/clients/{world.client.pk}/qbr/{quarter.year}/q{quarter.quarter}/"
    assert client.post(base + "notes/", {"notes": "Talk about peak."}).status_code == 302
    response = client.post(
        base + "actions/", {"text": "Raise reorder points", "owner": "Brand", "due_date": "2031-01-15"}
    )
    assert response.status_code == 302
    report = QBRReport.objects.get(client=world.client, year=quarter.year, quarter=quarter.quarter)
    assert report.notes == "Talk about peak." and report.updated_by == account_manager.email
    item = QBRActionItem.objects.get(report=report)
    assert (item.text, item.owner, item.due_date, item.done) == (
        "Raise reorder points",
        "Brand",
        date(2031, 1, 15),
        False,
    )
    assert client.post(base + f"actions/{item.pk}/complete/").status_code == 302
    item.refresh_from_db()
    assert item.done
    actions = set(AuditEvent.objects.filter(client=world.client).values_list("action", flat=True))
    assert {"qbr.open", "qbr.notes", "qbr.action_item.create", "qbr.action_item.complete"} <= actions
    # A blank action is a 400 naming the field and writes nothing.
    response = client.post(base + "actions/", {"text": " "})
    assert response.status_code == 400 and QBRActionItem.objects.count() == 1
    html = client.get(base).content.decode()
    assert "Talk about peak." in html and "Raise reorder points" in html


def test_only_qbr_editors_write(brand, tenant_a, warehouse_operator):
    world, _item, quarter = brand
    from django.core.exceptions import PermissionDenied

    from tests.accounts.factories import UserFactory

    brand_admin = UserFactory(role="client_admin", client=world.client)
    for actor in (Actor.for_user(brand_admin), Actor.for_user(warehouse_operator)):
        with pytest.raises(PermissionDenied):
            qbr_services.qbr_notes_update(
                actor=actor, client=world.client, year=quarter.year, quarter=quarter.quarter, notes="x"
            )
    other_manager = UserFactory(role="account_manager", client=None)
    with pytest.raises(PermissionDenied):  # not this client's manager
        qbr_services.qbr_action_item_create(
            actor=Actor.for_user(other_manager),
            client=world.client,
            year=quarter.year,
            quarter=quarter.quarter,
            text="x",
        )
    assert not QBRReport.objects.exists()


def test_the_api_opens_a_report_and_manages_its_action_items(brand, account_manager, session_api, tenant_b):
    world, _item, quarter = brand
    api = session_api(account_manager)
    body = {
        "client": world.client.pk,
        "year": quarter.year,
        "quarter": quarter.quarter,
        "notes": "From the API",
    }
    created = api.post("/api/v1/qbrs/", body, format="json")
    assert created.status_code == 201, created.content
    again = api.post("/api/v1/qbrs/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    report_id = created.json()["id"]
    detail = api.get(f"/api/v1/qbrs/{report_id}/").json()
    assert detail["notes"] == "From the API"
    values = {k["key"]: k for s in detail["content"]["sections"] for k in s["kpis"]}
    assert values["orders_shipped"]["display"] == "4" and values["orders_shipped"]["previous_display"] == "2"
    assert detail["content"]["alerts"]["opened"] == 2
    item = api.post("/api/v1/qbr-action-items/", {"report": report_id, "text": "Ship faster"}, format="json")
    assert item.status_code == 201, item.content
    item_id = item.json()["id"]
    assert api.post(f"/api/v1/qbr-action-items/{item_id}/complete/").json()["done"] is True
    patched = api.patch(f"/api/v1/qbr-action-items/{item_id}/", {"owner": "Ops"}, format="json")
    assert patched.status_code == 200 and patched.json()["owner"] == "Ops"
    assert (
        api.patch(f"/api/v1/qbrs/{report_id}/", {"notes": "Edited"}, format="json").json()["notes"]
        == "Edited"
    )
    # The brand reads its report, not writes it; another brand does not see it.
    from tests.accounts.factories import UserFactory

    brand_api = session_api(UserFactory(role="client_user", client=world.client))
    assert brand_api.get(f"/api/v1/qbrs/{report_id}/").status_code == 200
    assert brand_api.patch(f"/api/v1/qbrs/{report_id}/", {"notes": "x"}, format="json").status_code == 403
    assert tenant_b.api.get(f"/api/v1/qbrs/{report_id}/").status_code == 404
    assert tenant_b.api.get(f"/api/v1/qbr-action-items/{item_id}/").status_code == 404
    pdf = brand_api.get(f"/api/v1/qbrs/{report_id}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_page_runs_a_constant_number_of_queries(account_manager, client):
    counts = []
    for size, slug in ((1, "small-jams"), (4, "big-jams")):
        world, _item, quarter = make_brand(orders_per_week=size, name=f"Jams {slug}", slug=slug)
        world.client.account_managers.add(account_manager)
        _report, _ = qbr_services.qbr_report_open(
            actor=Actor.for_user(account_manager),
            client=world.client,
            year=quarter.year,
            quarter=quarter.quarter,
        )
        for n in range(size):
            qbr_services.qbr_action_item_create(
                actor=Actor.for_user(account_manager),
                client=world.client,
                year=quarter.year,
                quarter=quarter.quarter,
                text=f"Item {n}",
            )
        client.force_login(account_manager)
        url = f"/console/clients/{world.client.pk}/qbr/{quarter.year}/q{quarter.quarter}/"
        client.get(url)  # warm caches (content types, sessions)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
