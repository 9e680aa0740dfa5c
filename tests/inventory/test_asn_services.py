"""The ASN lifecycle through the services: transitions, receiving, discrepancies, putaway, stocked_at."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.actors import Actor
from inventory import selectors, services
from inventory.enums import ASN_TRANSITIONS, ASNStatus, MilestoneKind, MoveReason
from inventory.models import ASN, ASNLine, Balance, Move, Receipt
from tests.accounts.factories import UserFactory
from tests.inventory.factories import SYSTEM, make_asn, make_item, make_node

S = ASNStatus


@pytest.fixture
def node(tenant_a):
    return make_node(tenant_a.warehouse)


@pytest.fixture
def receiver(tenant_a):
    """A warehouse operator who works at tenant A's node."""
    user = UserFactory(role="warehouse_operator", client=None)
    user.warehouses.add(tenant_a.warehouse)
    return Actor.for_user(user)


def _line(asn: ASN, item=None) -> ASNLine:
    lines = asn.lines.all()
    return lines.get(item=item) if item else lines.get()


def _balance(item, location) -> int:
    balance = Balance.objects.filter(item=item, location=location).first()
    return balance.on_hand if balance else 0


# --- the transition table, through the services ------------------------------------------------


def _asn_in(status: str, tenant, item) -> ASN:
    """An ASN brought to ``status`` through the services only."""
    asn = make_asn(tenant.client, tenant.warehouse, [(item, 10)], submit=status != S.DRAFT)
    path = {
        S.DRAFT: [],
        S.SUBMITTED: [],
        S.CANCELLED: ["cancel"],
        S.IN_TRANSIT: ["depart"],
        S.ARRIVED: ["depart", "arrive"],
        S.RECEIVING: ["depart", "arrive", "receive"],
        S.RECEIVED: ["depart", "arrive", "receive", "complete"],
        S.CLOSED: ["depart", "arrive", "receive", "complete", "close"],
    }[status]
    for step in path:
        ACTIONS[step](asn)
    asn.refresh_from_db()
    assert asn.status == status
    return asn


ACTIONS = {
    "submit": lambda asn: services.asn_submit(actor=SYSTEM, asn=asn),
    "depart": lambda asn: services.asn_add_milestone(
        actor=SYSTEM, asn=asn, kind=MilestoneKind.DEPARTED_ORIGIN
    ),
    "arrive": lambda asn: services.asn_arrive(actor=SYSTEM, asn=asn),
    "receive": lambda asn: services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=1),
    "complete": lambda asn: services.asn_complete_receiving(actor=SYSTEM, asn=asn),
    "close": lambda asn: services.asn_close(actor=SYSTEM, asn=asn),
    "cancel": lambda asn: services.asn_cancel(actor=SYSTEM, asn=asn),
}
# The service that asks for each status.
TARGET = {
    "submit": S.SUBMITTED,
    "depart": S.IN_TRANSIT,
    "arrive": S.ARRIVED,
    "receive": S.RECEIVING,
    "complete": S.RECEIVED,
    "close": S.CLOSED,
    "cancel": S.CANCELLED,
}
# What each service does from each status: the statuses it passes through, or None for a refusal.
# Written out by hand from DOMAIN.md; checked against enums.ASN_TRANSITIONS below.
EXPECTED: dict[tuple[str, str], list[str] | None] = {
    (S.DRAFT, "submit"): [S.SUBMITTED],
    (S.DRAFT, "cancel"): [S.CANCELLED],
    (S.SUBMITTED, "depart"): [S.IN_TRANSIT],
    (S.SUBMITTED, "arrive"): [S.ARRIVED],
    (S.SUBMITTED, "cancel"): [S.CANCELLED],
    (S.IN_TRANSIT, "depart"): [],  # a later milestone: no transition, no refusal
    (S.IN_TRANSIT, "arrive"): [S.ARRIVED],
    (S.IN_TRANSIT, "cancel"): [S.CANCELLED],
    (S.ARRIVED, "depart"): [],
    (S.ARRIVED, "receive"): [S.RECEIVING],
    (S.ARRIVED, "complete"): [S.RECEIVED],
    (S.ARRIVED, "close"): [S.RECEIVED, S.CLOSED],  # closing completes receiving first
    (S.RECEIVING, "depart"): [],
    (S.RECEIVING, "receive"): [],  # still receiving
    (S.RECEIVING, "complete"): [S.RECEIVED],
    (S.RECEIVING, "close"): [S.RECEIVED, S.CLOSED],
    (S.RECEIVED, "depart"): [],
    (S.RECEIVED, "close"): [S.CLOSED],
}


