"""Filters of the floor endpoints. Declared explicitly: django-filter's automatic filters would
query the scoped (fail-closed) default managers when the classes are created."""

import django_filters

from shipments.enums import PickStatus, WaveStatus
from shipments.models import Package, PickTask, Shipment, Wave


class WaveFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WaveStatus.choices, help_text="Repeat for several")
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    assigned_to = django_filters.NumberFilter(field_name="assigned_to", help_text="A user id")

    class Meta:
        model = Wave
        fields: list[str] = []


class PickFilter(django_filters.FilterSet):
    wave = django_filters.NumberFilter(field_name="wave")
    status = django_filters.MultipleChoiceFilter(choices=PickStatus.choices, help_text="Repeat for several")
    order = django_filters.NumberFilter(field_name="order")
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    item = django_filters.NumberFilter(field_name="item")
    location = django_filters.NumberFilter(field_name="location")

    class Meta:
        model = PickTask
        fields: list[str] = []


class PackageFilter(django_filters.FilterSet):
    shipment = django_filters.NumberFilter(field_name="shipment")
    order = django_filters.NumberFilter(field_name="shipment__order")
    warehouse = django_filters.NumberFilter(field_name="shipment__warehouse")
    closed = django_filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Package
        fields: list[str] = []


class PackSessionFilter(django_filters.FilterSet):
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    order = django_filters.NumberFilter(field_name="order")
    packed = django_filters.BooleanFilter(
        field_name="packed_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: packed, waiting for a label",
    )

    class Meta:
        model = Shipment
        fields: list[str] = []
