"""Carriers, services, box catalogs and rate quotes. A carrier's account number is staff-only and
its webhook token and secret are for operator admins only (``CarrierSerializer.for_actor``)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors as account_selectors
from accounts.models import Warehouse
from accounts.roles import Perm
from fulfillment.api.serializers import UpdateRulesMixin
from fulfillment.geo import zip_point
from orders.enums import ServiceLevel

from ..models import BoxType, Carrier, CarrierService

MAX_PARCELS = 50


class ServiceBriefSerializer(serializers.ModelSerializer):
    transit_days = serializers.ListField(
        child=serializers.IntegerField(), help_text="Business days in transit for zones 1 to 8"
    )

    class Meta:
        model = CarrierService
        fields = ("id", "code", "name", "transit_days", "max_weight_lb", "active")


class CarrierSerializer(UpdateRulesMixin, serializers.ModelSerializer):
    """What every role sees of a carrier."""

    services = ServiceBriefSerializer(many=True, read_only=True)
    fixed_on_update = ("code",)
    optional_on_update = ("name",)

    class Meta:
        model = Carrier
        fields = (
            "id",
            "code",
            "name",
            "adapter",
            "tracking_format",
            "dim_divisor",
            "fuel_surcharge_pct",
            "residential_surcharge",
            "currency",
            "tracking_url",
            "active",
            "services",
        )

    @staticmethod
    def for_actor(actor) -> type[CarrierSerializer]:
        if actor.can(Perm.CARRIER_MANAGE):
            return CarrierAdminSerializer
        if actor.is_staff:
            return CarrierStaffSerializer
        return CarrierSerializer


class CarrierStaffSerializer(CarrierSerializer):
    """Staff also see the shipper number printed on labels."""

    class Meta(CarrierSerializer.Meta):
        fields = (*CarrierSerializer.Meta.fields, "account_number")


class CarrierAdminSerializer(CarrierStaffSerializer):
    """Operator admins also see where and how the carrier's tracking webhooks are signed."""

    class Meta(CarrierStaffSerializer.Meta):
        fields = (*CarrierStaffSerializer.Meta.fields, "webhook_token", "webhook_secret")
        read_only_fields = ("webhook_token", "webhook_secret")
        extra_kwargs = {
            "webhook_token": {"help_text": "Operator admins only: the path segment of its webhook"},
            "webhook_secret": {"help_text": "Operator admins only: signs its tracking webhooks"},
        }


class ServiceSerializer(ServiceBriefSerializer):
    carrier = serializers.PrimaryKeyRelatedField(read_only=True)
    carrier_code = serializers.CharField(source="carrier.code", read_only=True)
    carrier_name = serializers.CharField(source="carrier.name", read_only=True)

    class Meta(ServiceBriefSerializer.Meta):
        fields = ("id", "carrier", "carrier_code", "carrier_name", *ServiceBriefSerializer.Meta.fields[1:])


@extend_schema_field(OpenApiTypes.INT)
class VisibleWarehouseField(serializers.PrimaryKeyRelatedField):
    """A node the actor sees: any other id is "does not exist", whoever's it is."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or getattr(request, "actor", None) is None:
            return Warehouse.objects.none()
        return account_selectors.warehouse_list(actor=request.actor)


class BoxTypeSerializer(UpdateRulesMixin, serializers.ModelSerializer):
    warehouse = VisibleWarehouseField()
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    volume_cubic_in = serializers.DecimalField(
        source="volume", max_digits=12, decimal_places=2, read_only=True
    )
    fixed_on_update = ("warehouse", "code")
    optional_on_update = ("name", "length_in", "width_in", "height_in")

    class Meta:
        model = BoxType
        fields = (
            "id",
            "warehouse",
            "warehouse_code",
            "code",
            "name",
            "length_in",
            "width_in",
            "height_in",
            "volume_cubic_in",
            "max_weight_lb",
            "tare_weight_lb",
            "cost",
            "active",
        )
        validators: list = []  # (warehouse, code) is checked by the service, naming the field


class ParcelSerializer(serializers.Serializer):
    weight_lb = serializers.DecimalField(max_digits=9, decimal_places=3, min_value=Decimal("0.001"))
    length_in = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    width_in = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    height_in = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=Decimal("0.01"), required=False
    )

    def validate(self, attrs):
        given = [k for k in ("length_in", "width_in", "height_in") if k in attrs]
        if given and len(given) != 3:
            missing = next(k for k in ("length_in", "width_in", "height_in") if k not in attrs)
            raise serializers.ValidationError({missing: ["Give all three dimensions, or none."]})
        return attrs


def _known_zip(value: str) -> str:
    value = value.strip()
    if zip_point(value) is None:
        raise serializers.ValidationError(f"Unknown US ZIP code “{value}”.")
    return value[:5]


class RateQuoteRequestSerializer(serializers.Serializer):
    origin_warehouse = VisibleWarehouseField(
        required=False, help_text="The node it ships from (or give origin_zip)"
    )
    origin_zip = serializers.CharField(max_length=10, required=False, help_text="Instead of origin_warehouse")
    destination_zip = serializers.CharField(max_length=10)
    residential = serializers.BooleanField(default=True)
    service_level = serializers.ChoiceField(
        choices=ServiceLevel.choices, default="standard", help_text="The delivery promise to meet"
    )
    ship_date = serializers.DateField(required=False, help_text="Default: today at the origin")
    parcels = ParcelSerializer(many=True, help_text=f"1 to {MAX_PARCELS} parcels")

    def validate_origin_zip(self, value):
        return _known_zip(value)

    def validate_destination_zip(self, value):
        return _known_zip(value)

    def validate_parcels(self, value):
        if not value:
            raise serializers.ValidationError("Quote at least one parcel.")
        if len(value) > MAX_PARCELS:
            raise serializers.ValidationError(f"At most {MAX_PARCELS} parcels.")
        return value

    def validate(self, attrs):
        has_node, has_zip = attrs.get("origin_warehouse") is not None, bool(attrs.get("origin_zip"))
        if has_node == has_zip:
            raise serializers.ValidationError(
                {"origin_warehouse": ["Give origin_warehouse or origin_zip (one)."]}
            )
        return attrs


class QuoteSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    carrier = serializers.CharField()
    carrier_name = serializers.CharField()
    service = serializers.CharField()
    service_name = serializers.CharField()
    zone = serializers.IntegerField()
    billable_weight_lb = serializers.IntegerField(help_text="Summed over the parcels")
    base = serializers.DecimalField(max_digits=19, decimal_places=2)
    residential = serializers.DecimalField(max_digits=19, decimal_places=2)
    fuel = serializers.DecimalField(max_digits=19, decimal_places=2)
    total = serializers.DecimalField(max_digits=19, decimal_places=2)
    currency = serializers.CharField()
    transit_days = serializers.IntegerField()
    estimated_delivery_date = serializers.DateField(allow_null=True)
    meets_promise = serializers.BooleanField(allow_null=True)
    chosen = serializers.BooleanField(help_text="The one rate shopping picks")


class RateQuoteResultSerializer(serializers.Serializer):
    origin_zip = serializers.CharField()
    destination_zip = serializers.CharField()
    zone = serializers.IntegerField()
    service_level = serializers.CharField()
    promise_days = serializers.IntegerField()
    ship_date = serializers.DateField()
    quotes = QuoteSerializer(many=True, help_text="Cheapest first")
    chosen_service_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text="Why rate shopping picks it (or why nothing is quoted)")