def test_the_expected_table_agrees_with_the_transition_table():
    for (status, _action), path in EXPECTED.items():
        if path:
            steps = [status, *path]
            assert all(b in ASN_TRANSITIONS[a] for a, b in itertools.pairwise(steps))
    for status, targets in ASN_TRANSITIONS.items():
        for target in targets:
            action = next(a for a, t in TARGET.items() if t == target)
            assert EXPECTED.get((status, action)), (status, target)


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("status", list(S))
def test_transition(tenant_a, node, status, action):
    item = make_item(tenant_a.client)
    asn = _asn_in(status, tenant_a, item)
    events = list(asn.events.values_list("pk", flat=True))
    expected = EXPECTED.get((status, action))
    if expected is None:
        before = ASN.objects.filter(pk=asn.pk).values().get()
        moves = Move.objects.count()
        with pytest.raises(ValidationError) as exc:
            ACTIONS[action](asn)
        assert "status" in exc.value.message_dict, exc.value.message_dict
        assert asn.events.count() == len(events)  # no event written
        assert ASN.objects.filter(pk=asn.pk).values().get() == before  # nothing changed
        assert Move.objects.count() == moves
        return
    ACTIONS[action](asn)
    asn.refresh_from_db()
    new = list(asn.events.exclude(pk__in=events).order_by("pk"))
    assert [e.to_status for e in new] == expected
    steps = [status, *expected]
    assert [e.from_status for e in new] == steps[:-1]
    assert all(e.actor_label == SYSTEM.label for e in new)
    assert asn.status == steps[-1]


def test_every_transition_records_who_did_it(tenant_a, node, receiver):
    staff = Actor.for_user(tenant_a.admin)
    item = make_item(tenant_a.client)
    asn = services.asn_create(
        actor=staff,
        client=tenant_a.client,
        warehouse=tenant_a.warehouse,
        lines=[{"item": item, "expected_quantity": 2}],
    )
    services.asn_submit(actor=staff, asn=asn)
    services.asn_arrive(actor=receiver, asn=asn)
    services.asn_receive(actor=receiver, asn=asn, line=_line(asn), quantity=2)
    services.asn_close(actor=receiver, asn=asn)
    trail = [(e.from_status, e.to_status, e.actor_label) for e in asn.events.order_by("pk")]
    a, r = tenant_a.admin.email, receiver.user.email
    assert trail == [
        ("", S.DRAFT, a),
        (S.DRAFT, S.SUBMITTED, a),
        (S.SUBMITTED, S.ARRIVED, r),
        (S.ARRIVED, S.RECEIVING, r),
        (S.RECEIVING, S.RECEIVED, r),
        (S.RECEIVED, S.CLOSED, r),
    ]
    asn.refresh_from_db()
    assert asn.submitted_at and asn.arrived_at and asn.received_at and asn.closed_at


def test_a_client_cannot_receive_and_an_operator_not_elsewhere(tenant_a, node):
    from django.core.exceptions import PermissionDenied

    asn = _asn_in(S.SUBMITTED, tenant_a, make_item(tenant_a.client))
    with pytest.raises(PermissionDenied):
        services.asn_arrive(actor=Actor.for_user(tenant_a.admin), asn=asn)
    elsewhere = UserFactory(role="warehouse_operator", client=None)
    with pytest.raises(PermissionDenied):
        services.asn_arrive(actor=Actor.for_user(elsewhere), asn=asn)
    assert ASN.objects.get(pk=asn.pk).status == S.SUBMITTED


# --- receiving ---------------------------------------------------------------------------------


