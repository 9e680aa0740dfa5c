"""The order state machine: the transition table, events, edits until picking, cancellation,
who may place and release which holds, and exception holds that wait for their SKU."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.actors import Actor
from accounts.enums import Role
from orders import allocation, services
from orders.enums import CANCELLABLE_STATUSES, ORDER_TRANSITIONS, HoldKind, OrderStatus
from orders.models import Order, OrderEvent
from tests.accounts.factories import UserFactory
from tests.inventory.factories import SYSTEM, make_item, stock
from tests.orders.factories import SHIP_TO_CA, make_order, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world(regions=("nj",))


@pytest.fixture
def brand(world):
    return Actor.for_user(UserFactory(role=Role.CLIENT_USER, client=world.client))


def at_status(order: Order, status: str) -> Order:
    """Put the order in ``status`` to test what may happen from there (arrangement only)."""
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()
    return order


def allocated_order(world, quantity: int = 1) -> Order:
    item = make_item(world.client)
    stock(world.client, world.nj, item, quantity)
    order = make_order(world.client, [(item, quantity)])
    assert allocation.allocate(actor=SYSTEM, order=order) == OrderStatus.ALLOCATED
    order.refresh_from_db()
    return order


@pytest.mark.parametrize("from_status", OrderStatus.values)
def test_the_transition_table(world, from_status):
    order = make_order(world.client, [(make_item(world.client), 1)])
    actor = SYSTEM
    for to in OrderStatus.values:
        order = at_status(order, from_status)
        events = OrderEvent.objects.filter(order=order).count()
        if to in ORDER_TRANSITIONS[from_status]:
            services.transition(actor=actor, order=order, to=to, reason=f"to {to}")
            order.refresh_from_db()
            assert order.status == to
            event = OrderEvent.objects.filter(order=order).latest("created_at", "pk")
            assert (event.from_status, event.to_status, event.reason) == (from_status, to, f"to {to}")
            assert event.actor_label == actor.label and event.created_at is not None
            assert OrderEvent.objects.filter(order=order).count() == events + 1
        else:
            with pytest.raises(ValidationError) as error:
                services.transition(actor=actor, order=order, to=to, reason="nope")
            assert "status" in error.value.message_dict
            assert OrderStatus(from_status).label.lower() in error.value.message_dict["status"][0]
            assert OrderEvent.objects.filter(order=order).count() == events
            assert Order.objects.get(pk=order.pk).status == from_status


def test_the_table_covers_every_status_and_ends_in_terminal_states():
    assert set(ORDER_TRANSITIONS) == set(OrderStatus.values)
    assert ORDER_TRANSITIONS[OrderStatus.DELIVERED] == ORDER_TRANSITIONS[OrderStatus.CANCELLED] == frozenset()
    assert OrderStatus.CANCELLED not in ORDER_TRANSITIONS[OrderStatus.PICKING]


def test_an_unknown_status_is_refused(world):
    order = make_order(world.client, [(make_item(world.client), 1)])
    with pytest.raises(ValidationError):
        services.transition(actor=SYSTEM, order=order, to="teleported")


def test_intake_writes_the_first_event_with_actor_and_channel(world, brand):
    order = make_order(world.client, [(make_item(world.client), 1)], actor=brand)
    event = order.events.get()
    assert (event.from_status, event.to_status, event.reason) == ("", OrderStatus.RECEIVED, "via api")
    assert event.actor_user == brand.user


def test_a_duplicate_reference_names_the_existing_order(world):
    item = make_item(world.client)
    first = make_order(world.client, [(item, 1)], reference="DUP-1")
    with pytest.raises(services.DuplicateOrder) as duplicate:
        make_order(world.client, [(item, 1)], reference="DUP-1")
    assert duplicate.value.existing == first
    make_order(world.client, [(item, 1)], reference="DUP-1", channel="csv")  # another channel: fine


# --- edits until picking ---------------------------------------------------------------------------


def test_edits_are_allowed_until_picking_starts(world, brand):
    order = allocated_order(world, 2)
    item = order.lines.get().item
    order = services.order_update_lines(actor=brand, order=order, lines=[{"sku": item.sku, "quantity": 1}])
    assert order.status == OrderStatus.ALLOCATED
    order = services.order_update_address(actor=brand, order=order, ship_to_address2="Apt 4")
    assert order.ship_to_address2 == "Apt 4"
    services.transition(actor=SYSTEM, order=order, to=OrderStatus.PICKING, reason="wave 1")
    order.refresh_from_db()
    edits = [
        lambda: services.order_update_lines(
            actor=brand, order=order, lines=[{"sku": item.sku, "quantity": 2}]
        ),
        lambda: services.order_update_address(actor=brand, order=order, ship_to_address2="Apt 5"),
        lambda: services.order_cancel(actor=brand, order=order),
        lambda: services.order_hold(actor=brand, order=order, kind=HoldKind.CLIENT, reason="stop"),
    ]
    for edit in edits:
        with pytest.raises(ValidationError) as error:
            edit()
        assert "status" in error.value.message_dict
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKING and order.ship_to_address2 == "Apt 4"
    assert order.lines.get().quantity == 1
    assert sum(a.quantity for a in order.allocations.filter(released_at__isnull=True)) == 1


@pytest.mark.parametrize("status", OrderStatus.values)
def test_cancel_rules(world, status):
    order = at_status(make_order(world.client, [(make_item(world.client), 1)]), status)
    if status in CANCELLABLE_STATUSES:
        order = services.order_cancel(actor=SYSTEM, order=order, reason="duplicate order")
        assert order.status == OrderStatus.CANCELLED and order.cancelled_at is not None
        event = order.events.latest("created_at", "pk")
        assert (event.from_status, event.to_status, event.reason) == (status, "cancelled", "duplicate order")
    else:
        with pytest.raises(ValidationError) as error:
            services.order_cancel(actor=SYSTEM, order=order)
        assert "status" in error.value.message_dict
        assert Order.objects.get(pk=order.pk).status == status


def test_cancellable_statuses_are_the_open_ones_and_exception():
    assert set(CANCELLABLE_STATUSES) == {"received", "on_hold", "backordered", "allocated", "exception"}


# --- holds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [HoldKind.OPERATOR, HoldKind.ADDRESS, HoldKind.EXCEPTION])
def test_a_brand_may_not_place_other_holds(world, brand, kind):
    order = make_order(world.client, [(make_item(world.client), 1)])
    with pytest.raises(PermissionDenied):
        services.order_hold(actor=brand, order=order, kind=kind, reason="x")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.RECEIVED and not order.holds.exists()


def test_a_brand_places_and_releases_its_own_hold(world, brand):
    order = make_order(world.client, [(make_item(world.client), 1)])
    order = services.order_hold(actor=brand, order=order, kind=HoldKind.CLIENT, reason="gift note")
    assert order.status == OrderStatus.ON_HOLD
    event = order.events.latest("created_at", "pk")
    assert event.actor_user == brand.user and "gift note" in event.reason
    order = services.order_release(actor=brand, order=order, kind=HoldKind.CLIENT)
    assert order.status == OrderStatus.RECEIVED
    hold = order.holds.get()
    assert hold.released_at is not None and hold.released_by == brand.label


@pytest.mark.parametrize("kind", [HoldKind.OPERATOR, None])
def test_a_brand_may_not_release_an_operator_hold(world, brand, kind):
    order = make_order(world.client, [(make_item(world.client), 1)])
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR, reason="fraud check")
    with pytest.raises(PermissionDenied):
        services.order_release(actor=brand, order=order, kind=kind)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    assert order.holds.get().released_at is None


@pytest.mark.parametrize("kind", [HoldKind.ADDRESS, HoldKind.EXCEPTION])
def test_a_brand_may_not_release_address_or_exception_holds_directly(world, brand, kind):
    order = make_order(world.client, [("NO-SUCH-SKU", 1)], ship_to={**SHIP_TO_CA, "ship_to_zip": "00000"})
    with pytest.raises(PermissionDenied):
        services.order_release(actor=brand, order=order, kind=kind)


def test_a_brand_releasing_everything_releases_only_its_own_holds(world, brand):
    order = make_order(world.client, [(make_item(world.client), 1)])
    services.order_hold(actor=brand, order=order, kind=HoldKind.CLIENT, reason="wait")
    services.order_hold(actor=SYSTEM, order=order, kind=HoldKind.OPERATOR, reason="check")
    order = services.order_release(actor=brand, order=order)
    assert order.status == OrderStatus.ON_HOLD
    assert list(order.holds.filter(released_at__isnull=True).values_list("kind", flat=True)) == ["operator"]
    order = services.order_release(actor=SYSTEM, order=order)
    assert order.status == OrderStatus.RECEIVED


def test_an_unknown_hold_kind_is_refused(world):
    order = make_order(world.client, [(make_item(world.client), 1)])
    with pytest.raises(ValidationError):
        services.order_hold(actor=SYSTEM, order=order, kind="whim", reason="x")
    with pytest.raises(ValidationError):
        services.order_release(actor=SYSTEM, order=order, kind="whim")


def test_an_exception_hold_is_not_released_while_an_unknown_sku_remains(world):
    item = make_item(world.client)
    order = make_order(world.client, [(item, 1), ("NO-SUCH-SKU", 1)])
    assert order.status == OrderStatus.ON_HOLD
    with pytest.raises(ValidationError) as error:
        services.order_release(actor=SYSTEM, order=order, kind=HoldKind.EXCEPTION)
    assert "lines" in error.value.message_dict
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD

    # Still unknown after an edit: the hold stays and names what is wrong now.
    order = services.order_update_lines(
        actor=SYSTEM,
        order=order,
        lines=[{"sku": item.sku, "quantity": 1}, {"sku": "ALSO-WRONG", "quantity": 1}],
    )
    hold = order.holds.get(released_at__isnull=True)
    assert order.status == OrderStatus.ON_HOLD and "ALSO-WRONG" in hold.reason
    assert "NO-SUCH-SKU" not in hold.reason

    # Fixed lines release the exception hold and restart the clock.
    order = services.order_update_lines(actor=SYSTEM, order=order, lines=[{"sku": item.sku, "quantity": 2}])
    assert order.status == OrderStatus.RECEIVED
    assert order.released_at is not None and order.ship_by is not None
    assert not order.holds.filter(released_at__isnull=True).exists()


def test_an_edit_that_introduces_an_unknown_sku_holds_the_order_and_frees_its_units(world):
    order = allocated_order(world, 2)
    item = order.lines.get().item
    order = services.order_update_lines(
        actor=SYSTEM, order=order, lines=[{"sku": item.sku, "quantity": 2}, {"sku": "TYPO-1", "quantity": 1}]
    )
    assert order.status == OrderStatus.ON_HOLD
    assert "TYPO-1" in order.holds.get(kind=HoldKind.EXCEPTION).reason
    assert not order.allocations.filter(released_at__isnull=True).exists()


def test_an_inactive_sku_is_held_too(world):
    item = make_item(world.client, active=False)
    order = make_order(world.client, [(item, 1)])
    assert order.status == OrderStatus.ON_HOLD
    assert order.holds.get().reason == f"Inactive SKU: {item.sku}"
