"""The stock ledger as a state machine: random receipts, putaways, adjustments, relocations,
transfers, cycle counts and reversals, each checked against a model of what every bin should hold.

After every step: every balance equals the sum of its moves, ``0 <= allocated <= on_hand``, and the
balances, ASN lines and documents agree with the model. An operation the model says must be refused
raises ValidationError and leaves the database exactly as it was.

Each hypothesis example runs inside a savepoint of the test's transaction and is rolled back at its
end, so examples start from the same empty stock without rebuilding the nodes and items.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from inventory import selectors, services
from inventory.enums import ASNStatus, CountStatus, MoveReason, TransferStatus
from inventory.models import ASN, ASNLine, Balance, CycleCount, CycleCountLine, Move, Receipt, Transfer
from tests.accounts.factories import WarehouseFactory
from tests.inventory.factories import SYSTEM, make_asn, make_item, make_node

Key = tuple[int, int]  # (item id, location id)


@dataclass
class World:
    client: object
    node: object
    far: object  # the transfer destination
    items: list
    kit: object
    kit_parts: dict[int, int]  # component id -> quantity per kit

    @property
    def locations(self) -> list:
        n = self.node
        return [n.dock, n.quarantine, *n.bins, *n.reserve]

    @property
    def sellable(self) -> set[int]:
        return {loc.pk for loc in (*self.node.bins, *self.node.reserve)}


@dataclass
class LineModel:
    asn_id: int
    line_id: int
    item_id: int
    status: str = ASNStatus.ARRIVED
    received: int = 0
    damaged: int = 0
    putaway: int = 0


@dataclass
class CountModel:
    location_id: int
    status: str = CountStatus.OPEN
    # (item, location) -> [system quantity at entry, counted, step of entry]
    lines: dict[Key, list] = field(default_factory=dict)


def fingerprint() -> tuple:
    """Everything a refused operation must leave as it was."""
    return (
        tuple(Move.objects.order_by("pk").values_list("pk", flat=True)),
        tuple(Balance.objects.order_by("pk").values_list("pk", "on_hand", "allocated", "received_at")),
        tuple(
            ASNLine.objects.order_by("pk").values_list(
                "pk", "received_quantity", "damaged_quantity", "putaway_quantity", "lot_code"
            )
        ),
        tuple(ASN.objects.order_by("pk").values_list("pk", "status", "stocked_at", "received_at")),
        tuple(Receipt.objects.order_by("pk").values_list("pk", flat=True)),
        tuple(Transfer.objects.order_by("pk").values_list("pk", "status")),
        tuple(CycleCount.objects.order_by("pk").values_list("pk", "status")),
        tuple(
            CycleCountLine.objects.order_by("pk").values_list(
                "pk", "system_quantity", "counted_quantity", "correction_move"
            )
        ),
    )


def refused(call, *args, **kwargs) -> None:
    before = fingerprint()
    with pytest.raises(ValidationError):
        call(*args, **kwargs)
    assert fingerprint() == before, "a refused operation changed something"


quantities = st.integers(min_value=1, max_value=12)
picks = st.integers(min_value=0, max_value=10**6)  # an index into whatever exists at the time
# A share of what the model says is there, in percent: above 100 asks for more than there is.
shares = st.integers(min_value=0, max_value=125)


def portion(available: int, share: int) -> int:
    """At least 1 unit; ``share`` percent of ``available`` (more than there is above 100 %)."""
    return max(1, -(-available * share // 100))


def build_machine(world: World):
    class LedgerMachine(RuleBasedStateMachine):
        lines = Bundle("lines")
        transfers = Bundle("transfers")
        counts = Bundle("counts")

        def __init__(self):
            super().__init__()
            self.savepoint = transaction.savepoint()
            self.on_hand: dict[Key, int] = defaultdict(int)
            self.allocated: dict[Key, int] = defaultdict(int)
            self.line_models: dict[int, LineModel] = {}
            self.count_models: dict[int, CountModel] = {}
            self.transfer_models: dict[int, tuple[Key, int, bool]] = {}
            self.corrected_at: dict[Key, int] = {}  # step of the last count correction
            self.step = 0

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        # --- helpers -----------------------------------------------------------------------
        def available(self, key: Key) -> int:
            return self.on_hand[key] - self.allocated[key]

        def location(self, index: int):
            return world.locations[index % len(world.locations)]

        def item(self, index: int):
            return world.items[index % len(world.items)]

        def place(self, pick: int, stocked: bool):
            """An (item, location) of the main node: one that holds stock (when ``stocked`` and
            there is one), else any."""
            here = {loc.pk: loc for loc in world.locations}
            held = sorted(k for k, v in self.on_hand.items() if v > 0 and k[1] in here)
            if stocked and held:
                item_id, location_id = held[pick % len(held)]
                return next(i for i in world.items if i.pk == item_id), here[location_id]
            return self.item(pick), self.location(pick // len(world.items))

        # --- ASNs: receive, put away, complete, close --------------------------------------
        @initialize(target=lines, item=picks, expected=quantities, share=shares, to=picks)
        def opening_stock(self, item, expected, share, to):
            """Every example starts with one ASN received in full and partly put away."""
            line_id = self.new_asn_line(item, expected)
            self.receive(line_id, expected, damaged=False)
            self.putaway(line_id, min(share, 100), to)
            return line_id

        @rule(target=lines, item=picks, expected=quantities)
        def new_asn(self, item, expected):
            return self.new_asn_line(item, expected)

        def new_asn_line(self, item_index, expected):
            item = self.item(item_index)
            asn = make_asn(world.client, world.node.warehouse, [(item, expected)])
            services.asn_arrive(actor=SYSTEM, asn=asn)
            line = asn.lines.get()
            self.line_models[line.pk] = LineModel(asn.pk, line.pk, item.pk)
            return line.pk

        @rule(line_id=lines, quantity=quantities, damaged=st.booleans())
        def receive(self, line_id, quantity, damaged):
            model = self.line_models[line_id]
            line = ASNLine.objects.get(pk=line_id)
            asn = ASN.objects.get(pk=model.asn_id)
            kwargs = {"condition": "damaged" if damaged else "good"}
            if model.status not in (ASNStatus.ARRIVED, ASNStatus.RECEIVING):
                refused(services.asn_receive, actor=SYSTEM, asn=asn, line=line, quantity=quantity, **kwargs)
                return
            services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=quantity, **kwargs)
            where = world.node.quarantine if damaged else world.node.dock
            self.on_hand[model.item_id, where.pk] += quantity
            if damaged:
                model.damaged += quantity
            else:
                model.received += quantity
            model.status = ASNStatus.RECEIVING

        @rule(line_id=lines, quantity=quantities, share=shares, to=picks)
        def receive_and_put_away(self, line_id, quantity, share, to):
            self.receive(line_id, quantity, damaged=False)
            self.putaway(line_id, share, to)

        @rule(line_id=lines, share=shares, to=picks)
        def putaway(self, line_id, share, to):
            model = self.line_models[line_id]
            target = [*world.node.bins, *world.node.reserve][to % 5]
            dock = (model.item_id, world.node.dock.pk)
            quantity = portion(model.received - model.putaway, share)
            args = {
                "actor": SYSTEM,
                "asn": ASN.objects.get(pk=model.asn_id),
                "line": ASNLine.objects.get(pk=line_id),
                "to_location": target,
                "quantity": quantity,
            }
            if quantity > model.received - model.putaway or quantity > self.available(dock):
                refused(services.asn_putaway, **args)
                return
            services.asn_putaway(**args)
            self.on_hand[dock] -= quantity
            self.on_hand[model.item_id, target.pk] += quantity
            model.putaway += quantity

        @rule(line_id=lines, early=st.integers(min_value=0, max_value=4))
        def complete_receiving(self, line_id, early):
            model = self.line_models[line_id]
            if model.received + model.damaged == 0 and early:
                return  # mostly let units arrive before receiving is completed
            asn = ASN.objects.get(pk=model.asn_id)
            if model.status not in (ASNStatus.ARRIVED, ASNStatus.RECEIVING):
                refused(services.asn_complete_receiving, actor=SYSTEM, asn=asn)
                return
            services.asn_complete_receiving(actor=SYSTEM, asn=asn)
            model.status = ASNStatus.RECEIVED

        @rule(line_id=lines, early=st.integers(min_value=0, max_value=4))
        def close(self, line_id, early):
            model = self.line_models[line_id]
            if model.received + model.damaged == 0 and early:
                return
            asn = ASN.objects.get(pk=model.asn_id)
            if model.status in (ASNStatus.CLOSED, ASNStatus.CANCELLED):
                refused(services.asn_close, actor=SYSTEM, asn=asn)
                return
            services.asn_close(actor=SYSTEM, asn=asn)
            model.status = ASNStatus.CLOSED

        # --- adjustments, relocations, allocations -----------------------------------------
        @rule(pick=picks, stocked=st.booleans(), share=shares, add=st.booleans())
        def adjust(self, pick, stocked, share, add):
            item, location = self.place(pick, stocked)
            key = (item.pk, location.pk)
            quantity = portion(self.available(key), share) * (1 if add else -1)
            args = {
                "actor": SYSTEM,
                "client": world.client,
                "item": item,
                "location": location,
                "quantity": quantity,
                "code": "found" if add else "lost",
                "note": "property test",
            }
            if self.on_hand[key] + quantity < self.allocated[key]:
                refused(services.stock_adjust, **args)
                return
            services.stock_adjust(**args)
            self.on_hand[key] += quantity

        @rule(quantity=quantities, add=st.booleans())
        def adjust_a_kit(self, quantity, add):
            refused(
                services.stock_adjust,
                actor=SYSTEM,
                client=world.client,
                item=world.kit,
                location=world.node.bins[0],
                quantity=quantity if add else -quantity,
                code="found" if add else "lost",
                note="kits hold no stock",
            )

        @rule(pick=picks, stocked=st.booleans(), destination=picks, share=shares)
        def relocate(self, pick, stocked, destination, share):
            item, source = self.place(pick, stocked)
            target = self.location(destination)
            balance = Balance.objects.filter(item=item, location=source).first()
            if balance is None:
                return
            quantity = portion(self.available((item.pk, source.pk)), share)
            args = {"actor": SYSTEM, "balance": balance, "to_location": target, "quantity": quantity}
            if source.pk == target.pk or quantity > self.available((item.pk, source.pk)):
                refused(services.stock_relocate, **args)
                return
            services.stock_relocate(**args)
            self.on_hand[item.pk, source.pk] -= quantity
            self.on_hand[item.pk, target.pk] += quantity

        @rule(pick=picks, share=st.integers(min_value=0, max_value=100))
        def allocate(self, pick, share):
            """A stand-in for the orders app: reserve (or release) units of a sellable balance."""
            item, location = self.place(pick, stocked=True)
            key = (item.pk, location.pk)
            if location.pk not in world.sellable or not self.on_hand[key]:
                return
            quantity = self.on_hand[key] * share // 100
            Balance.objects.filter(item=item, location=location).update(allocated=quantity)
            self.allocated[key] = quantity

        # --- transfers between nodes --------------------------------------------------------
        @rule(target=transfers, pick=picks, share=shares)
        def dispatch(self, pick, share):
            item, source = self.place(pick, stocked=True)
            balance = Balance.objects.filter(item=item, location=source).first()
            key = (item.pk, source.pk)
            if balance is None:
                return multiple()
            quantity = portion(self.available(key), share)
            args = {
                "actor": SYSTEM,
                "balance": balance,
                "to_warehouse": world.far.warehouse,
                "quantity": quantity,
            }
            if quantity > self.available(key):
                refused(services.transfer_dispatch, **args)
                return multiple()
            transfer = services.transfer_dispatch(**args)
            self.on_hand[key] -= quantity
            self.transfer_models[transfer.pk] = ((item.pk, world.far.dock.pk), quantity, False)
            return transfer.pk

        @rule(transfer_id=transfers)
        def receive_transfer(self, transfer_id):
            key, quantity, received = self.transfer_models[transfer_id]
            transfer = Transfer.objects.get(pk=transfer_id)
            if received:
                refused(services.transfer_receive, actor=SYSTEM, transfer=transfer)
                return
            services.transfer_receive(actor=SYSTEM, transfer=transfer)
            self.on_hand[key] += quantity
            self.transfer_models[transfer_id] = (key, quantity, True)

        # --- cycle counts -------------------------------------------------------------------
        @rule(target=counts, pick=picks, stocked=st.booleans())
        def count_create(self, pick, stocked):
            _, location = self.place(pick, stocked)
            count = services.count_create(actor=SYSTEM, warehouse=world.node.warehouse, locations=[location])
            model = CountModel(location.pk)
            expected = {k for k, v in self.on_hand.items() if k[1] == location.pk and v > 0}
            assert set(count.lines.values_list("item_id", "location_id")) == expected
            model.lines = {key: [None, None, None] for key in expected}
            self.count_models[count.pk] = model
            return count.pk

        @rule(count_id=counts, item=picks, expected_line=st.booleans(), delta=st.integers(-3, 3))
        def count_enter(self, count_id, item, expected_line, delta):
            """The counter finds what the system says, give or take a few units (or a stray item)."""
            model = self.count_models[count_id]
            count = CycleCount.objects.get(pk=count_id)
            uncounted = sorted(k for k, v in model.lines.items() if v[1] is None)
            if expected_line and uncounted:
                key = uncounted[item % len(uncounted)]
                item = next(i for i in world.items if i.pk == key[0])
            else:
                item = self.item(item)
                key = (item.pk, model.location_id)
            counted = max(0, self.on_hand[key] + delta)
            location = next(loc for loc in world.locations if loc.pk == model.location_id)
            args = {"actor": SYSTEM, "count": count, "counted_quantity": counted}
            line = CycleCountLine.objects.filter(
                count=count, item=item, location_id=model.location_id
            ).first()
            args.update({"line": line} if line else {"location": location, "item": item})
            if model.status != CountStatus.OPEN:
                refused(services.count_enter, **args)
                return
            entered = services.count_enter(**args)
            assert entered.system_quantity == self.on_hand[key]  # read at entry, blind
            model.lines[key] = [self.on_hand[key], counted, self.step]

        @rule(count_id=counts, deltas=st.lists(st.integers(-3, 3), min_size=1, max_size=4))
        def count_the_bin(self, count_id, deltas):
            """The counter walks the bin: every line not counted yet, each found as the system says
            give or take a few units."""
            model = self.count_models[count_id]
            count = CycleCount.objects.get(pk=count_id)
            for index, key in enumerate(sorted(k for k, v in model.lines.items() if v[1] is None)):
                counted = max(0, self.on_hand[key] + deltas[index % len(deltas)])
                line = count.lines.get(item_id=key[0], location_id=key[1])
                if model.status != CountStatus.OPEN:
                    refused(
                        services.count_enter, actor=SYSTEM, count=count, line=line, counted_quantity=counted
                    )
                    return
                services.count_enter(actor=SYSTEM, count=count, line=line, counted_quantity=counted)
                model.lines[key] = [self.on_hand[key], counted, self.step]

        @rule(pick=picks, deltas=st.lists(st.integers(-3, 3), min_size=1, max_size=4))
        def count_a_bin_through(self, pick, deltas):
            """A whole count in one go: create, count every line, submit, approve."""
            count_id = self.count_create(pick, stocked=True)
            self.count_the_bin(count_id, deltas)
            self.count_submit(count_id)
            self.count_approve(count_id)

        @rule(count_id=counts)
        def count_submit(self, count_id):
            model = self.count_models[count_id]
            count = CycleCount.objects.get(pk=count_id)
            if model.status != CountStatus.OPEN or any(v[1] is None for v in model.lines.values()):
                refused(services.count_submit, actor=SYSTEM, count=count)
                return
            services.count_submit(actor=SYSTEM, count=count)
            model.status = CountStatus.SUBMITTED

        @rule(count_id=counts)
        def count_approve(self, count_id):
            model = self.count_models[count_id]
            count = CycleCount.objects.get(pk=count_id)
            changes = {
                key: counted - system
                for key, (system, counted, _) in model.lines.items()
                if counted != system
            }
            stale = any(self.corrected_at.get(key, -1) >= model.lines[key][2] for key in changes)
            short = any(self.on_hand[key] + change < self.allocated[key] for key, change in changes.items())
            if model.status != CountStatus.SUBMITTED or stale or short:
                refused(services.count_approve, actor=SYSTEM, count=count)
                return
            services.count_approve(actor=SYSTEM, count=count)
            for key, change in changes.items():
                self.on_hand[key] += change
                self.corrected_at[key] = self.step
            model.status = CountStatus.APPROVED

        # --- reversals ----------------------------------------------------------------------
        @rule(pick=picks)
        def reverse(self, pick):
            moves = list(Move.objects.order_by("pk"))
            if not moves:
                return
            move = moves[pick % len(moves)]
            key = (move.item_id, move.location_id)
            args = {"actor": SYSTEM, "move": move, "note": "property test"}
            already = move.reason == MoveReason.REVERSAL or Move.objects.filter(reverses=move).exists()
            paired = move.reason in services.UNREVERSIBLE  # half of a pair, or counted by a document
            if already or paired or self.on_hand[key] - move.quantity < self.allocated[key]:
                refused(services.move_reverse, **args)
                return
            services.move_reverse(**args)
            self.on_hand[key] -= move.quantity

        # --- invariants ---------------------------------------------------------------------
        @invariant()
        def tick(self):
            self.step += 1

        @invariant()
        def every_balance_is_the_sum_of_its_moves(self):
            assert selectors.ledger_differences() == []
            assert selectors.moves_off_their_balance() == []

        @invariant()
        def balances_match_the_model(self):
            actual = {}
            for item_id, location_id, on_hand, allocated in Balance.objects.values_list(
                "item_id", "location_id", "on_hand", "allocated"
            ):
                assert 0 <= allocated <= on_hand
                actual[item_id, location_id] = (on_hand, allocated)
            expected = {k: (v, self.allocated[k]) for k, v in self.on_hand.items() if v or self.allocated[k]}
            assert {k: v for k, v in actual.items() if v != (0, 0)} == expected

        @invariant()
        def documents_match_the_model(self):
            for line_id, received, damaged, putaway, status, stocked_at in ASNLine.objects.values_list(
                "pk",
                "received_quantity",
                "damaged_quantity",
                "putaway_quantity",
                "asn__status",
                "asn__stocked_at",
            ):
                model = self.line_models[line_id]
                assert (received, damaged, putaway, status) == (
                    model.received,
                    model.damaged,
                    model.putaway,
                    model.status,
                )
                done = status in (ASNStatus.RECEIVED, ASNStatus.CLOSED) and received == putaway
                assert (stocked_at is not None) == done
            assert Transfer.objects.filter(status=TransferStatus.RECEIVED).count() == sum(
                1 for _, _, received in self.transfer_models.values() if received
            )

        @invariant()
        def kit_availability_is_the_minimum_over_components(self):
            available = defaultdict(int)
            for (item_id, location_id), on_hand in self.on_hand.items():
                if location_id in world.sellable:
                    available[item_id] += on_hand - self.allocated[item_id, location_id]
            expected = min(available[c] // q for c, q in world.kit_parts.items())
            rows = {
                r.warehouse_id: r.available
                for r in selectors.item_stock_by_node(actor=SYSTEM, item=world.kit)
            }
            assert rows.get(world.node.warehouse.pk, 0) == expected

    return LedgerMachine


def test_the_ledger_state_machine(tenant_a):
    far_warehouse = WarehouseFactory()
    tenant_a.client.warehouses.add(far_warehouse)
    node, far = make_node(tenant_a.warehouse, bins=3), make_node(far_warehouse, bins=1)
    items = [make_item(tenant_a.client) for _ in range(3)]
    kit = services.item_create(
        actor=SYSTEM,
        client=tenant_a.client,
        sku="KIT-PROP",
        name="Kit",
        is_kit=True,
        components=[{"item": items[0], "quantity": 2}, {"item": items[1], "quantity": 3}],
    )
    world = World(tenant_a.client, node, far, items, kit, {items[0].pk: 2, items[1].pk: 3})
    run_state_machine_as_test(
        build_machine(world),
        settings=settings(
            max_examples=15,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
