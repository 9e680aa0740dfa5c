"""The carrier API: who sees which carrier fields, who manages carriers and box catalogs, rate
quotes (every quote cheapest first, the rate-shopping choice marked, 400s naming the field), and
constant query counts of every list."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings

from shipments.demo_carriers import seed_boxes, seed_carriers
from shipments.models import BoxType, Carrier, CarrierService
from tests.accounts.factories import WarehouseFactory

SECRET_FIELDS = {"webhook_token", "webhook_secret"}


@pytest.fixture
def carriers(db):
    seed_carriers()
    return {c.code: c for c in Carrier.objects.all()}


def rows(response):
    assert response.status_code == 200, response.content[:500]
    return response.json()["results"]


def test_client_roles_see_carriers_without_account_or_webhook_secrets(carriers, tenant_a, session_api):
    for api in (tenant_a.api, session_api(tenant_a.user)):
        listed = rows(api.get("/api/v1/carriers/"))
        assert {c["code"] for c in listed} == {"ups", "fedex", "usps"}
        for carrier in listed:
            assert not (SECRET_FIELDS | {"account_number"}) & set(carrier)
        one = api.get(f"/api/v1/carriers/{carriers['ups'].pk}/").json()
        assert not (SECRET_FIELDS | {"account_number"}) & set(one)
        assert carriers["ups"].webhook_secret not in api.get("/api/v1/carriers/").content.decode()
        assert [s["code"] for s in one["services"]] == [
            "2nd_day_air",
            "3_day_select",
            "ground",
            "next_day_air_saver",
        ]


def test_staff_see_the_account_number_and_only_operator_admins_the_webhook_secrets(
    carriers, account_manager, operator_admin, session_api
):
    manager = session_api(account_manager).get(f"/api/v1/carriers/{carriers['ups'].pk}/").json()
    assert manager["account_number"] == "7Y4V21"
    assert not SECRET_FIELDS & set(manager)
    admin = session_api(operator_admin).get(f"/api/v1/carriers/{carriers['ups'].pk}/").json()
    assert admin["webhook_token"] == carriers["ups"].webhook_token
    assert admin["webhook_secret"] == carriers["ups"].webhook_secret


def test_only_operator_admins_create_and_update_carriers(
    carriers, tenant_a, account_manager, operator_admin, session_api
):
    body = {"code": "ontrac", "name": "OnTrac", "fuel_surcharge_pct": "15.5", "residential_surcharge": "3.10"}
    assert tenant_a.api.post("/api/v1/carriers/", body, format="json").status_code == 403
    assert session_api(account_manager).post("/api/v1/carriers/", body, format="json").status_code == 403
    assert not Carrier.objects.filter(code="ontrac").exists()
    admin = session_api(operator_admin)
    created = admin.post("/api/v1/carriers/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["fuel_surcharge_pct"] == "15.500"
    pk = created.json()["id"]
    bad = admin.patch(f"/api/v1/carriers/{pk}/", {"tracking_url": "https://x.test/"}, format="json")
    assert bad.status_code == 400 and "tracking_url" in bad.json()["error"]["fields"]
    ok = admin.patch(f"/api/v1/carriers/{pk}/", {"dim_divisor": 166, "code": "renamed"}, format="json")
    assert ok.status_code == 200
    carrier = Carrier.objects.get(pk=pk)
    assert (carrier.dim_divisor, carrier.code) == (166, "ontrac")  # the code is kept for life
    dup = admin.post("/api/v1/carriers/", body, format="json")
    assert dup.status_code == 400 and "code" in dup.json()["error"]["fields"]


def test_services_list_transit_days_and_filter_by_carrier(carriers, tenant_a):
    listed = rows(tenant_a.api.get("/api/v1/services/", {"carrier": carriers["usps"].pk}))
    assert {s["code"]: s["transit_days"] for s in listed} == {
        "ground_advantage": [2, 2, 3, 3, 4, 4, 5, 5],
        "priority_mail": [1, 2, 2, 2, 3, 3, 3, 3],
    }
    assert {
        s["carrier_code"] for s in rows(tenant_a.api.get("/api/v1/services/", {"carrier_code": "ups"}))
    } == {"ups"}


QUOTE = {"destination_zip": "90012", "parcels": [{"weight_lb": "2"}], "service_level": "standard"}


def test_rate_quote_lists_every_service_cheapest_first_and_marks_the_choice(carriers, tenant_a):
    response = tenant_a.api.post(
        "/api/v1/rate-quotes/", {**QUOTE, "origin_warehouse": tenant_a.warehouse.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["origin_zip"], body["zone"], body["promise_days"]) == ("07094", 8, 5)
    totals = [Decimal(q["total"]) for q in body["quotes"]]
    assert totals == sorted(totals) and len(totals) == 9
    chosen = [q for q in body["quotes"] if q["chosen"]]
    assert len(chosen) == 1 and chosen[0]["service_id"] == body["chosen_service_id"]
    # USPS Ground Advantage, zone 8, 2 lb: 7.90 + 0.45 x 7 + 1 x (0.75 + 0.20 x 7) = 13.20, no fuel
    # nor residential surcharge; 5 days meets the standard promise and it is the cheapest
    assert (chosen[0]["carrier"], chosen[0]["service"], chosen[0]["total"]) == (
        "usps",
        "ground_advantage",
        "13.20",
    )
    assert body["reason"].startswith("cheapest of 9 services delivering within 5 business days")


def test_rate_quote_overnight_picks_an_overnight_service(carriers, tenant_a):
    response = tenant_a.api.post(
        "/api/v1/rate-quotes/", {**QUOTE, "origin_zip": "07094", "service_level": "overnight"}, format="json"
    )
    chosen = next(q for q in response.json()["quotes"] if q["chosen"])
    assert (chosen["service"], chosen["transit_days"]) == ("next_day_air_saver", 1)
    assert response.json()["quotes"][0]["service"] != "next_day_air_saver"  # not the cheapest


@pytest.mark.parametrize(
    "body, field",
    [
        ({**QUOTE, "origin_zip": "07094", "destination_zip": "00000"}, "destination_zip"),
        ({**QUOTE, "origin_zip": "99999"}, "origin_zip"),
        (QUOTE, "origin_warehouse"),  # no origin at all
        ({**QUOTE, "origin_zip": "07094", "origin_warehouse": 999_999_999}, "origin_warehouse"),
        ({**QUOTE, "origin_zip": "07094", "parcels": []}, "parcels"),
        ({**QUOTE, "origin_zip": "07094", "parcels": [{"weight_lb": "0"}]}, "parcels.0.weight_lb"),
        (
            {**QUOTE, "origin_zip": "07094", "parcels": [{"weight_lb": "1", "length_in": "5"}]},
            "parcels.0.width_in",
        ),
        ({**QUOTE, "origin_zip": "07094", "service_level": "warp"}, "service_level"),
    ],
)
def test_rate_quote_bad_input_names_the_field(carriers, tenant_a, body, field):
    response = tenant_a.api.post("/api/v1/rate-quotes/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"], response.json()


def test_rate_quote_from_another_clients_node_is_an_unknown_node(carriers, tenant_a, tenant_b):
    response = tenant_b.api.post(
        "/api/v1/rate-quotes/", {**QUOTE, "origin_warehouse": tenant_a.warehouse.pk}, format="json"
    )
    assert response.status_code == 400 and "origin_warehouse" in response.json()["error"]["fields"]


def test_rate_quote_too_heavy_for_every_service_quotes_nothing(carriers, tenant_a):
    body = {**QUOTE, "origin_zip": "07094", "parcels": [{"weight_lb": "71"}]}
    response = tenant_a.api.post("/api/v1/rate-quotes/", body, format="json").json()
    assert (response["quotes"], response["chosen_service_id"]) == ([], None)
    assert "No active service" in response["reason"]


def test_box_types_follow_the_nodes_the_actor_sees(db, tenant_a, tenant_b, operator_admin, session_api):
    seed_boxes(tenant_a.warehouse)
    seed_boxes(tenant_b.warehouse)
    mine = {b["warehouse"] for b in rows(tenant_a.api.get("/api/v1/box-types/", {"page_size": 100}))}
    assert mine == {tenant_a.warehouse.pk}
    other = BoxType.objects.filter(warehouse=tenant_b.warehouse).first()
    assert tenant_a.api.get(f"/api/v1/box-types/{other.pk}/").status_code == 404
    admin = session_api(operator_admin)
    body = {
        "warehouse": tenant_a.warehouse.pk,
        "code": "B30",
        "name": "Box 30x20x20",
        "length_in": "30",
        "width_in": "20",
        "height_in": "20",
        "max_weight_lb": "70",
        "tare_weight_lb": "3",
        "cost": "4.20",
    }
    assert tenant_a.api.post("/api/v1/box-types/", body, format="json").status_code == 403
    created = admin.post("/api/v1/box-types/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["volume_cubic_in"] == "12000.00"
    dup = admin.post("/api/v1/box-types/", body, format="json")
    assert dup.status_code == 400 and "code" in dup.json()["error"]["fields"]
    heavy = admin.patch(f"/api/v1/box-types/{created.json()['id']}/", {"tare_weight_lb": "80"}, format="json")
    assert heavy.status_code == 400 and "max_weight_lb" in heavy.json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/api/v1/carriers/", "/api/v1/services/", "/api/v1/box-types/"])
def test_list_query_counts_do_not_grow_with_page_size(
    path, carriers, operator_admin, session_api, django_assert_max_num_queries
):
    for n in range(12):
        carrier = Carrier.objects.create(code=f"extra-{n}", name=f"Extra {n}")
        CarrierService.objects.create(carrier=carrier, code="ground", name="Ground")
        seed_boxes(WarehouseFactory())
    api = session_api(operator_admin)
    counts = []
    for size in (2, settings.API_MAX_PAGE_SIZE):
        with django_assert_max_num_queries(12) as captured:
            response = api.get(path, {"page_size": size})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= min(size, 12)
        counts.append(len(captured))
    assert counts[0] == counts[1]