def test_receiving_in_several_sessions_by_line_and_by_scan(tenant_a, node, receiver):
    item = make_item(tenant_a.client, barcode="012345678905")
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    line = _line(asn)
    first = services.asn_receive(actor=receiver, asn=asn, line=line, quantity=3, session="dock-a")
    second = services.asn_receive(actor=receiver, asn=asn, code="012345678905", quantity=4, session="dock-b")
    third = services.asn_receive(actor=receiver, asn=asn, code=item.sku, quantity=2, session="dock-a")
    assert [r.line.pk for r in (first, second, third)] == [line.pk] * 3
    line.refresh_from_db()
    assert (line.received_quantity, line.damaged_quantity, line.putaway_quantity) == (9, 0, 0)
    receipts = list(Receipt.objects.filter(line=line).order_by("pk"))
    assert [(r.quantity, r.session, r.location_id) for r in receipts] == [
        (3, "dock-a", node.dock.pk),
        (4, "dock-b", node.dock.pk),
        (2, "dock-a", node.dock.pk),
    ]
    assert all(r.move.reason == MoveReason.RECEIPT and r.move.quantity == r.quantity for r in receipts)
    assert _balance(item, node.dock) == 9
    assert Move.objects.get(pk=receipts[0].move_id).actor_label == receiver.user.email
    assert ASN.objects.get(pk=asn.pk).status == S.RECEIVING
    assert selectors.ledger_differences() == []


def test_damaged_units_go_to_quarantine(tenant_a, node):
    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=7)
    result = services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=3, condition="damaged")
    assert result.receipt.location == node.quarantine
    line = _line(asn)
    assert (line.received_quantity, line.damaged_quantity) == (7, 3)
    assert (_balance(item, node.dock), _balance(item, node.quarantine)) == (7, 3)
    # damaged units do not wait for putaway
    with pytest.raises(ValidationError) as exc:
        services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=8)
    assert "quantity" in exc.value.message_dict


def test_an_unexpected_item_gets_a_line_of_its_own(tenant_a, node):
    expected, stray = make_item(tenant_a.client), make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, expected)
    result = services.asn_receive(actor=SYSTEM, asn=asn, code=stray.sku, quantity=2)
    assert result.unexpected
    assert result.warnings and "not on this ASN" in result.warnings[0]
    line = result.line
    assert (line.item, line.expected_quantity, line.received_quantity, line.unexpected) == (stray, 0, 2, True)
    again = services.asn_receive(actor=SYSTEM, asn=asn, code=stray.sku, quantity=1)
    assert again.line.pk == line.pk and not again.unexpected
    assert asn.lines.count() == 2


def test_over_receipt_warns(tenant_a, node):
    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    result = services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=12)
    assert result.over_quantity == 2
    assert any("Over-receipt" in w for w in result.warnings)


def test_discrepancies_after_close(tenant_a, node):
    short, over, damaged, exact, stray = (make_item(tenant_a.client) for _ in range(5))
    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(short, 10), (over, 5), (damaged, 4), (exact, 3)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    receive = services.asn_receive
    receive(actor=SYSTEM, asn=asn, line=_line(asn, short), quantity=8)
    receive(actor=SYSTEM, asn=asn, line=_line(asn, over), quantity=7)
    receive(actor=SYSTEM, asn=asn, line=_line(asn, damaged), quantity=3)
    receive(actor=SYSTEM, asn=asn, line=_line(asn, damaged), quantity=1, condition="damaged")
    receive(actor=SYSTEM, asn=asn, line=_line(asn, exact), quantity=3)
    receive(actor=SYSTEM, asn=asn, code=stray.sku, quantity=1)
    short_line = _line(asn, short)
    services.asn_close(actor=SYSTEM, asn=asn, notes={short_line.pk: "2 missing from the pallet"})
    asn.refresh_from_db()
    assert asn.status == S.CLOSED and asn.closed_at
    found = {line.item_id: line.discrepancies for line in asn.lines.all()}
    assert found == {
        short.pk: ["short"],
        over.pk: ["over"],
        damaged.pk: ["damaged"],
        exact.pk: [],
        stray.pk: ["unexpected"],
    }
    assert (_line(asn, short).short_quantity, _line(asn, over).over_quantity) == (2, 2)
    assert _line(asn, short).discrepancy_note == "2 missing from the pallet"
    listed = {line.item_id for line in selectors.open_discrepancies(actor=SYSTEM)}
    assert listed == {short.pk, over.pk, damaged.pk, stray.pk}
    from accounts.models import AuditEvent

    closed = AuditEvent.objects.get(action="asn.closed", target_id=str(asn.pk))
    assert closed.changes == {"expected": 22, "received": 22, "damaged": 1, "lines_with_discrepancy": 4}


