"""Accounts endpoints. Views translate HTTP to selector/service calls; they write nothing themselves."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import selectors, services
from accounts.models import APIKey, AuditEvent, Client, User, Warehouse
from accounts.roles import Perm
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet

from .filters import APIKeyFilter, AuditEventFilter, ClientFilter, UserFilter, WarehouseFilter
from .serializers import (
    APIKeySerializer,
    AuditEventSerializer,
    ClientSerializer,
    NewAPIKeySerializer,
    UserSerializer,
    WarehouseSerializer,
)


def _relations(data: dict, **renames: str) -> dict:
    """Serializer output -> service kwargs: related objects to ids under the service's names."""
    out = dict(data)
    for field, kwarg in renames.items():
        if field in out:
            out[kwarg] = [obj.pk for obj in out.pop(field)]
    return out


@extend_schema_view(
    list=extend_schema(
        summary="List clients",
        description="Staff see the clients they may (all, assigned, or served at their nodes); "
        "a client's key sees only its own client.",
    ),
    retrieve=extend_schema(
        summary="Get a client", description="One client with its SLA settings and KPI targets."
    ),
    create=extend_schema(
        summary="Create a client", description="Operator admins only. SLA settings default to DOMAIN.md's."
    ),
    partial_update=extend_schema(
        summary="Update a client",
        description="Profile, SLA settings, KPI targets and nodes. Operator admins and the client's "
        "account managers; only operator admins change account managers.",
    ),
)
class ClientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    serializer_class = ClientSerializer
    filterset_class = ClientFilter
    ordering_fields = ("name", "slug", "created_at")
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.CLIENT_VIEW,
        "retrieve": Perm.CLIENT_VIEW,
        "create": Perm.CLIENT_CREATE,
        "partial_update": Perm.CLIENT_UPDATE,
    }

    queryset = Client.objects.none()

    def select(self):
        return selectors.client_list(actor=self.actor)

    def perform_create(self, serializer):
        data = _relations(
            serializer.validated_data, account_managers="account_manager_ids", warehouses="warehouse_ids"
        )
        client = services.client_create(actor=self.actor, **data)
        serializer.instance = selectors.client_get(actor=self.actor, pk=client.pk)

    def perform_update(self, serializer):
        data = _relations(
            serializer.validated_data, account_managers="account_manager_ids", warehouses="warehouse_ids"
        )
        client = services.client_update(actor=self.actor, client=serializer.instance, **data)
        serializer.instance = selectors.client_get(actor=self.actor, pk=client.pk)


@extend_schema_view(
    list=extend_schema(
        summary="List warehouses (nodes)",
        description="Staff see every node (warehouse operators: their own); "
        "a client sees the nodes it stores at.",
    ),
    retrieve=extend_schema(summary="Get a warehouse", description="One node with its closure dates."),
    create=extend_schema(summary="Create a warehouse", description="Operator admins only."),
    partial_update=extend_schema(
        summary="Update a warehouse",
        description="Operator admins only. `closures`, when given, replaces the node's closure dates.",
    ),
)
class WarehouseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    serializer_class = WarehouseSerializer
    filterset_class = WarehouseFilter
    ordering_fields = ("code", "name", "state")
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.WAREHOUSE_VIEW,
        "retrieve": Perm.WAREHOUSE_VIEW,
        "create": Perm.WAREHOUSE_MANAGE,
        "partial_update": Perm.WAREHOUSE_MANAGE,
    }

    queryset = Warehouse.objects.none()

    def select(self):
        return selectors.warehouse_list(actor=self.actor)

    def perform_create(self, serializer):
        warehouse = services.warehouse_create(actor=self.actor, **serializer.validated_data)
        serializer.instance = selectors.warehouse_get(actor=self.actor, pk=warehouse.pk)

    def perform_update(self, serializer):
        warehouse = services.warehouse_update(
            actor=self.actor, warehouse=serializer.instance, **serializer.validated_data
        )
        serializer.instance = selectors.warehouse_get(actor=self.actor, pk=warehouse.pk)


