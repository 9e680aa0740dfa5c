"""The one-pass validation of an order body (``orders.api.fast_input``) gives exactly what DRF's
``OrderCreateSerializer.run_validation`` gives, or declines and leaves the answer (and the errors)
to DRF: it never accepts what DRF refuses, nor changes a value DRF would keep."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from orders.api import serializers as s
from orders.api.fast_input import compile_input
from tests.orders.test_api import body


def _form():
    return s.OrderCreateSerializer(context={})


def _drf(form, data):
    try:
        return ("ok", form.run_validation(copy.deepcopy(data)))
    except ValidationError as exc:
        return ("invalid", exc.detail)


def _same_as_drf(data) -> object:
    form = _form()
    fast = compile_input(form)
    assert fast is not None
    got = fast(copy.deepcopy(data))
    outcome, expected = _drf(form, data)
    if got is not None:
        assert outcome == "ok", (data, expected)
        assert got == expected
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
        # Equal is not enough for decimals (7.5 == 7.5000): the same digits and scale.
        assert json.dumps(got, default=repr, sort_keys=True) == json.dumps(
            expected, default=repr, sort_keys=True
        )
    return got


def test_a_plain_order_is_validated_in_one_pass_exactly_as_drf_does():
    data = body("FAST-1", ("TEE", 2), ("MUG", 1), notes="  ring  ", tags=["vip"], service_level="expedited")
    data["lines"][1]["unit_price"] = "7.5"
    data["lines"][1]["customs_value"] = None
    data["ship_to"]["company"] = "   "
    got = _same_as_drf(data)
    assert got is not None
    assert got["lines"][1]["unit_price"] == Decimal("7.5000")
    assert got["notes"] == "ring" and got["ship_to"]["ship_to_company"] == ""
    assert got["ship_to"]["ship_to_country"] == "US" or "country" in data["ship_to"]
    del data["ship_to"]["country"]
    assert _same_as_drf(data)["ship_to"]["ship_to_country"] == "US"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(external_reference=""),
        lambda d: d.update(external_reference="x" * 101),
        lambda d: d.update(external_reference="a\x00b"),
        lambda d: d.update(external_reference="a\ud800b"),
        lambda d: d.update(channel="fax"),
        lambda d: d.update(currency="EU"),
        lambda d: d.update(tags=["x" * 65]),
        lambda d: d.update(tags="vip"),
        lambda d: d.update(lines=[]),
        lambda d: d.update(lines=[{"sku": "TEE", "quantity": 0}]),
        lambda d: d.update(lines=[{"sku": "TEE", "quantity": True}]),
        lambda d: d.update(lines=[{"sku": "TEE", "quantity": 1, "unit_price": "-1"}]),
        lambda d: d.update(lines=[{"sku": "TEE", "quantity": 1, "unit_price": "1.23456"}]),
        lambda d: d.update(lines=[{"sku": "", "quantity": 1}]),
        lambda d: d["ship_to"].update(email="not-an-email"),
        lambda d: d["ship_to"].update(country=""),
        lambda d: d["ship_to"].pop("zip"),
        lambda d: d.update(ship_to="Hoboken"),
        lambda d: d.update(ship_window_start="2030-05-03", ship_window_end="2030-05-01"),
    ],
)
def test_what_drf_refuses_is_left_to_drf(change):
    data = body("FAST-2")
    change(data)
    assert _same_as_drf(data) is None
    assert _drf(_form(), data)[0] == "invalid"


def test_values_drf_coerces_are_left_to_drf_or_coerced_the_same():
    data = body("FAST-3", quantity=None)
    data.pop("quantity")
    data["lines"][0]["quantity"] = "3"
    data["external_reference"] = 12345
    data.update(ship_window_start="2030-05-01", ship_window_end="2030-05-03")
    _same_as_drf(data)
    assert _drf(_form(), data)[0] == "ok"


_text = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["", " ", "TEE", " TEE ", "x" * 70, "a\x00", "ann@example.test", "US", "api", "fax"]),
)
_decimals = st.one_of(
    st.sampled_from(["1.5", "-1", "2.00001", "007.50", "0", "-0.0", "1e3", " 7.5", "NaN", "Infinity", "1,5"]),
    st.sampled_from(["123456789012345.1234", "1234567890123456.5", "99999999999999999999"]),  # max_digits 19
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
    st.from_regex(r"-?[0-9]{1,22}(\.[0-9]{1,6})?", fullmatch=True),
)
_value = st.one_of(_text, st.none(), st.integers(-2, 3), st.booleans(), _decimals)


@settings(max_examples=300, deadline=None)
@given(
    reference=_value,
    channel=st.one_of(st.just(None), _value),
    sku=_value,
    quantity=_value,
    price=_value,
    email=_value,
    country=st.one_of(st.just(None), _value),
    tags=st.one_of(st.just(None), st.lists(_value, max_size=3)),
)
def test_any_body_is_validated_as_drf_does(reference, channel, sku, quantity, price, email, country, tags):
    data = body("P")
    data["external_reference"] = reference
    data["lines"] = [{"sku": sku, "quantity": quantity, "unit_price": price}]
    data["ship_to"]["email"] = email
    for key, value in (("channel", channel), ("tags", tags)):
        if value is not None:
            data[key] = value
    if country is not None:
        data["ship_to"]["country"] = country
    _same_as_drf(data)


@settings(max_examples=300, deadline=None)
@given(price=_decimals, customs=st.one_of(st.none(), _decimals))
def test_decimal_amounts_are_validated_and_rounded_as_drf_does(price, customs):
    data = body("D")
    data["lines"][0].update(unit_price=price, customs_value=customs)
    _same_as_drf(data)
