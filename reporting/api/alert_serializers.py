"""Alerts (with their comments), the actions on them, and a client's alert rules."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reporting.alert_selectors import ALERT_STATUS_CHOICES, alert_status
from reporting.enums import AlertRule, Severity
from reporting.models import Alert, AlertComment


class AlertCommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = AlertComment
        fields = ("id", "body", "author", "created_at")
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(help_text="open, acknowledged or resolved")
    client_name = serializers.CharField(source="client.name", read_only=True)
    assigned_to = serializers.SerializerMethodField(help_text="The assignee's user id (staff only)")
    assigned_to_email = serializers.SerializerMethodField(help_text="The assignee's e-mail (staff only)")
    comment_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Alert
        fields = (
            "id",
            "client",
            "client_name",
            "rule",
            "severity",
            "status",
            "title",
            "object_type",
            "object_id",
            "occurrence",
            "detail",
            "client_visible",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "assigned_to",
            "assigned_to_email",
            "resolved_at",
            "resolved_by",
            "comment_count",
        )
        read_only_fields = fields

    def _staff(self) -> bool:
        actor = self.context.get("actor")
        return bool(actor and actor.is_staff)

    @extend_schema_field(serializers.ChoiceField(choices=ALERT_STATUS_CHOICES))
    def get_status(self, alert: Alert) -> str:
        return alert_status(alert)

    @extend_schema_field(OpenApiTypes.INT)
    def get_assigned_to(self, alert: Alert) -> int | None:
        return alert.assigned_to_id if self._staff() else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_assigned_to_email(self, alert: Alert) -> str | None:
        return alert.assigned_to.email if self._staff() and alert.assigned_to_id else None

    def to_representation(self, alert: Alert) -> dict:
        data = super().to_representation(alert)
        if not self._staff():
            # Brands see that an alert was handled, not which of the operator's people did it.
            data["acknowledged_by"] = ""
            if alert.resolved_by and not alert.resolved_by.startswith("system:"):
                data["resolved_by"] = "operator"
        return data


class AlertDetailSerializer(AlertSerializer):
    comments = AlertCommentSerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = (*AlertSerializer.Meta.fields, "comments")
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    user = serializers.IntegerField(
        allow_null=True, help_text="A staff user who sees the alert's client; null to unassign"
    )


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000, trim_whitespace=True)


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class AlertRuleSerializer(serializers.Serializer):
    """One rule as it applies to one client (the default unless ``overridden``)."""

    rule = serializers.ChoiceField(choices=AlertRule.choices, read_only=True)
    label = serializers.CharField(read_only=True)
    client = serializers.IntegerField(source="client_id", read_only=True)
    enabled = serializers.BooleanField(required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    threshold = serializers.DecimalField(
        max_digits=9,
        decimal_places=2,
        allow_null=True,
        required=False,
        help_text="In `unit`; null: the default. Rules without a unit take no threshold.",
    )
    unit = serializers.CharField(read_only=True)
    default_threshold = serializers.DecimalField(
        source="default.threshold", max_digits=9, decimal_places=2, read_only=True, allow_null=True
    )
    client_visible = serializers.BooleanField(
        required=False, help_text="Shown in the brand's portal and sent as alert.opened / alert.resolved"
    )
    overridden = serializers.BooleanField(read_only=True, help_text="false: DOMAIN.md's default")
    updated_by = serializers.CharField(read_only=True)
