"""Pick and ship moves carry an order's reservation: the ledger refuses to reverse them alone."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inventory import services as inventory_services
from inventory.enums import MoveReason
from inventory.models import Balance, Move
from shipments.services.shipping import buy_label, ship_out
from tests.inventory.factories import make_item, stock
from tests.orders.factories import SHIP_TO_NJ, make_order, make_world
from tests.shipments.factories import SYSTEM, assert_stock_consistent, make_boxes, pack_order
from tests.shipments.shipping_support import make_carriers

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reason", [MoveReason.PICK, MoveReason.SHIP])
def test_pick_and_ship_moves_are_not_reversed(reason):
    world = make_world(regions=("nj",))
    item = make_item(world.client, weight_lb=1, length_in=4, width_in=4, height_in=4)
    stock(world.client, world.nj, item, 5)
    make_boxes(world.nj.warehouse)
    make_carriers()
    order = make_order(world.client, [(item, 2)], ship_to=SHIP_TO_NJ)
    shipment = buy_label(actor=SYSTEM, shipment=pack_order(order, world.nj))
    ship_out(actor=SYSTEM, shipment=shipment)
    move = Move.objects.filter(item=item, reason=reason).first()
    before = list(Balance.objects.order_by("pk").values_list("on_hand", "allocated"))
    with pytest.raises(ValidationError) as exc:
        inventory_services.move_reverse(actor=SYSTEM, move=move, note="undo")
    assert "move" in exc.value.message_dict
    assert not Move.objects.filter(reason=MoveReason.REVERSAL).exists()
    assert list(Balance.objects.order_by("pk").values_list("on_hand", "allocated")) == before
    assert_stock_consistent()
