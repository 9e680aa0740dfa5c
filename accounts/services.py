"""Every write to accounts: clients, nodes, people, API keys; each one audited.

Keyword-only, one transaction, validate then write; side effects (e-mail) after commit.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from . import node_cache
from .actors import Actor
from .enums import CLIENT_ROLES, STAFF_ROLES, KeyScope, Role
from .models import APIKey, AuditEvent, Client, User, Warehouse, WarehouseClosure
from .roles import Perm

# --- audit -------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model,
    client_id: int | None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record who did what to which object. Called by every service that writes."""
    return AuditEvent.objects.create(
        client_id=client_id,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        actor_label=actor.label[:200],
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        changes={k: _jsonable(v) for k, v in (changes or {}).items()},
    )


def _apply(instance: models.Model, fields: dict[str, Any]) -> dict[str, list[Any]]:
    """Set fields on ``instance``; return {field: [old, new]} for those that changed."""
    changed = {}
    for name, value in fields.items():
        old = getattr(instance, name)
        if old != value:
            changed[name] = [_jsonable(old), _jsonable(value)]
            setattr(instance, name, value)
    return changed


def _set_m2m(manager, ids: Iterable[int] | None, name: str, changes: dict) -> None:
    if ids is None:
        return
    new, old = set(ids), set(manager.values_list("pk", flat=True))
    if new != old:
        manager.set(list(new))
        changes[name] = [sorted(old), sorted(new)]


# --- clients -----------------------------------------------------------------------------------

CLIENT_SETTINGS = (
    "name",
    "time_zone",
    "active",
    "order_cutoff",
    "expedited_cutoff",
    "ship_sla_days",
    "dock_to_stock_days",
    "allow_split_shipments",
    "target_on_time_ship",
    "target_order_accuracy",
    "target_inventory_accuracy",
    "target_dock_to_stock",
    "target_receiving_accuracy",
    "target_carrier_on_time",
)


def _check_account_managers(ids: Iterable[int] | None) -> None:
    if ids is None:
        return
    ids = set(ids)
    found = set(User.objects.filter(pk__in=ids, role=Role.ACCOUNT_MANAGER).values_list("pk", flat=True))
    if missing := ids - found:
        raise ValidationError({"account_managers": [f"Not account managers: {sorted(missing)}."]})


def _check_warehouses(ids: Iterable[int] | None) -> None:
    if ids is None:
        return
    ids = set(ids)
    if missing := ids - set(Warehouse.objects.filter(pk__in=ids).values_list("pk", flat=True)):
        raise ValidationError({"warehouses": [f"Unknown warehouses: {sorted(missing)}."]})


@transaction.atomic
def client_create(
    *,
    actor: Actor,
    name: str,
    slug: str,
    account_manager_ids: Iterable[int] | None = None,
    warehouse_ids: Iterable[int] | None = None,
    **settings_fields: Any,
) -> Client:
    actor.require(Perm.CLIENT_CREATE)
    if unknown := set(settings_fields) - set(CLIENT_SETTINGS):
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    if Client.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": ["A client with this slug already exists."]})
    _check_account_managers(account_manager_ids)
    _check_warehouses(warehouse_ids)
    client = Client(name=name, slug=slug, **settings_fields)
    client.full_clean()
    client.save()
    changes = {f: getattr(client, f) for f in ("name", "slug", *settings_fields)}
    _set_m2m(client.account_managers, account_manager_ids, "account_managers", changes)
    _set_m2m(client.warehouses, warehouse_ids, "warehouses", changes)
    audit_record(actor=actor, action="client.created", target=client, client_id=client.pk, changes=changes)
    return client


@transaction.atomic
def client_update(
    *,
    actor: Actor,
    client: Client,
    account_manager_ids: Iterable[int] | None = None,
    warehouse_ids: Iterable[int] | None = None,
    **fields: Any,
) -> Client:
    actor.require(Perm.CLIENT_UPDATE, client_id=client.pk)
    if unknown := set(fields) - set(CLIENT_SETTINGS):
        raise ValidationError({f: ["This field cannot be changed."] for f in unknown})
    if account_manager_ids is not None:
        actor.require(Perm.CLIENT_ASSIGN)
    _check_account_managers(account_manager_ids)
    _check_warehouses(warehouse_ids)
    client = Client.objects.select_for_update().get(pk=client.pk)
    changes = _apply(client, fields)
    client.full_clean()
    client.save()
    _set_m2m(client.account_managers, account_manager_ids, "account_managers", changes)
    _set_m2m(client.warehouses, warehouse_ids, "warehouses", changes)
    if changes:
        audit_record(
            actor=actor, action="client.updated", target=client, client_id=client.pk, changes=changes
        )
    return client


# --- warehouses --------------------------------------------------------------------------------

WAREHOUSE_FIELDS = (
    "code",
    "name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
    "time_zone",
    "active",
)


