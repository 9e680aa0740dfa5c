"""The catalog, locations, balances and their immutable ledger, ASNs and receiving, cycle counts.

Stock rules (CONVENTIONS.md): a balance changes only together with a move, in the same
transaction, through ``F()`` updates (``inventory.ledger``); CHECK constraints keep
``0 <= allocated <= on_hand``; moves are never updated or deleted (a database trigger refuses it).
"""

from __future__ import annotations

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django_scopes import ScopedManager

from accounts.models import APIKey, Client, User, Warehouse

from .enums import (
    AdjustmentCode,
    ASNStatus,
    CountStatus,
    LocationType,
    MilestoneKind,
    MoveReason,
    ReceiptCondition,
    TransferStatus,
)

sku_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$", "Letters, digits and . _ - / only.")
country_validator = RegexValidator(r"^[A-Z]{2}$", "A two-letter ISO country code, e.g. US.")


def dimension(label: str) -> models.DecimalField:
    return models.DecimalField(
        label, max_digits=9, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )


class ActorStamp(models.Model):
    """Who did it: a user, an API key, or the system (the label always says which)."""

    actor_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_api_key = models.ForeignKey(
        APIKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)

    class Meta:
        abstract = True


# --- catalog -----------------------------------------------------------------------------------


class Item(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="items")
    sku = models.CharField("SKU", max_length=64, validators=[sku_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    weight_lb = dimension("weight (lb)")
    length_in = dimension("length (in)")
    width_in = dimension("width (in)")
    height_in = dimension("height (in)")
    case_quantity = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    carton_quantity = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    lot_tracked = models.BooleanField(default=False)
    expiry_tracked = models.BooleanField(default=False)
    serial_tracked = models.BooleanField(default=False)
    hazmat = models.BooleanField(default=False)
    hs_code = models.CharField("HS code", max_length=14, blank=True)
    country_of_origin = models.CharField(max_length=2, blank=True, validators=[country_validator])
    reorder_point = models.PositiveIntegerField(default=0)
    is_kit = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["sku", "id"]
        constraints = [models.UniqueConstraint(fields=["client", "sku"], name="uniq_item_sku_per_client")]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


class ItemBarcode(models.Model):
    """A UPC, EAN or scan code. Within a client, a barcode identifies exactly one item."""

    class Kind(models.TextChoices):
        UPC = "upc", "UPC"
        EAN = "ean", "EAN"
        SCANCODE = "scancode", "Scan code"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="barcodes")
    code = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.UPC)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["client", "code"], name="uniq_barcode_per_client")]

    def __str__(self) -> str:
        return self.code


class KitComponent(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    kit = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="components")
    component = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="used_in_kits")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["kit", "component"]
        constraints = [
            models.UniqueConstraint(fields=["kit", "component"], name="uniq_kit_component"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="kit_component_quantity_positive"),
            models.CheckConstraint(condition=~Q(kit=F("component")), name="kit_not_its_own_component"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.component_id}"


# --- locations ---------------------------------------------------------------------------------


class Location(models.Model):
    """A bin in a node (zone-aisle-bay-level). Operator-owned: it holds stock of many clients."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="locations")
    code = models.CharField(max_length=40)
    zone = models.CharField(max_length=10, blank=True)
    aisle = models.CharField(max_length=10, blank=True)
    bay = models.CharField(max_length=10, blank=True)
    level = models.CharField(max_length=10, blank=True)
    type = models.CharField(max_length=16, choices=LocationType.choices)
    pick_sequence = models.PositiveIntegerField(default=0, help_text="Order along the pick path")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["warehouse", "pick_sequence", "code"]
        constraints = [models.UniqueConstraint(fields=["warehouse", "code"], name="uniq_location_code")]
        indexes = [models.Index(fields=["warehouse", "type", "pick_sequence"], name="location_wh_type_seq")]

    def __str__(self) -> str:
        return self.code

    @property
    def sellable(self) -> bool:
        return self.type in (LocationType.PICK, LocationType.RESERVE)


# --- balances and the ledger -------------------------------------------------------------------


class Balance(models.Model):
    """Stock of one client's item, in one location, of one lot. ``available = on_hand - allocated``
    is computed in the database by the selectors (``inventory.selectors.balance_list``)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="balances")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="balances")
    lot_code = models.CharField(max_length=64, blank=True, default="")
    expiry_date = models.DateField(null=True, blank=True)
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="Earliest receipt of these units (FIFO)"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["client", "item", "warehouse", "location", "lot_code"]
        constraints = [
            models.UniqueConstraint(fields=["client", "item", "location", "lot_code"], name="uniq_balance"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="balance_allocated_not_negative"),
            models.CheckConstraint(
                condition=Q(allocated__lte=F("on_hand")), name="balance_allocated_le_on_hand"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "item", "warehouse"], name="balance_client_item_wh"),
            models.Index(fields=["client", "warehouse", "location"], name="balance_client_wh_loc"),
        ]

    def __str__(self) -> str:
        lot = f" lot {self.lot_code}" if self.lot_code else ""
        return f"{self.item_id}@{self.location_id}{lot}: {self.on_hand}"