def test_a_note_for_a_line_of_another_asn_is_refused(tenant_a, node):
    item = make_item(tenant_a.client)
    asn, other = _asn_in(S.RECEIVING, tenant_a, item), _asn_in(S.RECEIVING, tenant_a, item)
    with pytest.raises(ValidationError) as exc:
        services.asn_close(actor=SYSTEM, asn=asn, notes={_line(other).pk: "x"})
    assert "notes" in exc.value.message_dict
    assert ASN.objects.get(pk=asn.pk).status == S.RECEIVING


def _nothing_written(asn, line, moves_before):
    assert Move.objects.count() == moves_before
    assert not Receipt.objects.filter(asn=asn).exists()
    line.refresh_from_db()
    assert (line.received_quantity, line.damaged_quantity) == (0, 0)
    assert asn.lines.count() == 1
    assert ASN.objects.get(pk=asn.pk).status == S.ARRIVED


def test_a_lot_tracked_item_needs_a_lot(tenant_a, node):
    item = make_item(tenant_a.client, lot_tracked=True)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    moves = Move.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=2)
    assert list(exc.value.message_dict) == ["lot_code"]
    with pytest.raises(ValidationError) as exc:
        services.asn_receive(actor=SYSTEM, asn=asn, code=item.sku, quantity=2)
    assert "lot_code" in exc.value.message_dict
    _nothing_written(asn, _line(asn), moves)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=2, lot_code="L-1")
    assert Balance.objects.get(item=item, location=node.dock).lot_code == "L-1"


def test_an_expiry_tracked_item_needs_an_expiry_date(tenant_a, node):
    item = make_item(tenant_a.client, expiry_tracked=True)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    moves = Move.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=2)
    assert list(exc.value.message_dict) == ["expiry_date"]
    _nothing_written(asn, _line(asn), moves)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=2, expiry_date=date(2027, 1, 31))
    assert Balance.objects.get(item=item, location=node.dock).expiry_date == date(2027, 1, 31)


@pytest.mark.parametrize("quantity", [0, -1, 2.5, "x", None, True])
def test_bad_quantities_are_refused(tenant_a, node, quantity):
    asn = _asn_in(S.ARRIVED, tenant_a, make_item(tenant_a.client))
    moves = Move.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=quantity)
    assert "quantity" in exc.value.message_dict
    _nothing_written(asn, _line(asn), moves)


def test_an_unknown_barcode_is_refused(tenant_a, node):
    asn = _asn_in(S.ARRIVED, tenant_a, make_item(tenant_a.client))
    with pytest.raises(ValidationError) as exc:
        services.asn_receive(actor=SYSTEM, asn=asn, code="NOPE-404", quantity=1)
    assert "code" in exc.value.message_dict


@pytest.mark.parametrize("status", [S.CLOSED, S.CANCELLED, S.RECEIVED, S.SUBMITTED, S.DRAFT])
def test_receiving_on_a_closed_or_cancelled_asn_is_refused(tenant_a, node, status):
    item = make_item(tenant_a.client)
    asn = _asn_in(status, tenant_a, item)
    moves, receipts = Move.objects.count(), Receipt.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=1)
    assert "status" in exc.value.message_dict
    assert (Move.objects.count(), Receipt.objects.count()) == (moves, receipts)


# --- lots on lines -----------------------------------------------------------------------------