def _set_closures(warehouse: Warehouse, closures: list[dict] | None, changes: dict) -> None:
    if closures is None:
        return
    wanted = {c["date"]: c.get("reason", "") for c in closures}
    if len(wanted) != len(closures):
        raise ValidationError({"closures": ["Each closure date may appear once."]})
    current = {c.date: c.reason for c in warehouse.closures.all()}
    if wanted == current:
        return
    warehouse.closures.all().delete()
    WarehouseClosure.objects.bulk_create(
        [WarehouseClosure(warehouse=warehouse, date=d, reason=r) for d, r in sorted(wanted.items())]
    )
    node_cache.forget_clients_of([warehouse.pk])  # bulk_create sends no signal
    changes["closures"] = [sorted(str(d) for d in current), sorted(str(d) for d in wanted)]


@transaction.atomic
def warehouse_create(*, actor: Actor, closures: list[dict] | None = None, **fields: Any) -> Warehouse:
    actor.require(Perm.WAREHOUSE_MANAGE)
    if unknown := set(fields) - set(WAREHOUSE_FIELDS):
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    warehouse = Warehouse(**fields)
    warehouse.full_clean()
    warehouse.save()
    changes = {f: getattr(warehouse, f) for f in fields}
    _set_closures(warehouse, closures, changes)
    audit_record(actor=actor, action="warehouse.created", target=warehouse, client_id=None, changes=changes)
    return warehouse


@transaction.atomic
def warehouse_update(
    *, actor: Actor, warehouse: Warehouse, closures: list[dict] | None = None, **fields: Any
) -> Warehouse:
    actor.require(Perm.WAREHOUSE_MANAGE)
    if unknown := set(fields) - set(WAREHOUSE_FIELDS):
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    warehouse = Warehouse.objects.select_for_update().get(pk=warehouse.pk)
    changes = _apply(warehouse, fields)
    warehouse.full_clean()
    warehouse.save()
    _set_closures(warehouse, closures, changes)
    if changes:
        audit_record(
            actor=actor, action="warehouse.updated", target=warehouse, client_id=None, changes=changes
        )
    return warehouse


def warehouse_closure_dates(warehouse: Warehouse) -> list[date]:
    return list(warehouse.closures.values_list("date", flat=True))


# --- users -------------------------------------------------------------------------------------


def _require_user_manage(actor: Actor, role: str, client_id: int | None) -> None:
    if role in STAFF_ROLES:
        actor.require(Perm.STAFF_MANAGE)
    else:
        actor.require(Perm.USER_MANAGE, client_id=client_id)


