"""Order filters. Declared explicitly: django-filter's automatic filters would query the scoped
(fail-closed) default managers when the classes are created."""

import django_filters
from django.db.models import Exists, OuterRef, Q

from inventory.models import Item
from orders import selectors
from orders.enums import Channel, OrderStatus, OrderType
from orders.models import Order, OrderLine


class OrderFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client", help_text="Staff: one client's orders")
    # distinct=False: a status is a column of the order, no join can repeat a row (django-filter's
    # default DISTINCT would also make the count and the page sort every matching order).
    status = django_filters.MultipleChoiceFilter(
        choices=OrderStatus.choices, distinct=False, help_text="Repeat for several"
    )
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
        """Lines of this SKU as given, or resolved to an item of this SKU. The items are looked up
        first: a join to items inside the OR would hide from the planner how few lines match, and it
        would walk every order of the client instead of the few lines' orders."""
        items = list(Item.objects.filter(sku=value).values_list("pk", flat=True))
        lines = OrderLine.objects.filter(order=OuterRef("pk")).filter(Q(sku=value) | Q(item__in=items))
        return queryset.filter(Exists(lines))

    def with_late(self, queryset, name, value):
        condition = selectors.late_q()
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def with_at_risk(self, queryset, name, value):
        condition = selectors.at_risk_q()
        return queryset.filter(condition) if value else queryset.exclude(condition)
