"""The floor pages: waves with progress, the pick screen (a refused scan changes nothing), the pack
station; who may open them."""

from __future__ import annotations

import pytest
from django.test import Client as Browser
from django.urls import reverse

from accounts.enums import Role
from inventory.models import Move
from orders import allocation
from shipments.enums import PickStatus, WaveStatus
from shipments.models import PickTask, Shipment, Wave
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, stock
from tests.orders.factories import make_order, make_world
from tests.shipments.factories import SYSTEM, make_boxes, wave_and_pick

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = make_world(regions=("nj",))
    w.item = make_item(
        w.client, "PG-1", barcode="444444444444", weight_lb=1, length_in=4, width_in=4, height_in=2
    )
    stock(w.client, w.nj, w.item, 50)
    make_boxes(w.nj.warehouse)
    w.operator = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    w.operator.warehouses.add(w.nj.warehouse)
    w.browser = Browser()
    w.browser.force_login(w.operator)
    return w


def allocated(world, quantity=1):
    order = make_order(world.client, [(world.item, quantity)])
    allocation.allocate(actor=SYSTEM, order=order)
    return order


def test_create_preview_release_and_pick_from_the_pages(world):
    allocated(world, 2)
    b = world.browser
    r = b.post(reverse("floor-waves"), {"warehouse": world.nj.warehouse.pk, "units": "any", "preview": "1"})
    assert r.status_code == 200 and "1 order match" in r.content.decode()
    r = b.post(reverse("floor-waves"), {"warehouse": world.nj.warehouse.pk, "units": "any"})
    wave = Wave.objects.get()
    assert r.status_code == 302 and r.url == reverse("floor-wave", args=[wave.pk])
    b.post(reverse("floor-wave-action", args=[wave.pk, "release"]))
    wave.refresh_from_db()
    assert wave.status == WaveStatus.RELEASED
    page = b.get(reverse("floor-waves")).content.decode()
    assert wave.number in page and "0 / 1 picks" in page
    pick = PickTask.objects.get()
    r = b.get(reverse("floor-wave-pick", args=[wave.pk]))
    assert pick.location.code in r.content.decode()
    moves = Move.objects.count()
    r = b.post(
        reverse("floor-wave-pick", args=[wave.pk]),
        {"pick": pick.pk, "location": "WRONG", "item": "444444444444", "quantity": 1},
        HTTP_HX_REQUEST="true",
    )
    assert "Refused, nothing picked" in r.content.decode() and "Wrong bin" in r.content.decode()
    assert Move.objects.count() == moves
    r = b.post(
        reverse("floor-wave-pick", args=[wave.pk]),
        {"pick": pick.pk, "location": pick.location.code, "item": "444444444444", "quantity": 2},
        HTTP_HX_REQUEST="true",
    )
    assert 'id="pick-panel"' in r.content.decode() and "Nothing left to pick" in r.content.decode()
    pick.refresh_from_db()
    assert pick.status == PickStatus.PICKED


def test_pack_station_page_scans_boxes_and_completes(world):
    order = allocated(world, 2)
    wave_and_pick(order, world.nj)
    b = world.browser
    r = b.post(reverse("floor-pack"), {"code": order.number, "warehouse": world.nj.warehouse.pk})
    shipment = Shipment.objects.get(order=order)
    assert r.url == reverse("floor-pack-station", args=[shipment.pk])
    url = r.url
    page = b.get(url).content.decode()
    assert 'data-box="S"' in page
    r = b.post(url, {"step": "scan", "code": "NOPE", "quantity": 1}, HTTP_HX_REQUEST="true")
    assert "Refused" in r.content.decode()
    b.post(url, {"step": "scan", "code": "444444444444", "quantity": 2}, HTTP_HX_REQUEST="true")
    box = world.nj.warehouse.box_types.get(code="S")
    b.post(url, {"step": "close", "box_type": box.pk, "weight_lb": "2.2"}, HTTP_HX_REQUEST="true")
    b.post(url, {"step": "complete"}, HTTP_HX_REQUEST="true")
    shipment.refresh_from_db()
    assert shipment.packed_at


def test_clients_and_other_nodes_cannot_use_the_floor(world):
    allocated(world)
    wave = wave_and_pick(allocated(world), world.nj)
    brand = UserFactory(role=Role.CLIENT_ADMIN, client=world.client)
    b = Browser()
    b.force_login(brand)
    assert b.get(reverse("floor-waves")).status_code == 403
    assert b.get(reverse("floor-pack")).status_code == 403
    stranger = UserFactory(role=Role.WAREHOUSE_OPERATOR, client=None)
    b.force_login(stranger)
    assert b.get(reverse("floor-wave", args=[wave.pk])).status_code == 404


def _queries(browser, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert browser.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_wave_list_query_count_does_not_grow_with_the_page(world):
    from shipments.services import waves

    for _ in range(6):
        waves.wave_create(actor=SYSTEM, warehouse=world.nj.warehouse, order_ids=[allocated(world).pk])
    url = reverse("floor-waves")
    assert _queries(world.browser, f"{url}?per_page=2") == _queries(world.browser, f"{url}?per_page=6")


def test_pack_queue_query_count_does_not_grow_with_the_orders(world):
    url = reverse("floor-pack")
    for _ in range(2):
        wave_and_pick(allocated(world), world.nj)
    few = _queries(world.browser, url)
    for _ in range(4):
        wave_and_pick(allocated(world), world.nj)
    assert _queries(world.browser, url) == few
