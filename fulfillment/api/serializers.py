"""Serializer pieces every app's API shares."""

from __future__ import annotations


class UpdateRulesMixin:
    """Fields an object keeps for life (``fixed_on_update``: read-only once it exists) and fields a
    PATCH may leave out (``optional_on_update``)."""

    fixed_on_update: tuple[str, ...] = ()
    optional_on_update: tuple[str, ...] = ()

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            for name in self.fixed_on_update:
                fields[name].read_only = True
            for name in self.optional_on_update:
                fields[name].required = False
        return fields


class FastRowsMixin:
    """A ModelSerializer's ``to_representation`` for lists of many rows: the same body as DRF's,
    built from a plan made once per list (with ``many=True`` one child serializes every row; a
    single object takes DRF's own path).

    DRF resolves every field of every row generically (``get_attribute``, ``PKOnlyObject``, the
    time-zone lookup of each datetime): about 0.3 ms a row, most of a 50-row page's time. The plan
    reads a model column with ``getattr`` and converts it with the field's own rule (str, int, ISO
    8601 in UTC...); any other field (dotted sources, nested lists, decimals) goes through DRF's own
    path. ``tests/orders/test_list_reads.py`` and ``tests/inventory/test_balance_list.py`` check
    that both give the same body."""

    def to_representation(self, instance):
        from rest_framework.serializers import ListSerializer

        plan = self.__dict__.get("_row_plan")
        if plan is None:
            if not isinstance(self.parent, ListSerializer):
                return super().to_representation(instance)  # one object: a plan would cost more
            plan = self._row_plan = _row_plan(self, self.Meta.model)
        return _apply(plan, instance)


def represent(serializer, instance) -> dict:
    """``serializer.to_representation(instance)`` for one object, through a plan as
    ``FastRowsMixin`` makes, kept on the serializer, its nested lists of model rows planned too:
    for a serializer kept and reused for many single objects (the intake's answer, one serializer
    per thread), where the plan is made once."""
    plan = serializer.__dict__.get("_object_plan")
    if plan is None:
        model = serializer.Meta.model
        plan = serializer._object_plan = [
            (field.field_name, _rows_getter(field) or _row_getter(field, serializer, model))
            for field in serializer._readable_fields
        ]
    return _apply(plan, instance)


def _rows_getter(field):
    """For a nested list of model rows (``many=True`` of a model serializer, by a plain
    attribute): ``instance -> [row, ...]`` through the child's plan; else None."""
    from django.db.models.manager import BaseManager
    from rest_framework import serializers

    if not (
        isinstance(field, serializers.ListSerializer)
        and type(field).to_representation is serializers.ListSerializer.to_representation
        and isinstance(field.child, serializers.ModelSerializer)
        and type(field.child).to_representation
        in (serializers.Serializer.to_representation, FastRowsMixin.to_representation)
        and len(field.source_attrs) == 1
    ):
        return None  # something of its own: DRF's path
    plan, attr = _row_plan(field.child, field.child.Meta.model), field.source_attrs[0]

    def rows(obj):
        value = getattr(obj, attr)
        return [_apply(plan, row) for row in (value.all() if isinstance(value, BaseManager) else value)]

    return rows


_SKIP = object()


def _apply(plan, instance) -> dict:
    out = {}
    for name, get in plan:
        value = get(instance)
        if value is not _SKIP:
            out[name] = value
    return out


def _row_plan(serializer, model) -> list:
    return [
        (field.field_name, _row_getter(field, serializer, model)) for field in serializer._readable_fields
    ]


def _row_getter(field, serializer, model):
    """``instance -> value`` for one field, as DRF's ``Serializer.to_representation`` gives it."""
    from rest_framework import fields as f
    from rest_framework import relations, serializers

    def generic(obj):
        try:
            value = field.get_attribute(obj)
        except f.SkipField:
            return _SKIP
        check = value.pk if isinstance(value, relations.PKOnlyObject) else value
        return None if check is None else field.to_representation(value)

    if isinstance(field, f.SerializerMethodField):
        return getattr(serializer, field.method_name)
    if isinstance(field, serializers.Serializer) and field.source == "*":
        nested = _row_plan(field, model)
        return lambda obj: _apply(nested, obj)
    if len(field.source_attrs) != 1:
        return generic
    attr = field.source_attrs[0]
    on_class = getattr(model, attr, None)
    if isinstance(field, relations.PrimaryKeyRelatedField):
        attname = getattr(getattr(on_class, "field", None), "attname", None)
        if field.pk_field is not None or attname is None:
            return generic
        attr, convert = attname, (lambda value: value)
    elif callable(on_class) and not isinstance(on_class, property):
        return generic  # a method: DRF calls it
    else:
        convert = _converter(field)

    def simple(obj):
        try:
            value = getattr(obj, attr)
        except AttributeError:
            return generic(obj)  # DRF's default / skip rules
        return None if value is None else convert(value)

    return simple


def _converter(field):
    """The field's ``to_representation`` of a non-null value, short-cut for the common types."""
    from datetime import datetime

    from rest_framework import ISO_8601
    from rest_framework import fields as f
    from rest_framework.settings import api_settings

    method = type(field).to_representation
    if method is f.CharField.to_representation:
        return str
    if method is f.IntegerField.to_representation:
        return int
    if method is f.ChoiceField.to_representation:
        choices = field.choice_strings_to_values
        return lambda value: value if value == "" else choices.get(str(value), value)
    if (
        method is f.DateTimeField.to_representation
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
    ):
        zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()

        def iso(value):
            if not isinstance(value, datetime) or zone is None or value.tzinfo is None:
                return field.to_representation(value)
            text = value.astimezone(zone).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return iso
    return field.to_representation
