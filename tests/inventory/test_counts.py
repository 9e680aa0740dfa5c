"""Cycle counts: blind entry, variances posted as count corrections on approval, who may do what, where."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.actors import Actor
from inventory import selectors, services
from inventory.enums import AdjustmentCode, CountStatus, MoveReason
from inventory.models import Balance, CycleCount, CycleCountLine, Move
from tests.accounts.factories import UserFactory, WarehouseFactory
from tests.inventory.factories import SYSTEM, make_item, make_node


@pytest.fixture
def node(tenant_a):
    return make_node(tenant_a.warehouse)


@pytest.fixture
def counter(tenant_a):
    """A warehouse operator of tenant A's node."""
    user = UserFactory(role="warehouse_operator", client=None)
    user.warehouses.add(tenant_a.warehouse)
    return Actor.for_user(user)


@pytest.fixture
def admin(operator_admin):
    return Actor.for_user(operator_admin)


def _put(tenant, item, location, quantity):
    services.stock_adjust(
        actor=SYSTEM,
        client=tenant.client,
        item=item,
        location=location,
        quantity=quantity,
        code=AdjustmentCode.FOUND,
        note="opening stock",
    )


def _on_hand(item, location) -> int:
    balance = Balance.objects.filter(item=item, location=location).first()
    return balance.on_hand if balance else 0


def _line(count, item, location) -> CycleCountLine:
    return count.lines.get(item=item, location=location)


def test_a_blind_count_posts_its_variances_on_approval(tenant_a, node, counter, admin):
    item, stray = make_item(tenant_a.client), make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 10)
    _put(tenant_a, item, node.bins[1], 5)
    count = services.count_create(actor=counter, warehouse=node.warehouse, locations=node.bins[:3])
    lines = list(count.lines.all())
    assert {(x.location_id, x.item_id) for x in lines} == {
        (node.bins[0].pk, item.pk),
        (node.bins[1].pk, item.pk),
    }
    assert all(x.system_quantity is None and x.counted_quantity is None for x in lines)  # blind

    _put(tenant_a, item, node.bins[0], 2)  # stock moves between creation and entry: 12
    entered = services.count_enter(
        actor=counter, count=count, line=_line(count, item, node.bins[0]), counted_quantity=11
    )
    assert (entered.system_quantity, entered.counted_quantity, entered.variance) == (12, 11, -1)
    assert entered.counted_by == counter.user.email and entered.counted_at
    services.count_enter(
        actor=counter, count=count, line=_line(count, item, node.bins[1]), counted_quantity=5
    )
    found = services.count_enter(
        actor=counter, count=count, location=node.bins[2], item=stray, counted_quantity=3
    )
    assert (found.system_quantity, found.variance, found.client_id) == (0, 3, tenant_a.client.pk)

    services.count_submit(actor=counter, count=count)
    services.count_approve(actor=admin, count=count)

    count.refresh_from_db()
    assert count.status == CountStatus.APPROVED and count.approved_at
    assert count.approved_by == admin.user.email
    corrections = Move.objects.filter(reason=MoveReason.COUNT_CORRECTION).order_by("pk")
    assert sorted((m.location_id, m.item_id, m.quantity) for m in corrections) == sorted(
        [(node.bins[0].pk, item.pk, -1), (node.bins[2].pk, stray.pk, 3)]
    )
    assert all(m.adjustment_code == AdjustmentCode.COUNT_CORRECTION for m in corrections)
    assert all((m.document_type, m.document_id) == ("cycle_count", str(count.pk)) for m in corrections)
    assert (_on_hand(item, node.bins[0]), _on_hand(item, node.bins[1]), _on_hand(stray, node.bins[2])) == (
        11,
        5,
        3,
    )
    by_line = {(x.location_id, x.item_id): x for x in count.lines.all()}
    assert by_line[node.bins[0].pk, item.pk].correction_move.quantity == -1
    assert by_line[node.bins[1].pk, item.pk].correction_move is None  # zero variance posts nothing
    assert by_line[node.bins[2].pk, stray.pk].correction_move.quantity == 3
    assert selectors.ledger_differences() == []


def test_zero_variance_posts_nothing(tenant_a, node, admin):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 4)
    count = services.count_create(actor=admin, warehouse=node.warehouse, items=[item])
    services.count_enter(actor=admin, count=count, line=count.lines.get(), counted_quantity=4)
    services.count_submit(actor=admin, count=count)
    moves = Move.objects.count()
    services.count_approve(actor=admin, count=count)
    assert Move.objects.count() == moves
    assert count.lines.get().variance == 0