class Move(ActorStamp):
    """One immutable ledger row per change of stock. Mistakes are corrected by reversing moves."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="moves")
    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="moves")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot_code = models.CharField(max_length=64, blank=True, default="")
    expiry_date = models.DateField(null=True, blank=True)
    quantity = models.IntegerField(help_text="Signed: + into the location, - out of it")
    reason = models.CharField(max_length=20, choices=MoveReason.choices)
    adjustment_code = models.CharField(max_length=20, choices=AdjustmentCode.choices, blank=True)
    document_type = models.CharField(max_length=32, blank=True)
    document_id = models.CharField(max_length=64, blank=True)
    document_ref = models.CharField(max_length=100, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="move_quantity_not_zero")]
        indexes = [
            models.Index(fields=["client", "item", "created_at"], name="move_client_item_time"),
            models.Index(fields=["client", "warehouse", "created_at"], name="move_client_wh_time"),
            models.Index(fields=["document_type", "document_id"], name="move_document"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.quantity:+d} {self.item_id}@{self.location_id}"


class InventorySnapshot(models.Model):
    """On hand per client x item x node at the end of a node-local day, from the ledger."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    on_hand = models.IntegerField()

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-date", "client", "item", "warehouse"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "item", "warehouse", "date"], name="uniq_inventory_snapshot"
            )
        ]
        indexes = [models.Index(fields=["client", "date"], name="snapshot_client_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.item_id}@{self.warehouse_id}: {self.on_hand}"


class Transfer(ActorStamp):
    """Stock moving between nodes: out of the source at dispatch, into the destination on receipt."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    from_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    from_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    to_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lot_code = models.CharField(max_length=64, blank=True, default="")
    expiry_date = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=TransferStatus.choices, default=TransferStatus.IN_TRANSIT
    )
    reference = models.CharField(max_length=100, blank=True)
    shipped_at = models.DateTimeField(auto_now_add=True)
    received_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-shipped_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_quantity_positive")]

    def __str__(self) -> str:
        return f"Transfer {self.pk}"


# --- ASNs and receiving ------------------------------------------------------------------------


class ASN(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="asns")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="asns")
    reference = models.CharField(max_length=64, blank=True, help_text="The client's own reference")
    po_reference = models.CharField("PO reference", max_length=64, blank=True)
    sender = models.CharField(max_length=200, blank=True, help_text="Sender or vendor")
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    bol_number = models.CharField("BOL", max_length=100, blank=True)
    container_number = models.CharField(max_length=100, blank=True)
    eta = models.DateField("ETA", null=True, blank=True)
    cartons = models.PositiveIntegerField(null=True, blank=True)
    pallets = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ASNStatus.choices, default=ASNStatus.DRAFT)
    submitted_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    stocked_at = models.DateTimeField(null=True, blank=True)
    dock_to_stock_deadline = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")

    class Meta:
        verbose_name = "ASN"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "reference"], condition=~Q(reference=""), name="uniq_asn_reference"
            )
        ]
        indexes = [
            models.Index(fields=["client", "status"], name="asn_client_status"),
            models.Index(fields=["warehouse", "status"], name="asn_wh_status"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"ASN-{self.pk:06d}" if self.pk else "ASN (new)"


class ASNLine(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    asn = models.ForeignKey(ASN, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    expected_quantity = models.PositiveIntegerField(default=0)
    lot_code = models.CharField(max_length=64, blank=True, default="")
    expiry_date = models.DateField(null=True, blank=True)
    received_quantity = models.PositiveIntegerField(default=0, help_text="Good units received")
    damaged_quantity = models.PositiveIntegerField(
        default=0, help_text="Units received damaged (to quarantine)"
    )
    putaway_quantity = models.PositiveIntegerField(
        default=0, help_text="Good units put away to sellable bins"
    )
    unexpected = models.BooleanField(default=False, help_text="Received but not on the ASN")
    discrepancy_note = models.TextField(blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["asn", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(putaway_quantity__lte=F("received_quantity")), name="asn_line_putaway_le_received"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asn_id}/{self.pk}"

    @property
    def counted_quantity(self) -> int:
        return self.received_quantity + self.damaged_quantity

    @property
    def over_quantity(self) -> int:
        return max(self.counted_quantity - self.expected_quantity, 0)

    @property
    def short_quantity(self) -> int:
        return max(self.expected_quantity - self.counted_quantity, 0)

    @property
    def discrepancies(self) -> list[str]:
        kinds = []
        if self.unexpected:
            kinds.append("unexpected")
        elif self.over_quantity:
            kinds.append("over")
        if self.short_quantity:
            kinds.append("short")
        if self.damaged_quantity:
            kinds.append("damaged")
        return kinds


class ASNEvent(ActorStamp):
    """One status transition of an ASN: who, when, from, to, why."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    asn = models.ForeignKey(ASN, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=ASNStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=ASNStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


class ASNMilestone(ActorStamp):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    asn = models.ForeignKey(ASN, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=24, choices=MilestoneKind.choices)
    occurred_at = models.DateTimeField()
    eta = models.DateField("updated ETA", null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class Receipt(ActorStamp):
    """Units counted against an ASN line in one scan or entry (a line may take many sessions)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    asn = models.ForeignKey(ASN, on_delete=models.CASCADE, related_name="receipts")
    line = models.ForeignKey(ASNLine, on_delete=models.CASCADE, related_name="receipts")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    condition = models.CharField(
        max_length=10, choices=ReceiptCondition.choices, default=ReceiptCondition.GOOD
    )
    lot_code = models.CharField(max_length=64, blank=True, default="")
    expiry_date = models.DateField(null=True, blank=True)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    move = models.OneToOneField(Move, on_delete=models.PROTECT, related_name="receipt")
    session = models.CharField(max_length=64, blank=True, help_text="The receiving session (device, shift)")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="receipt_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.item_id} ({self.condition})"


# --- cycle counts ------------------------------------------------------------------------------


class CycleCount(ActorStamp):
    """A count of locations or items at one node. Operator-owned: a bin holds many clients' goods."""

    class Kind(models.TextChoices):
        LOCATION = "location", "Locations"
        ITEM = "item", "Items"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="cycle_counts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=CountStatus.choices, default=CountStatus.OPEN)
    reason = models.CharField(max_length=200, blank=True, help_text="Why: schedule, short pick, ...")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Count {self.pk}"


class CycleCountLine(models.Model):
    """One counted location-item (lot): kept with system and counted quantities for accuracy KPIs."""

    count = models.ForeignKey(CycleCount, on_delete=models.CASCADE, related_name="lines")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot_code = models.CharField(max_length=64, blank=True, default="")
    expiry_date = models.DateField(null=True, blank=True)
    system_quantity = models.IntegerField(
        null=True, blank=True, help_text="On hand when the count was entered"
    )
    counted_quantity = models.PositiveIntegerField(null=True, blank=True)
    counted_at = models.DateTimeField(null=True, blank=True)
    counted_by = models.CharField(max_length=200, blank=True)
    correction_move = models.OneToOneField(
        Move, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["location__pick_sequence", "location__code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["count", "item", "location", "lot_code"], name="uniq_count_line")
        ]

    def __str__(self) -> str:
        return f"{self.count_id}: {self.item_id}@{self.location_id}"

    @property
    def variance(self) -> int | None:
        if self.counted_quantity is None or self.system_quantity is None:
            return None
        return self.counted_quantity - self.system_quantity
