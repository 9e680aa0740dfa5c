"""Tracking events: dedupe, out-of-order events, delivery, exceptions, the carrier's pickup scan,
and the stalled and late rules (table-driven against the business calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from fulfillment.calendar import BusinessCalendar
from inventory.enums import MoveReason
from inventory.models import Move
from orders.enums import OrderStatus
from shipments import shipment_selectors as selectors
from shipments.enums import ShipmentStatus
from shipments.models import Event, Shipment, TrackingEvent
from shipments.services.shipping import buy_label, ship_out
from shipments.services.tracking import record_tracking_event
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.shipping_support import SYSTEM, assert_ledger_clean, make_carriers, packed_shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(db):
    world = make_world(regions=("nj",))
    make_carriers()
    item = make_item(world.client)
    stock(world.client, world.nj, item, 5)
    order = make_order(world.client, [(item, 1)], ship_to=SHIP_TO_NJ)
    shipment = buy_label(actor=SYSTEM, shipment=packed_shipment(order, world.nj))
    # Bought an hour before T0 (the tests' clock), not at the real now.
    bought = T0 - timedelta(hours=1)
    shipment.tracking_events.update(occurred_at=bought)
    Shipment.objects.filter(pk=shipment.pk).update(label_created_at=bought, last_event_at=bought)
    shipment.refresh_from_db()
    return shipment


def _event(shipment, status, at, **kw):
    return record_tracking_event(
        actor=SYSTEM,
        shipment=shipment,
        status=status,
        occurred_at=at,
        source=kw.pop("source", "carrier"),
        **kw,
    )


T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York


def test_a_redelivered_event_is_recorded_once(labelled):
    ship_out(actor=SYSTEM, shipment=labelled, at=T0)
    first = _event(labelled, "in_transit", T0 + timedelta(hours=5), external_id="e-1", location="Edison, NJ")
    again = _event(labelled, "in_transit", T0 + timedelta(hours=5), external_id="e-1", location="Edison, NJ")
    assert again.pk == first.pk
    assert TrackingEvent.objects.filter(shipment=labelled, external_id="e-1").count() == 1


def test_the_carriers_first_scan_ships_a_parcel_never_scanned_out(labelled):
    _event(labelled, "in_transit", T0, external_id="pickup")
    labelled.refresh_from_db()
    assert labelled.status == ShipmentStatus.IN_TRANSIT and labelled.shipped_at == T0
    assert labelled.order.status == OrderStatus.SHIPPED
    assert Move.objects.filter(reason=MoveReason.SHIP).count() == 1
    _event(labelled, "in_transit", T0 + timedelta(hours=1), external_id="scan-2")
    assert Move.objects.filter(reason=MoveReason.SHIP).count() == 1
    assert_ledger_clean()


def test_delivered_sets_delivered_at_transit_days_and_delivers_the_order(labelled):
    ship_out(actor=SYSTEM, shipment=labelled, at=T0)
    _event(labelled, "out_for_delivery", T0 + timedelta(days=2), external_id="e-2")
    _event(labelled, "delivered", T0 + timedelta(days=2, hours=4), external_id="e-3", location="Hoboken, NJ")
    labelled.refresh_from_db()
    order = labelled.order
    order.refresh_from_db()
    assert labelled.status == ShipmentStatus.DELIVERED
    assert labelled.delivered_at == T0 + timedelta(days=2, hours=4)
    assert labelled.transit_days == 2  # Monday to Wednesday
    assert order.status == OrderStatus.DELIVERED and order.delivered_at == labelled.delivered_at
    assert labelled.last_event_at == labelled.delivered_at


def test_out_of_order_events_are_recorded_but_never_undeliver(labelled):
    ship_out(actor=SYSTEM, shipment=labelled, at=T0)
    _event(labelled, "delivered", T0 + timedelta(days=3), external_id="d")
    late_scan = _event(labelled, "in_transit", T0 + timedelta(days=1), external_id="late-scan")
    after = _event(labelled, "in_transit", T0 + timedelta(days=4), external_id="after-delivery")
    labelled.refresh_from_db()
    assert late_scan.pk and after.pk
    assert labelled.status == ShipmentStatus.DELIVERED
    assert labelled.delivered_at == T0 + timedelta(days=3)
    assert labelled.last_event_at == T0 + timedelta(days=4)


def test_an_older_event_does_not_move_the_status_back(labelled):
    ship_out(actor=SYSTEM, shipment=labelled, at=T0)
    _event(labelled, "out_for_delivery", T0 + timedelta(days=2), external_id="ofd")
    _event(labelled, "exception", T0 + timedelta(days=1), external_id="old-exc", description="Weather")
    labelled.refresh_from_db()
    assert labelled.status == ShipmentStatus.OUT_FOR_DELIVERY and labelled.exception_reason == ""


def test_an_exception_records_its_reason_and_emits_shipment_exception(labelled):
    ship_out(actor=SYSTEM, shipment=labelled, at=T0)
    _event(labelled, "exception", T0 + timedelta(days=1), description="Address not found", external_id="x")
    labelled.refresh_from_db()
    assert labelled.status == ShipmentStatus.EXCEPTION and labelled.exception_reason == "Address not found"
    assert Event.objects.filter(type="shipment.exception", client=labelled.client).count() == 1
    _event(labelled, "in_transit", T0 + timedelta(days=2), external_id="y")
    labelled.refresh_from_db()
    assert labelled.status == ShipmentStatus.IN_TRANSIT and labelled.exception_reason == ""


def test_the_newest_estimate_updates_the_estimated_delivery_date(labelled):
    ship_out(actor=SYSTEM, shipment=labelled, at=T0)
    _event(labelled, "in_transit", T0 + timedelta(hours=8), estimated_delivery_date=date(2026, 3, 6))
    labelled.refresh_from_db()
    assert labelled.estimated_delivery_date == date(2026, 3, 6)


def test_bad_events_are_refused_naming_the_field(labelled):
    with pytest.raises(ValidationError) as exc:
        _event(labelled, "teleported", T0)
    assert "status" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        _event(labelled, "in_transit", datetime(2026, 3, 2, 10, 0))
    assert "occurred_at" in exc.value.message_dict
    assert labelled.tracking_events.count() == 1  # only the label's


# --- stalled and late -------------------------------------------------------------------------------

NY = BusinessCalendar("America/New_York")


@pytest.mark.parametrize(
    ("last_sign", "now", "stalled"),
    [
        # Monday 10:00 NY: the deadline is the end of Wednesday (2nd business day after Monday).
        (T0, datetime(2026, 3, 4, 23, 0, tzinfo=UTC), False),  # Wednesday 18:00
        (T0, datetime(2026, 3, 5, 5, 30, tzinfo=UTC), True),  # Thursday 00:30 NY
        # Friday 16:00 NY: Saturday and Sunday do not count; the deadline is the end of Tuesday.
        (datetime(2026, 3, 6, 21, 0, tzinfo=UTC), datetime(2026, 3, 10, 20, 0, tzinfo=UTC), False),
        (datetime(2026, 3, 6, 21, 0, tzinfo=UTC), datetime(2026, 3, 11, 14, 0, tzinfo=UTC), True),
        # Saturday's scan counts from Monday (its effective day): stalled from Thursday.
        (datetime(2026, 3, 7, 15, 0, tzinfo=UTC), datetime(2026, 3, 11, 20, 0, tzinfo=UTC), False),
        (datetime(2026, 3, 7, 15, 0, tzinfo=UTC), datetime(2026, 3, 12, 14, 0, tzinfo=UTC), True),
        # Friday 3 July 2026 is the observed Independence Day: not a business day.
        (datetime(2026, 7, 1, 14, 0, tzinfo=UTC), datetime(2026, 7, 6, 20, 0, tzinfo=UTC), False),
        (datetime(2026, 7, 1, 14, 0, tzinfo=UTC), datetime(2026, 7, 7, 14, 0, tzinfo=UTC), True),
    ],
)
def test_stalled_threshold_agrees_with_the_calendar_deadline(last_sign, now, stalled):
    assert (last_sign < selectors.stalled_threshold(NY, now)) is stalled
    assert (now > NY.deadline(last_sign, 2)) is stalled


def test_stalled_and_late_shipments_are_found_set_based(labelled):
    ship_out(actor=SYSTEM, shipment=labelled, at=T0)
    Shipment.objects.filter(pk=labelled.pk).update(estimated_delivery_date=date(2026, 3, 4))
    wednesday_noon = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
    thursday_noon = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)
    assert not selectors.stalled_shipments(wednesday_noon).exists()
    assert not selectors.late_shipments(wednesday_noon).exists()
    assert list(selectors.stalled_shipments(thursday_noon)) == [labelled]
    assert list(selectors.late_shipments(thursday_noon)) == [labelled]

    # A scan on Wednesday: alive again until the end of Friday; still late.
    _event(labelled, "in_transit", datetime(2026, 3, 4, 15, 0, tzinfo=UTC), external_id="w")
    assert not selectors.stalled_shipments(thursday_noon).exists()
    assert list(selectors.late_shipments(thursday_noon)) == [labelled]

    # Delivered: neither.
    _event(labelled, "delivered", datetime(2026, 3, 5, 16, 0, tzinfo=UTC), external_id="d")
    assert not selectors.stalled_shipments(thursday_noon).exists()
    assert not selectors.late_shipments(thursday_noon).exists()


def test_a_labelled_parcel_that_has_not_left_is_neither_stalled_nor_late(labelled):
    Shipment.objects.filter(pk=labelled.pk).update(estimated_delivery_date=date(2026, 3, 4))
    far = datetime(2026, 6, 1, tzinfo=UTC)
    assert not selectors.stalled_shipments(far).exists()
    assert not selectors.late_shipments(far).exists()
