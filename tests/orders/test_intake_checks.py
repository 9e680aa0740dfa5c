"""The intake's quick checks are the model's checks: ``_clean_order_fields`` raises what
``Order.full_clean`` raises and converts what it converts, ``_new_order`` builds the order
``Order(**values)`` builds, and ``plain_email`` accepts only what Django's validator accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orders import services
from orders.models import Order
from tests.accounts.factories import ClientFactory

BASE = {
    "channel": "api",
    "external_reference": "CHK-1",
    "received_at": datetime(2030, 5, 1, 12, tzinfo=UTC),
    "ship_to_name": "Ann",
    "ship_to_address1": "1 Main St",
    "ship_to_city": "Hoboken",
    "ship_to_state": "NJ",
    "ship_to_zip": "07030",
    "ship_to_country": "US",
    "ship_to_email": "ann@example.test",
}


def _full_clean(order: Order):
    try:
        order.full_clean(exclude=["client", "warehouse"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return exc.message_dict
    return None


def _quick_clean(order: Order):
    try:
        services._clean_order_fields(order)
    except ValidationError as exc:
        return exc.message_dict
    return None


def _fields(order: Order) -> dict:
    return {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"ship_to_name": "x" * 201},
        {"ship_to_email": "not an email"},
        {"ship_to_email": "ann@localhost"},
        {"ship_to_email": "ánn@exämple.test"},
        {"service_level": "teleport"},
        {"currency": "EURO"},
        {"external_reference": "a\x00b"},
        {"ship_to_name": ""},
        {"received_at": "2030-05-01T12:00:00Z"},
        {"received_at": "yesterday"},
        {"ship_window_start": "2030-05-01", "tags": ["vip"], "notes": "ring"},
        {"ship_window_start": "May first"},
        {"ever_backordered": "yes"},
        {"ship_to_zip": 7030},
    ],
)
def test_quick_field_checks_are_full_clean(changes):
    client = ClientFactory()
    values = {**BASE, **changes}
    expected = Order(client=client, **values)
    got = services._new_order(client, dict(values))
    assert _fields(got) == _fields(expected) and got.client is client
    assert (got._state.adding, got._state.db) == (expected._state.adding, expected._state.db)
    assert got.__dict__.keys() == expected.__dict__.keys()
    assert _quick_clean(got) == _full_clean(expected)
    assert _fields(got) == _fields(expected)  # the same conversions (a string date, a number)


def test_orders_have_no_init_signal_receivers_that_new_order_would_skip():
    from django.db.models.signals import post_init, pre_init

    assert not pre_init.has_listeners(Order) and not post_init.has_listeners(Order)


def test_an_order_with_a_field_it_does_not_have_is_refused():
    with pytest.raises(TypeError):
        services._new_order(ClientFactory.build(pk=1), {**BASE, "colour": "red"})


_email_validator = EmailValidator()
_field = Order._meta.get_field("ship_to_email")


def _django_accepts(value: str) -> bool:
    try:
        _email_validator(value)
        _field.clean(value, None)
    except ValidationError:
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.emails(),
        st.text(alphabet="aZ09._+-@K\u017f\u0131\u212a", max_size=30),
        st.from_regex(r"[a-z0-9._+-]{1,12}@[a-z0-9.-]{1,20}", fullmatch=True),
    )
)
@example("a@b.co")
@example("a..b@example.com")
@example("a@-example.com")
@example("a@example.c")
@example("x" * 250 + "@example.com")
@example("a@\u212aexample.com")
def test_a_plain_email_is_one_django_accepts(value):
    if services.plain_email(value):
        assert _django_accepts(value), value


def test_common_addresses_are_plain():
    for value in ("ann@example.test", "customer12@example.com", "first.last+tag@mail.co.uk", "a_b-c@x-y.org"):
        assert services.plain_email(value)


def test_an_intake_item_is_the_item_from_db_makes():
    from inventory.models import Item

    quick = services._item(5, 1, "TEE", True)
    loaded = Item.from_db("default", ["id", "client_id", "sku", "active"], (5, 1, "TEE", True))
    assert {k: v for k, v in quick.__dict__.items() if k != "_state"} == {
        k: v for k, v in loaded.__dict__.items() if k != "_state"
    }
    assert quick.get_deferred_fields() == loaded.get_deferred_fields()
    assert (quick._state.adding, quick._state.db) == (loaded._state.adding, loaded._state.db)