def send_invitation(*, user: User, invited_by: Actor) -> None:
    """E-mail a set-your-password link (the password-reset token): we never choose passwords."""
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    link = base + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {"user": user, "link": link, "invited_by": invited_by.label, "client": user.client}
    send_mail(
        subject="You have been invited to the fulfillment platform",
        message=render_to_string("registration/invitation_email.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


@transaction.atomic
def user_invite(
    *,
    actor: Actor,
    email: str,
    role: str,
    full_name: str = "",
    client: Client | None = None,
    warehouse_ids: Iterable[int] | None = None,
    password: str | None = None,
    send_email: bool = True,
) -> User:
    """Create a user; they set their own password from the e-mailed link (or ``password``, for seeding)."""
    if actor.is_client:
        client = Client.objects.get(pk=actor.client_id)
    if role not in Role.values:
        raise ValidationError({"role": [f"“{role}” is not a role."]})
    if role in CLIENT_ROLES and client is None:
        raise ValidationError({"client": ["A client user needs a client."]})
    if role in STAFF_ROLES:
        client = None
    _require_user_manage(actor, role, client.pk if client else None)
    email = (email or "").strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": ["A user with this e-mail already exists."]})
    if warehouse_ids and role != Role.WAREHOUSE_OPERATOR:
        raise ValidationError({"warehouses": ["Only warehouse operators are assigned to nodes."]})
    _check_warehouses(warehouse_ids)
    user = User(email=email, full_name=full_name, role=role, client=client)
    user.set_password(password) if password else user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    changes: dict = {"email": email, "role": role, "full_name": full_name}
    _set_m2m(user.warehouses, warehouse_ids, "warehouses", changes)
    audit_record(
        actor=actor,
        action="user.invited",
        target=user,
        client_id=client.pk if client else None,
        changes=changes,
    )
    if send_email:
        transaction.on_commit(lambda: send_invitation(user=user, invited_by=actor))
    return user


@transaction.atomic
def user_update(
    *,
    actor: Actor,
    user: User,
    warehouse_ids: Iterable[int] | None = None,
    **fields: Any,
) -> User:
    if unknown := set(fields) - {"full_name", "role"}:
        raise ValidationError({f: ["This field cannot be changed here."] for f in unknown})
    _require_user_manage(actor, user.role, user.client_id)
    new_role = fields.get("role", user.role)
    if new_role not in Role.values:
        raise ValidationError({"role": [f"“{new_role}” is not a role."]})
    if (new_role in CLIENT_ROLES) != (user.role in CLIENT_ROLES):
        raise ValidationError({"role": ["A user cannot move between the operator and a client."]})
    _require_user_manage(actor, new_role, user.client_id)
    if actor.user and actor.user.pk == user.pk and new_role != user.role:
        raise ValidationError({"role": ["You cannot change your own role."]})
    if new_role != Role.WAREHOUSE_OPERATOR and warehouse_ids:
        raise ValidationError({"warehouses": ["Only warehouse operators are assigned to nodes."]})
    _check_warehouses(warehouse_ids)
    user = User.objects.select_for_update().get(pk=user.pk)
    changes = _apply(user, fields)
    user.full_clean(exclude=["password"])
    user.save()
    _set_m2m(user.warehouses, warehouse_ids, "warehouses", changes)
    if changes:
        audit_record(
            actor=actor, action="user.updated", target=user, client_id=user.client_id, changes=changes
        )
    return user


@transaction.atomic
def user_set_active(*, actor: Actor, user: User, active: bool) -> User:
    _require_user_manage(actor, user.role, user.client_id)
    if actor.user and actor.user.pk == user.pk:
        raise ValidationError({"is_active": ["You cannot deactivate yourself."]})
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="user.reactivated" if active else "user.deactivated",
            target=user,
            client_id=user.client_id,
            changes={"is_active": [not active, active]},
        )
    return user


# --- API keys ----------------------------------------------------------------------------------

KEY_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
KEY_PREFIX_LENGTH = 8


def api_key_hash(raw_key: str) -> str:
    """SHA-256 of the whole key. Keys carry 256 random bits, so a fast hash is safe and lets
    every request authenticate in one indexed lookup (a password hasher would cost ~100 ms)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def split_key(raw_key: str) -> str | None:
    """The prefix of a well-formed key (``fk_<prefix>_<secret>``), else None."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "fk" or len(parts[1]) != KEY_PREFIX_LENGTH or len(parts[2]) < 32:
        return None
    return parts[1]


@dataclass(frozen=True)
class NewAPIKey:
    api_key: APIKey
    secret: str  # the full key: shown once, never stored


@transaction.atomic
def api_key_create(
    *,
    actor: Actor,
    name: str,
    client: Client | None = None,
    staff_user: User | None = None,
    scope: str = KeyScope.READ_WRITE,
) -> NewAPIKey:
    """Create a key for a client (acts as the brand) or a staff user (acts as that person)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the key a name that says where it is used."]})
    if scope not in KeyScope.values:
        raise ValidationError({"scope": [f"Choose one of: {', '.join(KeyScope.values)}."]})
    if actor.is_client:
        client, staff_user = Client.objects.get(pk=actor.client_id), None
    if (client is None) == (staff_user is None):
        raise ValidationError({"client": ["A key belongs to a client or to a staff user, not both."]})
    if client is not None:
        actor.require(Perm.API_KEY_MANAGE, client_id=client.pk)
        if not client.active:
            raise ValidationError({"client": ["This client is inactive."]})
    else:
        if staff_user.role in CLIENT_ROLES:
            raise ValidationError({"staff_user": ["Client users use their client's keys."]})
        if not staff_user.is_active:
            raise ValidationError({"staff_user": ["This user is inactive."]})
        own = actor.user is not None and actor.user.pk == staff_user.pk and actor.can(Perm.STAFF_KEY_OWN)
        if not own:
            actor.require(Perm.STAFF_MANAGE)
        elif actor.read_only:
            raise PermissionDenied("This API key is read-only.")
    while True:
        prefix = "".join(secrets.choice(KEY_PREFIX_ALPHABET) for _ in range(KEY_PREFIX_LENGTH))
        if not APIKey.all_objects.filter(prefix=prefix).exists():
            break
    raw = f"fk_{prefix}_{secrets.token_urlsafe(32)}"
    key = APIKey.all_objects.create(
        name=name[:100],
        prefix=prefix,
        key_hash=api_key_hash(raw),
        client=client,
        staff_user=staff_user,
        scope=scope,
        created_by=actor.user,
    )
    audit_record(
        actor=actor,
        action="api_key.created",
        target=key,
        client_id=client.pk if client else None,
        changes={"name": key.name, "scope": scope, "prefix": prefix},
    )
    return NewAPIKey(api_key=key, secret=raw)


@transaction.atomic
def api_key_revoke(*, actor: Actor, api_key: APIKey) -> APIKey:
    if api_key.client_id:
        actor.require(Perm.API_KEY_MANAGE, client_id=api_key.client_id)
    elif not (actor.user and actor.user.pk == api_key.staff_user_id):
        actor.require(Perm.STAFF_MANAGE)
    elif actor.read_only:
        raise PermissionDenied("This API key is read-only.")
    api_key = APIKey.all_objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.revoked_by = actor.user
        api_key.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action="api_key.revoked",
            target=api_key,
            client_id=api_key.client_id,
            changes={"revoked_at": [None, api_key.revoked_at.isoformat()]},
        )
    return api_key


LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_mark_used(*, api_key: APIKey) -> None:
    """Keep ``last_used_at`` to the minute without a write on every request (not audited)."""
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
        APIKey.all_objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
