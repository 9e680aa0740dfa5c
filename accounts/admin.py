"""Django admin for operator admins. The audit trail is read-only; API keys are created and revoked
through their services (the admin shows metadata only, never a secret)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import APIKey, AuditEvent, Client, User, Warehouse, WarehouseClosure


class WarehouseClosureInline(admin.TabularInline):
    model = WarehouseClosure
    extra = 0


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "city", "state", "zip_code", "time_zone", "active")
    list_filter = ("active", "state")
    search_fields = ("code", "name", "city")
    inlines = [WarehouseClosureInline]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone", "active", "order_cutoff", "ship_sla_days")
    list_filter = ("active",)
    search_fields = ("name", "slug")
    filter_horizontal = ("account_managers", "warehouses")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "role", "client", "is_active", "last_login")
    list_filter = ("role", "is_active", "client")
    search_fields = ("email", "full_name")
    filter_horizontal = ("warehouses",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "role", "client", "warehouses", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "role", "client", "password1", "password2")}),
    )
    readonly_fields = ("last_login", "date_joined")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(APIKey)
class APIKeyAdmin(ReadOnlyAdmin):
    list_display = (
        "prefix",
        "name",
        "client",
        "staff_user",
        "scope",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("scope", "client")
    search_fields = ("prefix", "name")
    exclude = ("key_hash",)

    def get_queryset(self, request):
        return APIKey.all_objects.select_related("client", "staff_user")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_label", "action", "target_type", "target_repr", "client")
    list_filter = ("action", "target_type", "client")
    search_fields = ("actor_label", "target_repr", "target_id")
    date_hierarchy = "created_at"
