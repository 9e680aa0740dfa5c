from inventory.models import Balance
from tests.inventory.factories import make_item, make_node, stock


def test_stock_helper_puts_units_in_a_pick_bin(tenant_a):
    node = make_node(tenant_a.warehouse)
    item = make_item(tenant_a.client, barcode="0001")
    asn = stock(tenant_a.client, node, item, 5)
    asn.refresh_from_db()
    assert asn.stocked_at is not None
    assert Balance.objects.get(item=item, location=node.bins[0]).on_hand == 5
    assert Balance.objects.get(item=item, location=node.dock).on_hand == 0
