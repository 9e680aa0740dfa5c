"""Order filters. Declared explicitly: django-filter's automatic filters would query the scoped
(fail-closed) default managers when the classes are created."""

import django_filters
from django.db.models import Exists, OuterRef, Q

from orders import selectors
from orders.enums import Channel, OrderStatus, OrderType
from orders.models import Order, OrderLine


class OrderFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client", help_text="Staff: one client's orders")
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, help_text="Repeat for several")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    order_type = django_filters.ChoiceFilter(choices=OrderType.choices)
    warehouse = django_filters.NumberFilter(field_name="warehouse", help_text="The node it is routed to")
    sku = django_filters.CharFilter(method="with_sku", help_text="Orders with a line of this SKU")
    external_reference = django_filters.CharFilter(field_name="external_reference")
    received_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    ship_by_after = django_filters.IsoDateTimeFilter(field_name="ship_by", lookup_expr="gte")
    ship_by_before = django_filters.IsoDateTimeFilter(field_name="ship_by", lookup_expr="lt")
    late = django_filters.BooleanFilter(
        method="with_late", help_text="true: not shipped nor cancelled, and ship-by has passed"
    )
    at_risk = django_filters.BooleanFilter(
        method="with_at_risk", help_text="true: not packed, and ship-by within the next 2 hours"
    )

    class Meta:
        model = Order
        fields: list[str] = []

    def with_sku(self, queryset, name, value):
        lines = OrderLine.objects.filter(order=OuterRef("pk")).filter(Q(sku=value) | Q(item__sku=value))
        return queryset.filter(Exists(lines))

    def with_late(self, queryset, name, value):
        condition = selectors.late_q()
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def with_at_risk(self, queryset, name, value):
        condition = selectors.at_risk_q()
        return queryset.filter(condition) if value else queryset.exclude(condition)
