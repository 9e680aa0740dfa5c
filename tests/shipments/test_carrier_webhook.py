"""The carrier tracking webhook: signatures, unknown numbers, redelivery, and a carrier's token
never reaching another client's parcels (or another carrier's)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from shipments.enums import ShipmentStatus
from shipments.models import Carrier, TrackingEvent
from shipments.services.shipping import buy_label
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.shipping_support import SYSTEM, make_carriers, packed_shipment

pytestmark = pytest.mark.django_db


def _labelled(world, carrier_service):
    item = make_item(world.client)
    stock(world.client, world.nj, item, 3)
    order = make_order(world.client, [(item, 1)], ship_to=SHIP_TO_NJ, carrier_service=carrier_service)
    return buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))


@pytest.fixture
def parcels(db):
    make_carriers()
    a, b = make_world(regions=("nj",)), make_world(regions=("nj",))
    return {
        "a_ups": _labelled(a, "ups:ground"),
        "b_ups": _labelled(b, "ups:ground"),
        "a_usps": _labelled(a, "usps:priority"),
    }


def _post(carrier: Carrier, payload, *, secret: str | None = None, token: str | None = None):
    body = json.dumps(payload).encode()
    signature = hmac.new((secret or carrier.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
    url = reverse("carrier-tracking-webhook", kwargs={"token": token or carrier.webhook_token})
    return APIClient().post(url, body, content_type="application/json", HTTP_X_CARRIER_SIGNATURE=signature)


def _event(shipment, **kw):
    return {
        "tracking_number": shipment.tracking_number,
        "status": "in_transit",
        "occurred_at": "2030-01-07T15:00:00Z",
        "location": "Edison, NJ",
        "description": "Departed facility",
        "event_id": "evt-1",
        **kw,
    }


def test_a_signed_event_is_recorded_and_a_redelivery_changes_nothing(parcels):
    ups, shipment = Carrier.objects.get(code="ups"), parcels["a_ups"]
    first = _post(ups, _event(shipment, estimated_delivery_date="2030-01-09"))
    assert first.status_code == 201, first.content
    assert first.json()["result"] == "recorded"
    again = _post(ups, _event(shipment))
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.IN_TRANSIT  # the carrier's pickup scan shipped it
    event = TrackingEvent.objects.get(shipment=shipment, external_id="evt-1")
    assert event.source == "carrier" and event.location == "Edison, NJ"
    assert str(shipment.estimated_delivery_date) == "2030-01-09"


def test_a_bad_signature_or_unknown_token_is_a_401_and_records_nothing(parcels):
    ups, shipment = Carrier.objects.get(code="ups"), parcels["a_ups"]
    assert _post(ups, _event(shipment), secret="wrong").status_code == 401
    assert _post(ups, _event(shipment), token="no-such-token").status_code == 401
    assert not TrackingEvent.objects.filter(external_id="evt-1").exists()


def test_an_unknown_tracking_number_is_a_404_for_that_event_only(parcels):
    ups, shipment = Carrier.objects.get(code="ups"), parcels["a_ups"]
    response = _post(ups, [_event(shipment), _event(shipment, tracking_number="1Z000NOPE", event_id="evt-2")])
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status_code"] for r in results] == [201, 404]
    assert results[1] == {
        "index": 1,
        "status_code": 404,
        "tracking_number": "1Z000NOPE",
        "event_id": "evt-2",
        "result": "unknown_tracking_number",
    }
    single = _post(ups, _event(shipment, tracking_number="1Z000NOPE"))
    assert single.status_code == 404


def test_a_carrier_reaches_only_its_own_parcels(parcels):
    """UPS's token and secret cannot touch a USPS parcel (even of the same client); each event
    lands on the client whose parcel carries that number, and the answers carry nothing else."""
    ups = Carrier.objects.get(code="ups")
    usps_parcel = parcels["a_usps"]
    response = _post(ups, _event(usps_parcel))
    assert response.status_code == 404
    assert not TrackingEvent.objects.filter(shipment=usps_parcel, external_id="evt-1").exists()

    b_parcel = parcels["b_ups"]
    response = _post(ups, _event(b_parcel, event_id="evt-b"))
    assert response.status_code == 201
    body = response.content.decode()
    a_parcel = parcels["a_ups"]
    for leaked in (a_parcel.client.slug, a_parcel.client.name, b_parcel.client.slug, b_parcel.client.name):
        assert leaked not in body
    assert TrackingEvent.objects.get(external_id="evt-b").client_id == b_parcel.client_id
    assert not TrackingEvent.objects.filter(shipment=a_parcel, external_id="evt-b").exists()


def test_an_invalid_event_is_a_400_naming_the_field(parcels):
    ups, shipment = Carrier.objects.get(code="ups"), parcels["a_ups"]
    response = _post(ups, _event(shipment, status="lost-in-space", occurred_at="yesterday"))
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status", "occurred_at"}