def test_an_item_count_covers_every_location_of_the_item_at_the_node(tenant_a, node, admin):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 4)
    _put(tenant_a, item, node.reserve[0], 2)
    _put(tenant_a, item, node.reserve[0], -2)  # empty now, still counted
    elsewhere = make_node(WarehouseFactory())
    tenant_a.client.warehouses.add(elsewhere.warehouse)
    _put(tenant_a, item, elsewhere.bins[0], 9)
    count = services.count_create(actor=admin, warehouse=node.warehouse, items=[item])
    assert count.kind == CycleCount.Kind.ITEM
    assert {x.location_id for x in count.lines.all()} == {node.bins[0].pk, node.reserve[0].pk}
    line = _line(count, item, node.reserve[0])
    services.count_enter(actor=admin, count=count, line=line, counted_quantity=1)
    services.count_enter(actor=admin, count=count, line=_line(count, item, node.bins[0]), counted_quantity=4)
    services.count_submit(actor=admin, count=count)
    services.count_approve(actor=admin, count=count)
    assert _on_hand(item, node.reserve[0]) == 1


def test_a_warehouse_operator_cannot_approve_an_operator_admin_can(tenant_a, node, counter, admin):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 4)
    count = services.count_create(actor=counter, warehouse=node.warehouse, locations=[node.bins[0]])
    services.count_enter(actor=counter, count=count, line=count.lines.get(), counted_quantity=2)
    services.count_submit(actor=counter, count=count)
    with pytest.raises(PermissionDenied):
        services.count_approve(actor=counter, count=count)
    assert CycleCount.objects.get(pk=count.pk).status == CountStatus.SUBMITTED
    assert _on_hand(item, node.bins[0]) == 4
    services.count_approve(actor=admin, count=count)
    assert _on_hand(item, node.bins[0]) == 2


@pytest.mark.parametrize("role", ["client_admin", "client_user", "account_manager"])
def test_other_roles_do_not_count(tenant_a, node, role):
    user = tenant_a.admin if role == "client_admin" else tenant_a.user
    if role == "account_manager":
        user = UserFactory(role=role, client=None)
        user.managed_clients.add(tenant_a.client)
    with pytest.raises(PermissionDenied):
        services.count_create(actor=Actor.for_user(user), warehouse=node.warehouse, locations=[node.bins[0]])


def test_counts_only_at_the_operators_own_node(tenant_a, node, counter, admin):
    other = make_node(WarehouseFactory())
    with pytest.raises(PermissionDenied):
        services.count_create(actor=counter, warehouse=other.warehouse, locations=[other.bins[0]])
    item = make_item(tenant_a.client)
    tenant_a.client.warehouses.add(other.warehouse)
    _put(tenant_a, item, other.bins[0], 3)
    count = services.count_create(actor=admin, warehouse=other.warehouse, locations=[other.bins[0]])
    with pytest.raises(PermissionDenied):
        services.count_enter(actor=counter, count=count, line=count.lines.get(), counted_quantity=1)
    with pytest.raises(PermissionDenied):
        services.count_submit(actor=counter, count=count)
    with pytest.raises(PermissionDenied):
        services.count_cancel(actor=counter, count=count)
    line = count.lines.get()
    assert line.counted_quantity is None and line.system_quantity is None
    assert CycleCount.objects.get(pk=count.pk).status == CountStatus.OPEN


def test_a_location_of_another_node_is_refused(tenant_a, node, admin):
    other = make_node(WarehouseFactory())
    with pytest.raises(ValidationError) as exc:
        services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0], other.bins[0]])
    assert "locations" in exc.value.message_dict
    count = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    with pytest.raises(ValidationError) as exc:
        services.count_enter(
            actor=admin,
            count=count,
            location=other.bins[0],
            item=make_item(tenant_a.client),
            counted_quantity=1,
        )
    assert "location" in exc.value.message_dict


def test_a_count_is_of_locations_or_of_items(tenant_a, node, admin):
    item = make_item(tenant_a.client)
    for kwargs in ({}, {"locations": [node.bins[0]], "items": [item]}):
        with pytest.raises(ValidationError):
            services.count_create(actor=admin, warehouse=node.warehouse, **kwargs)
    assert not CycleCount.objects.exists()


@pytest.mark.parametrize("quantity", [-1, 1.5, "3", None, True])
def test_a_bad_counted_quantity_is_refused(tenant_a, node, admin, quantity):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 3)
    count = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    with pytest.raises(ValidationError) as exc:
        services.count_enter(actor=admin, count=count, line=count.lines.get(), counted_quantity=quantity)
    assert "counted_quantity" in exc.value.message_dict
    assert count.lines.get().counted_quantity is None


def test_the_count_lifecycle_is_enforced(tenant_a, node, admin):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 3)
    count = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    with pytest.raises(ValidationError) as exc:
        services.count_submit(actor=admin, count=count)  # a line not counted yet
    assert "lines" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.count_approve(actor=admin, count=count)  # still open
    services.count_enter(actor=admin, count=count, line=count.lines.get(), counted_quantity=2)
    services.count_submit(actor=admin, count=count)
    with pytest.raises(ValidationError) as exc:
        services.count_enter(actor=admin, count=count, line=count.lines.get(), counted_quantity=3)
    assert "status" in exc.value.message_dict
    services.count_approve(actor=admin, count=count)
    moves = Move.objects.count()
    for again in (services.count_approve, services.count_cancel, services.count_submit):
        with pytest.raises(ValidationError):
            again(actor=admin, count=count)
    assert Move.objects.count() == moves
    assert _on_hand(item, node.bins[0]) == 2


