"""The QBR PDF carries the client's name, the quarter, the numbers the page shows, its charts, and
the notes and action items."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from pypdf import PdfReader

from accounts.actors import Actor
from reporting import qbr_services
from reporting.pdf import on_time_chart, weekly_orders_chart
from reporting.qbr import build_qbr
from tests.reporting.qbr_support import make_brand

pytestmark = pytest.mark.django_db

ROW = re.compile(
    r'<tr data-kpi="([a-z0-9_]+)">\s*<th scope="row">[^<]*</th>\s*<td class="num" data-value>([^<]*)</td>',
    re.S,
)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_has_the_clients_name_the_quarter_and_the_pages_numbers(account_manager, client):
    world, _item, quarter = make_brand(name="Juniper Jams Co", slug="juniper-pdf")
    world.client.account_managers.add(account_manager)
    actor = Actor.for_user(account_manager)
    qbr_services.qbr_notes_update(
        actor=actor,
        client=world.client,
        year=quarter.year,
        quarter=quarter.quarter,
        notes="Peak season plan agreed.",
    )
    qbr_services.qbr_action_item_create(
        actor=actor,
        client=world.client,
        year=quarter.year,
        quarter=quarter.quarter,
        text="Add a second node",
        owner="Ops",
    )
    client.force_login(account_manager)
    base = f"/console/clients/{world.client.pk}/qbr/{quarter.year}/q{quarter.quarter}/"
    page = client.get(base).content.decode()
    shown = {key: unescape(value) for key, value in ROW.findall(page)}

    response = client.get(base + "pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    lines = [line.strip() for line in text.splitlines()]
    assert "Juniper Jams Co" in text
    assert quarter.label in text and quarter.previous.label in text
    for key in (
        "orders_shipped",
        "units_shipped",
        "on_time_ship_rate",
        "shipping_cost_per_order",
        "click_to_ship_median_hours",
    ):
        label = build_qbr(client=world.client, quarter=quarter).comparison(key).label
        # Each table cell is a line of the extracted text: the label, then this quarter's value.
        assert lines[lines.index(label) + 1] == shown[key], (key, shown[key])
    assert "Orders per week" in text and "On-time ship rate per week" in text
    assert "Peak season plan agreed." in text and "Add a second node" in text
    assert "Alerts opened" in text


def test_the_charts_draw_the_weekly_orders_and_the_on_time_rate_against_the_target(account_manager):
    world, _item, quarter = make_brand(slug="charts-jams")
    qbr = build_qbr(client=world.client, quarter=quarter)
    bars = weekly_orders_chart(qbr)
    chart = next(c for c in bars.contents if c.__class__.__name__ == "VerticalBarChart")
    assert chart.data[1] == [w["orders_shipped"] for w in qbr.weeks]
    line = on_time_chart(qbr)
    chart = next(c for c in line.contents if c.__class__.__name__ == "HorizontalLineChart")
    weeks = [w for w in qbr.weeks if w["on_time"].value is not None]
    assert chart.data[0] == [float(w["on_time"].value) for w in weeks]
    assert chart.data[1] == [99.0] * len(weeks)
