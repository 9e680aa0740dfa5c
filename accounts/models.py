"""Tenants (clients), nodes (warehouses), people, API keys and the audit trail."""

from __future__ import annotations

import zoneinfo
from datetime import time
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from .enums import CLIENT_ROLES, KeyScope, Role

zip_validator = RegexValidator(r"^\d{5}(-\d{4})?$", "Enter a US ZIP code (12345 or 12345-6789).")
slug_validator = RegexValidator(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", "Use lowercase letters, digits and hyphens.")
warehouse_code_validator = RegexValidator(r"^[A-Z0-9]{2,12}$", "Use 2-12 uppercase letters or digits.")
US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    ]
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone (e.g. America/New_York).")


def validate_us_state(value: str) -> None:
    if value not in US_STATES:
        raise ValidationError(f"“{value}” is not a US state code (e.g. NJ).")


percent = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


def _target(default: str, label: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal(default), validators=percent, help_text=label
    )


class Warehouse(models.Model):
    """A fulfillment node. Nodes belong to the operator and hold the stock of many clients."""

    code = models.CharField(max_length=12, unique=True, validators=[warehouse_code_validator])
    name = models.CharField(max_length=120)
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, validators=[validate_us_state])
    zip_code = models.CharField("ZIP", max_length=10, validators=[zip_validator])
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class WarehouseClosure(models.Model):
    """A local date on which a node does not work (besides weekends and US federal holidays)."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["warehouse", "date"]
        constraints = [models.UniqueConstraint(fields=["warehouse", "date"], name="uniq_warehouse_closure")]

    def __str__(self) -> str:
        return f"{self.warehouse.code} closed {self.date}"


class Client(models.Model):
    """The tenant: a brand that stores goods at the operator's nodes. SLA defaults from DOMAIN.md."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True, validators=[slug_validator])
    time_zone = models.CharField(max_length=64, default="America/New_York", validators=[validate_time_zone])
    active = models.BooleanField(default=True)
    account_managers = models.ManyToManyField(
        "accounts.User",
        related_name="managed_clients",
        blank=True,
        limit_choices_to={"role": "account_manager"},
    )
    warehouses = models.ManyToManyField(Warehouse, related_name="clients", blank=True)
    # The SLA clock (DOMAIN.md): cutoff in node local time, ship SLA in business days.
    order_cutoff = models.TimeField(default=time(14, 0))
    expedited_cutoff = models.TimeField(null=True, blank=True)
    ship_sla_days = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(30)])
    dock_to_stock_days = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(30)])
    allow_split_shipments = models.BooleanField(
        default=False, help_text="An order no single node can fill may ship from several nodes"
    )
    # KPI targets, in percent.
    target_on_time_ship = _target("99.50", "On-time ship rate target (%)")
    target_order_accuracy = _target("99.90", "Order accuracy target (%)")
    target_inventory_accuracy = _target("99.50", "Inventory accuracy target (%)")
    target_dock_to_stock = _target("95.00", "Dock-to-stock within deadline target (%)")
    target_receiving_accuracy = _target("99.00", "Receiving accuracy target (%)")
    target_carrier_on_time = _target("95.00", "Carrier on-time delivery target (%)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password) if password else user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("role", Role.CLIENT_USER)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields["role"] = Role.OPERATOR_ADMIN
        return self._create(email, password, **fields)

    def get_by_natural_key(self, username: str) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser):
    """A person. Staff roles belong to the operator; client roles belong to exactly one client."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=32, choices=Role.choices)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    warehouses = models.ManyToManyField(Warehouse, related_name="operators", blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(role__in=sorted(CLIENT_ROLES)) & Q(client__isnull=False))
                | (~Q(role__in=sorted(CLIENT_ROLES)) & Q(client__isnull=True)),
                name="user_client_matches_role",
            )
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.lower()
        if self.role in CLIENT_ROLES and not self.client_id:
            raise ValidationError({"client": "A client user belongs to a client."})
        if self.role not in CLIENT_ROLES and self.client_id:
            raise ValidationError({"client": "Operator staff do not belong to a client."})

    # Django admin and the permission framework: operator admins are the admin site's users.
    @property
    def is_staff(self) -> bool:
        return self.is_active and self.role == Role.OPERATOR_ADMIN

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    @property
    def is_operator_staff(self) -> bool:
        return self.role not in CLIENT_ROLES

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label) -> bool:
        return self.is_staff

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class APIKey(models.Model):
    """An API key. Only a SHA-256 digest of the secret is stored; the secret is shown once.

    A key is owned by a client (acts as that brand) or by a staff user (acts as that person).
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    staff_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="staff_api_keys"
    )
    scope = models.CharField(max_length=16, choices=KeyScope.choices, default=KeyScope.READ_WRITE)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_api_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="revoked_api_keys"
    )

    objects = ScopedManager(client="client")
    # Authentication and a staff member's own keys only (README: tenancy). Declared after the
    # scoped manager so that one stays the default manager.
    all_objects = models.Manager()  # noqa: DJ012

    class Meta:
        ordering = ["-created_at", "-id"]
        base_manager_name = "all_objects"
        constraints = [
            models.CheckConstraint(
                condition=Q(client__isnull=False, staff_user__isnull=True)
                | Q(client__isnull=True, staff_user__isnull=False),
                name="api_key_one_owner",
            )
        ]
        indexes = [models.Index(fields=["client", "-created_at"], name="apikey_client_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def read_only(self) -> bool:
        return self.scope == KeyScope.READ_ONLY

    @property
    def owner_label(self) -> str:
        return self.client.name if self.client_id else self.staff_user.email


class AuditEvent(models.Model):
    """Who (user or key) did what to which object, and when. Written by services; never edited."""

    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_api_key = models.ForeignKey(
        APIKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ScopedManager(client="client")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["client", "-created_at"], name="audit_client_created"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_repr}"
