"""Orders, their lines, holds, status events and allocations (reservations of balances)."""

from __future__ import annotations

import secrets

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from accounts.models import Client, Warehouse
from inventory.models import ActorStamp, Balance, Item, Location

from .enums import Channel, HoldKind, OrderStatus, OrderType, ServiceLevel


class Order(models.Model):
    # No index of its own: every index below starts with the client (each order write maintained
    # one index more for nothing).
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="orders", db_index=False)
    external_reference = models.CharField(max_length=100)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.API)
    order_type = models.CharField(max_length=16, choices=OrderType.choices, default=OrderType.DTC)
    # Wholesale / retail
    po_number = models.CharField("PO number", max_length=64, blank=True)
    retailer = models.CharField(max_length=100, blank=True)
    ship_window_start = models.DateField(null=True, blank=True)
    ship_window_end = models.DateField(null=True, blank=True)
    must_arrive_by = models.DateField(null=True, blank=True)
    # Ship-to
    ship_to_name = models.CharField(max_length=200)
    ship_to_company = models.CharField(max_length=200, blank=True)
    ship_to_address1 = models.CharField(max_length=200)
    ship_to_address2 = models.CharField(max_length=200, blank=True)
    ship_to_city = models.CharField(max_length=100)
    ship_to_state = models.CharField(max_length=40, blank=True)
    ship_to_zip = models.CharField("ship-to ZIP / postal code", max_length=20)
    ship_to_country = models.CharField(max_length=2, default="US")
    ship_to_phone = models.CharField(max_length=40, blank=True)
    ship_to_email = models.EmailField(blank=True)
    service_level = models.CharField(
        max_length=16, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )
    carrier_service = models.CharField(max_length=64, blank=True)
    gift_message = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.RECEIVED)
    warehouse = models.ForeignKey(
        Warehouse,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="Routed node",
    )
    received_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True, help_text="When the order last became workable")
    ship_by = models.DateTimeField(null=True, blank=True)
    ever_backordered = models.BooleanField(default=False)
    allocated_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "channel", "external_reference"], name="uniq_order_reference_per_channel"
            )
        ]
        indexes = [
            models.Index(fields=["client", "status", "ship_by"], name="order_client_status_shipby"),
            models.Index(fields=["client", "received_at"], name="order_client_received"),
            # The order list: one client's orders of a status, newest first (its default page). The
            # id makes it the list's whole order, so no sort sits above it: without that, the
            # planner takes (client, received_at) and walks the newest orders, none delivered yet.
            models.Index(
                fields=["client", "status", "received_at", "id"], name="order_client_status_received"
            ),
            # Reports: a client's orders shipped in a period (KPIs, QBRs, the shipping breakdowns).
            models.Index(fields=["client", "shipped_at"], name="order_client_shipped"),
            models.Index(fields=["status", "ship_by"], name="order_status_shipby"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"ORD-{self.pk:07d}" if self.pk else "ORD (new)"


class OrderLine(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField("SKU", max_length=64, help_text="As the order gave it")
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
    customs_value = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive")
        ]
        # The order list's ``sku`` filter: lines of a SKU as the order gave it (or a barcode).
        indexes = [models.Index(fields=["sku"], name="orderline_sku")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderHold(ActorStamp):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    kind = models.CharField(max_length=16, choices=HoldKind.choices)
    reason = models.CharField(max_length=500)
    placed_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=200, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["placed_at", "id"]
        indexes = [models.Index(fields=["order", "released_at"], name="hold_order_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason}"


class OrderEvent(ActorStamp):
    """One status transition (or hold, release, edit) of an order: who, when, from, to, why."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} -> {self.to_status}"


class Allocation(models.Model):
    """Units of one balance reserved for one order line (for a kit line: one of its components).
    Active while ``released_at`` is null; a balance's ``allocated`` is the sum of its active rows."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="allocations")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    # Indexed by allocation_balance_active (balance, released_at), whose first column serves alone.
    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="allocations", db_index=False)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot_code = models.CharField(max_length=64, blank=True, default="")
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_quantity_positive")
        ]
        indexes = [models.Index(fields=["balance", "released_at"], name="allocation_balance_active")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.item_id}@{self.location_id}"


def new_connection_token() -> str:
    """The path segment of a connection's webhook URL: unguessable, so the URL names no client."""
    return secrets.token_urlsafe(24)


shop_domain_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$", "Use the shop's myshopify.com domain, e.g. acme.myshopify.com."
)


class ShopifyConnection(models.Model):
    """A client's Shopify store: where its ``orders/create`` webhook lands and the secret that signs
    it. The secret is kept as given (the HMAC needs it) and never shown again in full."""

    client = models.OneToOneField(Client, on_delete=models.PROTECT, related_name="shopify_connection")
    shop_domain = models.CharField(max_length=255, validators=[shop_domain_validator])
    token = models.CharField(max_length=64, unique=True, default=new_connection_token, editable=False)
    webhook_secret = models.CharField(max_length=255)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")
    # The webhook authenticates by signature, before any tenant is known (like API keys).
    all_objects = models.Manager()  # noqa: DJ012

    class Meta:
        base_manager_name = "all_objects"

    def __str__(self) -> str:
        return self.shop_domain
