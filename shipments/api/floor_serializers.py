"""Serializers of the floor endpoints: waves, picks, pack sessions and packages."""

from __future__ import annotations

from rest_framework import serializers

from orders.enums import ServiceLevel
from shipments.enums import WaveUnits
from shipments.models import Package, PackageLine, PickTask, Shipment, Wave


class WaveProgressSerializer(serializers.Serializer):
    picks_total = serializers.IntegerField()
    picks_done = serializers.IntegerField(help_text="Picked or short")
    units_total = serializers.IntegerField()
    units_picked = serializers.IntegerField()
    shorts = serializers.IntegerField()
    orders = serializers.IntegerField(source="order_count")


class WaveSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    progress = WaveProgressSerializer(source="*", read_only=True)

    class Meta:
        model = Wave
        fields = (
            "id",
            "number",
            "warehouse",
            "warehouse_code",
            "status",
            "ship_by_date",
            "service_level",
            "units",
            "assigned_to",
            "note",
            "created_at",
            "released_at",
            "picked_at",
            "progress",
        )
        read_only_fields = fields


class WaveCreateSerializer(serializers.Serializer):
    warehouse = serializers.IntegerField(help_text="The node (one you work at)")
    ship_by_date = serializers.DateField(
        required=False, allow_null=True, help_text="Orders due by the end of this local day"
    )
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices, required=False, allow_blank=True)
    units = serializers.ChoiceField(choices=WaveUnits.choices, default=WaveUnits.ANY)
    order_ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        allow_null=True,
        max_length=1000,
        help_text="Exactly these orders",
    )
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)
    assigned_to = serializers.IntegerField(
        required=False, allow_null=True, help_text="A warehouse operator of the node"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class WaveAssignSerializer(serializers.Serializer):
    assigned_to = serializers.IntegerField(
        allow_null=True, help_text="A warehouse operator of the node; null unassigns"
    )


class WaveCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class PickSerializer(serializers.ModelSerializer):
    wave_number = serializers.CharField(source="wave.number", read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    sku = serializers.CharField(source="item.sku", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)

    class Meta:
        model = PickTask
        fields = (
            "id",
            "wave",
            "wave_number",
            "order",
            "order_number",
            "sequence",
            "warehouse",
            "location",
            "location_code",
            "item",
            "sku",
            "item_name",
            "lot_code",
            "quantity",
            "picked_quantity",
            "short_quantity",
            "status",
            "picked_at",
            "picked_by",
        )
        read_only_fields = fields


class PickConfirmSerializer(serializers.Serializer):
    location = serializers.CharField(max_length=64, help_text="The bin code scanned")
    item = serializers.CharField(max_length=64, help_text="The item's barcode or SKU scanned")
    quantity = serializers.IntegerField(default=1, min_value=1, help_text="Units taken with this scan")


class PickShortSerializer(serializers.Serializer):
    found = serializers.IntegerField(
        min_value=0, help_text="Units found in the bin for this pick (scanned ones included)"
    )


class PickShortResultSerializer(serializers.Serializer):
    pick = PickSerializer()
    expected = serializers.IntegerField()
    found = serializers.IntegerField()
    cycle_count = serializers.IntegerField(source="count_id", allow_null=True)
    outcome = serializers.CharField()


class PackageContentSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)

    class Meta:
        model = PackageLine
        fields = ("id", "line", "item", "sku", "lot_code", "quantity")
        read_only_fields = fields


class PackageDetailSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="shipment.order_id", read_only=True)
    box_code = serializers.CharField(source="box_type.code", read_only=True, default=None)
    lines = PackageContentSerializer(many=True, read_only=True)

    class Meta:
        model = Package
        fields = (
            "id",
            "shipment",
            "order",
            "number",
            "box_type",
            "box_code",
            "length_in",
            "width_in",
            "height_in",
            "weight_lb",
            "billable_weight_lb",
            "tracking_number",
            "closed_at",
            "created_at",
            "lines",
        )
        read_only_fields = fields


class PackSessionSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True)
    external_reference = serializers.CharField(source="order.external_reference", read_only=True)
    package_count = serializers.IntegerField(read_only=True)
    units_packed = serializers.IntegerField(read_only=True)

    class Meta:
        model = Shipment
        fields = (
            "id",
            "number",
            "order",
            "order_number",
            "external_reference",
            "warehouse",
            "status",
            "packed_at",
            "package_count",
            "units_packed",
            "created_at",
        )
        read_only_fields = fields


class PackUnitSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="line_id")
    item = serializers.IntegerField(source="item.pk")
    sku = serializers.CharField(source="item.sku")
    name = serializers.CharField(source="item.name")
    lot_code = serializers.CharField()
    picked = serializers.IntegerField()
    packed = serializers.IntegerField()


class BoxProposalSerializer(serializers.Serializer):
    box_type = serializers.IntegerField(source="box.pk")
    box_code = serializers.CharField(source="box.code")
    reason = serializers.CharField()
    fill_ratio = serializers.DecimalField(max_digits=6, decimal_places=3)
    weight_lb = serializers.DecimalField(max_digits=9, decimal_places=3)
    contents = serializers.SerializerMethodField()

    def get_contents(self, proposal) -> list[dict]:
        return [{"sku": item.sku, "quantity": n} for item, n in proposal.contents]


class PackSessionDetailSerializer(PackSessionSerializer):
    units = PackUnitSerializer(many=True, read_only=True, help_text="Picked vs packed per order line and lot")
    packages = PackageDetailSerializer(source="station_packages", many=True, read_only=True)
    proposal = BoxProposalSerializer(
        many=True, read_only=True, help_text="Boxes proposed for what is not boxed yet"
    )
    proposal_message = serializers.CharField(read_only=True)

    class Meta(PackSessionSerializer.Meta):
        fields = (*PackSessionSerializer.Meta.fields, "units", "packages", "proposal", "proposal_message")
        read_only_fields = fields


class PackStartSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    warehouse = serializers.IntegerField(help_text="The node whose picked units are packed")


class PackScanSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text="The item's barcode or SKU scanned")
    quantity = serializers.IntegerField(
        default=1, min_value=1, help_text="Units (a case pack) with this scan"
    )
    package = serializers.IntegerField(required=False, allow_null=True, help_text="Default: the open package")


class PackageCloseSerializer(serializers.Serializer):
    package = serializers.IntegerField(required=False, allow_null=True, help_text="Default: the open package")
    box_type = serializers.IntegerField(
        required=False, allow_null=True, help_text="A box of the node's catalog"
    )
    weight_lb = serializers.DecimalField(max_digits=9, decimal_places=3)
    length_in = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True)
    width_in = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True)
    height_in = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True)