@extend_schema_view(
    list=extend_schema(
        summary="List users",
        description="Client admins and users see their client's users; account managers the users of "
        "their clients; operator admins everyone.",
    ),
    retrieve=extend_schema(summary="Get a user", description="One user."),
    create=extend_schema(
        summary="Invite a user",
        description="Creates the user and e-mails a link to set a password. Client admins invite "
        "their client's users (`client` is implied); operator admins also invite staff.",
    ),
    partial_update=extend_schema(
        summary="Update a user",
        description="Name, role (within the client or within the operator) and nodes.",
    ),
    deactivate=extend_schema(
        summary="Deactivate a user", description="The user can no longer sign in; their keys stop working."
    ),
    reactivate=extend_schema(
        summary="Reactivate a user", description="Lets a deactivated user sign in again."
    ),
)
class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    serializer_class = UserSerializer
    filterset_class = UserFilter
    ordering_fields = ("email", "full_name", "date_joined", "last_login")
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.USER_VIEW,
        "retrieve": Perm.USER_VIEW,
        "create": Perm.USER_MANAGE,
        "partial_update": Perm.USER_MANAGE,
        "deactivate": Perm.USER_MANAGE,
        "reactivate": Perm.USER_MANAGE,
    }

    queryset = User.objects.none()

    def select(self):
        return selectors.user_list(actor=self.actor)

    def perform_create(self, serializer):
        data = _relations(serializer.validated_data, warehouses="warehouse_ids")
        user = services.user_invite(actor=self.actor, **data)
        serializer.instance = selectors.user_get(actor=self.actor, pk=user.pk)

    def perform_update(self, serializer):
        data = _relations(serializer.validated_data, warehouses="warehouse_ids")
        user = services.user_update(actor=self.actor, user=serializer.instance, **data)
        serializer.instance = selectors.user_get(actor=self.actor, pk=user.pk)

    def _set_active(self, active: bool) -> Response:
        user = services.user_set_active(actor=self.actor, user=self.get_object(), active=active)
        return Response(self.get_serializer(selectors.user_get(actor=self.actor, pk=user.pk)).data)

    @extend_schema(request=None, responses={200: UserSerializer, **error_responses(404)})
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        return self._set_active(False)

    @extend_schema(request=None, responses={200: UserSerializer, **error_responses(404)})
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._set_active(True)


@extend_schema_view(
    list=extend_schema(
        summary="List API keys",
        description="Keys are listed by prefix and name; the secret is never returned after creation.",
    ),
    retrieve=extend_schema(summary="Get an API key", description="One key's metadata (never its secret)."),
    create=extend_schema(
        summary="Create an API key",
        description="Returns the full key once, in `key`; only its SHA-256 digest is stored. "
        "A client's admin creates keys for its client; staff create keys of their own (`staff_user`).",
        responses={201: NewAPIKeySerializer, **error_responses(400, 403)},
    ),
    revoke=extend_schema(summary="Revoke an API key", description="The key stops working at once."),
)
class APIKeyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PlatformViewSet
):
    serializer_class = APIKeySerializer
    filterset_class = APIKeyFilter
    ordering_fields = ("created_at", "name", "last_used_at")
    # A client's keys (API_KEY_*) or one's own staff keys (STAFF_KEY_OWN); services decide which.
    perms = dict.fromkeys(("list", "retrieve", "create", "revoke"), (Perm.API_KEY_VIEW, Perm.STAFF_KEY_OWN))

    queryset = APIKey.objects.none()

    def select(self):
        return selectors.api_key_list(actor=self.actor)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not data.get("client") and not data.get("staff_user") and self.actor.is_staff:
            data["staff_user"] = self.actor.user
        new = services.api_key_create(actor=self.actor, **data)
        out = NewAPIKeySerializer(
            new.api_key, context={**self.get_serializer_context(), "secret": new.secret}
        )
        return Response(out.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: APIKeySerializer, **error_responses(404)})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = services.api_key_revoke(actor=self.actor, api_key=self.get_object())
        return Response(self.get_serializer(key).data)


@extend_schema_view(
    list=extend_schema(
        summary="List audit events",
        description="Who did what, when, to which object. A client admin sees its client's trail; "
        "operator admins see everything.",
    ),
    retrieve=extend_schema(summary="Get an audit event", description="One audit event with its changes."),
)
class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ("created_at",)
    perms = {"list": Perm.AUDIT_VIEW, "retrieve": Perm.AUDIT_VIEW}

    queryset = AuditEvent.objects.none()

    def select(self):
        return selectors.audit_event_list(actor=self.actor)
