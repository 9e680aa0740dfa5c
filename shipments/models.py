"""Waves and picks, packing, shipments and their packages, carriers and rate cards, tracking,
manifests, and the outbound events (the outbox) with webhook subscriptions and deliveries.

Operator-owned rows (waves, manifests, box types, carriers, rate cards) hold no client; every row
that names a client's goods or orders carries ``client`` and the scoped manager (fails closed).
"""

from __future__ import annotations

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from accounts.models import Client, User, Warehouse
from inventory.models import ActorStamp, CycleCount, Item, Location
from orders.models import Allocation, Order, OrderLine

from .enums import (
    CarrierAdapterKind,
    DeliveryStatus,
    PickStatus,
    ShipmentStatus,
    TrackingFormat,
    TrackingSource,
    TrackingStatus,
    WaveStatus,
    WaveUnits,
)


def money(label: str | None = None, **kwargs) -> models.DecimalField:
    return models.DecimalField(label, max_digits=19, decimal_places=4, **kwargs)


def inches(label: str) -> models.DecimalField:
    return models.DecimalField(label, max_digits=7, decimal_places=2, validators=[MinValueValidator(0)])


def pounds(label: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        label, max_digits=9, decimal_places=3, validators=[MinValueValidator(0)], **kwargs
    )


# --- the node's box catalog ----------------------------------------------------------------------


class BoxType(models.Model):
    """A carton or mailer a node packs into: inner dimensions, the weight it carries, its cost."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="box_types")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    length_in = inches("inner length (in)")
    width_in = inches("inner width (in)")
    height_in = inches("inner height (in)")
    max_weight_lb = pounds("maximum weight (lb)", default=50)
    tare_weight_lb = pounds("empty weight (lb)", default=0)
    cost = money(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse", "code"]
        constraints = [models.UniqueConstraint(fields=["warehouse", "code"], name="uniq_box_code_per_node")]

    def __str__(self) -> str:
        return f"{self.code} ({self.length_in}x{self.width_in}x{self.height_in})"

    @property
    def volume(self):
        return self.length_in * self.width_in * self.height_in


# --- carriers, services and rate cards -----------------------------------------------------------


class Carrier(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    adapter = models.CharField(
        max_length=16, choices=CarrierAdapterKind.choices, default=CarrierAdapterKind.RATE_CARD
    )
    tracking_format = models.CharField(
        max_length=16, choices=TrackingFormat.choices, default=TrackingFormat.GENERIC
    )
    account_number = models.CharField(
        max_length=32, blank=True, help_text="The shipper number printed in tracking numbers and on labels"
    )
    dim_divisor = models.PositiveIntegerField(
        "dimensional weight divisor", default=139, validators=[MinValueValidator(1)]
    )
    fuel_surcharge_pct = models.DecimalField(
        "fuel surcharge (%)", max_digits=6, decimal_places=3, default=0, validators=[MinValueValidator(0)]
    )
    residential_surcharge = money("residential surcharge", default=0, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="USD")
    tracking_url = models.CharField(
        max_length=200, blank=True, help_text="Public tracking page; {tracking_number} is replaced"
    )
    webhook_token = models.CharField(
        max_length=64,
        unique=True,
        default=secrets.token_urlsafe,
        editable=False,
        help_text="The path segment of this carrier's tracking webhook",
    )
    webhook_secret = models.CharField(
        max_length=128, default=secrets.token_urlsafe, help_text="Signs the carrier's tracking webhooks"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_transit_days() -> list[int]:
    return [1, 2, 3, 3, 4, 4, 5, 5]


class CarrierService(models.Model):
    """A carrier's service (Ground, 2Day, ...): transit business days by zone 1-8 and a rate card."""

    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="services")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=100)
    transit_days = models.JSONField(
        default=default_transit_days, help_text="Business days in transit for zones 1 to 8"
    )
    max_weight_lb = models.PositiveIntegerField(default=150)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["carrier", "code"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="uniq_service_code_per_carrier")
        ]

    def __str__(self) -> str:
        return f"{self.carrier.name} {self.name}"

    def transit_days_for(self, zone: int) -> int:
        return int(self.transit_days[zone - 1])