def test_a_line_without_a_lot_takes_lots_and_puts_them_away(tenant_a, node):
    """The ASN names no lot; the units arrive in two lots. Putaway finds both at the dock."""
    item = make_item(tenant_a.client, lot_tracked=True)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    line = _line(asn)
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=6, lot_code="A")
    services.asn_receive(actor=SYSTEM, asn=asn, code=item.sku, quantity=4, lot_code="B")
    assert asn.lines.count() == 1
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=8)
    lots = dict(Balance.objects.filter(item=item, location=node.bins[0]).values_list("lot_code", "on_hand"))
    assert lots == {"A": 6, "B": 2}
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[1], quantity=2)
    assert _balance(item, node.bins[1]) == 2
    assert Balance.objects.filter(item=item, location=node.dock, on_hand__gt=0).count() == 0
    assert selectors.ledger_differences() == []


def test_a_line_for_one_lot_does_not_take_another(tenant_a, node):
    item = make_item(tenant_a.client, lot_tracked=True)
    asn = services.asn_create(
        actor=SYSTEM,
        client=tenant_a.client,
        warehouse=tenant_a.warehouse,
        lines=[{"item": item, "expected_quantity": 5, "lot_code": "A"}],
        submit=True,
    )
    services.asn_arrive(actor=SYSTEM, asn=asn)
    line = _line(asn)
    with pytest.raises(ValidationError) as exc:
        services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=5, lot_code="B")
    assert "lot_code" in exc.value.message_dict
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=3)  # the line's lot
    scanned = services.asn_receive(actor=SYSTEM, asn=asn, code=item.sku, quantity=2, lot_code="B")
    assert scanned.line.pk != line.pk and scanned.line.lot_code == "B" and not scanned.unexpected
    assert any("Lot B" in w for w in scanned.warnings)
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=3)
    services.asn_putaway(actor=SYSTEM, asn=asn, line=scanned.line, to_location=node.bins[0], quantity=2)
    lots = dict(Balance.objects.filter(item=item, location=node.bins[0]).values_list("lot_code", "on_hand"))
    assert lots == {"A": 3, "B": 2}


def test_putaway_finds_units_at_the_dock_they_were_received_at(tenant_a, node):
    """A second dock opened (earlier in the pick path) after receiving: the units are still at the first."""
    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=4)
    services.location_create(
        actor=SYSTEM, warehouse=tenant_a.warehouse, code="DOCK-0", type="receiving", pick_sequence=0
    )
    services.location_update(actor=SYSTEM, location=node.dock, active=False)
    services.asn_putaway(actor=SYSTEM, asn=asn, line=_line(asn), to_location=node.bins[0], quantity=4)
    assert (_balance(item, node.dock), _balance(item, node.bins[0])) == (0, 4)


# --- putaway -----------------------------------------------------------------------------------


def test_putaway_never_beyond_what_waits(tenant_a, node):
    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    line = _line(asn)
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=5)
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=3)
    moves = Move.objects.count()
    for quantity in (3, 100, 0, -1):
        with pytest.raises(ValidationError) as exc:
            services.asn_putaway(
                actor=SYSTEM, asn=asn, line=line, to_location=node.bins[1], quantity=quantity
            )
        assert list(exc.value.message_dict) == ["quantity"]
    assert Move.objects.count() == moves
    line.refresh_from_db()
    assert line.putaway_quantity == 3
    assert (_balance(item, node.dock), _balance(item, node.bins[0]), _balance(item, node.bins[1])) == (
        2,
        3,
        0,
    )
    assert not Balance.objects.filter(item=item, location=node.bins[1]).exists()


def test_putaway_refuses_units_that_left_the_dock(tenant_a, node):
    """The line still says 5 wait, but 4 were moved off the dock by hand: only 1 can be put away."""
    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    line = _line(asn)
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=5)
    dock = Balance.objects.get(item=item, location=node.dock)
    services.stock_relocate(actor=SYSTEM, balance=dock, to_location=node.quarantine, quantity=4)
    with pytest.raises(ValidationError) as exc:
        services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=2)
    assert "quantity" in exc.value.message_dict
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=1)
    assert _balance(item, node.bins[0]) == 1


