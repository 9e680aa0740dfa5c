"""A serializer's ``run_validation`` for input that is plainly valid, in one pass.

DRF validates a nested body field by field through several layers (``run_validation``,
``validate_empty_values``, ``to_internal_value``, ``run_validators`` and their error handling for
every field of every line): for a bulk intake of 500 orders that is most of the request's time.
``compile_input(serializer)`` reads the serializer's own fields once and returns a function that
gives exactly what ``serializer.run_validation(data)`` returns for data it can vouch for, and
``None`` for anything else: the caller then runs DRF's own validation, which reports the errors
(so a bad order's errors, field names and messages are DRF's, unchanged).

The fast kinds: strings (``CharField``, ``EmailField``: trimmed, their validators called
directly), choices, integers, plainly written decimals, lists, nested serializers. Any other
field runs its own ``run_validation``; a serializer feature the plan does not know (a
``validate_<field>`` method, a dotted ``source``, a validator that needs its context) makes
``compile_input`` decline (None).
``tests/orders/test_fast_input.py`` checks that both give the same result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, ProhibitNullCharactersValidator
from rest_framework import fields as f
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import ProhibitSurrogateCharactersValidator, SkipField, empty

from orders.services import plain_email

FAIL = object()  # not plainly valid: let DRF decide
_ERRORS = (ValidationError, DjangoValidationError)


class _Declined(Exception):
    """The serializer uses something the plan does not reproduce."""


def compile_input(serializer: serializers.Serializer) -> Callable[[Any], dict | None] | None:
    """``data -> validated data`` (as ``serializer.run_validation(data)``), or None when the data
    is not plainly valid; None instead of a function if the serializer cannot be planned."""
    try:
        check = _serializer(serializer, top=True)
    except _Declined:
        return None

    def run(data: Any) -> dict | None:
        try:
            value = check(data)
        except _ERRORS:
            return None
        return None if value is FAIL else value

    return run


def _serializer(serializer: serializers.Serializer, *, top: bool = False) -> Callable[[Any], Any]:
    if serializer.validators or getattr(serializer, "many", False):
        raise _Declined
    plan = []
    for field in serializer._writable_fields:
        if getattr(serializer, "validate_" + field.field_name, None) is not None:
            raise _Declined
        if len(field.source_attrs) != 1 or field.source == "*":
            raise _Declined
        plan.append((field.field_name, field.source_attrs[0], _absent(field), _leaf(field)))
    validate = serializer.validate
    if type(serializer).validate is serializers.Serializer.validate:
        validate = None
    nullable = serializer.allow_null

    def check(data: Any) -> Any:
        if data is None and nullable and not top:
            return None
        if not isinstance(data, Mapping):
            return FAIL
        out = {}
        for name, key, absent, leaf in plan:
            value = data.get(name, empty)
            if value is empty:
                value = absent()
                if value is FAIL:
                    return FAIL
                if value is _SKIP:
                    continue
                out[key] = value
                continue
            value = leaf(value)
            if value is FAIL:
                return FAIL
            out[key] = value
        if validate is not None:
            out = validate(out)
        return out

    return check


_SKIP = object()


def _absent(field: f.Field) -> Callable[[], Any]:
    """What DRF does with a field the data leaves out (``validate_empty_values``)."""
    if field.required:
        return lambda: FAIL
    given = field.default
    if given is empty or getattr(field.root, "partial", False):
        return lambda: _SKIP
    if not callable(given):
        return lambda: given  # (DRF gives this very object too, not a copy)
    if not hasattr(given, "set_context") and not getattr(given, "requires_context", False):
        return given

    def default():
        try:
            return field.get_default()
        except SkipField:
            return _SKIP

    return default


def _leaf(field: f.Field) -> Callable[[Any], Any]:
    """``value -> validated value`` for a value the data gives (not left out)."""
    if any(getattr(v, "requires_context", False) for v in field.validators):
        raise _Declined
    if isinstance(field, serializers.Serializer):
        nested = _serializer(field)
        return _nullable(field, nested)
    kind = type(field)
    if kind in (f.CharField, f.EmailField):
        return _nullable(field, _char(field))
    if kind is f.ChoiceField:
        return _nullable(field, _choice(field))
    if kind is f.IntegerField:
        return _nullable(field, _integer(field))
    if kind is f.ListField:
        return _nullable(field, _list(field))
    if kind is f.DecimalField and not field.localize:
        return _nullable(field, _decimal(field))
    return _generic(field)


def _generic(field: f.Field) -> Callable[[Any], Any]:
    def run(value):
        try:
            return field.run_validation(value)
        except _ERRORS:
            return FAIL

    return run


def _nullable(field: f.Field, check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    allow_null = field.allow_null

    def run(value):
        if value is None:
            return None if allow_null else FAIL
        return check(value)

    return run


def _validators(field: f.Field, *, skip: tuple = ()) -> list:
    return [v for v in field.validators if not isinstance(v, skip)]


def _char(field: f.CharField) -> Callable[[Any], Any]:
    trim, allow_blank = field.trim_whitespace, field.allow_blank
    # The two character checks are done inline (a str has no lone surrogate if it encodes).
    others = [
        _email(v) if type(v) is EmailValidator else v
        for v in _validators(
            field, skip=(ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)
        )
    ]
    slow = _generic(field)

    def run(value):
        if type(value) is not str:
            return slow(value)
        text = value.strip() if trim else value
        if text == "":
            return "" if allow_blank else FAIL
        if "\x00" in text:
            return FAIL
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return FAIL
        for validator in others:
            validator(text)
        return text

    return run


def _email(validator: EmailValidator) -> Callable[[str], None]:
    """The validator, skipped for an address of the plain kind it accepts (``plain_email``)."""

    def run(value: str) -> None:
        if not plain_email(value):
            validator(value)

    return run


def _choice(field: f.ChoiceField) -> Callable[[Any], Any]:
    values, allow_blank = field.choice_strings_to_values, field.allow_blank
    others = _validators(field)
    slow = _generic(field)

    def run(value):
        if type(value) is not str:
            return slow(value)
        if value == "" and allow_blank:
            return ""
        if value not in values:
            return FAIL
        value = values[value]
        for validator in others:
            validator(value)
        return value

    return run


def _integer(field: f.IntegerField) -> Callable[[Any], Any]:
    others = _validators(field)
    slow = _generic(field)

    def run(value):
        if type(value) is not int:
            return slow(value)
        for validator in others:
            validator(value)
        return value

    return run


# A decimal written plainly (digits, an optional point and digits, an optional minus): what
# ``DecimalField`` parses to the same Decimal whatever its other handling (spaces, NaN, infinity,
# exponents, separators), which the field's own ``run_validation`` is left to.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _decimal(field: f.DecimalField) -> Callable[[Any], Any]:
    """``DecimalField.run_validation`` for a plainly written decimal string: its own precision
    check and rounding, then its validators."""
    others = _validators(field)
    slow = _generic(field)
    longest = field.MAX_STRING_LENGTH

    def run(value):
        if type(value) is not str or len(value) > longest or _PLAIN_DECIMAL.fullmatch(value) is None:
            return slow(value)
        number = field.quantize(field.validate_precision(Decimal(value)))
        for validator in others:
            validator(number)
        return number

    return run


def _list(field: f.ListField) -> Callable[[Any], Any]:
    child = _leaf(field.child)
    allow_empty = field.allow_empty
    others = _validators(field)

    def run(value):
        if type(value) is not list:
            return FAIL
        if not value and not allow_empty:
            return FAIL
        out = []
        for item in value:
            item = child(item)
            if item is FAIL:
                return FAIL
            out.append(item)
        for validator in others:
            validator(out)
        return out

    return run
