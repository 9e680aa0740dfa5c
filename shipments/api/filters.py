"""Shipment and manifest filters. Declared explicitly: django-filter's automatic filters would
query the scoped (fail-closed) default managers when the classes are created."""

import django_filters
from django.db.models import Exists, OuterRef, Q

from shipments import shipment_selectors as selectors
from shipments.enums import ShipmentStatus
from shipments.models import Manifest, Package, Shipment


class ShipmentFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client", help_text="Staff: one client's shipments")
    status = django_filters.MultipleChoiceFilter(
        choices=ShipmentStatus.choices, help_text="Repeat for several", distinct=False
    )
    carrier = django_filters.CharFilter(method="with_carrier", help_text="Carrier code (or id)")
    service = django_filters.CharFilter(method="with_service", help_text="Service code (or id)")
    warehouse = django_filters.CharFilter(method="with_warehouse", help_text="The node's code (or id)")
    order = django_filters.NumberFilter(field_name="order", help_text="One order's shipments")
    tracking_number = django_filters.CharFilter(
        method="with_tracking_number", help_text="The shipment's or one of its packages' tracking numbers"
    )
    shipped_after = django_filters.IsoDateTimeFilter(field_name="shipped_at", lookup_expr="gte")
    shipped_before = django_filters.IsoDateTimeFilter(field_name="shipped_at", lookup_expr="lt")
    delivered_after = django_filters.IsoDateTimeFilter(field_name="delivered_at", lookup_expr="gte")
    delivered_before = django_filters.IsoDateTimeFilter(field_name="delivered_at", lookup_expr="lt")
    late = django_filters.BooleanFilter(
        method="with_late", help_text="true: underway and its estimated delivery day has ended (node time)"
    )
    exception = django_filters.BooleanFilter(method="with_exception", help_text="true: in carrier exception")
    stalled = django_filters.BooleanFilter(
        method="with_stalled", help_text="true: underway with no tracking event for 2 business days"
    )

    class Meta:
        model = Shipment
        fields: list[str] = []

    @staticmethod
    def _code_or_id(prefix: str, value: str) -> Q:
        value = value.strip()
        return (
            Q(**{f"{prefix}_id": int(value)}) if value.isdigit() else Q(**{f"{prefix}__code__iexact": value})
        )

    def with_carrier(self, queryset, name, value):
        return queryset.filter(self._code_or_id("carrier", value))

    def with_service(self, queryset, name, value):
        return queryset.filter(self._code_or_id("service", value))

    def with_warehouse(self, queryset, name, value):
        return queryset.filter(self._code_or_id("warehouse", value))

    def with_tracking_number(self, queryset, name, value):
        value = value.strip()
        packages = Package.objects.filter(shipment=OuterRef("pk"), tracking_number__iexact=value)
        return queryset.filter(Q(tracking_number__iexact=value) | Exists(packages))

    def _flag(self, queryset, condition: Q, value):
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def with_late(self, queryset, name, value):
        return self._flag(queryset, selectors.late_q(), value)

    def with_exception(self, queryset, name, value):
        return self._flag(queryset, selectors.exception_q(), value)

    def with_stalled(self, queryset, name, value):
        return self._flag(queryset, selectors.stalled_q(), value)


class ManifestFilter(django_filters.FilterSet):
    warehouse = django_filters.CharFilter(method="with_warehouse", help_text="The node's code (or id)")
    carrier = django_filters.CharFilter(method="with_carrier", help_text="Carrier code (or id)")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Manifest
        fields: list[str] = []

    def with_warehouse(self, queryset, name, value):
        return queryset.filter(ShipmentFilter._code_or_id("warehouse", value))

    def with_carrier(self, queryset, name, value):
        return queryset.filter(ShipmentFilter._code_or_id("carrier", value))
