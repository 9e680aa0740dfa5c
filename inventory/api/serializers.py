from __future__ import annotations

from rest_framework import serializers

from accounts.models import Client, Warehouse
from accounts.selectors import warehouse_list
from fulfillment.api.serializers import FastRowsMixin, UpdateRulesMixin
from inventory.enums import AdjustmentCode, LocationType, MilestoneKind, ReceiptCondition
from inventory.models import (
    ASN,
    ASNEvent,
    ASNLine,
    ASNMilestone,
    Balance,
    CycleCount,
    CycleCountLine,
    Item,
    ItemBarcode,
    KitComponent,
    Location,
    Move,
    Receipt,
    Transfer,
)
from inventory.services import ITEM_FIELDS


def visible_choices(model, actor):
    """The objects of ``model`` that the actor may name in a request: its clients, the nodes it
    sees (a client's own nodes, a warehouse operator's), their bins, its clients' items. Any other
    id is then "invalid pk", exactly like an id that does not exist (tenancy: never a 403)."""
    if model is Client:
        return Client.objects.filter(actor.client_q("pk"))
    if model is Warehouse:
        return warehouse_list(actor=actor).prefetch_related(None)
    if model is Location:
        return Location.objects.filter(warehouse__in=warehouse_list(actor=actor).prefetch_related(None))
    if model is Item:
        return Item.objects.all()  # scoped to the actor's clients by the request
    return None


class ActorChoicesMixin:
    """Restricts every writable relation to what the request's actor sees (``visible_choices``)."""

    def get_fields(self):
        fields = super().get_fields()
        actor = getattr(self.context.get("request"), "actor", None)
        if actor is None:  # the schema generator: no request, no choices needed
            return fields
        for field in fields.values():
            relation = getattr(field, "child_relation", field)
            if field.read_only or not isinstance(relation, serializers.RelatedField):
                continue
            if (
                relation.queryset is not None
                and (qs := visible_choices(relation.queryset.model, actor)) is not None
            ):
                relation.queryset = qs
        return fields


# --- catalog -----------------------------------------------------------------------------------


class BarcodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ItemBarcode
        validators: list = []  # uniqueness is the service's check, which names the field
        fields = ("code", "kind")
        extra_kwargs = {"code": {"validators": []}}


class ComponentSerializer(serializers.Serializer):
    sku = serializers.CharField(help_text="The component's SKU (a plain item of the same client)")
    quantity = serializers.IntegerField(min_value=1, help_text="Units of the component in one kit")

    def to_representation(self, instance):
        if isinstance(instance, KitComponent):
            return {"sku": instance.component.sku, "quantity": instance.quantity}
        return super().to_representation(instance)


class ItemSerializer(UpdateRulesMixin, ActorChoicesMixin, serializers.ModelSerializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )
    barcodes = BarcodeSerializer(many=True, required=False)
    components = ComponentSerializer(many=True, required=False, help_text="For kits")
    on_hand = serializers.IntegerField(read_only=True, help_text="Units on hand, every location")
    available = serializers.IntegerField(read_only=True, help_text="Sellable units not allocated")

    class Meta:
        model = Item
        validators: list = []  # uniqueness is the service's check, which names the field
        fields = (
            "id",
            "client",
            "sku",
            "barcodes",
            "is_kit",
            "components",
            *ITEM_FIELDS,
            "on_hand",
            "available",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("created_at", "updated_at")

    fixed_on_update = ("client", "sku", "is_kit")


class NodeStockSerializer(serializers.Serializer):
    warehouse_id = serializers.IntegerField()
    warehouse_code = serializers.CharField()
    on_hand = serializers.IntegerField()
    allocated = serializers.IntegerField()
    available = serializers.IntegerField(help_text="Sellable (pick and reserve) units not allocated")


class ImportSerializer(ActorChoicesMixin, serializers.Serializer):
    file = serializers.FileField(help_text="A CSV file (UTF-8, header row)")
    dry_run = serializers.BooleanField(default=False, help_text="Validate only; write nothing")
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line number in the file (the header is line 1)")
    column = serializers.CharField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    valid = serializers.BooleanField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True)


# --- locations ---------------------------------------------------------------------------------


class LocationSerializer(UpdateRulesMixin, ActorChoicesMixin, serializers.ModelSerializer):
    units = serializers.IntegerField(read_only=True, help_text="Units on hand in the bin, every client")

    class Meta:
        model = Location
        validators: list = []  # uniqueness is the service's check, which names the field
        fields = (
            "id",
            "warehouse",
            "code",
            "zone",
            "aisle",
            "bay",
            "level",
            "type",
            "pick_sequence",
            "active",
            "units",
        )
        extra_kwargs = {"code": {"validators": []}}

    fixed_on_update = ("warehouse", "code")


class LocationBulkSerializer(ActorChoicesMixin, serializers.Serializer):
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    zone = serializers.CharField(max_length=10)
    aisles = serializers.CharField(help_text="A value or a range: 01-12")
    bays = serializers.CharField(help_text="A value or a range: 01-20")
    levels = serializers.CharField(help_text="A value or a range: A-D or 1-4")
    type = serializers.ChoiceField(choices=LocationType.choices)
    start_sequence = serializers.IntegerField(required=False, min_value=0)


class LocationBulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    existing = serializers.ListField(child=serializers.CharField(), help_text="Codes that existed already")


# --- balances, ledger, adjustments, transfers --------------------------------------------------


class BalanceSerializer(FastRowsMixin, serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    location_type = serializers.CharField(source="location.type", read_only=True)
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = Balance
        fields = (
            "id",
            "client",
            "item",
            "sku",
            "warehouse",
            "warehouse_code",
            "location",
            "location_code",
            "location_type",
            "lot_code",
            "expiry_date",
            "on_hand",
            "allocated",
            "available",
            "received_at",
        )
        read_only_fields = fields


class BalanceTotalSerializer(serializers.Serializer):
    client_id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    item__sku = serializers.CharField()
    warehouse_id = serializers.IntegerField()
    warehouse__code = serializers.CharField()
    on_hand = serializers.IntegerField()
    allocated = serializers.IntegerField()
    available = serializers.IntegerField()


class MoveSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)

    class Meta:
        model = Move
        fields = (
            "id",
            "client",
            "item",
            "sku",
            "warehouse",
            "warehouse_code",
            "location",
            "location_code",
            "lot_code",
            "expiry_date",
            "quantity",
            "reason",
            "adjustment_code",
            "document_type",
            "document_id",
            "document_ref",
            "reverses",
            "note",
            "actor_label",
            "created_at",
        )
        read_only_fields = fields


class AdjustmentSerializer(ActorChoicesMixin, serializers.Serializer):
    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all())
    sku = serializers.CharField()
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    quantity = serializers.IntegerField(help_text="Signed: positive adds units, negative removes them")
    code = serializers.ChoiceField(choices=AdjustmentCode.choices, help_text="Reason code")
    lot_code = serializers.CharField(required=False, allow_blank=True, default="")
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(help_text="Why; the brand sees it in its ledger")


class RelocationSerializer(ActorChoicesMixin, serializers.Serializer):
    balance = serializers.IntegerField(help_text="The balance to move units out of")
    to_location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    quantity = serializers.IntegerField(min_value=1)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class TransferSerializer(ActorChoicesMixin, serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    balance = serializers.IntegerField(write_only=True, help_text="The balance to send units from")

    class Meta:
        model = Transfer
        fields = (
            "id",
            "client",
            "item",
            "sku",
            "balance",
            "from_warehouse",
            "from_location",
            "to_warehouse",
            "to_location",
            "lot_code",
            "expiry_date",
            "quantity",
            "status",
            "reference",
            "shipped_at",
            "received_at",
            "actor_label",
        )
        read_only_fields = (
            "client",
            "item",
            "from_warehouse",
            "from_location",
            "to_location",
            "lot_code",
            "expiry_date",
            "status",
            "shipped_at",
            "received_at",
            "actor_label",
        )


class TransferReceiveSerializer(ActorChoicesMixin, serializers.Serializer):
    to_location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(),
        required=False,
        allow_null=True,
        help_text="Default: the receiving dock",
    )


class ReverseSerializer(serializers.Serializer):
    note = serializers.CharField(help_text="Why the move is reversed")


# --- ASNs --------------------------------------------------------------------------------------


class ItemCodeField(serializers.CharField):
    """Written as a SKU or a barcode; read back as the item's SKU."""

    def get_attribute(self, instance):
        return instance.item.sku


class ASNLineSerializer(serializers.ModelSerializer):
    sku = ItemCodeField(help_text="SKU or barcode of the item (read back as the SKU)")
    expected_quantity = serializers.IntegerField(min_value=1)
    over_quantity = serializers.IntegerField(read_only=True)
    short_quantity = serializers.IntegerField(read_only=True)
    discrepancies = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ASNLine
        fields = (
            "id",
            "sku",
            "item",
            "expected_quantity",
            "lot_code",
            "expiry_date",
            "received_quantity",
            "damaged_quantity",
            "putaway_quantity",
            "unexpected",
            "over_quantity",
            "short_quantity",
            "discrepancies",
            "discrepancy_note",
        )
        read_only_fields = (
            "item",
            "received_quantity",
            "damaged_quantity",
            "putaway_quantity",
            "unexpected",
            "discrepancy_note",
        )


class ASNEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ASNEvent
        fields = ("from_status", "to_status", "reason", "actor_label", "created_at")


class ASNMilestoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = ASNMilestone
        fields = ("id", "kind", "occurred_at", "eta", "note", "actor_label", "created_at")
        read_only_fields = ("actor_label", "created_at")
        extra_kwargs = {"occurred_at": {"required": False}}


