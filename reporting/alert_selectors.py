"""Every read of the alert inbox and the rule settings, filtered for the actor, with constant
query counts per page. Brands see only the alerts of their own client marked ``client_visible``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import Client, User
from accounts.roles import Perm

from .alerts import EffectiveRule, effective_rules
from .enums import AlertRule
from .models import Alert, AlertComment

STATUSES = ("open", "acknowledged", "unresolved", "resolved")  # the inbox filters
# What one alert is in (the API's ``status``; named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
ALERT_STATUS_CHOICES = [("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")]


def status_q(status: str) -> Q:
    """open: nobody acknowledged it yet; acknowledged: someone is on it; resolved: closed."""
    return {
        "open": Q(resolved_at__isnull=True, acknowledged_at__isnull=True),
        "acknowledged": Q(resolved_at__isnull=True, acknowledged_at__isnull=False),
        "unresolved": Q(resolved_at__isnull=True),
        "resolved": Q(resolved_at__isnull=False),
    }[status]


def alert_status(alert: Alert) -> str:
    if alert.resolved_at:
        return "resolved"
    return "acknowledged" if alert.acknowledged_at else "open"


def alert_list(*, actor: Actor) -> QuerySet[Alert]:
    """The alerts the actor sees, with their client, assignee and comment count (one query)."""
    comments = AlertComment.objects.filter(alert=OuterRef("pk")).order_by().values("alert")
    qs = Alert.objects.filter(actor.client_q())
    if actor.is_client:
        qs = qs.filter(client_visible=True)
    return qs.select_related("client", "assigned_to").annotate(
        comment_count=Coalesce(
            Subquery(comments.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
        )
    )


def alert_get(*, actor: Actor, pk) -> Alert:
    """One alert with its comments (and their authors): two queries."""
    qs = alert_list(actor=actor).prefetch_related(
        Prefetch(
            "comments",
            queryset=AlertComment.objects.select_related("actor_user").order_by("created_at", "pk"),
        )
    )
    return get_object_or_404(qs, pk=pk)


def filter_alerts(
    qs: QuerySet[Alert],
    *,
    actor: Actor,
    status: str = "",
    rule: str = "",
    severity: str = "",
    client: int | None = None,
    mine: bool = False,
) -> QuerySet[Alert]:
    """The inbox filters, shared by the pages and the API."""
    if status:
        qs = qs.filter(status_q(status))
    if rule:
        qs = qs.filter(rule=rule)
    if severity:
        qs = qs.filter(severity=severity)
    if client:
        qs = qs.filter(client_id=client)
    if mine:
        qs = qs.filter(assigned_to=actor.user) if actor.user else qs.none()
    return qs


def assignable_users(*, client_id: int) -> QuerySet[User]:
    """Active staff who handle alerts and see the client: operator admins, its account managers,
    and warehouse operators of its nodes (one query)."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(role=Role.OPERATOR_ADMIN)
            | Q(role=Role.ACCOUNT_MANAGER, managed_clients=client_id)
            | Q(role=Role.WAREHOUSE_OPERATOR, warehouses__clients=client_id)
        )
        .distinct()
        .order_by("email")
    )


def clients_with_alerts_visible(*, actor: Actor) -> QuerySet[Client]:
    return Client.objects.filter(actor.client_q("pk")).order_by("name", "pk")


# --- rules ---------------------------------------------------------------------------------------


def rule_client_get(*, actor: Actor, pk) -> Client:
    """A client whose rules the actor may see (another client's is a 404)."""
    return get_object_or_404(Client.objects.filter(actor.client_q("pk")), pk=pk)


def rule_table(*, client: Client) -> list[EffectiveRule]:
    """Every rule as it applies to the client, defaults included, in the rules' order."""
    table = effective_rules([client.pk])[client.pk]
    return [table[rule] for rule in AlertRule.values]


@dataclass(frozen=True)
class InboxCounts:
    open: int
    acknowledged: int
    critical: int


def inbox_counts(*, actor: Actor) -> InboxCounts:
    """Unresolved alerts by state, for the inbox header (one query)."""
    counts = (
        alert_list(actor=actor)
        .filter(resolved_at__isnull=True)
        .aggregate(
            open=Count("pk", filter=Q(acknowledged_at__isnull=True)),
            acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
            critical=Count("pk", filter=Q(severity="critical")),
        )
    )
    return InboxCounts(**counts)


def can_manage(actor: Actor) -> bool:
    return actor.is_staff and actor.can(Perm.ALERT_MANAGE)
