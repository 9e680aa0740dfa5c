"""Floor endpoints: waves (create, release, assign, cancel), picks (confirm by scan, short), pack
sessions (the pack station over the API: start, scan, close a package, next package, complete)
and packages (read-only, brands too).

Pack sessions are shipments in status ``packing`` (``/api/v1/pack-sessions/{id}`` is the
shipment's id); once its label is bought (``POST /api/v1/shipments/{id}/buy-label/``) a shipment
leaves the pack station and lives on under ``/api/v1/shipments/``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django_scopes import scope
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import User
from accounts.roles import Perm
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet, ReadViewSet
from orders import selectors as order_selectors
from shipments import selectors
from shipments.models import BoxType, Package, PickTask, Shipment, Wave
from shipments.services import packing, picking, waves

from . import floor_serializers as s
from .floor_filters import PackageFilter, PackSessionFilter, PickFilter, WaveFilter


def _form(view, serializer_class) -> dict:
    form = serializer_class(data=view.request.data, context=view.get_serializer_context())
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


def _user(pk: int | None) -> User | None:
    """A user a body names for assignment; one that does not exist is a 400 (like a wrong role)."""
    if pk is None:
        return None
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise ValidationError({"assigned_to": ["Choose a warehouse operator who works at this node."]})
    return user


def _action(summary: str, description: str, request=None, response=None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={200: response, **error_responses(400, 404)},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List waves",
        description="Waves of the nodes you work at (account managers: their clients' nodes), newest first, "
        "with progress: picks done / total, units picked / total, shorts and orders.",
    ),
    retrieve=extend_schema(summary="Get a wave", description="One wave with its progress."),
)
class WaveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Wave.objects.none()
    serializer_class = s.WaveSerializer
    filterset_class = WaveFilter
    ordering_fields = ("created_at", "released_at", "status")
    perms = {
        "list": Perm.WAVE_VIEW,
        "retrieve": Perm.WAVE_VIEW,
        "create": Perm.FULFILL,
        "release": Perm.FULFILL,
        "assign": Perm.FULFILL,
        "cancel": Perm.FULFILL,
    }

    def select(self):
        return selectors.wave_list(actor=self.actor)

    def _out(self, wave: Wave, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.wave_get(actor=self.actor, pk=wave.pk)
        return Response(s.WaveSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        summary="Create a wave",
        description="Groups the node's allocated orders not in an open wave, ship-by first: filtered by "
        "`ship_by_date` (due by the end of that local day), `service_level`, `units` (single- or multi-unit "
        "orders), explicit `order_ids` (each must be waveable, else a 400 naming `order_ids`), up to `limit`. "
        "The pick list is drawn up at once, in pick-path order; the wave is planned until released. An "
        "empty selection is a 400.",
        request=s.WaveCreateSerializer,
        responses={201: s.WaveSerializer, **error_responses(400)},
    )
    def create(self, request, *args, **kwargs):
        data = _form(self, s.WaveCreateSerializer)
        warehouse = selectors.floor_nodes(actor=self.actor).filter(pk=data["warehouse"]).first()
        if warehouse is None:
            raise ValidationError({"warehouse": ["Choose a node you work at."]})
        wave = waves.wave_create(
            actor=self.actor,
            warehouse=warehouse,
            ship_by_date=data.get("ship_by_date"),
            service_level=data.get("service_level") or "",
            units=data["units"],
            order_ids=data.get("order_ids"),
            limit=data.get("limit"),
            assign_to=_user(data.get("assigned_to")),
            note=data.get("note", ""),
        )
        return self._out(wave, status.HTTP_201_CREATED)

    @_action(
        "Release a wave",
        "Planned -> released: its orders become picking and the pick list goes to the floor. Orders that "
        "changed since planning (held, cancelled, re-routed) drop out. Another status is a 400 naming `status`.",
        response=s.WaveSerializer,
    )
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        return self._out(waves.wave_release(actor=self.actor, wave=self.get_object()))

    @_action(
        "Assign a wave",
        "To a warehouse operator who works at the wave's node (`null` unassigns); anyone else is a 400 naming "
        "`assigned_to`.",
        s.WaveAssignSerializer,
        s.WaveSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.WaveAssignSerializer)
    def assign(self, request, pk=None):
        wave = self.get_object()
        data = _form(self, s.WaveAssignSerializer)
        return self._out(waves.wave_assign(actor=self.actor, wave=wave, user=_user(data["assigned_to"])))

    @_action(
        "Cancel a wave",
        "Only before any pick is confirmed (else a 400 naming `status`): its picks are cancelled, the "
        "reservations kept, and orders it sent to picking are allocated again.",
        s.WaveCancelSerializer,
        s.WaveSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.WaveCancelSerializer)
    def cancel(self, request, pk=None):
        wave = self.get_object()
        data = _form(self, s.WaveCancelSerializer)
        return self._out(waves.wave_cancel(actor=self.actor, wave=wave, reason=data.get("reason", "")))


@extend_schema_view(
    list=extend_schema(
        summary="List picks",
        description="Pick tasks of the waves you see, in pick-path order within each wave; filter by `wave`, "
        "`status`, `order`, `warehouse`, `item`, `location`.",
    ),
    retrieve=extend_schema(
        summary="Get a pick", description="One pick task: bin, item, units asked and picked."
    ),
)
class PickViewSet(ReadViewSet):
    queryset = PickTask.objects.none()
    serializer_class = s.PickSerializer
    filterset_class = PickFilter
    ordering_fields = ("sequence", "picked_at")
    perms = {
        "list": Perm.WAVE_VIEW,
        "retrieve": Perm.WAVE_VIEW,
        "confirm": Perm.FULFILL,
        "short": Perm.FULFILL,
    }

    def select(self):
        return selectors.pick_list(actor=self.actor)

    def _out(self, pick: PickTask) -> Response:
        fresh = selectors.pick_get(actor=self.actor, pk=pick.pk)
        return Response(s.PickSerializer(fresh, context=self.get_serializer_context()).data)

    @_action(
        "Confirm a pick by scan",
        "The scanned bin (`location`) and item (`item`: barcode or SKU) must be the pick's, else a 400 naming "
        "that field and nothing moves. `quantity` units are taken (default one per scan); with the last unit "
        "the pick is staged: PICK moves from the bin to the node's staging location, where the units stay "
        "reserved for the order.",
        s.PickConfirmSerializer,
        s.PickSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.PickConfirmSerializer)
    def confirm(self, request, pk=None):
        pick = self.get_object()
        data = _form(self, s.PickConfirmSerializer)
        return self._out(picking.pick_confirm(actor=self.actor, pick=pick, **data))

    @_action(
        "Report a short pick",
        "Fewer units in the bin than asked: the `found` units are staged, the discrepancy recorded, a cycle "
        "count of the bin created, and the shortfall re-allocated (other bins of the node: a new pick in "
        "this wave; else other nodes when the brand allows split shipments; else the order goes to "
        "exception). `outcome` says which.",
        s.PickShortSerializer,
        s.PickShortResultSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.PickShortSerializer)
    def short(self, request, pk=None):
        pick = self.get_object()
        data = _form(self, s.PickShortSerializer)
        short = picking.pick_short(actor=self.actor, pick=pick, found=data["found"])
        short.pick = selectors.pick_get(actor=self.actor, pk=pick.pk)
        return Response(s.PickShortResultSerializer(short, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(
        summary="List packages",
        description="Packages of shipments (brands: their own), newest first, with box, dimensions, weights, "
        "tracking number and contents.",
    ),
    retrieve=extend_schema(summary="Get a package", description="One package with its contents."),
)
class PackageViewSet(ReadViewSet):
    queryset = Package.objects.none()
    serializer_class = s.PackageDetailSerializer
    filterset_class = PackageFilter
    ordering_fields = ("created_at", "closed_at")
    perms = {"list": Perm.SHIPMENT_VIEW, "retrieve": Perm.SHIPMENT_VIEW}

    def select(self):
        return selectors.package_list(actor=self.actor)


@extend_schema_view(
    list=extend_schema(
        summary="List pack sessions",
        description="Shipments at the pack station (status packing): being packed, or packed and waiting for "
        "their label (`packed`). The id is the shipment's.",
    ),
    retrieve=extend_schema(
        summary="Get a pack session",
        description="Picked vs packed units per order line, the packages, and the box(es) proposed for what is "
        "not boxed yet (smallest box of the node's catalog that holds it, or a split).",
        responses={200: s.PackSessionDetailSerializer},
    ),
)
class PackSessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Shipment.objects.none()
    serializer_class = s.PackSessionSerializer
    filterset_class = PackSessionFilter
    ordering_fields = ("created_at",)
    perms = {
        "list": Perm.WAVE_VIEW,
        "retrieve": Perm.WAVE_VIEW,
        "create": Perm.FULFILL,
        "scan": Perm.FULFILL,
        "close_package": Perm.FULFILL,
        "new_package": Perm.FULFILL,
        "complete": Perm.FULFILL,
    }

    def select(self):
        return selectors.pack_session_list(actor=self.actor)

    def retrieve(self, request, *args, **kwargs):
        return self._out(self.get_object())

    def _out(self, shipment: Shipment, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.pack_session_list(actor=self.actor).filter(pk=shipment.pk).first() or shipment
        with scope(client=fresh.client_id):
            fresh.units = packing.shipment_units(fresh)
            fresh.station_packages = selectors.shipment_packages(shipment=fresh)
            proposal = selectors.pack_proposal(fresh, units=fresh.units)
        fresh.proposal, fresh.proposal_message = proposal.boxes, proposal.message
        if not hasattr(fresh, "package_count"):
            fresh.package_count = len(fresh.station_packages)
            fresh.units_packed = sum(u.packed for u in fresh.units)
        data = s.PackSessionDetailSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=code)

    @extend_schema(
        summary="Start packing an order",
        description="Opens (or resumes) the pack session of `order` at node `warehouse` once every pick of it "
        "there is done; otherwise a 400 naming `order`.",
        request=s.PackStartSerializer,
        responses={201: s.PackSessionDetailSerializer, **error_responses(400)},
    )
    def create(self, request, *args, **kwargs):
        data = _form(self, s.PackStartSerializer)
        order = order_selectors.order_list(actor=self.actor).filter(pk=data["order"]).first()
        if order is None:
            raise ValidationError({"order": [f"Invalid pk “{data['order']}” - object does not exist."]})
        warehouse = selectors.floor_nodes(actor=self.actor).filter(pk=data["warehouse"]).first()
        if warehouse is None:
            raise ValidationError({"warehouse": ["Choose a node you work at."]})
        shipment = packing.pack_start(actor=self.actor, order=order, warehouse=warehouse)
        return self._out(shipment, status.HTTP_201_CREATED)

    def _package(self, shipment: Shipment, pk: int | None) -> Package | None:
        if pk is None:
            return None
        with scope(client=shipment.client_id):
            package = Package.objects.filter(pk=pk, shipment=shipment).first()
        if package is None:
            raise ValidationError({"package": ["No such package in this shipment."]})
        return package

    @_action(
        "Scan a unit into a package",
        "One unit per scan (or `quantity` for a case pack) into `package` (default: the open one, package 1 "
        "created if none). An item not in the order, or beyond the units picked for it, is a 400 naming "
        "`code` (`quantity` when only fewer are left); nothing is written.",
        s.PackScanSerializer,
        s.PackSessionDetailSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.PackScanSerializer)
    def scan(self, request, pk=None):
        shipment = self.get_object()
        data = _form(self, s.PackScanSerializer)
        packing.pack_scan(
            actor=self.actor,
            shipment=shipment,
            code=data["code"],
            quantity=data["quantity"],
            package=self._package(shipment, data.get("package")),
        )
        return self._out(shipment)

    @_action(
        "Close a package",
        "Box and weigh it: `box_type` from the node's catalog or `length_in`/`width_in`/`height_in`; "
        "`weight_lb` > 0. Billable weight uses the 139 divisor until the label's carrier sets its own.",
        s.PackageCloseSerializer,
        s.PackSessionDetailSerializer,
    )
    @action(
        detail=True, methods=["post"], url_path="close-package", serializer_class=s.PackageCloseSerializer
    )
    def close_package(self, request, pk=None):
        shipment = self.get_object()
        data = _form(self, s.PackageCloseSerializer)
        package = self._package(shipment, data.get("package"))
        if package is None:
            package = selectors.open_package(shipment)
            if package is None:
                raise ValidationError({"package": ["No open package in this shipment."]})
        box = None
        if data.get("box_type") is not None:
            box = BoxType.objects.filter(
                pk=data["box_type"], warehouse_id=shipment.warehouse_id, active=True
            ).first()
            if box is None:
                raise ValidationError({"box_type": ["Choose an active box of this node."]})
        packing.package_close(
            actor=self.actor,
            package=package,
            box_type=box,
            weight_lb=data["weight_lb"],
            length_in=data.get("length_in"),
            width_in=data.get("width_in"),
            height_in=data.get("height_in"),
        )
        return self._out(shipment)

    @_action(
        "Start the next package",
        "Opens package 2, 3, ... (an open package that is still empty is reused).",
        None,
        s.PackSessionDetailSerializer,
    )
    @action(detail=True, methods=["post"], url_path="new-package")
    def new_package(self, request, pk=None):
        shipment = self.get_object()
        packing.package_open_next(actor=self.actor, shipment=shipment)
        return self._out(shipment)

    @_action(
        "Complete packing",
        "Every picked unit packed and every package closed, else a 400 naming `packages` that lists what is "
        "missing. The shipment then waits for its label (`POST /api/v1/shipments/{id}/buy-label/`); the order "
        "is packed when all its parts are.",
        None,
        s.PackSessionDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        shipment = self.get_object()
        return self._out(packing.pack_complete(actor=self.actor, shipment=shipment))
