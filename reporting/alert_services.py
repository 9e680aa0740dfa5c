"""Every write a person makes to an alert (acknowledge, assign, comment, resolve) and to a
client's alert rules. Keyword-only, one transaction, validate then write; the ``alert.resolved``
event is written in the same transaction (the outbox) for brand-visible alerts."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import Client, User
from accounts.roles import Perm
from accounts.services import audit_record

from .alerts import EffectiveRule, effective_rules, resolve_alerts
from .enums import RULE_DEFAULTS, AlertRule, Severity
from .models import Alert, AlertComment, AlertRuleSetting

COMMENT_MAX_LENGTH = 5000
# Whole numbers for rules counted in days; hours may be fractional (1.5 hours before ship-by).
THRESHOLD_LIMITS: dict[str, tuple[Decimal, Decimal, bool]] = {
    AlertRule.ORDER_AT_RISK: (Decimal("0.25"), Decimal(72), False),
    AlertRule.ASN_OVERDUE: (Decimal(0), Decimal(30), True),
    AlertRule.SHIPMENT_STALLED: (Decimal(1), Decimal(20), True),
    AlertRule.KPI_UNDER_TARGET: (Decimal(1), Decimal(90), True),
}


def _lock(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def _require_manage(actor: Actor, alert: Alert) -> None:
    actor.require(Perm.ALERT_MANAGE, client_id=alert.client_id)
    if actor.is_client:
        raise PermissionDenied("Brands read and comment on alerts; the operator handles them.")


@transaction.atomic
def alert_acknowledge(*, actor: Actor, alert: Alert) -> Alert:
    """Someone is on it. Acknowledging twice keeps the first acknowledgement."""
    _require_manage(actor, alert)
    alert = _lock(alert)
    if alert.resolved_at:
        raise ValidationError({"alert": ["This alert is resolved."]})
    if not alert.acknowledged_at:
        alert.acknowledged_at, alert.acknowledged_by = timezone.now(), actor.label[:200]
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        audit_record(actor=actor, action="alert.acknowledge", target=alert, client_id=alert.client_id)
    return alert


def assignable(user: User, client_id: int) -> bool:
    """Active operator staff who handle alerts and see the alert's client."""
    if not user.is_active or not user.is_operator_staff:
        return False
    person = Actor.for_user(user)
    return person.can(Perm.ALERT_MANAGE) and person.sees_client(client_id)


@transaction.atomic
def alert_assign(*, actor: Actor, alert: Alert, user: User | None) -> Alert:
    """Give the alert to a staff member who sees its client (None: unassign)."""
    _require_manage(actor, alert)
    if user is not None and not assignable(user, alert.client_id):
        raise ValidationError({"user": ["Choose an active staff member who sees this client."]})
    alert = _lock(alert)
    if alert.resolved_at:
        raise ValidationError({"alert": ["This alert is resolved."]})
    before = alert.assigned_to_id
    alert.assigned_to = user
    alert.save(update_fields=["assigned_to"])
    audit_record(
        actor=actor,
        action="alert.assign",
        target=alert,
        client_id=alert.client_id,
        changes={"assigned_to": [before, user.pk if user else None]},
    )
    return alert


@transaction.atomic
def alert_comment(*, actor: Actor, alert: Alert, body: str) -> AlertComment:
    """Staff and the brand (on the alerts it is shown) may comment."""
    actor.require(Perm.ALERT_VIEW, client_id=alert.client_id)
    if actor.is_client and not alert.client_visible:
        raise PermissionDenied("This alert is not shown to your brand.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": ["Write a comment."]})
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationError({"body": [f"At most {COMMENT_MAX_LENGTH} characters."]})
    return AlertComment.objects.create(
        client_id=alert.client_id,
        alert=alert,
        body=body,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        actor_label=actor.label[:200],
    )


@transaction.atomic
def alert_resolve(*, actor: Actor, alert: Alert, note: str = "") -> Alert:
    """Close the alert by hand (the sweep closes it by itself when its condition clears; a
    resolved occurrence does not open again). A note is kept as a comment."""
    _require_manage(actor, alert)
    note = (note or "").strip()
    if len(note) > COMMENT_MAX_LENGTH:
        raise ValidationError({"note": [f"At most {COMMENT_MAX_LENGTH} characters."]})
    locked = _lock(alert)
    if locked.resolved_at:
        raise ValidationError({"alert": ["This alert is already resolved."]})
    resolve_alerts([locked.pk], now=timezone.now(), by=actor.label[:200])
    if note:
        alert_comment(actor=actor, alert=locked, body=note)
    audit_record(actor=actor, action="alert.resolve", target=locked, client_id=locked.client_id)
    locked.refresh_from_db()
    return locked


# --- rules -----------------------------------------------------------------------------------


def _threshold(rule: str, value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    if RULE_DEFAULTS[rule].threshold is None:
        raise ValidationError({"threshold": ["This rule has no threshold."]})
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({"threshold": ["Enter a number."]}) from None
    low, high, whole = THRESHOLD_LIMITS[rule]
    if not number.is_finite() or number < low or number > high:
        raise ValidationError({"threshold": [f"Enter a number from {low} to {high}."]})
    if whole and number != number.to_integral_value():
        raise ValidationError({"threshold": ["Enter a whole number."]})
    if number.as_tuple().exponent < -2:
        raise ValidationError({"threshold": ["At most 2 decimal places."]})
    return number


@transaction.atomic
def rule_setting_update(*, actor: Actor, client: Client, rule: str, **fields: Any) -> EffectiveRule:
    """Override one rule for one client: ``enabled``, ``severity``, ``threshold`` (None: the
    default), ``client_visible``; fields left out keep their current (effective) value."""
    actor.require(Perm.ALERT_RULES, client_id=client.pk)
    if rule not in AlertRule.values:
        raise ValidationError({"rule": [f"Choose from {', '.join(AlertRule.values)}."]})
    unknown = set(fields) - {"enabled", "severity", "threshold", "client_visible"}
    if unknown:
        raise ValidationError({name: ["Not a rule setting."] for name in sorted(unknown)})
    current = effective_rules([client.pk])[client.pk][rule]
    values = {
        "enabled": current.enabled,
        "severity": current.severity,
        "threshold": current.threshold if current.overridden else None,
        "client_visible": current.client_visible,
    }
    if "severity" in fields and fields["severity"] not in Severity.values:
        raise ValidationError({"severity": [f"Choose from {', '.join(Severity.values)}."]})
    for flag in ("enabled", "client_visible"):
        if flag in fields and not isinstance(fields[flag], bool):
            raise ValidationError({flag: ["Must be true or false."]})
    if "threshold" in fields:
        fields["threshold"] = _threshold(rule, fields["threshold"])
    values.update(fields)
    if values["threshold"] == RULE_DEFAULTS[rule].threshold:
        values["threshold"] = None
    setting, created = AlertRuleSetting.objects.select_for_update().get_or_create(
        client=client, rule=rule, defaults={**values, "updated_by": actor.label[:200]}
    )
    if not created:
        for name, value in values.items():
            setattr(setting, name, value)
        setting.updated_by = actor.label[:200]
        setting.save()
    audit_record(
        actor=actor,
        action="alert_rule.update",
        target=setting,
        client_id=client.pk,
        changes={rule: {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}},
    )
    return effective_rules([client.pk])[client.pk][rule]
