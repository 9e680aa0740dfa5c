"""Writes of the operator's carrier catalog: carriers and node box catalogs (operator admins).
Rate cards and services are edited in the Django admin, whose actions call nothing else."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.actors import Actor
from accounts.models import Warehouse
from accounts.roles import Perm
from accounts.services import audit_record

from ..models import BoxType, Carrier

CARRIER_FIELDS = frozenset(
    {
        "code",
        "name",
        "adapter",
        "tracking_format",
        "account_number",
        "dim_divisor",
        "fuel_surcharge_pct",
        "residential_surcharge",
        "currency",
        "tracking_url",
        "active",
    }
)
BOX_FIELDS = frozenset(
    {
        "code",
        "name",
        "length_in",
        "width_in",
        "height_in",
        "max_weight_lb",
        "tare_weight_lb",
        "cost",
        "active",
    }
)


def _check(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    if unknown := set(fields) - allowed:
        raise ValidationError({f: ["This field cannot be set."] for f in sorted(unknown)})


def _validate_tracking_url(value: str | None) -> None:
    if value and "{tracking_number}" not in value:
        raise ValidationError({"tracking_url": ["Put {tracking_number} where the number goes."]})


@transaction.atomic
def carrier_create(*, actor: Actor, **fields: Any) -> Carrier:
    actor.require(Perm.CARRIER_MANAGE)
    _check(fields, CARRIER_FIELDS)
    _validate_tracking_url(fields.get("tracking_url"))
    if Carrier.objects.filter(code=fields.get("code")).exists():
        raise ValidationError({"code": ["A carrier with this code exists."]})
    carrier = Carrier(**fields)
    carrier.full_clean()
    carrier.save()
    audit_record(actor=actor, action="carrier.created", target=carrier, client_id=None, changes=fields)
    return carrier


@transaction.atomic
def carrier_update(*, actor: Actor, carrier: Carrier, **fields: Any) -> Carrier:
    actor.require(Perm.CARRIER_MANAGE)
    _check(fields, CARRIER_FIELDS - {"code"})
    _validate_tracking_url(fields.get("tracking_url"))
    carrier = Carrier.objects.select_for_update().get(pk=carrier.pk)
    for name, value in fields.items():
        setattr(carrier, name, value)
    carrier.full_clean()
    carrier.save()
    audit_record(actor=actor, action="carrier.updated", target=carrier, client_id=None, changes=fields)
    return carrier


def _validate_box(box: BoxType) -> None:
    if any(d is None or d <= 0 for d in (box.length_in, box.width_in, box.height_in)):
        raise ValidationError({"length_in": ["Inner dimensions must all be above 0."]})
    if box.tare_weight_lb >= box.max_weight_lb:
        raise ValidationError({"max_weight_lb": ["The maximum weight must exceed the empty weight."]})


@transaction.atomic
def box_type_create(*, actor: Actor, warehouse: Warehouse, **fields: Any) -> BoxType:
    actor.require(Perm.CARRIER_MANAGE)
    _check(fields, BOX_FIELDS)
    if BoxType.objects.filter(warehouse=warehouse, code=fields.get("code")).exists():
        raise ValidationError({"code": ["This node already has a box with this code."]})
    box = BoxType(warehouse=warehouse, **fields)
    _validate_box(box)
    box.full_clean()
    box.save()
    audit_record(actor=actor, action="box_type.created", target=box, client_id=None, changes=fields)
    return box


@transaction.atomic
def box_type_update(*, actor: Actor, box: BoxType, **fields: Any) -> BoxType:
    actor.require(Perm.CARRIER_MANAGE)
    _check(fields, BOX_FIELDS - {"code"})
    box = BoxType.objects.select_for_update().get(pk=box.pk)
    for name, value in fields.items():
        setattr(box, name, value)
    _validate_box(box)
    box.full_clean()
    box.save()
    audit_record(actor=actor, action="box_type.updated", target=box, client_id=None, changes=fields)
    return box
