"""Every read of accounts that a page, an endpoint or a command needs, filtered for the actor."""

from __future__ import annotations

import hmac

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from .actors import Actor
from .enums import Role
from .models import APIKey, AuditEvent, Client, User, Warehouse
from .roles import Perm
from .services import api_key_hash, split_key


def _count(qs: QuerySet) -> Coalesce:
    """A correlated COUNT subquery: several of them stay one query, without a join fan-out."""
    sub = qs.order_by().values("client").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def client_list(*, actor: Actor) -> QuerySet[Client]:
    """The clients the actor may see, with what the console shows about each."""
    nodes = Client.warehouses.through.objects.filter(client=OuterRef("pk"))
    return (
        Client.objects.filter(actor.client_q("pk"))
        .annotate(
            user_count=_count(User.objects.filter(client=OuterRef("pk"), is_active=True)),
            active_key_count=_count(
                APIKey.all_objects.filter(client=OuterRef("pk"), revoked_at__isnull=True)
            ),
            warehouse_count=_count(nodes),
        )
        .prefetch_related("account_managers", "warehouses")
    )


def client_get(*, actor: Actor, pk) -> Client:
    return get_object_or_404(client_list(actor=actor), pk=pk)


def warehouse_list(*, actor: Actor) -> QuerySet[Warehouse]:
    qs = Warehouse.objects.prefetch_related("closures")
    if actor.is_client:
        return qs.filter(clients=actor.client_id)
    if actor.role == Role.WAREHOUSE_OPERATOR:
        return qs.filter(operators=actor.user)
    return qs


def warehouse_get(*, actor: Actor, pk) -> Warehouse:
    return get_object_or_404(warehouse_list(actor=actor), pk=pk)


def user_list(*, actor: Actor) -> QuerySet[User]:
    qs = User.objects.select_related("client").prefetch_related("warehouses")
    if actor.role == Role.OPERATOR_ADMIN:
        return qs
    mine = Q(pk=actor.user.pk) if actor.user else Q(pk__in=[])
    if actor.is_client:
        return qs.filter(Q(client=actor.client_id))
    return qs.filter(actor.client_q("client") & Q(client__isnull=False) | mine)


def user_get(*, actor: Actor, pk) -> User:
    return get_object_or_404(user_list(actor=actor), pk=pk)


def api_key_list(*, actor: Actor) -> QuerySet[APIKey]:
    """Client keys in the actor's scope (for roles that may see them), plus a staff member's own keys."""
    qs = APIKey.objects.all() if actor.can(Perm.API_KEY_VIEW) else APIKey.objects.none()
    if actor.is_staff and actor.role != Role.OPERATOR_ADMIN and actor.user:
        qs = qs | APIKey.all_objects.filter(staff_user=actor.user)
    return qs.select_related("client", "staff_user", "created_by")


def api_key_get(*, actor: Actor, pk) -> APIKey:
    return get_object_or_404(api_key_list(actor=actor), pk=pk)


def api_key_authenticate(raw_key: str) -> APIKey | None:
    """The active key matching ``raw_key``. Runs before any tenant scope exists (README: tenancy)."""
    prefix = split_key(raw_key)
    if prefix is None:
        return None
    key = (
        APIKey.all_objects.select_related("client", "staff_user")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, api_key_hash(raw_key)):
        return None
    if key.client_id and not key.client.active:
        return None
    if key.staff_user_id and not key.staff_user.is_active:
        return None
    return key


def audit_event_list(*, actor: Actor) -> QuerySet[AuditEvent]:
    """The audit trail in the actor's scope (operator admins: everything, staff events included)."""
    return AuditEvent.objects.all().select_related("client")
