"""The actor: who is acting (a user, a key, or the system) and what that lets them see and do."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from .enums import CLIENT_ROLES, Role
from .models import APIKey, Client, User
from .roles import Perm, role_can

ALL_CLIENTS = None  # the scope value meaning "every client"


@dataclass(frozen=True, eq=False)
class Actor:
    role: Role
    user: User | None = None
    api_key: APIKey | None = None
    client_id: int | None = None
    system_name: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(role=Role(user.role), user=user, client_id=user.client_id)

    @classmethod
    def for_api_key(cls, key: APIKey) -> Actor:
        if key.client_id:
            return cls(role=Role.CLIENT_ADMIN, api_key=key, client_id=key.client_id)
        owner = key.staff_user
        return cls(role=Role(owner.role), user=owner, api_key=key, client_id=owner.client_id)

    @classmethod
    def system(cls, name: str) -> Actor:
        """Background work (tasks, commands, demo data): operator-wide, labelled in the audit trail."""
        return cls(role=Role.OPERATOR_ADMIN, system_name=name)

    # --- identity -----------------------------------------------------------------------------
    @property
    def is_client(self) -> bool:
        return self.role in CLIENT_ROLES

    @property
    def is_staff(self) -> bool:
        return not self.is_client

    @property
    def read_only(self) -> bool:
        return bool(self.api_key and self.api_key.read_only)

    @property
    def label(self) -> str:
        if self.system_name:
            return f"system: {self.system_name}"
        if self.api_key:
            return f"API key {self.api_key.prefix}… ({self.api_key.name})"
        return self.user.email if self.user else "anonymous"

    # --- permissions --------------------------------------------------------------------------
    def can(self, perm: Perm) -> bool:
        if self.api_key and not self.api_key.client_id and perm in {Perm.CONSOLE, Perm.ADMIN_SITE}:
            return False
        return role_can(self.role, perm)

    def require(self, perm: Perm, *, client_id: int | None = None) -> None:
        """Raise PermissionDenied unless the actor holds ``perm`` (for ``client_id``, when given)."""
        if not self.can(perm):
            raise PermissionDenied(f"Your role may not do this ({perm.value}).")
        if self.read_only and not perm.value.endswith(".view"):
            raise PermissionDenied("This API key is read-only.")
        if client_id is not None and not self.sees_client(client_id):
            raise PermissionDenied("You do not have access to this client.")

    # --- visibility ---------------------------------------------------------------------------
    @cached_property
    def client_scope(self) -> int | list[int] | None:
        """The django-scopes value for the ``client`` dimension: one id, a list of ids, or all."""
        if self.is_client:
            return self.client_id
        if self.role == Role.OPERATOR_ADMIN:
            return ALL_CLIENTS
        if self.role == Role.ACCOUNT_MANAGER:
            return list(self.user.managed_clients.order_by("pk").values_list("pk", flat=True))
        if self.role == Role.WAREHOUSE_OPERATOR:
            return list(
                Client.objects.filter(warehouses__operators=self.user)
                .order_by("pk")
                .values_list("pk", flat=True)
                .distinct()
            )
        return []

    def client_q(self, field_name: str = "client") -> Q:
        """A filter on ``field_name`` (a client FK, or ``pk`` on Client) matching the visible clients."""
        scope = self.client_scope
        if scope is ALL_CLIENTS:
            return Q()
        if isinstance(scope, list):
            return Q(**{f"{field_name}__in": scope})
        return Q(**{field_name: scope})

    def sees_client(self, client_id: int) -> bool:
        scope = self.client_scope
        if scope is ALL_CLIENTS:
            return True
        if isinstance(scope, list):
            return client_id in scope
        return client_id == scope
