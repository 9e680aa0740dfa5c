from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.enums import CLIENT_ROLES, Role
from accounts.models import APIKey, AuditEvent, Client, User, Warehouse, WarehouseClosure
from accounts.services import CLIENT_SETTINGS
from fulfillment.api.serializers import UpdateRulesMixin


class ActorScopedFieldsMixin:
    """Narrow related-object choices to what the actor sees: another tenant's id is "does not exist"."""

    def get_fields(self):
        from accounts import selectors

        fields = super().get_fields()
        request = self.context.get("request")
        actor = getattr(request, "actor", None)
        if actor is None:
            return fields
        if "client" in fields and not fields["client"].read_only:
            fields["client"].queryset = Client.objects.filter(actor.client_q("pk"))
        if "staff_user" in fields and not fields["staff_user"].read_only:
            fields["staff_user"].queryset = selectors.user_list(actor=actor).exclude(role__in=CLIENT_ROLES)
        if "warehouses" in fields and not fields["warehouses"].read_only:
            fields["warehouses"].child_relation.queryset = selectors.warehouse_list(actor=actor)
        return fields


class ClientSerializer(UpdateRulesMixin, serializers.ModelSerializer):
    account_managers = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=User.objects.filter(role=Role.ACCOUNT_MANAGER)
    )
    warehouses = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Warehouse.objects.all()
    )
    user_count = serializers.IntegerField(read_only=True, help_text="Active users of the client")
    active_key_count = serializers.IntegerField(read_only=True, help_text="API keys not revoked")
    warehouse_count = serializers.IntegerField(read_only=True, help_text="Nodes the client stores at")

    class Meta:
        model = Client
        fields = (
            "id",
            "slug",
            *CLIENT_SETTINGS,
            "account_managers",
            "warehouses",
            "user_count",
            "active_key_count",
            "warehouse_count",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("created_at", "updated_at")

    fixed_on_update = ("slug",)  # the client's stable handle (URLs, CSV, keys)


class WarehouseClosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = WarehouseClosure
        fields = ("date", "reason")


class WarehouseSerializer(serializers.ModelSerializer):
    closures = WarehouseClosureSerializer(
        many=True, required=False, help_text="Local dates the node is closed"
    )

    class Meta:
        model = Warehouse
        fields = (
            "id",
            "code",
            "name",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "zip_code",
            "time_zone",
            "active",
            "closures",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("created_at", "updated_at")


class UserSerializer(UpdateRulesMixin, ActorScopedFieldsMixin, serializers.ModelSerializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(), required=False, allow_null=True, help_text="Required for client roles"
    )
    warehouses = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Warehouse.objects.all(), help_text="Warehouse operators' nodes"
    )

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "full_name",
            "role",
            "client",
            "warehouses",
            "is_active",
            "date_joined",
            "last_login",
        )
        read_only_fields = ("is_active", "date_joined", "last_login")

    fixed_on_update = ("email", "client")


class APIKeySerializer(ActorScopedFieldsMixin, serializers.ModelSerializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(),
        required=False,
        allow_null=True,
        help_text="The owning client (a client's own key may omit it)",
    )
    staff_user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True, help_text="The owning staff user"
    )
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = APIKey
        fields = (
            "id",
            "name",
            "prefix",
            "scope",
            "client",
            "staff_user",
            "is_active",
            "created_at",
            "last_used_at",
            "revoked_at",
        )
        read_only_fields = ("prefix", "created_at", "last_used_at", "revoked_at")


class NewAPIKeySerializer(APIKeySerializer):
    key = serializers.SerializerMethodField(help_text="The full key. Shown only in this response.")

    class Meta(APIKeySerializer.Meta):
        fields = (*APIKeySerializer.Meta.fields, "key")

    @extend_schema_field(serializers.CharField())
    def get_key(self, obj) -> str:
        return self.context["secret"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "client",
            "actor_label",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "changes",
            "created_at",
        )
        read_only_fields = fields