@pytest.mark.parametrize("where", ["dock", "quarantine", "other_node", "inactive"])
def test_putaway_only_to_an_active_sellable_bin_of_the_node(tenant_a, node, where):
    from tests.accounts.factories import WarehouseFactory

    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=2)
    target = {
        "dock": lambda: node.dock,
        "quarantine": lambda: node.quarantine,
        "other_node": lambda: make_node(WarehouseFactory()).bins[0],
        "inactive": lambda: services.location_update(actor=SYSTEM, location=node.bins[3], active=False),
    }[where]()
    moves = Move.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.asn_putaway(actor=SYSTEM, asn=asn, line=_line(asn), to_location=target, quantity=2)
    assert "to_location" in exc.value.message_dict
    assert Move.objects.count() == moves


def test_putaway_moves_are_a_pair_with_the_asn_as_document(tenant_a, node):
    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn), quantity=2)
    into = services.asn_putaway(actor=SYSTEM, asn=asn, line=_line(asn), to_location=node.bins[0], quantity=2)
    pair = Move.objects.filter(reason=MoveReason.PUTAWAY, item=item).order_by("pk")
    assert [(m.location_id, m.quantity) for m in pair] == [(node.dock.pk, -2), (node.bins[0].pk, 2)]
    assert {(m.document_type, m.document_id, m.document_ref) for m in pair} == {
        ("asn", str(asn.pk), asn.number)
    }
    assert into.pk == pair[1].pk
    bin_balance = Balance.objects.get(item=item, location=node.bins[0])
    assert bin_balance.received_at == Balance.objects.get(item=item, location=node.dock).received_at


# --- stocked_at --------------------------------------------------------------------------------


def _at(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_stocked_at_is_when_the_last_good_unit_is_put_away(tenant_a, node, monkeypatch):
    item, other = make_item(tenant_a.client), make_item(tenant_a.client)
    asn = make_asn(tenant_a.client, tenant_a.warehouse, [(item, 6), (other, 2)])
    t0 = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    _at(monkeypatch, t0)
    services.asn_arrive(actor=SYSTEM, asn=asn)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn, item), quantity=6)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn, other), quantity=1)
    services.asn_receive(actor=SYSTEM, asn=asn, line=_line(asn, other), quantity=1, condition="damaged")
    _at(monkeypatch, t0 + timedelta(hours=1))
    services.asn_putaway(actor=SYSTEM, asn=asn, line=_line(asn, item), to_location=node.bins[0], quantity=6)
    services.asn_putaway(actor=SYSTEM, asn=asn, line=_line(asn, other), to_location=node.bins[1], quantity=1)
    assert ASN.objects.get(pk=asn.pk).stocked_at is None  # everything away, but still receiving
    _at(monkeypatch, t0 + timedelta(hours=2))
    services.asn_complete_receiving(actor=SYSTEM, asn=asn)
    assert ASN.objects.get(pk=asn.pk).stocked_at == t0 + timedelta(hours=2)


def test_stocked_at_waits_for_putaway_after_receiving_is_complete(tenant_a, node, monkeypatch):
    item = make_item(tenant_a.client)
    asn = _asn_in(S.ARRIVED, tenant_a, item)
    line = _line(asn)
    t0 = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    _at(monkeypatch, t0)
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=10)
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=4)
    services.asn_complete_receiving(actor=SYSTEM, asn=asn)
    assert ASN.objects.get(pk=asn.pk).stocked_at is None
    _at(monkeypatch, t0 + timedelta(minutes=30))
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[0], quantity=5)
    assert ASN.objects.get(pk=asn.pk).stocked_at is None  # one unit still at the dock
    services.asn_close(actor=SYSTEM, asn=asn)
    assert ASN.objects.get(pk=asn.pk).stocked_at is None  # closing does not stock it
    _at(monkeypatch, t0 + timedelta(minutes=45))
    services.asn_putaway(actor=SYSTEM, asn=asn, line=line, to_location=node.bins[1], quantity=1)
    asn.refresh_from_db()
    assert asn.stocked_at == t0 + timedelta(minutes=45)
    assert asn.status == S.CLOSED


# --- putaway suggestions -----------------------------------------------------------------------


