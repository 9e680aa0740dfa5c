"""Shipments (with packages, contents, the quotes kept and the tracking timeline), tracking
events, and manifests."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Warehouse
from shipments import shipment_selectors as selectors
from shipments.api.carrier_serializers import QuoteSerializer
from shipments.enums import TrackingStatus
from shipments.models import Carrier, Manifest, Package, PackageLine, Shipment, TrackingEvent, VoidedLabel

WRITABLE_SOURCES = (("api", "API"), ("carrier", "Carrier"), ("floor", "Warehouse scan"))


class _FlagsMixin:
    """``late`` and ``stalled`` against one "now" and the nodes' calendars, read once per response."""

    def _flags(self):
        context = self.context
        if "shipment_flags" not in context:
            now = context.get("now") or timezone.now()
            calendars = {w.pk: c for w, c in selectors._calendars()}
            context["shipment_flags"] = (now, calendars)
        return context["shipment_flags"]

    def get_late(self, obj: Shipment) -> bool:
        now, calendars = self._flags()
        calendar = calendars.get(obj.warehouse_id)
        if obj.status not in selectors.UNDERWAY or not obj.estimated_delivery_date or calendar is None:
            return False
        return obj.estimated_delivery_date < calendar.local(now).date()

    def get_stalled(self, obj: Shipment) -> bool:
        now, calendars = self._flags()
        calendar = calendars.get(obj.warehouse_id)
        if obj.status not in selectors.UNDERWAY or not obj.shipped_at or calendar is None:
            return False
        last = max(obj.shipped_at, obj.last_event_at or obj.shipped_at)
        return last < selectors.stalled_threshold(calendar, now)


class ShipmentListSerializer(_FlagsMixin, serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True)
    order_external_reference = serializers.CharField(source="order.external_reference", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    carrier = serializers.CharField(source="carrier.code", read_only=True, default=None)
    carrier_name = serializers.CharField(source="carrier.name", read_only=True, default=None)
    service = serializers.CharField(source="service.code", read_only=True, default=None)
    service_name = serializers.CharField(source="service.name", read_only=True, default=None)
    manifest = serializers.PrimaryKeyRelatedField(read_only=True)
    package_count = serializers.IntegerField(read_only=True)
    units = serializers.IntegerField(read_only=True)
    tracking_url = serializers.SerializerMethodField()
    late = serializers.SerializerMethodField(help_text="Underway and its estimated delivery day has ended")
    stalled = serializers.SerializerMethodField(
        help_text="Underway with no tracking event for 2 business days"
    )

    class Meta:
        model = Shipment
        fields = (
            "id",
            "number",
            "client",
            "order",
            "order_number",
            "order_external_reference",
            "warehouse",
            "warehouse_code",
            "status",
            "carrier",
            "carrier_name",
            "service",
            "service_name",
            "tracking_number",
            "tracking_url",
            "zone",
            "billable_weight_lb",
            "cost",
            "currency",
            "residential",
            "package_count",
            "units",
            "packed_at",
            "label_created_at",
            "shipped_at",
            "estimated_delivery_date",
            "delivered_at",
            "transit_days",
            "last_event_at",
            "exception_reason",
            "manifest",
            "late",
            "stalled",
        )
        read_only_fields = fields

    def get_tracking_url(self, obj: Shipment) -> str:
        return selectors.tracking_url(obj)

    @extend_schema_field(serializers.BooleanField())
    def get_late(self, obj):
        return super().get_late(obj)

    @extend_schema_field(serializers.BooleanField())
    def get_stalled(self, obj):
        return super().get_stalled(obj)


class PackageLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)

    class Meta:
        model = PackageLine
        fields = ("id", "line", "item", "sku", "item_name", "lot_code", "quantity")
        read_only_fields = fields


class PackageSerializer(serializers.ModelSerializer):
    box_type = serializers.CharField(source="box_type.code", read_only=True, default=None)
    contents = PackageLineSerializer(source="lines", many=True, read_only=True)

    class Meta:
        model = Package
        fields = (
            "id",
            "number",
            "box_type",
            "length_in",
            "width_in",
            "height_in",
            "weight_lb",
            "billable_weight_lb",
            "tracking_number",
            "closed_at",
            "contents",
        )
        read_only_fields = fields


class TrackingEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = (
            "id",
            "status",
            "occurred_at",
            "location",
            "description",
            "estimated_delivery_date",
            "source",
            "external_id",
            "created_at",
        )
        read_only_fields = fields


class TrackingEventCreateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TrackingStatus.choices)
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with its offset")
    location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    estimated_delivery_date = serializers.DateField(required=False, allow_null=True, default=None)
    source = serializers.ChoiceField(choices=WRITABLE_SOURCES, required=False, default="api")
    external_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The sender's event id: a redelivered event is recorded once",
    )


class VoidedLabelSerializer(serializers.ModelSerializer):
    carrier = serializers.CharField(source="carrier.code", read_only=True)
    service = serializers.CharField(source="service.code", read_only=True)

    class Meta:
        model = VoidedLabel
        fields = ("id", "tracking_number", "carrier", "service", "cost", "reason", "voided_at", "actor_label")
        read_only_fields = fields


class ShipmentQuoteSerializer(QuoteSerializer):
    """One quote kept on the shipment when its label was bought (as rate shopping quoted it)."""


class ShipmentSerializer(ShipmentListSerializer):
    packages = PackageSerializer(many=True, read_only=True)
    quotes = ShipmentQuoteSerializer(
        many=True, read_only=True, help_text="Every service quoted, cheapest first"
    )
    tracking_events = TrackingEventSerializer(many=True, read_only=True)
    voided_labels = VoidedLabelSerializer(many=True, read_only=True)

    class Meta(ShipmentListSerializer.Meta):
        fields = (
            *ShipmentListSerializer.Meta.fields,
            "choice_reason",
            "quotes",
            "packages",
            "tracking_events",
            "voided_labels",
        )
        read_only_fields = fields


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ShipSerializer(serializers.Serializer):
    shipped_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When it left (default: now)"
    )


class ManifestSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    carrier = serializers.CharField(source="carrier.code", read_only=True)
    carrier_name = serializers.CharField(source="carrier.name", read_only=True)

    class Meta:
        model = Manifest
        fields = (
            "id",
            "number",
            "warehouse",
            "warehouse_code",
            "carrier",
            "carrier_name",
            "date",
            "closed_at",
            "shipment_count",
            "package_count",
            "actor_label",
        )
        read_only_fields = fields


class ManifestCreateSerializer(serializers.Serializer):
    warehouse = serializers.CharField(help_text="The node's code or id")
    carrier = serializers.CharField(help_text="The carrier's code or id")

    def validate_warehouse(self, value: str) -> Warehouse:
        value = value.strip()
        found = Warehouse.objects.filter(
            pk=int(value) if value.isdigit() else None
        ) | Warehouse.objects.filter(code__iexact=value)
        request = self.context.get("request")
        actor = getattr(request, "actor", None)
        if actor is not None and actor.role == "warehouse_operator":
            found = found.filter(operators=actor.user)  # another node answers like a missing one
        warehouse = found.first()
        if warehouse is None:
            raise serializers.ValidationError("No such node.")
        return warehouse

    def validate_carrier(self, value: str) -> Carrier:
        value = value.strip()
        found = Carrier.objects.filter(pk=int(value) if value.isdigit() else None) | Carrier.objects.filter(
            code__iexact=value
        )
        carrier = found.first()
        if carrier is None:
            raise serializers.ValidationError("No such carrier.")
        return carrier
