"""Alert rules and severities with DOMAIN.md's defaults, order-error kinds, KPI periods, exports."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import models


class AlertRule(models.TextChoices):
    ORDER_AT_RISK = "order_at_risk", "Order at risk"
    ORDER_LATE = "order_late", "Order late"
    ASN_OVERDUE = "asn_overdue", "ASN overdue"
    DOCK_TO_STOCK_LATE = "dock_to_stock_late", "Dock-to-stock late"
    LOW_STOCK = "low_stock", "Low stock"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    SHIPMENT_STALLED = "shipment_stalled", "Shipment stalled"
    SHIPMENT_LATE = "shipment_late", "Shipment late"
    CARRIER_EXCEPTION = "carrier_exception", "Carrier exception"
    KPI_UNDER_TARGET = "kpi_under_target", "KPI under target"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


@dataclass(frozen=True)
class RuleDefault:
    severity: str
    threshold: Decimal | None  # the rule's number, in ``unit``
    unit: str
    client_visible: bool  # shown in the brand's portal (and sent as a webhook event)


# DOMAIN.md's alert rules; each client may override enabled / severity / threshold / visibility.
RULE_DEFAULTS: dict[str, RuleDefault] = {
    AlertRule.ORDER_AT_RISK: RuleDefault(Severity.WARNING, Decimal(2), "hours before ship-by", False),
    AlertRule.ORDER_LATE: RuleDefault(Severity.CRITICAL, None, "", True),
    AlertRule.ASN_OVERDUE: RuleDefault(Severity.WARNING, Decimal(1), "days after ETA", True),
    AlertRule.DOCK_TO_STOCK_LATE: RuleDefault(Severity.WARNING, None, "", True),
    AlertRule.LOW_STOCK: RuleDefault(Severity.INFO, None, "", True),
    AlertRule.OUT_OF_STOCK: RuleDefault(Severity.WARNING, None, "", True),
    AlertRule.SHIPMENT_STALLED: RuleDefault(
        Severity.WARNING, Decimal(2), "business days without a scan", True
    ),
    AlertRule.SHIPMENT_LATE: RuleDefault(Severity.WARNING, None, "", True),
    AlertRule.CARRIER_EXCEPTION: RuleDefault(Severity.WARNING, None, "", True),
    AlertRule.KPI_UNDER_TARGET: RuleDefault(Severity.CRITICAL, Decimal(7), "trailing days", False),
}


class OrderErrorKind(models.TextChoices):
    """Fulfillment errors of the node (DOMAIN.md: order accuracy)."""

    MIS_PICK = "mis_pick", "Mis-pick (wrong item)"
    WRONG_QUANTITY = "wrong_quantity", "Wrong quantity"
    DAMAGED = "damaged", "Damaged by the node"
    WRONG_LABEL = "wrong_label", "Wrong label"


class Granularity(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class ExportKind(models.TextChoices):
    ORDERS = "orders", "Orders"
    SHIPMENTS = "shipments", "Shipments"
    SNAPSHOTS = "snapshots", "Inventory snapshots"
    MOVES = "moves", "Stock moves"
    KPIS = "kpis", "KPIs"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"  # its file deleted after EXPORT_RETENTION_DAYS
