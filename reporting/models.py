"""Order errors, the nightly per-client per-day KPI rollup, alerts with their per-client rules and
comments, QBR notes and action items, and export jobs."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from accounts.models import Client, User
from inventory.models import ActorStamp
from orders.models import Order

from .enums import AlertRule, ExportKind, ExportStatus, OrderErrorKind, Severity


class OrderError(ActorStamp):
    """A fulfillment error staff recorded against a shipped order: it counts against order
    accuracy and the perfect order rate of the period the order shipped in."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="errors")
    kind = models.CharField(max_length=16, choices=OrderErrorKind.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["client", "order"], name="order_error_client_order")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.order_id}"


class DailyKPI(models.Model):
    """The nightly rollup: one row per client per local day (the client's time zone) holding the
    numerators and denominators of DOMAIN.md's KPIs for that day, so a quarter is a sum of ~92 rows.
    Percentiles (click-to-ship, dock-to-stock) are not additive and are read from the source rows."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    orders_received = models.PositiveIntegerField(default=0)
    orders_shipped = models.PositiveIntegerField(default=0)
    units_shipped = models.PositiveIntegerField(default=0)
    orders_due = models.PositiveIntegerField(default=0, help_text="ship_by on this day, not cancelled")
    due_measured = models.PositiveIntegerField(default=0, help_text="due and shipped, or past ship_by")
    due_on_time = models.PositiveIntegerField(default=0)
    same_day_eligible = models.PositiveIntegerField(default=0)
    same_day_shipped = models.PositiveIntegerField(default=0)
    shipped_with_error = models.PositiveIntegerField(default=0)
    perfect_orders = models.PositiveIntegerField(default=0)
    asns_stocked = models.PositiveIntegerField(default=0)
    asns_stocked_in_time = models.PositiveIntegerField(default=0)
    receiving_lines = models.PositiveIntegerField(default=0)
    receiving_lines_clean = models.PositiveIntegerField(default=0)
    count_lines = models.PositiveIntegerField(default=0)
    count_lines_exact = models.PositiveIntegerField(default=0)
    count_system_units = models.PositiveIntegerField(default=0)
    count_abs_variance = models.PositiveIntegerField(default=0)
    orders_closed = models.PositiveIntegerField(default=0)
    units_ordered_closed = models.PositiveIntegerField(default=0)
    units_shipped_closed = models.PositiveIntegerField(default=0)
    lines_closed = models.PositiveIntegerField(default=0)
    lines_filled_closed = models.PositiveIntegerField(default=0)
    received_ever_backordered = models.PositiveIntegerField(default=0)
    shipments_shipped = models.PositiveIntegerField(default=0)
    shipping_cost = models.DecimalField(max_digits=19, decimal_places=4, default=0)
    shipments_delivered = models.PositiveIntegerField(default=0)
    delivered_by_estimate = models.PositiveIntegerField(default=0)
    transit_days_total = models.PositiveIntegerField(default=0)
    units_on_hand = models.PositiveIntegerField(default=0, help_text="End of day, from the snapshots")
    shipping_rolled_up = models.BooleanField(
        default=False,
        help_text="The day's DailyShipping and DailyItemShipped rows were written with this row",
    )
    computed_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["client", "day"]
        constraints = [models.UniqueConstraint(fields=["client", "day"], name="uniq_daily_kpi")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.day}"


class DailyShipping(models.Model):
    """The nightly rollup of the shipping breakdowns: per client, local day and breakdown key (a
    carrier; a service with its carrier; a zone), the shipments of the orders shipped that day with
    their distinct orders and cost, and the shipments delivered that day with their carrier
    on-time count and transit days as a histogram (``{"3": 120}``), from which a period's mean and
    exact percentiles follow. An order ships on one day, so distinct orders add up across days."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    breakdown = models.CharField(max_length=24)
    carrier_id = models.IntegerField(null=True)
    service_id = models.IntegerField(null=True)
    zone = models.PositiveSmallIntegerField(null=True)
    shipments = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=19, decimal_places=4, default=0)
    delivered = models.PositiveIntegerField(default=0)
    delivered_on_time = models.PositiveIntegerField(default=0)
    transit_histogram = models.JSONField(default=dict, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["client", "day", "breakdown"]
        indexes = [models.Index(fields=["client", "day"], name="daily_shipping_client_day")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.day} {self.breakdown}"


class DailyItemShipped(models.Model):
    """The nightly rollup of units shipped per item: per client and local day, the units of each
    item in the shipped packages of the orders shipped that day (what the movers rank)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    item_id = models.IntegerField()
    units = models.PositiveIntegerField(default=0)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["client", "day", "item_id"]
        indexes = [models.Index(fields=["client", "day"], name="daily_item_client_day")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.day} {self.item_id}"


class AlertRuleSetting(models.Model):
    """A client's override of one rule (absent: DOMAIN.md's default from ``RULE_DEFAULTS``)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="alert_rules")
    rule = models.CharField(max_length=24, choices=AlertRule.choices)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    threshold = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    client_visible = models.BooleanField(default=True, help_text="Shown in the brand's portal")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["client", "rule"]
        constraints = [models.UniqueConstraint(fields=["client", "rule"], name="uniq_rule_per_client")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.rule}"


