"""The alert inbox (list with filters, one alert with its comments, acknowledge, assign,
comment, resolve) and a client's alert rules (effective values, overrides per rule)."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import User
from accounts.roles import Perm
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from reporting import alert_selectors as selectors
from reporting import alert_services as services
from reporting.enums import AlertRule, Severity
from reporting.models import Alert

from . import alert_serializers as s


class AlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(v, v) for v in selectors.STATUSES],
        method="with_status",
        help_text="open (not acknowledged), acknowledged, unresolved (either) or resolved",
    )
    rule = django_filters.MultipleChoiceFilter(choices=AlertRule.choices, help_text="Repeat for several")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, help_text="Repeat for several")
    client = django_filters.NumberFilter(field_name="client", help_text="Staff: one client's alerts")
    assigned_to_me = django_filters.BooleanFilter(method="with_mine", help_text="true: assigned to you")
    object_type = django_filters.CharFilter(help_text="order, asn, shipment, stock or client")
    object_id = django_filters.CharFilter(help_text="With object_type: one object's alerts")
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields: list[str] = []

    def with_status(self, queryset, name, value):
        return queryset.filter(selectors.status_q(value))

    def with_mine(self, queryset, name, value):
        actor = self.request.actor
        mine = selectors.filter_alerts(queryset, actor=actor, mine=True)
        return mine if value else queryset.exclude(pk__in=mine.values("pk"))


@extend_schema_view(
    list=extend_schema(
        summary="List alerts",
        description="The alerts you see, newest first: staff every alert of their clients, a brand only "
        "the alerts its rules show to it (`client_visible`). An alert is one rule firing for one object "
        "(order, ASN, shipment, item at a node, client) and one occurrence; it resolves by itself when its "
        "condition clears.",
    ),
    retrieve=extend_schema(
        summary="Get an alert",
        description="One alert with its comments, oldest first.",
        responses={200: s.AlertDetailSerializer},
    ),
)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Alert.objects.none()
    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ("opened_at", "resolved_at", "severity")
    perms = {
        "list": Perm.ALERT_VIEW,
        "retrieve": Perm.ALERT_VIEW,
        "acknowledge": Perm.ALERT_MANAGE,
        "assign": Perm.ALERT_MANAGE,
        "resolve": Perm.ALERT_MANAGE,
        "comment": Perm.ALERT_VIEW,
    }

    def select(self):
        return selectors.alert_list(actor=self.actor)

    def get_ordering(self):
        return ["-opened_at", "-pk"]

    def get_serializer_class(self):
        return s.AlertDetailSerializer if self.action == "retrieve" else s.AlertSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "actor": getattr(self.request, "actor", None)}

    def get_object(self):
        return selectors.alert_get(actor=self.actor, pk=self.kwargs["pk"])

    def _out(self, alert: Alert, code=status.HTTP_200_OK) -> Response:
        fresh = selectors.alert_get(actor=self.actor, pk=alert.pk)
        return Response(
            s.AlertDetailSerializer(fresh, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(
        summary="Acknowledge an alert",
        description="Someone is on it (staff). Acknowledging again keeps the first acknowledgement; a "
        "resolved alert is a 400.",
        request=None,
        responses={200: s.AlertDetailSerializer, **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._out(services.alert_acknowledge(actor=self.actor, alert=self.get_object()))

    @extend_schema(
        summary="Assign an alert",
        description="Give the alert to a staff member who sees its client (`user`), or `null` to unassign.",
        request=s.AssignSerializer,
        responses={200: s.AlertDetailSerializer, **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        alert = self.get_object()
        form = s.AssignSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = None
        if form.validated_data["user"] is not None:
            user = User.objects.filter(pk=form.validated_data["user"]).first()
            if user is None:
                raise ValidationError({"user": ["Choose an active staff member who sees this client."]})
        return self._out(services.alert_assign(actor=self.actor, alert=alert, user=user))

    @extend_schema(
        summary="Comment on an alert",
        description="Staff, and the brand on the alerts shown to it. Comments are listed with the alert.",
        request=s.CommentSerializer,
        responses={201: s.AlertDetailSerializer, **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        alert = self.get_object()
        form = s.CommentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.alert_comment(actor=self.actor, alert=alert, body=form.validated_data["body"])
        return self._out(alert, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve an alert",
        description="Close it by hand (staff), with an optional `note` kept as a comment. The same "
        "occurrence does not open again; a brand-visible alert sends `alert.resolved`.",
        request=s.ResolveSerializer,
        responses={200: s.AlertDetailSerializer, **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        alert = self.get_object()
        form = s.ResolveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._out(
            services.alert_resolve(actor=self.actor, alert=alert, note=form.validated_data["note"])
        )


CLIENT_ID = OpenApiParameter("client_pk", int, OpenApiParameter.PATH, description="The client")
RULE = OpenApiParameter("rule", str, OpenApiParameter.PATH, enum=AlertRule.values, description="The rule")


@extend_schema_view(
    list=extend_schema(
        summary="List a client's alert rules",
        description="Every rule with the values that apply to this client: DOMAIN.md's default "
        "(`overridden` false) or the client's own setting. Account managers and operator admins.",
        parameters=[CLIENT_ID],
    ),
    retrieve=extend_schema(
        summary="Get one of a client's alert rules",
        description="One rule as it applies.",
        parameters=[CLIENT_ID, RULE],
    ),
    update=extend_schema(
        summary="Set a client's alert rule",
        description="Override `enabled`, `severity`, `threshold` (in `unit`; null: the default) and "
        "`client_visible`. Fields left out keep their current value. Takes effect at the rule's next sweep.",
        parameters=[CLIENT_ID, RULE],
    ),
    partial_update=extend_schema(
        summary="Change a client's alert rule",
        description="Like PUT: only the fields given change.",
        parameters=[CLIENT_ID, RULE],
    ),
)
class AlertRuleViewSet(PlatformViewSet):
    queryset = Alert.objects.none()
    serializer_class = s.AlertRuleSerializer
    pagination_class = None
    filter_backends: list = []
    lookup_field = "rule"
    lookup_value_regex = "[^/.]+"  # any name reaches the view: an unknown rule is a 404 after the role check
    perms = {
        "list": Perm.ALERT_RULES,
        "retrieve": Perm.ALERT_RULES,
        "update": Perm.ALERT_RULES,
        "partial_update": Perm.ALERT_RULES,
    }

    def _client(self):
        return selectors.rule_client_get(actor=self.actor, pk=self.kwargs["client_pk"])

    def _rule(self, client, rule: str):
        from django.http import Http404

        if rule not in AlertRule.values:
            raise Http404
        return next(r for r in selectors.rule_table(client=client) if r.rule == rule)

    def list(self, request, *args, **kwargs):
        client = self._client()
        return Response(s.AlertRuleSerializer(selectors.rule_table(client=client), many=True).data)

    def retrieve(self, request, *args, **kwargs):
        client = self._client()
        return Response(s.AlertRuleSerializer(self._rule(client, kwargs["rule"])).data)

    def update(self, request, *args, **kwargs):
        client = self._client()
        self._rule(client, kwargs["rule"])
        form = s.AlertRuleSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        rule = services.rule_setting_update(
            actor=self.actor, client=client, rule=kwargs["rule"], **form.validated_data
        )
        return Response(s.AlertRuleSerializer(rule).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)