def test_putaway_suggestions_put_the_items_pick_bin_first_then_empty_bins(tenant_a, tenant_b, node):
    item, neighbour = make_item(tenant_a.client), make_item(tenant_a.client)
    foreign = make_item(tenant_b.client)
    tenant_b.client.warehouses.add(tenant_a.warehouse)

    def adjust(client, what, where, quantity=1):
        services.stock_adjust(
            actor=SYSTEM, client=client, item=what, location=where, quantity=quantity, code="found", note="t"
        )

    adjust(tenant_a.client, item, node.reserve[0])  # its reserve bin
    adjust(tenant_a.client, item, node.bins[2])  # its pick bin
    adjust(tenant_a.client, neighbour, node.bins[0])  # taken by another item
    adjust(tenant_b.client, foreign, node.bins[1])  # taken by another client's item
    adjust(tenant_a.client, item, node.dock)  # not sellable: never suggested
    suggested = selectors.putaway_suggestions(item=item, warehouse_id=tenant_a.warehouse.pk, limit=10)
    assert [loc.code for loc in suggested] == [
        node.bins[2].code,  # the item's pick bin
        node.reserve[0].code,  # the item's reserve bin
        node.bins[3].code,  # empty pick bins in pick-path order
        node.reserve[1].code,  # then empty reserve bins
    ]
    assert [
        loc.code
        for loc in selectors.putaway_suggestions(item=item, warehouse_id=tenant_a.warehouse.pk, limit=3)
    ] == [
        node.bins[2].code,
        node.reserve[0].code,
        node.bins[3].code,
    ]


def test_putaway_suggestions_for_a_new_item_are_empty_pick_bins_in_path_order(tenant_a, node):
    item = make_item(tenant_a.client)
    suggested = selectors.putaway_suggestions(item=item, warehouse_id=tenant_a.warehouse.pk, limit=3)
    assert suggested == node.bins[:3]


def test_putaway_suggestions_ignore_emptied_and_inactive_bins(tenant_a, node):
    item = make_item(tenant_a.client)
    services.stock_adjust(
        actor=SYSTEM,
        client=tenant_a.client,
        item=item,
        location=node.bins[1],
        quantity=2,
        code="found",
        note="t",
    )
    services.stock_adjust(
        actor=SYSTEM,
        client=tenant_a.client,
        item=item,
        location=node.bins[1],
        quantity=-2,
        code="lost",
        note="t",
    )
    services.location_update(actor=SYSTEM, location=node.bins[0], active=False)
    suggested = selectors.putaway_suggestions(item=item, warehouse_id=tenant_a.warehouse.pk, limit=2)
    assert suggested == [node.bins[1], node.bins[2]]  # bin 1 is empty again: an empty bin like the others


# --- milestones --------------------------------------------------------------------------------


def test_a_milestone_moves_a_submitted_asn_in_transit_and_updates_the_eta(tenant_a, node):
    asn = _asn_in(S.SUBMITTED, tenant_a, make_item(tenant_a.client))
    booked = services.asn_add_milestone(
        actor=Actor.for_user(tenant_a.admin), asn=asn, kind=MilestoneKind.BOOKED, eta=date(2026, 1, 5)
    )
    asn.refresh_from_db()
    assert (asn.status, asn.eta, booked.actor_label) == (S.SUBMITTED, date(2026, 1, 5), tenant_a.admin.email)
    services.asn_add_milestone(actor=SYSTEM, asn=asn, kind=MilestoneKind.ARRIVED_PORT)
    assert ASN.objects.get(pk=asn.pk).status == S.IN_TRANSIT
    with pytest.raises(ValidationError) as exc:
        services.asn_add_milestone(actor=SYSTEM, asn=asn, kind="teleported")
    assert "kind" in exc.value.message_dict


def test_a_read_only_key_cannot_add_a_milestone(tenant_a, node):
    from django.core.exceptions import PermissionDenied

    asn = _asn_in(S.SUBMITTED, tenant_a, make_item(tenant_a.client))
    with pytest.raises(PermissionDenied):
        services.asn_add_milestone(actor=Actor.for_api_key(tenant_a.ro_key), asn=asn, kind="departed_origin")
    assert not asn.milestones.exists()
    assert ASN.objects.get(pk=asn.pk).status == S.SUBMITTED
    services.asn_add_milestone(actor=Actor.for_api_key(tenant_a.key), asn=asn, kind="departed_origin")
    assert ASN.objects.get(pk=asn.pk).status == S.IN_TRANSIT
