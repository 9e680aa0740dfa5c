"""Statuses, their allowed transitions, and the words of the stock ledger."""

from django.db import models


class LocationType(models.TextChoices):
    RECEIVING = "receiving", "Receiving dock"
    RESERVE = "reserve", "Reserve"
    PICK = "pick", "Pick"
    STAGING = "staging", "Staging / outbound"
    QUARANTINE = "quarantine", "Quarantine / damaged"


SELLABLE_LOCATION_TYPES = frozenset({LocationType.PICK, LocationType.RESERVE})


class MoveReason(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    PUTAWAY = "putaway", "Putaway"
    RELOCATION = "relocation", "Move between locations"
    PICK = "pick", "Pick"
    SHIP = "ship", "Ship"
    ADJUSTMENT = "adjustment", "Adjustment"
    COUNT_CORRECTION = "count_correction", "Cycle-count correction"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    TRANSFER_IN = "transfer_in", "Transfer in"
    RETURN_RESTOCK = "return_restock", "Return restock"
    REVERSAL = "reversal", "Reversal"


class AdjustmentCode(models.TextChoices):
    DAMAGED = "damaged", "Damaged"
    FOUND = "found", "Found"
    LOST = "lost", "Lost"
    EXPIRED = "expired", "Expired"
    COUNT_CORRECTION = "count_correction", "Count correction"


class ASNStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_TRANSIT = "in_transit", "In transit"
    ARRIVED = "arrived", "Arrived"
    RECEIVING = "receiving", "Receiving"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


ASN_TRANSITIONS: dict[str, frozenset[str]] = {
    ASNStatus.DRAFT: frozenset({ASNStatus.SUBMITTED, ASNStatus.CANCELLED}),
    ASNStatus.SUBMITTED: frozenset({ASNStatus.IN_TRANSIT, ASNStatus.ARRIVED, ASNStatus.CANCELLED}),
    ASNStatus.IN_TRANSIT: frozenset({ASNStatus.ARRIVED, ASNStatus.CANCELLED}),
    ASNStatus.ARRIVED: frozenset({ASNStatus.RECEIVING, ASNStatus.RECEIVED}),
    ASNStatus.RECEIVING: frozenset({ASNStatus.RECEIVED}),
    ASNStatus.RECEIVED: frozenset({ASNStatus.CLOSED}),
    ASNStatus.CLOSED: frozenset(),
    ASNStatus.CANCELLED: frozenset(),
}
ASN_RECEIVABLE = frozenset({ASNStatus.ARRIVED, ASNStatus.RECEIVING})
ASN_EDITABLE = frozenset({ASNStatus.DRAFT, ASNStatus.SUBMITTED, ASNStatus.IN_TRANSIT})


class MilestoneKind(models.TextChoices):
    BOOKED = "booked", "Booked"
    DEPARTED_ORIGIN = "departed_origin", "Departed origin"
    ARRIVED_PORT = "arrived_port", "Arrived at port"
    CUSTOMS_CLEARED = "customs_cleared", "Customs cleared"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED_TO_DOCK = "delivered_to_dock", "Delivered to dock"


class ReceiptCondition(models.TextChoices):
    GOOD = "good", "Good"
    DAMAGED = "damaged", "Damaged"


class CountStatus(models.TextChoices):
    OPEN = "open", "Open"
    SUBMITTED = "submitted", "Counted, awaiting approval"
    APPROVED = "approved", "Approved"
    CANCELLED = "cancelled", "Cancelled"


COUNT_TRANSITIONS: dict[str, frozenset[str]] = {
    CountStatus.OPEN: frozenset({CountStatus.SUBMITTED, CountStatus.CANCELLED}),
    CountStatus.SUBMITTED: frozenset({CountStatus.APPROVED, CountStatus.OPEN, CountStatus.CANCELLED}),
    CountStatus.APPROVED: frozenset(),
    CountStatus.CANCELLED: frozenset(),
}


class TransferStatus(models.TextChoices):
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
