"""Webhook subscriptions, their delivery log, replay and the events feed."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Client
from fulfillment.api.serializers import UpdateRulesMixin
from inventory.api.serializers import ActorChoicesMixin
from shipments.enums import DeliveryStatus, EventType
from shipments.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from shipments.webhooks import MAX_SECRET_OVERLAP_HOURS, subscribable_types

EVENT_TYPE_HELP = "Event types to receive; empty (the default) means every type. One of: " + ", ".join(
    subscribable_types()
)


class WebhookSubscriptionSerializer(UpdateRulesMixin, ActorChoicesMixin, serializers.ModelSerializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, help_text="Staff only; a client's key implies its own"
    )
    url = serializers.CharField(
        max_length=500,
        help_text="Where events are POSTed. https and a public host outside development.",
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=subscribable_types()),
        required=False,
        default=list,
        help_text=EVENT_TYPE_HELP,
    )
    secret_hint = serializers.SerializerMethodField(
        help_text="The secret's last 4 characters; the full secret is shown only on create and rotate"
    )
    last_delivery_status = serializers.SerializerMethodField()
    last_delivery_at = serializers.SerializerMethodField()
    last_response_status = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = (
            "id",
            "client",
            "url",
            "description",
            "event_types",
            "active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "secret_hint",
            "previous_secret_expires_at",
            "last_delivery_status",
            "last_delivery_at",
            "last_response_status",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "previous_secret_expires_at",
            "active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        )
        validators: list = []

    fixed_on_update = ("client",)
    optional_on_update = ("url",)

    def get_secret_hint(self, subscription: WebhookSubscription) -> str:
        return "whsec_…" + subscription.secret[-4:]

    @extend_schema_field(serializers.ChoiceField(choices=DeliveryStatus.choices, allow_null=True))
    def get_last_delivery_status(self, subscription) -> str | None:
        return getattr(subscription, "last_delivery_status", None)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_last_delivery_at(self, subscription):
        value = getattr(subscription, "last_delivery_at", None)
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(OpenApiTypes.INT)
    def get_last_response_status(self, subscription) -> int | None:
        return getattr(subscription, "last_response_status", None)


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (`whsec_…`): shown in this response only"
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = (*WebhookSubscriptionSerializer.Meta.fields, "secret")


class SecretSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    secret = serializers.CharField(help_text="The new signing secret; shown in this response only")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Until when the old secret signs too (a second signature); null: it no longer does",
    )


class RotateSecretSerializer(serializers.Serializer):
    overlap_hours = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_SECRET_OVERLAP_HOURS,
        help_text="Hours the old secret keeps signing beside the new one (default: the platform's, 24); "
        "0 retires it at once",
    )


class ReplaySerializer(serializers.Serializer):
    event = serializers.IntegerField(
        required=False, min_value=1, help_text="One event's id (the number in `evt_<id>`, or its `cursor`)"
    )
    since = serializers.DateTimeField(required=False, help_text="Start of a time range (inclusive)")
    until = serializers.DateTimeField(
        required=False, help_text="End of a time range (exclusive; default now)"
    )

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("event"), str) and data["event"].startswith("evt_"):
            data = {**data, "event": data["event"].removeprefix("evt_")}
        return super().to_internal_value(data)


class ReplayResultSerializer(serializers.Serializer):
    deliveries = serializers.IntegerField(help_text="Deliveries created (one per event)")
    delivery_ids = serializers.ListField(child=serializers.IntegerField())


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ("id", "attempted_at", "response_status", "response_body", "error", "duration_ms")


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.SerializerMethodField(help_text="The `webhook-id` sent: `evt_<id>`")
    event_type = serializers.CharField(source="event.type")
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_id",
            "event_type",
            "replay",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_attempt_at",
            "delivered_at",
            "last_response_status",
            "last_error",
            "created_at",
            "attempts",
        )

    def get_event_id(self, delivery: WebhookDelivery) -> str:
        return delivery.event.webhook_id


class TestEventSerializer(serializers.Serializer):
    delivery = DeliverySerializer()


class FeedEventSerializer(serializers.Serializer):
    """Documents a feed item: exactly the webhook body, plus its cursor."""

    id = serializers.CharField(help_text="`evt_<id>`: the `webhook-id` header of its deliveries")
    type = serializers.ChoiceField(choices=EventType.choices)
    created_at = serializers.DateTimeField()
    client = serializers.IntegerField()
    data = serializers.DictField(help_text="The event's payload (its shape depends on `type`)")
    cursor = serializers.IntegerField(help_text="Pass as `after` to read on from here")


class EventFeedSerializer(serializers.Serializer):
    results = FeedEventSerializer(many=True)
    next_cursor = serializers.IntegerField(
        help_text="Pass as `after` for the next page (unchanged when there was nothing new)"
    )
