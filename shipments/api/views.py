"""Shipment endpoints (list, detail, label, void, ship, tracking events, label and slip
downloads) and manifests (list, detail, close)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import Perm
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from shipments import shipment_selectors as selectors
from shipments.models import Manifest, Shipment
from shipments.services import shipping, tracking

from . import serializers as s
from .filters import ManifestFilter, ShipmentFilter


def _raise_api(exc: ValidationError):
    from rest_framework.exceptions import ValidationError as DRFValidationError

    raise DRFValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


def _action(summary: str, description: str, request=None, responses=None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses=responses or {200: s.ShipmentSerializer, **error_responses(400, 404)},
    )


def label_response(shipment: Shipment, fmt: str) -> HttpResponse:
    """The label as a download (PDF or ZPL); 404 while the shipment has none."""
    if fmt == "zpl":
        if not shipment.label_zpl:
            raise Http404
        response = HttpResponse(shipment.label_zpl, content_type="application/zpl; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{shipment.number}-label.zpl"'
        return response
    if not shipment.label_pdf:
        raise Http404
    response = HttpResponse(bytes(shipment.label_pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{shipment.number}-label.pdf"'
    return response


def slip_response(shipment: Shipment) -> HttpResponse:
    from shipments import documents

    response = HttpResponse(documents.packing_slip_pdf(shipment=shipment), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{shipment.number}-packing-slip.pdf"'
    return response


@extend_schema_view(
    list=extend_schema(
        summary="List shipments",
        description="Shipments with order, node, carrier and service, tracking number, cost, dates and package "
        "totals, newest first. `late` (underway, the estimated delivery day has ended in the node's time zone) "
        "and `stalled` (underway, no tracking event by the end of the 2nd business day after shipping or the "
        "last event) are computed against the current time.",
    ),
    retrieve=extend_schema(
        summary="Get a shipment",
        description="One shipment with its packages and their contents, every quote taken when the label was "
        "bought (cheapest first, the chosen one marked, and why), the tracking timeline and voided labels.",
    ),
)
class ShipmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Shipment.objects.none()
    serializer_class = s.ShipmentSerializer
    filterset_class = ShipmentFilter
    ordering_fields = (
        "created_at",
        "shipped_at",
        "delivered_at",
        "estimated_delivery_date",
        "status",
        "cost",
        "tracking_number",
    )
    ordering = ("-created_at",)
    perms = {
        "list": Perm.SHIPMENT_VIEW,
        "retrieve": Perm.SHIPMENT_VIEW,
        "buy_label": Perm.FULFILL,
        "void": Perm.FULFILL,
        "ship": Perm.FULFILL,
        "events": (Perm.SHIPMENT_VIEW, Perm.TRACKING_RECORD),
        "label": Perm.SHIPMENT_VIEW,
        "slip": Perm.SHIPMENT_VIEW,
    }

    def get_serializer_class(self):
        return s.ShipmentListSerializer if self.action == "list" else super().get_serializer_class()

    def select(self):
        qs = selectors.shipment_list(actor=self.actor)
        return selectors.shipment_detail_prefetch(qs) if self.action == "retrieve" else qs

    def _out(self, shipment: Shipment) -> Response:
        fresh = selectors.shipment_get(actor=self.actor, pk=shipment.pk)
        return Response(s.ShipmentSerializer(fresh, context=self.get_serializer_context()).data)

    def _form(self, serializer_class):
        form = serializer_class(data=self.request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def _call(self, service, **kwargs) -> Response:
        try:
            shipment = service(actor=self.actor, **kwargs)
        except ValidationError as exc:
            _raise_api(exc)
        return self._out(shipment)

    @_action(
        "Buy the label",
        "Rate-shop the packed shipment (every active carrier service, from the node's ZIP to the order's, "
        "residential unless the order has a company or is wholesale) and buy the cheapest label that meets "
        "the order's service level, or the order's `carrier_service` when it names one (`carrier:service` "
        "or a service code; an unknown one is a 400 naming `carrier_service`). The quotes are kept on the "
        "shipment. A shipment not packed, or labelled already, is a 400 naming `status`.",
    )
    @action(detail=True, methods=["post"], url_path="buy-label")
    def buy_label(self, request, pk=None):
        return self._call(shipping.buy_label, shipment=self.get_object())

    @_action(
        "Void the label",
        "Before pickup only (labelled, not scanned out, not on a manifest): the carrier refunds it, the "
        "shipment goes back to packing and a new label can be bought. Otherwise a 400 naming `status`.",
        s.VoidSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.VoidSerializer)
    def void(self, request, pk=None):
        shipment = self.get_object()
        data = self._form(s.VoidSerializer)
        return self._call(shipping.void_label, shipment=shipment, reason=data["reason"])

    @_action(
        "Ship (scan out)",
        "The parcel leaves the node: its staged units leave the ledger (SHIP moves), the shipment is in "
        "transit with `shipped_at`, and the order becomes shipped (partially shipped while a split order's "
        "other node has not shipped). Shipping a shipment that has left already changes nothing.",
        s.ShipSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.ShipSerializer)
    def ship(self, request, pk=None):
        shipment = self.get_object()
        data = self._form(s.ShipSerializer)
        return self._call(shipping.ship_out, shipment=shipment, at=data["shipped_at"])

    @extend_schema(
        methods=["GET"],
        summary="List tracking events",
        description="The shipment's tracking timeline, oldest first (not paginated: a parcel has a few dozen).",
        responses={200: s.TrackingEventSerializer(many=True), **error_responses(404)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a tracking event",
        description="Staff integrations (TRACKING_RECORD). Statuses as in DOMAIN.md. An `external_id` seen "
        "before returns the event recorded the first time (200) and changes nothing; a new event is a 201. "
        "Every event is recorded; only the newest moves the shipment (a late `in_transit` never un-delivers). "
        "A moving scan of a labelled parcel never scanned out ships it. `delivered` sets `delivered_at` and "
        "the transit business days; `exception` records the reason (the description) and emits "
        "`shipment.exception`.",
        request=s.TrackingEventCreateSerializer,
        responses={
            200: s.TrackingEventSerializer,
            201: s.TrackingEventSerializer,
            **error_responses(400, 404),
        },
    )
    @action(
        detail=True,
        methods=["get", "post"],
        serializer_class=s.TrackingEventCreateSerializer,
        pagination_class=None,
    )
    def events(self, request, pk=None):
        shipment = self.get_object()
        context = self.get_serializer_context()
        if request.method == "GET":
            events = selectors.tracking_events(shipment=shipment)
            return Response(s.TrackingEventSerializer(events, many=True, context=context).data)
        if not self.actor.can(Perm.TRACKING_RECORD):
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("Your role may not record tracking events.")
        data = self._form(s.TrackingEventCreateSerializer)
        before = set(shipment.tracking_events.values_list("pk", flat=True))
        try:
            event = tracking.record_tracking_event(actor=self.actor, shipment=shipment, **data)
        except ValidationError as exc:
            _raise_api(exc)
        code = status.HTTP_200_OK if event.pk in before else status.HTTP_201_CREATED
        return Response(s.TrackingEventSerializer(event, context=context).data, status=code)

    @extend_schema(
        summary="Download the label",
        description="The 4x6 label: `?format=pdf` (default) or `?format=zpl`. 404 while there is no label.",
        parameters=[
            OpenApiParameter(
                "format", str, enum=["pdf", "zpl"], required=False, description="pdf (default) or zpl"
            )
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The label"),
            **error_responses(404),
        },
    )
    @action(detail=True, methods=["get"])
    def label(self, request, pk=None):
        self.get_object()
        shipment = selectors.shipment_for_download(actor=self.actor, pk=pk)
        fmt = request.query_params.get("format", "pdf").lower()
        if fmt not in ("pdf", "zpl"):
            from rest_framework.exceptions import ValidationError as DRFValidationError

            raise DRFValidationError({"format": ["Use pdf or zpl."]})
        return label_response(shipment, fmt)

    @extend_schema(
        summary="Download the packing slip",
        description="The packing slip (PDF) with the brand's name and the packages' contents.",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The slip"),
            **error_responses(404),
        },
    )
    @action(detail=True, methods=["get"])
    def slip(self, request, pk=None):
        return slip_response(selectors.shipment_get(actor=self.actor, pk=self.get_object().pk))

    def perform_content_negotiation(self, request, force=False):
        # ``?format=`` names the label's format on the downloads, not an API renderer.
        return super().perform_content_negotiation(request, force=force or self.action in ("label", "slip"))


@extend_schema_view(
    list=extend_schema(
        summary="List manifests",
        description="Staff: end-of-day manifests (one carrier at one node), newest first. A warehouse operator "
        "sees their own nodes'.",
    ),
    retrieve=extend_schema(summary="Get a manifest", description="One manifest with its counts."),
)
class ManifestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Manifest.objects.none()
    serializer_class = s.ManifestSerializer
    filterset_class = ManifestFilter
    ordering_fields = ("closed_at", "date")
    ordering = ("-closed_at",)
    perms = {"list": Perm.WAVE_VIEW, "retrieve": Perm.WAVE_VIEW, "create": Perm.FULFILL}

    def select(self):
        return selectors.manifest_list(actor=self.actor)

    @extend_schema(
        summary="Close a manifest",
        description="The end-of-day hand-over: every labelled shipment of `carrier` at `warehouse` not on a "
        "manifest yet goes on one manifest for the node's local day, and ships (SHIP moves, in transit, "
        "orders shipped). Nothing waiting is a 400 naming `carrier`.",
        request=s.ManifestCreateSerializer,
        responses={201: s.ManifestSerializer, **error_responses(400, 403)},
    )
    def create(self, request, *args, **kwargs):
        form = s.ManifestCreateSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        try:
            manifest = shipping.manifest_close(actor=self.actor, **form.validated_data)
        except ValidationError as exc:
            _raise_api(exc)
        return Response(s.ManifestSerializer(manifest).data, status=status.HTTP_201_CREATED)