class Alert(models.Model):
    """A rule that fired for one object. The database keeps one alert per (rule, object,
    occurrence) whatever runs the sweeps; ``occurrence`` tells a new episode from the same one (an
    order's ship-by, the day stock went low...)."""

    # Indexed by the composite indexes below, which start with it.
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+", db_index=False)
    rule = models.CharField(max_length=24, choices=AlertRule.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    object_type = models.CharField(max_length=24, help_text="order, asn, shipment, stock, client")
    object_id = models.CharField(max_length=64)
    occurrence = models.CharField(max_length=64, default="", blank=True)
    title = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    client_visible = models.BooleanField(default=False)
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True)
    # Indexed only where set (``alert_assigned`` below): a sweep opens tens of thousands of alerts
    # at once, none assigned, and each would have added a NULL entry to a full index.
    assigned_to = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_alerts",
        db_index=False,
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True, help_text="A person, or the sweep")
    notified_at = models.DateTimeField(null=True, blank=True, help_text="Immediate e-mail sent")
    digested_at = models.DateTimeField(null=True, blank=True, help_text="In a daily digest")

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "object_type", "object_id", "occurrence"], name="uniq_alert_occurrence"
            )
        ]
        indexes = [
            models.Index(
                fields=["client", "rule"],
                condition=Q(resolved_at__isnull=True),
                name="alert_open_client_rule",
            ),
            models.Index(fields=["client", "opened_at"], name="alert_client_opened"),
            models.Index(
                fields=["assigned_to"], condition=Q(assigned_to__isnull=False), name="alert_assigned"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AlertComment(ActorStamp):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:50]


class QBRReport(models.Model):
    """The account manager's notes kept with a client's quarterly business review."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    quarter = models.PositiveSmallIntegerField()
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["client", "-year", "-quarter"]
        constraints = [
            models.UniqueConstraint(fields=["client", "year", "quarter"], name="uniq_qbr_per_quarter"),
            models.CheckConstraint(condition=Q(quarter__gte=1, quarter__lte=4), name="qbr_quarter_1_to_4"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.year} Q{self.quarter}"


class QBRActionItem(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    report = models.ForeignKey(QBRReport, on_delete=models.CASCADE, related_name="action_items")
    text = models.CharField(max_length=500)
    owner = models.CharField(max_length=200, blank=True)
    due_date = models.DateField(null=True, blank=True)
    done = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["report", "done", "due_date", "id"]

    def __str__(self) -> str:
        return self.text


class ExportJob(ActorStamp):
    """A large CSV export run by a worker: its progress, and the file once ready. Owned by the
    person who asked for it (it may span several of their clients)."""

    kind = models.CharField(max_length=12, choices=ExportKind.choices)
    params = models.JSONField(default=dict, help_text="clients, from, to and the kind's filters")
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} export {self.pk}"

    @property
    def progress(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0
