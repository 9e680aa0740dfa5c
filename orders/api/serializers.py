from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Client
from fulfillment.api.serializers import FastRowsMixin, UpdateRulesMixin
from inventory.api.serializers import ActorChoicesMixin
from orders import selectors
from orders.enums import Channel, HoldKind, OrderStatus, OrderType, ServiceLevel
from orders.models import Allocation, Order, OrderEvent, OrderHold, OrderLine, ShopifyConnection

MAX_BULK = 500
SHIP_TO_PARTS = (
    "name",
    "company",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "phone",
    "email",
)
REQUIRED_PARTS = ("name", "address1", "city", "zip")


class ShipToSerializer(serializers.Serializer):
    """The ship-to address as one object; stored as the order's ``ship_to_*`` columns."""

    name = serializers.CharField(max_length=200, source="ship_to_name")
    company = serializers.CharField(
        max_length=200, source="ship_to_company", required=False, allow_blank=True
    )
    address1 = serializers.CharField(max_length=200, source="ship_to_address1")
    address2 = serializers.CharField(
        max_length=200, source="ship_to_address2", required=False, allow_blank=True
    )
    city = serializers.CharField(max_length=100, source="ship_to_city")
    state = serializers.CharField(
        max_length=40, source="ship_to_state", required=False, allow_blank=True, help_text="US: the USPS code"
    )
    zip = serializers.CharField(max_length=20, source="ship_to_zip", help_text="US: 12345 or 12345-6789")
    country = serializers.CharField(
        max_length=2, source="ship_to_country", required=False, default="US", help_text="ISO 3166-1 alpha-2"
    )
    phone = serializers.CharField(max_length=40, source="ship_to_phone", required=False, allow_blank=True)
    email = serializers.EmailField(source="ship_to_email", required=False, allow_blank=True)


class ShipToUpdateSerializer(ShipToSerializer):
    """Every part optional: the parts given replace the order's."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
            if isinstance(field, serializers.CharField) and field.source not in (
                f"ship_to_{p}" for p in REQUIRED_PARTS
            ):
                field.allow_blank = True
        fields["country"].default = serializers.empty
        return fields


class LineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(
        max_length=64, help_text="SKU or barcode; an unknown one puts the order on hold"
    )
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = serializers.DecimalField(
        max_digits=19, decimal_places=4, min_value=0, required=False, allow_null=True
    )
    customs_value = serializers.DecimalField(
        max_digits=19, decimal_places=4, min_value=0, required=False, allow_null=True
    )


class OrderCreateSerializer(ActorChoicesMixin, serializers.Serializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )
    external_reference = serializers.CharField(
        max_length=100, help_text="Your order number; unique per client and channel"
    )
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    order_type = serializers.ChoiceField(choices=OrderType.choices, default=OrderType.DTC)
    po_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    retailer = serializers.CharField(max_length=100, required=False, allow_blank=True)
    ship_window_start = serializers.DateField(required=False, allow_null=True)
    ship_window_end = serializers.DateField(required=False, allow_null=True)
    must_arrive_by = serializers.DateField(required=False, allow_null=True)
    ship_to = ShipToSerializer()
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    carrier_service = serializers.CharField(max_length=64, required=False, allow_blank=True)
    lines = serializers.ListField(child=LineInputSerializer(), allow_empty=False, max_length=1000)
    gift_message = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=50)
    notes = serializers.CharField(required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, min_length=3, required=False)

    def validate(self, attrs):
        start, end = attrs.get("ship_window_start"), attrs.get("ship_window_end")
        if start and end and end < start:
            raise serializers.ValidationError({"ship_window_end": ["Ends before the window starts."]})
        return attrs


class _OrderObject(serializers.DictField):
    """An order of a bulk body: any JSON object, taken as it is (each order is validated on its
    own afterwards, like the body of ``POST /api/v1/orders/``). ``DictField`` would run its
    unvalidated child over every key of every order to return the same dict."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return data


