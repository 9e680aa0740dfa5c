"""Webhook subscriptions (with their delivery log, replay, test events) and the events feed."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import Perm
from fulfillment.api.errors import APIError
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from shipments import webhook_selectors as selectors
from shipments import webhooks
from shipments.enums import DeliveryStatus, EventType
from shipments.models import Event, WebhookDelivery, WebhookSubscription

from . import webhook_serializers as s

SUBSCRIPTION_ID = OpenApiParameter("webhook_pk", int, OpenApiParameter.PATH, description="The subscription")


@extend_schema_view(
    list=extend_schema(
        summary="List webhook subscriptions",
        description="Your subscriptions: URL, event types (empty: every type), whether it is active (or why "
        "it was disabled), consecutive failed attempts, and the last delivery's status. The secret is never "
        "listed, only its last 4 characters.",
    ),
    retrieve=extend_schema(summary="Get a webhook subscription", description="One subscription."),
    create=extend_schema(
        summary="Subscribe a URL to events",
        description="Events are POSTed as JSON, signed the Standard Webhooks way (`webhook-id`, "
        "`webhook-timestamp`, `webhook-signature`). The response carries the signing `secret` (`whsec_…`): "
        "it is shown this once (and after `rotate-secret`). Outside development the URL must be https to a "
        "public host. Client admins for their own client; staff name `client`.",
        responses={201: s.WebhookSubscriptionCreatedSerializer},
    ),
    partial_update=extend_schema(
        summary="Update a webhook subscription",
        description="Change the URL, description or event types. Enabling and disabling are actions.",
    ),
    destroy=extend_schema(
        summary="Delete a webhook subscription",
        description="Stops deliveries at once; its delivery log goes with it.",
    ),
)
class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PlatformViewSet,
):
    queryset = WebhookSubscription.objects.none()
    serializer_class = s.WebhookSubscriptionSerializer
    ordering_fields = ("created_at", "url")
    filterset_fields: list[str] = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    perms = {
        "list": Perm.WEBHOOK_VIEW,
        "retrieve": Perm.WEBHOOK_VIEW,
        "create": Perm.WEBHOOK_MANAGE,
        "partial_update": Perm.WEBHOOK_MANAGE,
        "destroy": Perm.WEBHOOK_MANAGE,
        "rotate_secret": Perm.WEBHOOK_MANAGE,
        "replay": Perm.WEBHOOK_MANAGE,
        "test": Perm.WEBHOOK_MANAGE,
        "enable": Perm.WEBHOOK_MANAGE,
        "disable": Perm.WEBHOOK_MANAGE,
    }

    def select(self):
        return selectors.subscription_list(actor=self.actor)

    def _out(self, subscription: WebhookSubscription, serializer_class=None, code=status.HTTP_200_OK):
        fresh = selectors.subscription_get(actor=self.actor, pk=subscription.pk)
        serializer_class = serializer_class or s.WebhookSubscriptionSerializer
        if serializer_class is s.WebhookSubscriptionCreatedSerializer:
            fresh.secret = subscription.secret
        return Response(serializer_class(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        client, data = self.client_and_fields(form.validated_data)
        subscription = webhooks.subscription_create(actor=self.actor, client=client, **data)
        response = self._out(subscription, s.WebhookSubscriptionCreatedSerializer, status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("client", None)
        serializer.instance = webhooks.subscription_update(
            actor=self.actor, subscription=serializer.instance, **data
        )

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        return self._out(self.get_object()) if response.status_code == 200 else response

    def perform_destroy(self, instance):
        webhooks.subscription_delete(actor=self.actor, subscription=instance)

    @extend_schema(
        summary="Rotate the signing secret",
        description="A new secret at once; every attempt from now on, retries included, is signed with it. "
        "For `overlap_hours` (default 24, `WEBHOOK_SECRET_OVERLAP_HOURS`; 0: none, at most a week) the old "
        "secret signs too: `webhook-signature` carries both signatures, space-separated, so your endpoint "
        "accepts either while it switches. Rotating again ends an overlap still running. The response is "
        "the only place the new secret is shown.",
        request=s.RotateSecretSerializer,
        responses={200: s.SecretSerializer, **error_responses(400, 404)},
    )
    @action(
        detail=True, methods=["post"], url_path="rotate-secret", serializer_class=s.RotateSecretSerializer
    )
    def rotate_secret(self, request, pk=None):
        subscription = self.get_object()
        form = s.RotateSecretSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        subscription = webhooks.subscription_rotate_secret(
            actor=self.actor,
            subscription=subscription,
            overlap_hours=form.validated_data.get("overlap_hours"),
        )
        body = {
            "id": subscription.pk,
            "secret": subscription.secret,
            "previous_secret_expires_at": subscription.previous_secret_expires_at,
        }
        response = Response(s.SecretSerializer(body).data)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        summary="Replay events",
        description="Send events again to this subscription: one `event`, or every event of the types it "
        "receives created in [`since`, `until`) (until defaults to now; at most "
        f"{10_000:,} events, more is a 400 naming `since`). Each replay is a new delivery marked `replay`, "
        "carrying the event's own `webhook-id` so a receiver can tell it has seen it. A disabled "
        "subscription is a 400: enable it first.",
        request=s.ReplaySerializer,
        responses={202: s.ReplayResultSerializer, **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"], serializer_class=s.ReplaySerializer)
    def replay(self, request, pk=None):
        subscription = self.get_object()
        form = s.ReplaySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if "event" not in data and "since" not in data:
            raise APIError(
                "Give an event, or a time range.",
                code="invalid",
                fields={"event": ["Give an event id, or `since` (and `until`)."]},
            )
        rows = webhooks.replay(
            actor=self.actor,
            subscription=subscription,
            event_id=data.get("event"),
            since=data.get("since"),
            until=data.get("until"),
        )
        body = {"deliveries": len(rows), "delivery_ids": [d.pk for d in rows]}
        return Response(s.ReplayResultSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Send a test event",
        description="A `webhook.test` event to this subscription only, delivered like any other (signed, "
        "retried). The response shows the delivery as it stands after the first attempt was queued.",
        request=None,
        responses={202: s.DeliverySerializer, **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = webhooks.send_test(actor=self.actor, subscription=self.get_object())
        fresh = selectors.delivery_list(actor=self.actor, subscription=delivery.subscription).get(
            pk=delivery.pk
        )
        return Response(s.DeliverySerializer(fresh).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Enable a subscription",
        description="Re-activate a disabled subscription: the failure count starts again from 0. Events of "
        "the time it was off are not sent by themselves: replay the range.",
        request=None,
        responses={200: s.WebhookSubscriptionSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        subscription = webhooks.subscription_set_active(
            actor=self.actor, subscription=self.get_object(), active=True
        )
        return self._out(subscription)

    @extend_schema(
        summary="Disable a subscription",
        description="Stop deliveries; pending retries are given up.",
        request=None,
        responses={200: s.WebhookSubscriptionSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        subscription = webhooks.subscription_set_active(
            actor=self.actor, subscription=self.get_object(), active=False
        )
        return self._out(subscription)


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.ChoiceFilter(field_name="event__type", choices=EventType.choices)
    replay = django_filters.BooleanFilter(field_name="replay")

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List a subscription's deliveries",
        description="The delivery log, newest first: each event sent to this subscription, its status "
        "(pending, succeeded, failed), when it is tried next, and every attempt with the HTTP status, the "
        "first 500 characters of the answer, the error and how long it took.",
        parameters=[SUBSCRIPTION_ID],
    ),
)
class WebhookDeliveryViewSet(mixins.ListModelMixin, PlatformViewSet):
    queryset = WebhookDelivery.objects.none()
    serializer_class = s.DeliverySerializer
    filterset_class = DeliveryFilter
    ordering_fields = ("created_at",)
    perms = {"list": Perm.WEBHOOK_VIEW}

    def select(self):
        subscription = selectors.subscription_get(actor=self.actor, pk=self.kwargs["webhook_pk"])
        return selectors.delivery_list(actor=self.actor, subscription=subscription)

    def get_ordering(self):
        return ["-pk"]


@extend_schema_view(
    list=extend_schema(
        summary="Read the events feed",
        description="Your events in order, each exactly the body its webhooks carry, plus its `cursor`. Read "
        "from `after=0` (or the last `next_cursor` you kept) to reconcile whatever your endpoint missed. An "
        "event is listed once it is 2 seconds old, so that an event committed a moment after a newer one "
        "is never skipped by a cursor. Staff who see several clients name `client`.",
        parameters=[
            OpenApiParameter("after", int, description="Only events after this cursor (default 0)"),
            OpenApiParameter("limit", int, description="At most this many (default 100, at most 1000)"),
            OpenApiParameter("type", str, many=True, enum=EventType.values, description="Repeat for several"),
            OpenApiParameter("client", int, description="Staff: whose events"),
        ],
        responses={200: s.EventFeedSerializer, **error_responses(400)},
    ),
)
class EventFeedViewSet(mixins.ListModelMixin, PlatformViewSet):
    queryset = Event.objects.none()
    serializer_class = s.FeedEventSerializer
    pagination_class = None
    filter_backends: list = []
    perms = {"list": Perm.EVENT_VIEW}

    def list(self, request, *args, **kwargs):
        params = request.query_params
        after = self._int("after", 0, minimum=0)
        limit = self._int("limit", selectors.FEED_DEFAULT_LIMIT, minimum=1, maximum=selectors.FEED_MAX_LIMIT)
        client = self._int("client", None, minimum=1)
        types = params.getlist("type")
        if unknown := sorted(set(types) - set(EventType.values)):
            raise APIError(
                f"Unknown event type: {', '.join(unknown)}.",
                code="invalid",
                fields={"type": [f"Choose from {', '.join(EventType.values)}."]},
            )
        try:
            client_id = selectors.feed_client_id(actor=self.actor, client=client)
        except selectors.FeedClientRequired:
            raise APIError(
                "Name the client whose events to read.",
                code="invalid",
                fields={"client": ["You see several clients: name one."]},
            ) from None
        page = selectors.event_feed(
            actor=self.actor, client_id=client_id, after=after, limit=limit, types=types
        )
        return Response({"results": page.items, "next_cursor": page.next_cursor})

    def _int(self, name: str, default, *, minimum: int, maximum: int | None = None):
        raw = self.request.query_params.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({name: ["Enter a whole number."]}) from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise ValidationError({name: [f"Enter a number {bound}."]})
        return value
