"""Filters. Declared explicitly: django-filter's automatic filters would query the scoped (fail-closed)
default managers when the classes are created."""

import django_filters
from django.db.models import F, Q

from inventory.enums import ASNStatus, CountStatus, LocationType, MoveReason, TransferStatus
from inventory.models import ASN, Balance, CycleCount, Item, Location, Move, Transfer


class ItemFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client")
    sku = django_filters.CharFilter(field_name="sku")
    barcode = django_filters.CharFilter(field_name="barcodes__code", help_text="Exact barcode")
    q = django_filters.CharFilter(method="search", help_text="SKU or name contains")
    active = django_filters.BooleanFilter(field_name="active")
    is_kit = django_filters.BooleanFilter(field_name="is_kit")

    class Meta:
        model = Item
        fields: list[str] = []

    def search(self, queryset, name, value):
        return queryset.filter(Q(sku__icontains=value) | Q(name__icontains=value))


class LocationFilter(django_filters.FilterSet):
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    type = django_filters.ChoiceFilter(choices=LocationType.choices)
    zone = django_filters.CharFilter(field_name="zone")
    code = django_filters.CharFilter(field_name="code", lookup_expr="istartswith")
    active = django_filters.BooleanFilter(field_name="active")

    class Meta:
        model = Location
        fields: list[str] = []


class BalanceFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client")
    item = django_filters.NumberFilter(field_name="item")
    sku = django_filters.CharFilter(field_name="item__sku")
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    location = django_filters.NumberFilter(field_name="location")
    location_type = django_filters.ChoiceFilter(field_name="location__type", choices=LocationType.choices)
    lot_code = django_filters.CharFilter(field_name="lot_code")
    available = django_filters.BooleanFilter(method="with_available", help_text="true: available > 0")
    empty = django_filters.BooleanFilter(method="with_empty", help_text="false: on hand > 0")

    class Meta:
        model = Balance
        fields: list[str] = []

    def with_available(self, queryset, name, value):
        condition = Q(on_hand__gt=F("allocated"))
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def with_empty(self, queryset, name, value):
        return queryset.filter(on_hand=0) if value else queryset.filter(on_hand__gt=0)


class MoveFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client")
    item = django_filters.NumberFilter(field_name="item")
    sku = django_filters.CharFilter(field_name="item__sku")
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    location = django_filters.NumberFilter(field_name="location")
    reason = django_filters.ChoiceFilter(choices=MoveReason.choices)
    document_type = django_filters.CharFilter(field_name="document_type")
    document_id = django_filters.CharFilter(field_name="document_id")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Move
        fields: list[str] = []


class TransferFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TransferStatus.choices)
    item = django_filters.NumberFilter(field_name="item")
    to_warehouse = django_filters.NumberFilter(field_name="to_warehouse")
    from_warehouse = django_filters.NumberFilter(field_name="from_warehouse")

    class Meta:
        model = Transfer
        fields: list[str] = []


class CountFilter(django_filters.FilterSet):
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    status = django_filters.ChoiceFilter(choices=CountStatus.choices)

    class Meta:
        model = CycleCount
        fields: list[str] = []


class ASNFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client")
    warehouse = django_filters.NumberFilter(field_name="warehouse")
    # A column of the ASN: no join can repeat a row, so no DISTINCT (django-filter's default).
    status = django_filters.MultipleChoiceFilter(choices=ASNStatus.choices, distinct=False)
    reference = django_filters.CharFilter(field_name="reference")
    po_reference = django_filters.CharFilter(field_name="po_reference")
    eta_after = django_filters.DateFilter(field_name="eta", lookup_expr="gte")
    eta_before = django_filters.DateFilter(field_name="eta", lookup_expr="lte")

    class Meta:
        model = ASN
        fields: list[str] = []
