"""Carriers, their services, rate quotes (rate shopping for a parcel) and node box catalogs.

Carriers and services are operator data: every role reads them (client roles without account
numbers or webhook secrets); only operator admins (CARRIER_MANAGE) change them.
"""

from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from accounts.roles import Perm
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from fulfillment.calendar import BusinessCalendar

from .. import rates, selectors_carriers
from ..carriers import catalog
from ..enums import SERVICE_PROMISE_DAYS
from ..models import BoxType, Carrier, CarrierService
from . import carrier_serializers as s


class CarrierFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(field_name="code")
    active = django_filters.BooleanFilter(field_name="active")

    class Meta:
        model = Carrier
        fields: list[str] = []


class ServiceFilter(django_filters.FilterSet):
    carrier = django_filters.NumberFilter(field_name="carrier", help_text="A carrier's id")
    carrier_code = django_filters.CharFilter(field_name="carrier__code", help_text="A carrier's code")
    active = django_filters.BooleanFilter(field_name="active")

    class Meta:
        model = CarrierService
        fields: list[str] = []


class BoxTypeFilter(django_filters.FilterSet):
    warehouse = django_filters.NumberFilter(field_name="warehouse", help_text="One node's catalog")
    active = django_filters.BooleanFilter(field_name="active")

    class Meta:
        model = BoxType
        fields: list[str] = []


class _OperatorDataViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    """Operator data (carriers, box catalogs): every role reads it, operator admins add and PATCH it."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.CARRIER_VIEW,
        "retrieve": Perm.CARRIER_VIEW,
        "create": Perm.CARRIER_MANAGE,
        "partial_update": Perm.CARRIER_MANAGE,
    }


@extend_schema_view(
    list=extend_schema(
        summary="List carriers",
        description="Carriers with their services, dimensional divisor and surcharges. Staff also see "
        "the account number; operator admins the webhook token and secret.",
    ),
    retrieve=extend_schema(summary="Get a carrier", description="One carrier with its services."),
    create=extend_schema(
        summary="Create a carrier",
        description="Operator admins. Its services and rate cards are added in the admin site.",
    ),
    partial_update=extend_schema(
        summary="Update a carrier", description="Operator admins: surcharges, divisor, account, active."
    ),
)
class CarrierViewSet(_OperatorDataViewSet):
    queryset = Carrier.objects.none()
    serializer_class = s.CarrierAdminSerializer
    filterset_class = CarrierFilter
    ordering_fields = ("name", "code")

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or getattr(self.request, "actor", None) is None:
            return self.serializer_class
        return s.CarrierSerializer.for_actor(self.actor)

    def select(self):
        return selectors_carriers.carrier_list(actor=self.actor)

    def perform_create(self, serializer):
        carrier = catalog.carrier_create(actor=self.actor, **serializer.validated_data)
        serializer.instance = selectors_carriers.carrier_get(actor=self.actor, pk=carrier.pk)

    def perform_update(self, serializer):
        carrier = catalog.carrier_update(
            actor=self.actor, carrier=serializer.instance, **serializer.validated_data
        )
        serializer.instance = selectors_carriers.carrier_get(actor=self.actor, pk=carrier.pk)


@extend_schema_view(
    list=extend_schema(
        summary="List carrier services",
        description="Every service with its transit business days for zones 1 to 8 and its weight limit.",
    ),
    retrieve=extend_schema(summary="Get a carrier service", description="One service with its transit days."),
)
class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = CarrierService.objects.none()
    serializer_class = s.ServiceSerializer
    filterset_class = ServiceFilter
    ordering_fields = ("code", "name", "carrier__code")
    perms = {"list": Perm.CARRIER_VIEW, "retrieve": Perm.CARRIER_VIEW}

    def select(self):
        return selectors_carriers.service_list(actor=self.actor)


@extend_schema_view(
    create=extend_schema(
        summary="Quote a parcel",
        description="Every active service that can carry the parcels from the origin (a node, or a ZIP) "
        "to the destination ZIP, cheapest first, priced as DOMAIN.md says (zone from ZIP centroid "
        "distance, billable weight = max(actual, dimensional), fuel on base + residential, residential "
        "per parcel). `chosen` marks what rate shopping picks for `service_level`: the cheapest service "
        "whose transit meets the promise, else the fastest; `reason` says which. Writes nothing.",
        request=s.RateQuoteRequestSerializer,
        responses={200: s.RateQuoteResultSerializer, **error_responses(400)},
    ),
)
class RateQuoteViewSet(PlatformViewSet):
    queryset = Carrier.objects.none()
    serializer_class = s.RateQuoteRequestSerializer
    perms = {"create": Perm.CARRIER_VIEW}

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        node = data.get("origin_warehouse")
        origin_zip = node.zip_code[:5] if node else data["origin_zip"]
        calendar = BusinessCalendar.for_warehouse(node) if node else BusinessCalendar("America/New_York")
        ship_date = data.get("ship_date") or timezone.now().astimezone(calendar.zone).date()
        parcels = [
            rates.Parcel(p["weight_lb"], p.get("length_in"), p.get("width_in"), p.get("height_in"))
            for p in data["parcels"]
        ]
        result = selectors_carriers.rate_shop(
            origin_zip=origin_zip,
            destination_zip=data["destination_zip"],
            parcels=parcels,
            residential=data["residential"],
            service_level=data["service_level"],
            ship_date=ship_date,
            calendar=calendar,
        )
        chosen_id = result.chosen.service_id if result.chosen else None
        body = {
            "origin_zip": origin_zip,
            "destination_zip": data["destination_zip"],
            "zone": result.zone,
            "service_level": data["service_level"],
            "promise_days": SERVICE_PROMISE_DAYS[data["service_level"]],
            "ship_date": ship_date,
            "quotes": [{**q.__dict__, "chosen": q.service_id == chosen_id} for q in result.quotes],
            "chosen_service_id": chosen_id,
            "reason": result.reason,
        }
        return Response(s.RateQuoteResultSerializer(body).data, status=status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(
        summary="List box types",
        description="The box catalogs of the nodes the actor sees (cartonization picks from them).",
    ),
    retrieve=extend_schema(summary="Get a box type", description="One box: inner dimensions, weights, cost."),
    create=extend_schema(
        summary="Add a box type", description="Operator admins: a box for a node's catalog."
    ),
    partial_update=extend_schema(
        summary="Update a box type", description="Operator admins: dimensions, weights, cost, active."
    ),
)
class BoxTypeViewSet(_OperatorDataViewSet):
    queryset = BoxType.objects.none()
    serializer_class = s.BoxTypeSerializer
    filterset_class = BoxTypeFilter
    ordering_fields = ("code", "cost")

    def select(self):
        return selectors_carriers.box_type_list(actor=self.actor)

    def perform_create(self, serializer):
        box = catalog.box_type_create(actor=self.actor, **serializer.validated_data)
        serializer.instance = selectors_carriers.box_type_get(actor=self.actor, pk=box.pk)

    def perform_update(self, serializer):
        box = catalog.box_type_update(actor=self.actor, box=serializer.instance, **serializer.validated_data)
        serializer.instance = selectors_carriers.box_type_get(actor=self.actor, pk=box.pk)
