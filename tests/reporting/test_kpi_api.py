"""``GET /api/v1/reports/kpis/``: the numbers, the CSV with the same numbers, who sees what, bad
input naming the field, and a query count that does not grow with the number of days."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.enums import Role
from fulfillment.spreadsheet import safe_cell, stream_csv
from tests.accounts.factories import UserFactory
from tests.reporting.kpi_support import build_week

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/kpis/"
WEEK = {"from": "2026-03-02", "to": "2026-03-08"}


@pytest.fixture
def week(db):
    return build_week()


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_report_as_json(week, operator_admin, session_api):
    api = session_api(operator_admin)
    response = api.get(URL, {**WEEK, "client": week.client.pk, "granularity": "day"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["clients"] == [week.client.pk]
    on_time = body["totals"]["on_time_ship_rate"]
    assert on_time == {
        "key": "on_time_ship_rate",
        "label": "On-time ship rate",
        "value": "50.00",
        "display": "50.00%",
        "numerator": "2",
        "denominator": "4",
        "unit": "%",
        "target": "99.50",
        "meets_target": False,
    }
    assert body["totals"]["inventory_accuracy"]["value"] is None
    assert body["totals"]["inventory_accuracy"]["display"] == "n/a"
    assert [p["period"] for p in body["series"]][:2] == ["2026-03-02", "2026-03-03"]
    assert {r["orders"] for r in body["breakdowns"]["shipping_by_zone"]} <= {1, 2, 3, 4}


def test_the_csv_has_the_same_numbers_as_the_json(week, operator_admin, session_api):
    api = session_api(operator_admin)
    query = {**WEEK, "client": f"{week.client.pk},{week.la_client.pk}", "granularity": "week"}
    body = api.get(URL, query).json()
    response = api.get(URL, {**query, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    totals = {r["kpi"]: r for r in rows if r["period"] == "total"}
    assert set(totals) == set(body["totals"])
    for key, kpi in body["totals"].items():
        row = totals[key]
        assert (
            row["value"] or None,
            row["display"],
            row["numerator"] or None,
            row["denominator"] or None,
        ) == (
            kpi["value"],
            kpi["display"],
            kpi["numerator"],
            kpi["denominator"],
        ), key
    for period in body["series"]:
        by_key = {r["kpi"]: r for r in rows if r["period"] == period["period"]}
        for key, kpi in period["kpis"].items():
            assert (by_key[key]["value"] or None) == kpi["value"], (period["period"], key)
    assert totals["orders_shipped"]["value"] == "5"


def test_csv_cells_are_safe_from_formula_injection():
    assert [safe_cell(v) for v in ["=SUM(A1)", "+1", "-x", "@cmd", "\tx", "\rx", "plain", None, 5, -3]] == [
        "'=SUM(A1)",
        "'+1",
        "'-x",
        "'@cmd",
        "'\tx",
        "'\rx",
        "plain",
        "",
        5,
        -3,
    ]
    response = stream_csv([["name"], ['=HYPERLINK("http://evil")']], "x.csv")
    assert b"".join(response.streaming_content).decode().splitlines()[1].startswith("\"'=HYPERLINK")
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'


def test_a_client_sees_only_its_own_and_another_is_like_a_missing_one(week, session_api):
    user = UserFactory(role=Role.CLIENT_USER, client=week.client)
    api = session_api(user)
    own = api.get(URL, WEEK)
    assert own.status_code == 200 and own.json()["clients"] == [week.client.pk]
    assert own.json()["totals"]["orders_shipped"]["value"] == "4"
    # Another brand's id is left out exactly like a missing one (a list filter): a report of no
    # client, with nothing of the other brand in it.
    foreign = api.get(URL, {**WEEK, "client": week.la_client.pk})
    missing = api.get(URL, {**WEEK, "client": 999999})
    assert foreign.status_code == missing.status_code == 200
    assert foreign.json() == missing.json()
    assert foreign.json()["clients"] == []
    assert foreign.json()["totals"]["orders_shipped"]["value"] == "0"
    mixed = api.get(URL, {**WEEK, "client": f"{week.client.pk},{week.la_client.pk}"})
    assert mixed.json()["clients"] == [week.client.pk]


def test_an_account_manager_sees_the_clients_they_manage(week, account_manager, session_api):
    week.client.account_managers.add(account_manager)
    api = session_api(account_manager)
    assert api.get(URL, WEEK).json()["clients"] == [week.client.pk]
    assert api.get(URL, {**WEEK, "client": week.la_client.pk}).json()["clients"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2026-03-08"}, "from"),
        ({"from": "2026-03-02"}, "to"),
        ({"from": "03/02/2026", "to": "2026-03-08"}, "from"),
        ({"from": "2026-03-09", "to": "2026-03-08"}, "to"),
        ({**WEEK, "granularity": "hour"}, "granularity"),
        ({"from": "2025-01-01", "to": "2026-03-08", "granularity": "day"}, "granularity"),
        ({**WEEK, "client": "abc"}, "client"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(week, operator_admin, session_api, query, field):
    response = session_api(operator_admin).get(URL, query)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_anonymous_is_refused_and_a_warehouse_operator_may_read(db, session_api):
    from rest_framework.test import APIClient

    assert APIClient().get(URL, WEEK).status_code in (401, 403)
    operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    assert session_api(operator).get(URL, WEEK).status_code == 200


def test_query_count_does_not_grow_with_the_number_of_days(week, operator_admin, session_api):
    api = session_api(operator_admin)
    counts = []
    for to in ("2026-03-03", "2026-03-31"):
        query = {
            "from": "2026-03-02",
            "to": to,
            "client": f"{week.client.pk},{week.la_client.pk}",
            "granularity": "day",
        }
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(URL, query).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
