"""The KPI report's shape (``GET /api/v1/reports/kpis/``), and the order errors' endpoints."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import Order
from reporting.enums import OrderErrorKind
from reporting.models import OrderError


@extend_schema_field(OpenApiTypes.STR)
class NumberString(serializers.Field):
    """A decimal or integer as a string (exact, like every decimal of the API), or null."""

    def to_representation(self, value):
        return None if value is None else str(value)

    def to_internal_value(self, data):  # pragma: no cover - read-only
        return Decimal(data)


class KPIValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = NumberString(help_text="null is n/a: an empty denominator")
    display = serializers.CharField(
        help_text='As shown in pages: "n/a", "99.52%", "14.2 h", "$8.31", "1,204"'
    )
    numerator = NumberString(allow_null=True)
    denominator = NumberString(allow_null=True)
    unit = serializers.CharField(help_text="%, hours, days, USD, orders, units or turns")
    target = NumberString(allow_null=True, help_text="The client's target in percent (one client asked)")
    meets_target = serializers.BooleanField(allow_null=True)


class KPIPeriodSerializer(serializers.Serializer):
    period = serializers.DateField(help_text="The day, the week's Monday or the month's 1st")
    kpis = serializers.DictField(child=KPIValueSerializer())


class BreakdownRowSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text="Carrier id, service id or zone")
    label = serializers.CharField()
    shipments = serializers.IntegerField()
    orders = serializers.IntegerField()
    cost = NumberString()
    cost_per_order = NumberString(allow_null=True)
    shipments_delivered = serializers.IntegerField()
    transit_days_mean = NumberString(allow_null=True)
    transit_days_p90 = NumberString(allow_null=True)
    carrier_on_time_delivery = NumberString(allow_null=True)


class KPIReportSerializer(serializers.Serializer):
    clients = serializers.ListField(child=serializers.IntegerField(), source="client_ids")
    start = serializers.DateField(help_text="First local day (each client's time zone)")
    end = serializers.DateField(help_text="Last local day, inclusive")
    granularity = serializers.CharField(allow_null=True)
    totals = serializers.DictField(child=KPIValueSerializer())
    series = serializers.SerializerMethodField()
    breakdowns = serializers.DictField(child=BreakdownRowSerializer(many=True))

    @extend_schema_field(KPIPeriodSerializer(many=True))
    def get_series(self, report) -> list[dict]:
        return [
            {"period": period.isoformat(), "kpis": {k: KPIValueSerializer(v).data for k, v in values.items()}}
            for period, values in report.series
        ]


class OrderErrorSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    recorded_by = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = OrderError
        fields = [
            "id",
            "client",
            "order",
            "order_number",
            "kind",
            "kind_display",
            "note",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class OrderErrorCreateSerializer(serializers.Serializer):
    order = serializers.PrimaryKeyRelatedField(
        queryset=Order.objects.none(), help_text="A shipped or delivered order"
    )
    kind = serializers.ChoiceField(choices=OrderErrorKind.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and getattr(request, "actor", None) is not None:
            # Only orders the actor sees: another client's order answers like a missing one.
            self.fields["order"].queryset = Order.objects.filter(request.actor.client_q())