class BulkCreateSerializer(ActorChoicesMixin, serializers.Serializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )
    orders = serializers.ListField(
        child=_OrderObject(),
        allow_empty=False,
        max_length=MAX_BULK,
        help_text=f"Up to {MAX_BULK} orders, each shaped like the body of `POST /api/v1/orders/` "
        "(without `client`)",
    )


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the request's `orders`")
    status = serializers.ChoiceField(choices=["created", "duplicate", "invalid"])
    id = serializers.IntegerField(required=False, help_text="The new order (created)")
    existing_id = serializers.IntegerField(required=False, help_text="The order it duplicates (duplicate)")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field (dotted for nested) -> messages (invalid)",
    )


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = BulkResultSerializer(many=True)


# --- actions -----------------------------------------------------------------------------------


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class HoldSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=HoldKind.choices, default=HoldKind.CLIENT, help_text="Brands place client holds only"
    )
    reason = serializers.CharField(max_length=500)


class ReleaseSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=HoldKind.choices, required=False, help_text="Default: every open hold you may release"
    )


class UpdateLinesSerializer(serializers.Serializer):
    lines = serializers.ListField(child=LineInputSerializer(), allow_empty=False, max_length=1000)


# --- output ------------------------------------------------------------------------------------


class OrderLineSerializer(serializers.ModelSerializer):
    item_sku = serializers.CharField(source="item.sku", read_only=True, default=None)

    class Meta:
        model = OrderLine
        fields = ("id", "sku", "item", "item_sku", "quantity", "unit_price", "customs_value")
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)

    class Meta:
        model = Allocation
        fields = (
            "id",
            "line",
            "item",
            "sku",
            "warehouse",
            "warehouse_code",
            "location",
            "location_code",
            "lot_code",
            "quantity",
            "created_at",
            "released_at",
        )
        read_only_fields = fields


class HoldOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderHold
        fields = ("id", "kind", "reason", "placed_at", "actor_label", "released_at", "released_by")
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ("from_status", "to_status", "reason", "actor_label", "created_at")
        read_only_fields = fields


class ShipToOutSerializer(ShipToSerializer):
    pass


class OrderListSerializer(FastRowsMixin, serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True, default=None)
    ship_to = ShipToOutSerializer(source="*", read_only=True)
    line_count = serializers.IntegerField(read_only=True)
    units = serializers.IntegerField(read_only=True)
    late = serializers.SerializerMethodField(help_text="Not shipped and ship-by has passed")
    at_risk = serializers.SerializerMethodField(help_text="Not packed and ship-by within 2 hours")

    class Meta:
        model = Order
        fields = (
            "id",
            "number",
            "client",
            "external_reference",
            "channel",
            "order_type",
            "status",
            "warehouse",
            "warehouse_code",
            "service_level",
            "carrier_service",
            "ship_to",
            "line_count",
            "units",
            "received_at",
            "released_at",
            "ship_by",
            "allocated_at",
            "shipped_at",
            "cancelled_at",
            "late",
            "at_risk",
        )
        read_only_fields = fields

    def _now(self):
        if "now" not in self.context:
            self.context["now"] = timezone.now()
        return self.context["now"]

    def get_late(self, order: Order) -> bool:
        now = self._now()
        return bool(
            order.ship_by and order.ship_by < now and order.status not in selectors.NOT_YET_SHIPPED_EXCLUDED
        )

    def get_at_risk(self, order: Order) -> bool:
        now = self._now()
        return bool(
            order.ship_by
            and now <= order.ship_by <= now + selectors.AT_RISK_WINDOW
            and order.status not in selectors.PACKED_OR_LATER
        )


class IncomingASNSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    eta = serializers.DateField(allow_null=True)
    warehouse = serializers.CharField(source="warehouse.code")