class Rate(models.Model):
    """One cell of a rate card: the price of a parcel up to ``weight_lb`` billable pounds to ``zone``."""

    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="rates")
    zone = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(8)])
    weight_lb = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    price = money(validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["service", "zone", "weight_lb"]
        constraints = [
            models.UniqueConstraint(fields=["service", "zone", "weight_lb"], name="uniq_rate_cell"),
            models.CheckConstraint(condition=Q(zone__gte=1, zone__lte=8), name="rate_zone_1_to_8"),
        ]

    def __str__(self) -> str:
        return f"{self.service} zone {self.zone} ≤{self.weight_lb} lb: {self.price}"


# --- waves and picks -----------------------------------------------------------------------------


class Wave(ActorStamp):
    """Allocated orders of one node grouped for picking. Operator-owned: it holds many brands' orders."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="waves")
    status = models.CharField(max_length=12, choices=WaveStatus.choices, default=WaveStatus.PLANNED)
    ship_by_date = models.DateField(null=True, blank=True, help_text="Orders due by the end of this day")
    service_level = models.CharField(max_length=16, blank=True)
    units = models.CharField(max_length=8, choices=WaveUnits.choices, default=WaveUnits.ANY)
    assigned_to = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_waves"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    picked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["warehouse", "status"], name="wave_node_status")]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"WV-{self.pk:06d}" if self.pk else "WV (new)"


class PickTask(models.Model):
    """One line of a pick list: units of one allocation to take from one bin (pick-path order)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="picks")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="picks")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="+")
    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="picks")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot_code = models.CharField(max_length=64, blank=True, default="")
    sequence = models.PositiveIntegerField(help_text="Position in the wave's pick path")
    quantity = models.PositiveIntegerField()
    picked_quantity = models.PositiveIntegerField(default=0)
    short_quantity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=PickStatus.choices, default=PickStatus.OPEN)
    picked_at = models.DateTimeField(null=True, blank=True)
    picked_by = models.CharField(max_length=200, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["wave", "sequence", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="pick_quantity_positive"),
            models.CheckConstraint(
                condition=Q(picked_quantity__lte=models.F("quantity") - models.F("short_quantity")),
                name="pick_not_over_quantity",
            ),
        ]
        indexes = [models.Index(fields=["wave", "status", "sequence"], name="pick_wave_status_seq")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.item_id} @ {self.location_id}"


class ShortPick(ActorStamp):
    """A discrepancy found while picking: fewer units in the bin than the pick list asked for."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    pick = models.ForeignKey(PickTask, on_delete=models.CASCADE, related_name="shorts")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="short_picks")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    expected = models.PositiveIntegerField()
    found = models.PositiveIntegerField()
    count = models.ForeignKey(
        CycleCount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The cycle count of the location it triggered",
    )
    outcome = models.CharField(max_length=300, blank=True, help_text="How the shortfall was re-allocated")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"short {self.expected - self.found} at {self.location_id}"


# --- manifests, shipments, packages --------------------------------------------------------------


class Manifest(ActorStamp):
    """The end-of-day hand-over of one carrier's parcels at one node."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="manifests")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="manifests")
    date = models.DateField(help_text="The node's local day")
    closed_at = models.DateTimeField()
    shipment_count = models.PositiveIntegerField(default=0)
    package_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-closed_at", "-id"]
        indexes = [models.Index(fields=["warehouse", "carrier", "date"], name="manifest_node_carrier_day")]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"MF-{self.pk:06d}" if self.pk else "MF (new)"


