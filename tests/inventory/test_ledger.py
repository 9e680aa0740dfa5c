"""The stock ledger: moves are immutable, reversals undo them once, kits hold no stock, and the audit
command finds a balance that disagrees with its moves."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from inventory import selectors, services
from inventory.enums import AdjustmentCode, MoveReason
from inventory.models import Balance, Move
from tests.accounts.factories import WarehouseFactory
from tests.inventory.factories import SYSTEM, make_item, make_node, stock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def node(tenant_a):
    return make_node(tenant_a.warehouse)


def _adjust(tenant, node, item, quantity, *, location=None, code=AdjustmentCode.FOUND) -> Move:
    return services.stock_adjust(
        actor=SYSTEM,
        client=tenant.client,
        item=item,
        location=location or node.bins[0],
        quantity=quantity,
        code=code,
        note="test",
    )


# --- immutability ------------------------------------------------------------------------------


def test_a_move_cannot_be_updated_through_the_orm(tenant_a, node):
    move = _adjust(tenant_a, node, make_item(tenant_a.client), 5)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        Move.objects.filter(pk=move.pk).update(quantity=500)
    move.refresh_from_db()
    assert move.quantity == 5


def test_a_move_cannot_be_saved_again(tenant_a, node):
    move = _adjust(tenant_a, node, make_item(tenant_a.client), 5)
    move.note = "edited"
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        move.save()


def test_a_move_cannot_be_deleted(tenant_a, node):
    move = _adjust(tenant_a, node, make_item(tenant_a.client), 5)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        move.delete()
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM inventory_move WHERE id = %s", [move.pk])
    assert Move.objects.filter(pk=move.pk).exists()


def test_raw_sql_update_of_a_move_is_refused(tenant_a, node):
    move = _adjust(tenant_a, node, make_item(tenant_a.client), 5)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE inventory_move SET quantity = 1 WHERE id = %s", [move.pk])


# --- reversals ---------------------------------------------------------------------------------


def test_reversal_posts_an_equal_and_opposite_move(tenant_a, node):
    item = make_item(tenant_a.client)
    move = _adjust(tenant_a, node, item, 7)
    reversal = services.move_reverse(actor=SYSTEM, move=move, note="typo")
    assert reversal.quantity == -7
    assert reversal.reason == MoveReason.REVERSAL
    assert reversal.reverses_id == move.pk
    assert reversal.balance_id == move.balance_id
    assert (reversal.document_type, reversal.document_id) == (move.document_type, move.document_id)
    assert reversal.note == "typo"
    assert reversal.actor_label == SYSTEM.label
    assert Balance.objects.get(pk=move.balance_id).on_hand == 0
    move.refresh_from_db()
    assert move.quantity == 7  # the original stays as it was
    assert selectors.ledger_differences() == []


def test_a_move_cannot_be_reversed_twice_nor_a_reversal_reversed(tenant_a, node):
    item = make_item(tenant_a.client)
    move = _adjust(tenant_a, node, item, 7)
    reversal = services.move_reverse(actor=SYSTEM, move=move, note="typo")
    with pytest.raises(ValidationError) as exc:
        services.move_reverse(actor=SYSTEM, move=move, note="again")
    assert "move" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.move_reverse(actor=SYSTEM, move=reversal, note="undo the undo")
    assert Move.objects.filter(item=item).count() == 2
    assert Balance.objects.get(pk=move.balance_id).on_hand == 0


@pytest.mark.parametrize("reason", ["receipt", "putaway", "transfer_out", "transfer_in", "relocation"])
def test_moves_of_a_pair_or_counted_by_a_document_are_not_reversed_alone(tenant_a, node, reason):
    other = WarehouseFactory()
    tenant_a.client.warehouses.add(other)
    make_node(other)
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 6)
    source = Balance.objects.get(item=item, location=node.bins[0])
    services.stock_relocate(actor=SYSTEM, balance=source, to_location=node.bins[1], quantity=1)
    transfer = services.transfer_dispatch(actor=SYSTEM, balance=source, to_warehouse=other, quantity=2)
    services.transfer_receive(actor=SYSTEM, transfer=transfer)
    move = Move.objects.filter(item=item, reason=reason).first()
    before = list(Balance.objects.order_by("pk").values_list("on_hand", flat=True))
    with pytest.raises(ValidationError) as exc:
        services.move_reverse(actor=SYSTEM, move=move, note="oops")
    assert "move" in exc.value.message_dict
    assert not Move.objects.filter(reason=MoveReason.REVERSAL).exists()
    assert list(Balance.objects.order_by("pk").values_list("on_hand", flat=True)) == before


def test_a_count_correction_can_be_reversed(tenant_a, node):
    item = make_item(tenant_a.client)
    _adjust(tenant_a, node, item, 5)
    count = services.count_create(actor=SYSTEM, warehouse=node.warehouse, locations=[node.bins[0]])
    services.count_enter(actor=SYSTEM, count=count, line=count.lines.get(), counted_quantity=3)
    services.count_submit(actor=SYSTEM, count=count)
    services.count_approve(actor=SYSTEM, count=count)
    correction = Move.objects.get(reason=MoveReason.COUNT_CORRECTION)
    services.move_reverse(actor=SYSTEM, move=correction, note="the count missed a tote")
    assert Balance.objects.get(pk=correction.balance_id).on_hand == 5


def test_a_reversal_needs_a_reason(tenant_a, node):
    move = _adjust(tenant_a, node, make_item(tenant_a.client), 3)
    with pytest.raises(ValidationError) as exc:
        services.move_reverse(actor=SYSTEM, move=move, note="  ")
    assert "note" in exc.value.message_dict


def test_a_reversal_that_would_take_stock_below_zero_is_refused(tenant_a, node):
    item = make_item(tenant_a.client)
    found = _adjust(tenant_a, node, item, 5)
    _adjust(tenant_a, node, item, -4, code=AdjustmentCode.LOST)
    with pytest.raises(ValidationError) as exc:
        services.move_reverse(actor=SYSTEM, move=found, note="was never found")
    assert "quantity" in exc.value.message_dict
    assert Balance.objects.get(pk=found.balance_id).on_hand == 1
    assert not Move.objects.filter(reverses=found).exists()


def test_a_reversal_may_not_take_allocated_units(tenant_a, node):
    item = make_item(tenant_a.client)
    found = _adjust(tenant_a, node, item, 5)
    Balance.objects.filter(pk=found.balance_id).update(allocated=1)  # reserved by an order
    with pytest.raises(ValidationError):
        services.move_reverse(actor=SYSTEM, move=found, note="x")
    assert Balance.objects.get(pk=found.balance_id).on_hand == 5


# --- adjustments -------------------------------------------------------------------------------


def test_adjustments_change_the_balance_and_write_one_move(tenant_a, node):
    item = make_item(tenant_a.client)
    plus = _adjust(tenant_a, node, item, 10)
    minus = _adjust(tenant_a, node, item, -3, code=AdjustmentCode.DAMAGED)
    balance = Balance.objects.get(pk=plus.balance_id)
    assert balance.on_hand == 7
    assert (plus.quantity, plus.reason, plus.adjustment_code) == (10, "adjustment", "found")
    assert (minus.quantity, minus.adjustment_code) == (-3, "damaged")
    assert balance.received_at is not None


@pytest.mark.parametrize(
    ("quantity", "code", "note", "field"),
    [
        (0, "found", "x", "quantity"),
        (True, "found", "x", "quantity"),
        (2.5, "found", "x", "quantity"),
        ("3", "found", "x", "quantity"),
        (-1, "found", "x", "quantity"),  # nothing there
        (3, "stolen", "x", "code"),
        (3, "found", "", "note"),
    ],
)
def test_bad_adjustments_are_refused_and_write_nothing(tenant_a, node, quantity, code, note, field):
    item = make_item(tenant_a.client)
    with pytest.raises(ValidationError) as exc:
        services.stock_adjust(
            actor=SYSTEM,
            client=tenant_a.client,
            item=item,
            location=node.bins[0],
            quantity=quantity,
            code=code,
            note=note,
        )
    assert field in exc.value.message_dict
    assert not Move.objects.filter(item=item).exists()
    assert not Balance.objects.filter(item=item).exists()


def test_a_negative_adjustment_cannot_take_allocated_units(tenant_a, node):
    item = make_item(tenant_a.client)
    move = _adjust(tenant_a, node, item, 5)
    Balance.objects.filter(pk=move.balance_id).update(allocated=3)
    with pytest.raises(ValidationError, match="Only 2 units available"):
        _adjust(tenant_a, node, item, -3, code=AdjustmentCode.LOST)
    _adjust(tenant_a, node, item, -2, code=AdjustmentCode.LOST)
    balance = Balance.objects.get(pk=move.balance_id)
    assert (balance.on_hand, balance.allocated) == (3, 3)


def test_an_adjustment_of_another_clients_item_is_refused(tenant_a, tenant_b, node):
    item = make_item(tenant_b.client)
    with pytest.raises(ValidationError) as exc:
        _adjust(tenant_a, node, item, 1)
    assert "item" in exc.value.message_dict


def test_a_lot_tracked_item_needs_its_lot_to_be_added(tenant_a, node):
    item = make_item(tenant_a.client, lot_tracked=True)
    with pytest.raises(ValidationError) as exc:
        _adjust(tenant_a, node, item, 1)
    assert "lot_code" in exc.value.message_dict


def test_adjustments_are_staff_only(tenant_a, node):
    from django.core.exceptions import PermissionDenied

    from accounts.actors import Actor

    item = make_item(tenant_a.client)
    with pytest.raises(PermissionDenied):
        services.stock_adjust(
            actor=Actor.for_user(tenant_a.admin),
            client=tenant_a.client,
            item=item,
            location=node.bins[0],
            quantity=1,
            code="found",
            note="x",
        )


# --- relocations and transfers -----------------------------------------------------------------


def test_relocation_writes_a_pair_and_keeps_the_receipt_date(tenant_a, node):
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 6)
    source = Balance.objects.get(item=item, location=node.bins[0])
    into = services.stock_relocate(actor=SYSTEM, balance=source, to_location=node.reserve[0], quantity=4)
    target = Balance.objects.get(item=item, location=node.reserve[0])
    source.refresh_from_db()
    assert (source.on_hand, target.on_hand) == (2, 4)
    assert into.quantity == 4 and into.reason == MoveReason.RELOCATION
    assert target.received_at == source.received_at
    assert Move.objects.filter(item=item, reason=MoveReason.RELOCATION).count() == 2


@pytest.mark.parametrize("case", ["too_many", "same_bin", "other_node", "zero", "inactive"])
def test_bad_relocations_are_refused_and_write_nothing(tenant_a, node, case):
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 3)
    source = Balance.objects.get(item=item, location=node.bins[0])
    target, quantity, field = node.bins[1], 2, "to_location"
    if case == "too_many":
        quantity, field = 4, "quantity"
    elif case == "same_bin":
        target = node.bins[0]
    elif case == "other_node":
        target = make_node(WarehouseFactory()).bins[0]
    elif case == "zero":
        quantity, field = 0, "quantity"
    elif case == "inactive":
        target = services.location_update(actor=SYSTEM, location=node.bins[1], active=False)
    before = Move.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.stock_relocate(actor=SYSTEM, balance=source, to_location=target, quantity=quantity)
    assert field in exc.value.message_dict
    assert Move.objects.count() == before
    source.refresh_from_db()
    assert source.on_hand == 3
    assert not Balance.objects.filter(item=item, location=target).exclude(pk=source.pk).exists()


def test_transfer_between_nodes_is_out_then_in(tenant_a, node):
    other = WarehouseFactory(time_zone="America/Los_Angeles")
    tenant_a.client.warehouses.add(other)
    far = make_node(other)
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 10)
    source = Balance.objects.get(item=item, location=node.bins[0])
    transfer = services.transfer_dispatch(actor=SYSTEM, balance=source, to_warehouse=other, quantity=4)
    source.refresh_from_db()
    assert source.on_hand == 6
    assert not Balance.objects.filter(item=item, warehouse=other).exists()
    services.transfer_receive(actor=SYSTEM, transfer=transfer)
    arrived = Balance.objects.get(item=item, warehouse=other)
    assert arrived.location == far.dock and arrived.on_hand == 4
    with pytest.raises(ValidationError):
        services.transfer_receive(actor=SYSTEM, transfer=transfer)
    assert Balance.objects.get(item=item, warehouse=other).on_hand == 4
    assert selectors.ledger_differences() == []


def test_a_transfer_of_more_than_is_there_writes_nothing(tenant_a, node):
    other = WarehouseFactory()
    tenant_a.client.warehouses.add(other)
    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 2)
    source = Balance.objects.get(item=item, location=node.bins[0])
    from inventory.models import Transfer

    with pytest.raises(ValidationError):
        services.transfer_dispatch(actor=SYSTEM, balance=source, to_warehouse=other, quantity=3)
    assert not Transfer.objects.exists()
    with pytest.raises(ValidationError) as exc:
        services.transfer_dispatch(actor=SYSTEM, balance=source, to_warehouse=node.warehouse, quantity=1)
    assert "to_warehouse" in exc.value.message_dict


# --- kits --------------------------------------------------------------------------------------


def _kit(tenant, parts):
    return services.item_create(
        actor=SYSTEM,
        client=tenant.client,
        sku=f"KIT-{parts[0][0].sku}",
        name="Gift set",
        is_kit=True,
        components=[{"item": item, "quantity": qty} for item, qty in parts],
    )


def test_a_kit_needs_components(tenant_a):
    with pytest.raises(ValidationError) as exc:
        services.item_create(actor=SYSTEM, client=tenant_a.client, sku="KIT-EMPTY", name="Empty", is_kit=True)
    assert "components" in exc.value.message_dict
    from inventory.models import Item

    assert not Item.objects.filter(sku="KIT-EMPTY").exists()


def test_a_change_of_barcode_kind_is_saved(tenant_a):
    item = make_item(tenant_a.client, barcode="0099")
    services.item_update(actor=SYSTEM, item=item, barcodes=[{"code": "0099", "kind": "scancode"}])
    assert list(item.barcodes.values_list("code", "kind")) == [("0099", "scancode")]


def test_a_kit_cannot_hold_stock(tenant_a, node):
    part = make_item(tenant_a.client)
    kit = _kit(tenant_a, [(part, 2)])
    with pytest.raises(ValidationError) as exc:
        _adjust(tenant_a, node, kit, 5)
    assert "item" in exc.value.message_dict
    assert not Balance.objects.filter(item=kit).exists()


def test_kit_availability_is_the_minimum_over_components(tenant_a, node):
    soap, towel, card = (make_item(tenant_a.client) for _ in range(3))
    kit = _kit(tenant_a, [(soap, 2), (towel, 3)])
    _adjust(tenant_a, node, soap, 9, location=node.bins[0])  # 9 // 2 = 4
    _adjust(tenant_a, node, towel, 10, location=node.bins[1])
    _adjust(tenant_a, node, towel, 5, location=node.reserve[0])  # 15 // 3 = 5
    _adjust(tenant_a, node, towel, 100, location=node.dock)  # not sellable
    _adjust(tenant_a, node, card, 50)  # not in the kit
    other = make_node(WarehouseFactory())
    tenant_a.client.warehouses.add(other.warehouse)
    _adjust(tenant_a, other, soap, 50)  # no towels there: 0 kits
    rows = {r.warehouse_id: r.available for r in selectors.item_stock_by_node(actor=SYSTEM, item=kit)}
    assert rows == {node.warehouse.pk: 4, other.warehouse.pk: 0}

    balance = Balance.objects.get(item=soap, location=node.bins[0])
    Balance.objects.filter(pk=balance.pk).update(allocated=4)  # 5 // 2 = 2
    rows = {r.warehouse_id: r.available for r in selectors.item_stock_by_node(actor=SYSTEM, item=kit)}
    assert rows[node.warehouse.pk] == 2


def test_item_stock_by_node_of_a_plain_item(tenant_a, node):
    item = make_item(tenant_a.client)
    _adjust(tenant_a, node, item, 8, location=node.bins[0])
    _adjust(tenant_a, node, item, 2, location=node.reserve[0])
    _adjust(tenant_a, node, item, 5, location=node.quarantine)
    Balance.objects.filter(item=item, location=node.bins[0]).update(allocated=3)
    [row] = selectors.item_stock_by_node(actor=SYSTEM, item=item)
    assert (row.warehouse_id, row.on_hand, row.allocated, row.available) == (node.warehouse.pk, 15, 3, 7)


# --- the audit command -------------------------------------------------------------------------


def _audit() -> subprocess.CompletedProcess:
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "manage.py", "inventory_audit"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_inventory_audit_exits_0_when_consistent_and_1_naming_a_tampered_balance():
    from tests.conftest import make_tenant

    tenant = make_tenant("Audit")
    node = make_node(tenant.warehouse)
    item = make_item(tenant.client, sku="AUDIT-1")
    stock(tenant.client, node, item, 5)
    ok = _audit()
    assert ok.returncode == 0, ok.stderr
    assert "Every balance equals the sum of its moves" in ok.stdout

    balance = Balance.objects.get(item=item, location=node.bins[0])
    with connection.cursor() as cur:
        cur.execute("UPDATE inventory_balance SET on_hand = on_hand + 2 WHERE id = %s", [balance.pk])
    bad = _audit()
    assert bad.returncode == 1
    assert f"balance {balance.pk}" in bad.stdout
    assert "AUDIT-1" in bad.stdout and node.bins[0].code in bad.stdout
    assert "on hand 7, ledger says 5" in bad.stdout
    assert "1 balance(s) disagree with the ledger" in bad.stderr


def test_ledger_differences_lists_only_the_tampered_balance(tenant_a, node):
    item, other = make_item(tenant_a.client), make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 5)
    stock(tenant_a.client, node, other, 5, location=node.bins[1])
    assert selectors.ledger_differences() == []
    balance = Balance.objects.get(item=item, location=node.bins[0])
    with connection.cursor() as cur:
        cur.execute("UPDATE inventory_balance SET on_hand = 3 WHERE id = %s", [balance.pk])
    [difference] = selectors.ledger_differences()
    assert (difference.balance_id, difference.on_hand, difference.ledger_sum) == (balance.pk, 3, 5)


def test_the_audit_finds_a_balance_moved_away_from_its_moves(tenant_a, node):
    from django.core.management import CommandError, call_command

    item = make_item(tenant_a.client)
    stock(tenant_a.client, node, item, 5)
    call_command("inventory_audit", stdout=io.StringIO())
    balance = Balance.objects.get(item=item, location=node.bins[0])
    with connection.cursor() as cur:  # the sums still agree, the location does not
        cur.execute(
            "UPDATE inventory_balance SET location_id = %s WHERE id = %s", [node.bins[3].pk, balance.pk]
        )
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("inventory_audit", stdout=out)
    assert exc.value.returncode == 1
    [putaway] = Move.objects.filter(balance=balance).values_list("pk", flat=True)
    assert f"move {putaway}:" in out.getvalue()
    assert "0 balance(s) disagree with the ledger, 1 move(s)" in str(exc.value)