class OrderSerializer(OrderListSerializer):
    incoming_asns = serializers.SerializerMethodField(
        help_text="For a backordered order: the open ASNs bringing what it needs, soonest ETA first"
    )
    lines = OrderLineSerializer(many=True, read_only=True)
    allocations = AllocationSerializer(many=True, read_only=True)
    holds = HoldOutSerializer(many=True, read_only=True)
    events = EventSerializer(many=True, read_only=True, help_text="The timeline, oldest first")

    class Meta(OrderListSerializer.Meta):
        fields = (
            *OrderListSerializer.Meta.fields,
            "po_number",
            "retailer",
            "ship_window_start",
            "ship_window_end",
            "must_arrive_by",
            "gift_message",
            "tags",
            "notes",
            "currency",
            "ever_backordered",
            "delivered_at",
            "created_at",
            "updated_at",
            "lines",
            "allocations",
            "holds",
            "events",
            "incoming_asns",
        )
        read_only_fields = fields

    @extend_schema_field(IncomingASNSerializer(many=True))
    def get_incoming_asns(self, order) -> list[dict]:
        if order.status != OrderStatus.BACKORDERED:
            return []  # what ``selectors.incoming_asns`` gives such an order, without its query set
        return IncomingASNSerializer(selectors.incoming_asns(order=order), many=True).data


class DuplicateErrorSerializer(serializers.Serializer):
    error = serializers.DictField(help_text="`code` duplicate_order, `existing_id`: the order it duplicates")


# --- CSV ---------------------------------------------------------------------------------------


class OrderImportSerializer(ActorChoicesMixin, serializers.Serializer):
    file = serializers.FileField(help_text="A CSV file (UTF-8, header row)")
    dry_run = serializers.BooleanField(default=False, help_text="Validate only; write nothing")
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )


class OrderImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line number in the file (the header is line 1)")
    column = serializers.CharField()
    message = serializers.CharField()


class OrderImportPreviewSerializer(serializers.Serializer):
    external_reference = serializers.CharField()
    lines = serializers.IntegerField()
    units = serializers.IntegerField()
    ship_to_name = serializers.CharField()
    holds = serializers.ListField(child=serializers.CharField(), help_text="Holds the order will get")


class OrderImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    valid = serializers.BooleanField()
    rows = serializers.IntegerField()
    orders = serializers.IntegerField(help_text="Orders in the file")
    created = serializers.IntegerField()
    preview = OrderImportPreviewSerializer(many=True)
    errors = OrderImportErrorSerializer(many=True)


# --- Shopify -----------------------------------------------------------------------------------


class ShopifyConnectionSerializer(UpdateRulesMixin, ActorChoicesMixin, serializers.ModelSerializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )
    shop_domain = serializers.CharField(max_length=255, help_text="The shop's myshopify.com domain")
    webhook_secret = serializers.CharField(
        write_only=True,
        max_length=255,
        help_text="The signing secret Shopify shows for webhooks; write-only, never returned",
    )
    webhook_secret_set = serializers.SerializerMethodField()
    webhook_secret_hint = serializers.SerializerMethodField(help_text="The last 4 characters, masked")
    webhook_url = serializers.SerializerMethodField(
        help_text="Subscribe Shopify's `orders/create` webhook (JSON) to this URL"
    )

    class Meta:
        model = ShopifyConnection
        fields = (
            "id",
            "client",
            "shop_domain",
            "webhook_secret",
            "webhook_secret_set",
            "webhook_secret_hint",
            "webhook_url",
            "active",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("created_at", "updated_at")
        validators: list = []

    fixed_on_update = ("client",)
    optional_on_update = ("webhook_secret",)

    def get_webhook_secret_set(self, connection: ShopifyConnection) -> bool:
        return bool(connection.webhook_secret)

    def get_webhook_secret_hint(self, connection: ShopifyConnection) -> str:
        secret = connection.webhook_secret
        return f"••••{secret[-4:]}" if len(secret) >= 12 else ("••••" if secret else "")

    def get_webhook_url(self, connection: ShopifyConnection) -> str:
        from django.urls import reverse

        path = reverse("shopify-orders-create", kwargs={"token": connection.token})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