def test_a_cancelled_count_posts_nothing(tenant_a, node, admin):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 3)
    count = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    services.count_enter(actor=admin, count=count, line=count.lines.get(), counted_quantity=0)
    services.count_cancel(actor=admin, count=count)
    with pytest.raises(ValidationError):
        services.count_approve(actor=admin, count=count)
    assert _on_hand(item, node.bins[0]) == 3


def test_an_approval_that_would_take_allocated_units_is_refused_whole(tenant_a, node, admin):
    item, other = make_item(tenant_a.client), make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 5)
    _put(tenant_a, other, node.bins[0], 5)
    Balance.objects.filter(item=item, location=node.bins[0]).update(allocated=4)  # reserved for orders
    count = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    services.count_enter(actor=admin, count=count, line=_line(count, other, node.bins[0]), counted_quantity=6)
    line = _line(count, item, node.bins[0])
    services.count_enter(actor=admin, count=count, line=line, counted_quantity=2)
    services.count_submit(actor=admin, count=count)
    moves = Move.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.count_approve(actor=admin, count=count)
    assert f"lines.{line.pk}.counted_quantity" in exc.value.message_dict
    assert Move.objects.count() == moves
    assert (_on_hand(item, node.bins[0]), _on_hand(other, node.bins[0])) == (5, 5)
    assert CycleCount.objects.get(pk=count.pk).status == CountStatus.SUBMITTED


def test_two_counts_of_one_bin_do_not_correct_the_same_difference_twice(tenant_a, node, admin):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 10)
    first = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    second = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    for count in (first, second):
        services.count_enter(actor=admin, count=count, line=count.lines.get(), counted_quantity=8)
        services.count_submit(actor=admin, count=count)
    services.count_approve(actor=admin, count=first)
    assert _on_hand(item, node.bins[0]) == 8
    with pytest.raises(ValidationError, match="count it again"):
        services.count_approve(actor=admin, count=second)
    assert _on_hand(item, node.bins[0]) == 8
    # a bin counted again after the first approval is current: nothing left to correct
    third = services.count_create(actor=admin, warehouse=node.warehouse, locations=[node.bins[0]])
    services.count_enter(actor=admin, count=third, line=third.lines.get(), counted_quantity=8)
    services.count_submit(actor=admin, count=third)
    services.count_approve(actor=admin, count=third)
    assert _on_hand(item, node.bins[0]) == 8


def test_a_found_item_must_be_a_client_of_the_node_and_not_a_kit(tenant_a, tenant_b, node, counter):
    item = make_item(tenant_a.client)
    _put(tenant_a, item, node.bins[0], 1)
    count = services.count_create(actor=counter, warehouse=node.warehouse, locations=[node.bins[0]])
    elsewhere = make_item(tenant_b.client)  # tenant B is not served at this node
    with pytest.raises(ValidationError) as exc:
        services.count_enter(
            actor=counter, count=count, location=node.bins[0], item=elsewhere, counted_quantity=1
        )
    assert "item" in exc.value.message_dict
    kit = services.item_create(
        actor=SYSTEM,
        client=tenant_a.client,
        sku="KIT-COUNT",
        name="Kit",
        is_kit=True,
        components=[{"item": item, "quantity": 1}],
    )
    with pytest.raises(ValidationError) as exc:
        services.count_enter(actor=counter, count=count, location=node.bins[0], item=kit, counted_quantity=1)
    assert "item" in exc.value.message_dict
    assert count.lines.count() == 1


def test_a_warehouse_operator_starts_a_count_from_the_floor_page(client, tenant_a, node):
    user = UserFactory(role="warehouse_operator", client=None)
    user.warehouses.add(tenant_a.warehouse)
    item = make_item(tenant_a.client, barcode="4006381333931")
    _put(tenant_a, item, node.bins[0], 5)
    _put(tenant_a, item, node.reserve[0], 2)
    client.force_login(user)
    response = client.post(
        "/floor/counts/", {"warehouse": node.warehouse.pk, "bins": "a-01", "reason": "cycle"}
    )
    count = CycleCount.objects.get()
    assert response.status_code == 302 and response.url == f"/floor/counts/{count.pk}/"
    assert {line.location_id for line in count.lines.all()} == {node.bins[0].pk}
    response = client.post("/floor/counts/", {"warehouse": node.warehouse.pk, "code": "4006381333931"})
    by_item = CycleCount.objects.exclude(pk=count.pk).get()
    assert by_item.kind == CycleCount.Kind.ITEM
    assert {line.location_id for line in by_item.lines.all()} == {node.bins[0].pk, node.reserve[0].pk}
    page = client.post("/floor/counts/", {"warehouse": node.warehouse.pk, "bins": "ZZ"})
    assert page.status_code == 200 and "No bin at" in page.content.decode()
    assert CycleCount.objects.count() == 2