class ASNSerializer(UpdateRulesMixin, ActorChoicesMixin, serializers.ModelSerializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    number = serializers.CharField(read_only=True)
    lines = ASNLineSerializer(many=True)
    submit = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="Submit at once"
    )
    line_count = serializers.IntegerField(read_only=True)
    expected_units = serializers.IntegerField(read_only=True)
    received_units = serializers.IntegerField(read_only=True)
    putaway_units = serializers.IntegerField(read_only=True)
    waiting_orders = serializers.IntegerField(
        read_only=True, help_text="Backordered orders needing an item on it"
    )
    waiting_value = serializers.DecimalField(
        max_digits=19, decimal_places=4, read_only=True, help_text="Their value (unit price x quantity)"
    )
    milestones = ASNMilestoneSerializer(many=True, read_only=True)
    events = ASNEventSerializer(many=True, read_only=True)

    class Meta:
        model = ASN
        validators: list = []  # uniqueness is the service's check, which names the field
        fields = (
            "id",
            "number",
            "client",
            "warehouse",
            "reference",
            "po_reference",
            "sender",
            "carrier",
            "tracking_number",
            "bol_number",
            "container_number",
            "eta",
            "cartons",
            "pallets",
            "notes",
            "status",
            "submit",
            "submitted_at",
            "arrived_at",
            "received_at",
            "stocked_at",
            "dock_to_stock_deadline",
            "closed_at",
            "cancelled_at",
            "line_count",
            "expected_units",
            "received_units",
            "putaway_units",
            "waiting_orders",
            "waiting_value",
            "lines",
            "milestones",
            "events",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "status",
            "submitted_at",
            "arrived_at",
            "received_at",
            "stocked_at",
            "dock_to_stock_deadline",
            "closed_at",
            "cancelled_at",
            "created_at",
            "updated_at",
        )
        extra_kwargs = {"reference": {"validators": []}}

    fixed_on_update = ("client", "warehouse")
    optional_on_update = ("lines",)


class ASNListSerializer(ASNSerializer):
    class Meta(ASNSerializer.Meta):
        fields = tuple(
            f for f in ASNSerializer.Meta.fields if f not in ("lines", "milestones", "events", "submit")
        )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ArriveSerializer(serializers.Serializer):
    arrived_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now")


class ReceiveSerializer(serializers.Serializer):
    line = serializers.IntegerField(required=False, help_text="An ASN line id, or give `code`")
    code = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Scanned barcode or SKU"
    )
    quantity = serializers.IntegerField(help_text="Units counted in this scan or entry")
    condition = serializers.ChoiceField(choices=ReceiptCondition.choices, default=ReceiptCondition.GOOD)
    lot_code = serializers.CharField(required=False, allow_blank=True, default="")
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)
    session = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


class ReceiptSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)

    class Meta:
        model = Receipt
        fields = (
            "id",
            "line",
            "item",
            "sku",
            "quantity",
            "condition",
            "lot_code",
            "expiry_date",
            "location",
            "location_code",
            "move",
            "session",
            "actor_label",
            "created_at",
        )


class ReceiveResultSerializer(serializers.Serializer):
    receipt = ReceiptSerializer()
    line = ASNLineSerializer()
    over_quantity = serializers.IntegerField()
    unexpected = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())


class PutawaySerializer(ActorChoicesMixin, serializers.Serializer):
    line = serializers.IntegerField()
    to_location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    quantity = serializers.IntegerField()


class CloseSerializer(serializers.Serializer):
    notes = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="ASN line id -> discrepancy note",
    )


class MilestoneCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MilestoneKind.choices)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    eta = serializers.DateField(required=False, allow_null=True, help_text="An updated ETA")
    note = serializers.CharField(required=False, allow_blank=True, default="")


# --- cycle counts ------------------------------------------------------------------------------


class CycleCountLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    variance = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = CycleCountLine
        fields = (
            "id",
            "client",
            "item",
            "sku",
            "location",
            "location_code",
            "lot_code",
            "system_quantity",
            "counted_quantity",
            "variance",
            "counted_at",
            "counted_by",
            "correction_move",
        )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if self.context.get("blind"):
            # The counter does not see what the system expects until the count is submitted.
            data["system_quantity"] = data["variance"] = None
        return data


class CycleCountSerializer(ActorChoicesMixin, serializers.ModelSerializer):
    locations = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), many=True, required=False, write_only=True
    )
    items = serializers.PrimaryKeyRelatedField(
        queryset=Item.objects.none(), many=True, required=False, write_only=True
    )
    line_count = serializers.IntegerField(read_only=True)
    counted_lines = serializers.IntegerField(read_only=True)

    class Meta:
        model = CycleCount
        fields = (
            "id",
            "warehouse",
            "kind",
            "status",
            "reason",
            "locations",
            "items",
            "line_count",
            "counted_lines",
            "actor_label",
            "created_at",
            "submitted_at",
            "approved_at",
            "approved_by",
        )
        read_only_fields = (
            "kind",
            "status",
            "actor_label",
            "created_at",
            "submitted_at",
            "approved_at",
            "approved_by",
        )


class CountEntrySerializer(ActorChoicesMixin, serializers.Serializer):
    line = serializers.IntegerField(required=False, help_text="A count line id, or give location and code")
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all(), required=False)
    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all(), required=False)
    code = serializers.CharField(required=False, help_text="SKU or barcode of an item found in the bin")
    lot_code = serializers.CharField(required=False, allow_blank=True, default="")
    counted_quantity = serializers.IntegerField(min_value=0)
