import django_filters
from django.db.models import Q

from accounts.enums import KeyScope, Role
from accounts.models import APIKey, AuditEvent, Client, User, Warehouse


class ClientFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", help_text="Name or slug contains")
    account_manager = django_filters.NumberFilter(field_name="account_managers")

    class Meta:
        model = Client
        fields = ["active", "slug", "account_manager"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class WarehouseFilter(django_filters.FilterSet):
    class Meta:
        model = Warehouse
        fields = ["active", "code", "state"]


class UserFilter(django_filters.FilterSet):
    # A plain number, not a choice among all clients: another client's id must answer like a
    # missing one (an empty list), never "not a valid choice".
    client = django_filters.NumberFilter(field_name="client")
    role = django_filters.ChoiceFilter(choices=Role.choices)
    email = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["role", "client", "is_active", "email"]


# Filters on scoped models are declared explicitly: django-filter's automatic ones would query the
# model's (scoped, fail-closed) default manager when the class is created.
class APIKeyFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client")
    scope = django_filters.ChoiceFilter(choices=KeyScope.choices)
    active = django_filters.BooleanFilter(
        field_name="revoked_at", lookup_expr="isnull", help_text="Not revoked"
    )

    class Meta:
        model = APIKey
        fields: list[str] = []


class AuditEventFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client")
    action = django_filters.CharFilter(lookup_expr="startswith", help_text="e.g. user. or api_key.created")
    target_type = django_filters.CharFilter(help_text="e.g. accounts.user")
    target_id = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields: list[str] = []