class Shipment(models.Model):
    """The packages of one order leaving one node with one carrier service."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="shipments")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.PACKING)
    carrier = models.ForeignKey(Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(
        CarrierService, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tracking_number = models.CharField(max_length=40, blank=True)
    zone = models.PositiveSmallIntegerField(null=True, blank=True)
    billable_weight_lb = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    cost = money(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    quotes = models.JSONField(
        default=list, blank=True, help_text="Every service quoted when the label was bought, cheapest first"
    )
    choice_reason = models.CharField(max_length=300, blank=True)
    residential = models.BooleanField(default=True)
    label_pdf = models.BinaryField(null=True, blank=True, editable=False)
    label_zpl = models.TextField(blank=True, editable=False)
    packed_at = models.DateTimeField(null=True, blank=True)
    label_created_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    estimated_delivery_date = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    transit_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Business days from shipped to delivered"
    )
    last_event_at = models.DateTimeField(null=True, blank=True)
    exception_reason = models.CharField(max_length=300, blank=True)
    manifest = models.ForeignKey(
        Manifest, null=True, blank=True, on_delete=models.SET_NULL, related_name="shipments"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")
    # Carrier webhooks find a shipment by tracking number before any tenant is known.
    all_objects = models.Manager()  # noqa: DJ012

    class Meta:
        ordering = ["-created_at", "-id"]
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="uniq_tracking_number_per_carrier",
            ),
            models.UniqueConstraint(
                fields=["order", "warehouse"],
                condition=Q(status="packing"),
                name="one_open_shipment_per_order_node",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "status"], name="shipment_client_status"),
            models.Index(fields=["client", "shipped_at"], name="shipment_client_shipped"),
            models.Index(fields=["client", "delivered_at"], name="shipment_client_delivered"),
            models.Index(fields=["status", "shipped_at"], name="shipment_status_shipped"),
            models.Index(fields=["tracking_number"], name="shipment_tracking"),
            models.Index(fields=["warehouse", "carrier", "status"], name="shipment_node_carrier_status"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"SHP-{self.pk:07d}" if self.pk else "SHP (new)"


class Package(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="packages")
    number = models.PositiveSmallIntegerField(help_text="1, 2, ... within the shipment")
    box_type = models.ForeignKey(BoxType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    length_in = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    width_in = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    height_in = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    weight_lb = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    billable_weight_lb = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Boxed and weighed")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["shipment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "number"], name="uniq_package_number"),
        ]

    def __str__(self) -> str:
        return f"package {self.number} of {self.shipment_id}"


class PackageLine(models.Model):
    """Units of one order line verified by scan into one package."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot_code = models.CharField(max_length=64, blank=True, default="")
    quantity = models.PositiveIntegerField()

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["package", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="package_line_quantity_positive"),
            models.UniqueConstraint(
                fields=["package", "line", "item", "lot_code"], name="uniq_package_line_item_lot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.item_id}"


class VoidedLabel(ActorStamp):
    """A label voided before pickup (its cost is refunded by the carrier; the number never reused)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="voided_labels")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(CarrierService, on_delete=models.PROTECT, related_name="+")
    tracking_number = models.CharField(max_length=40)
    cost = money(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    voided_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-voided_at", "-id"]

    def __str__(self) -> str:
        return self.tracking_number


class TrackingEvent(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events")
    status = models.CharField(max_length=20, choices=TrackingStatus.choices)
    occurred_at = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=300, blank=True)
    estimated_delivery_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=TrackingSource.choices, default=TrackingSource.SYSTEM)
    external_id = models.CharField(
        max_length=100, blank=True, help_text="The sender's event id: a redelivered event is recorded once"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["shipment", "occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "external_id"],
                condition=~Q(external_id=""),
                name="uniq_tracking_event_external_id",
            )
        ]
        indexes = [
            models.Index(fields=["shipment", "occurred_at"], name="tracking_shipment_time"),
            # The QBR's carrier exceptions of a client's quarter: few rows, so a partial index.
            models.Index(
                fields=["client", "occurred_at"],
                condition=Q(status=TrackingStatus.EXCEPTION),
                name="tracking_client_exceptions",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} at {self.occurred_at:%Y-%m-%d %H:%M}"


# --- outbound events and webhooks ----------------------------------------------------------------


class Event(models.Model):
    """The outbox: one row per business event, written in the transaction that caused it. Its id is
    the cursor of the pull feed; deliveries to subscriptions are made from it after commit."""

    id = models.BigAutoField(primary_key=True)
    # Indexed by the composite indexes below, which start with it.
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+", db_index=False)
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["client", "id"], name="event_client_cursor"),
            models.Index(fields=["client", "created_at"], name="event_client_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"

    @property
    def webhook_id(self) -> str:
        return f"evt_{self.pk}"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookSubscription(ActorStamp):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="webhook_subscriptions")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="The event types sent (empty: every type)")
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    # After a rotation the old secret signs too (a second signature) until this time, so the
    # receiver can switch without losing a delivery.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["client", "id"]
        indexes = [models.Index(fields=["client", "active"], name="webhook_client_active")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event to one subscription: retried with backoff until it succeeds or gives up."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    replay = models.BooleanField(default=False, help_text="Sent again on request")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"], condition=Q(replay=False), name="uniq_first_delivery"
            )
        ]
        indexes = [
            models.Index(fields=["subscription", "id"], name="delivery_subscription"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.subscription_id}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back and how long it took (the delivery log)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["delivery", "id"]

    def __str__(self) -> str:
        return f"{self.response_status or self.error}"


class LowStockState(models.Model):
    """Whether one item is low at one node right now: ``inventory.low_stock`` is emitted when
    ``low_since`` goes from empty to set (once per crossing) and cleared when stock recovers."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")
    low_since = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "item", "warehouse"], name="uniq_low_stock_state")
        ]

    def __str__(self) -> str:
        return f"{self.item_id}@{self.warehouse_id}: {'low' if self.low_since else 'ok'}"
