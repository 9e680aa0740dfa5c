"""Smaller rules: where stock may be adjusted, and what counts as an open discrepancy."""

import pytest
from django.core.exceptions import ValidationError

from accounts.actors import Actor
from inventory import selectors, services
from inventory.models import Move
from tests.accounts.factories import WarehouseFactory
from tests.inventory.factories import SYSTEM, make_asn, make_item, make_node


def test_adjustments_only_where_the_client_is_set_up_and_into_active_bins(tenant_a):
    item = make_item(tenant_a.client)
    elsewhere = make_node(WarehouseFactory())
    with pytest.raises(ValidationError) as exc:
        services.stock_adjust(
            actor=SYSTEM,
            client=tenant_a.client,
            item=item,
            location=elsewhere.bins[0],
            quantity=3,
            code="found",
            note="x",
        )
    assert "location" in exc.value.message_dict
    node = make_node(tenant_a.warehouse)
    services.location_update(actor=SYSTEM, location=node.bins[0], active=False)
    node.bins[0].refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.stock_adjust(
            actor=SYSTEM,
            client=tenant_a.client,
            item=item,
            location=node.bins[0],
            quantity=3,
            code="found",
            note="x",
        )
    assert "location" in exc.value.message_dict
    assert not Move.objects.filter(item=item).exists()


def test_open_discrepancies_show_shorts_only_once_receiving_is_finished(tenant_a):
    node = make_node(tenant_a.warehouse)
    tee, mug = make_item(tenant_a.client), make_item(tenant_a.client)
    asn = make_asn(tenant_a.client, node.warehouse, [(tee, 10), (mug, 4)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    tee_line, mug_line = asn.lines.order_by("pk")
    services.asn_receive(actor=SYSTEM, asn=asn, line=tee_line, quantity=6)
    services.asn_receive(actor=SYSTEM, asn=asn, line=mug_line, quantity=1, condition="damaged")
    actor = Actor.system("tests")
    assert {line.pk for line in selectors.open_discrepancies(actor=actor)} == {
        mug_line.pk
    }  # damaged is certain
    services.asn_complete_receiving(actor=SYSTEM, asn=asn)
    assert {line.pk for line in selectors.open_discrepancies(actor=actor)} == {tee_line.pk, mug_line.pk}


def test_a_closed_or_cancelled_asn_cannot_be_edited(tenant_a):
    node = make_node(tenant_a.warehouse)
    asn = make_asn(tenant_a.client, node.warehouse, [(make_item(tenant_a.client), 2)])
    services.asn_cancel(actor=SYSTEM, asn=asn)
    with pytest.raises(ValidationError) as exc:
        services.asn_update(actor=SYSTEM, asn=asn, notes="late note")
    assert "status" in exc.value.message_dict
