"""``orders.bulk``'s ORM path (the embedded SQLite default; callable on any database): the values
given are the values written, an ``auto_now_add`` time included, with every row's id back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import bulk
from orders.enums import OrderStatus
from orders.models import OrderEvent
from orders.services import _EVENT_FIELDS
from tests.orders.test_api import make_order

pytestmark = pytest.mark.django_db


def test_the_orm_path_writes_the_given_times_in_batches_and_returns_ids(tenant_a):
    order = make_order(tenant_a.client, "ORM-1", [("TEE", 1)])
    given = timezone.now() - timedelta(days=3)
    rows = [
        (None, None, "tests", tenant_a.client.pk, order.pk, "", OrderStatus.RECEIVED, f"row {n}", given)
        for n in range(300)  # 2,700 parameters: several statements where a backend takes fewer
    ]
    objs = bulk._orm_insert(OrderEvent, _EVENT_FIELDS, rows)
    assert len({o.pk for o in objs}) == 300 and all(o.pk and not o._state.adding for o in objs)
    written = {e.pk: e for e in OrderEvent.objects.filter(pk__in=[o.pk for o in objs])}
    assert [written[o.pk].reason for o in objs] == [f"row {n}" for n in range(300)]
    assert {e.created_at for e in written.values()} == {given}  # not the time of the insert
