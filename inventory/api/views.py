"""Inventory endpoints: catalog, locations, balances, the ledger, adjustments, transfers, counts, ASNs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.roles import Perm
from fulfillment.api.errors import file_import_response
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from inventory import imports, selectors, services
from inventory.models import ASN, Balance, CycleCount, Item, Location, Move, Transfer

from . import serializers as s
from .filters import (
    ASNFilter,
    BalanceFilter,
    CountFilter,
    ItemFilter,
    LocationFilter,
    MoveFilter,
    TransferFilter,
)


def _chosen(queryset, pk, field: str):
    """An object a request body names by id, among those the actor may name: anything else is a
    400 naming the field, whether it does not exist or belongs to someone else."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: [f"Invalid pk “{pk}” - object does not exist."]})
    return found


def _import_response(result: imports.ImportResult) -> Response:
    body = s.ImportResultSerializer(
        {
            "dry_run": result.dry_run,
            "valid": result.valid,
            "rows": result.rows,
            "created": result.created,
            "errors": result.errors,
        }
    ).data
    return file_import_response(result, body)


def import_schema(summary: str, description: str):
    return extend_schema(
        summary=summary,
        description=description + " The whole file is checked first: any bad row rejects it (400, "
        "`error.rows` names every bad row, column and reason) and nothing is written; a good file is "
        "written in one transaction (201). `dry_run` checks only (200).",
        request={"multipart/form-data": s.ImportSerializer},
        responses={200: s.ImportResultSerializer, 201: s.ImportResultSerializer, **error_responses(400)},
    )


# --- items -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List items", description="The catalog with on-hand and available units."),
    retrieve=extend_schema(summary="Get an item", description="One item with barcodes and kit components."),
    create=extend_schema(
        summary="Create an item",
        description="SKU unique within the client; a barcode identifies one item within the client. "
        "A kit (`is_kit`) lists its `components` by SKU.",
    ),
    partial_update=extend_schema(
        summary="Update an item", description="`barcodes` and `components`, when given, replace the lists."
    ),
)
class ItemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    queryset = Item.objects.none()
    serializer_class = s.ItemSerializer
    filterset_class = ItemFilter
    ordering_fields = ("sku", "name", "created_at")
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.INVENTORY_VIEW,
        "retrieve": Perm.INVENTORY_VIEW,
        "stock": Perm.INVENTORY_VIEW,
        "create": Perm.ITEM_MANAGE,
        "partial_update": Perm.ITEM_MANAGE,
        "import_csv": Perm.ITEM_MANAGE,
    }

    def select(self):
        return selectors.item_list(actor=self.actor)

    def perform_create(self, serializer):
        client, data = self.client_and_fields(serializer.validated_data)
        item = services.item_create(actor=self.actor, client=client, **data)
        serializer.instance = selectors.item_get(actor=self.actor, pk=item.pk)

    def perform_update(self, serializer):
        item = services.item_update(actor=self.actor, item=serializer.instance, **serializer.validated_data)
        serializer.instance = selectors.item_get(actor=self.actor, pk=item.pk)

    @extend_schema(
        summary="Stock of an item by node",
        description="On hand, allocated and sellable available per node; a kit's available is the "
        "minimum over its components.",
        responses={200: s.NodeStockSerializer(many=True), **error_responses(404)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def stock(self, request, pk=None):
        rows = selectors.item_stock_by_node(actor=self.actor, item=self.get_object())
        return Response(s.NodeStockSerializer(rows, many=True).data)

    @import_schema(
        "Import items from CSV",
        "Columns: sku, name (required); upc, ean, scancode (several joined by |); description, weight_lb, "
        "length_in, width_in, height_in, case_quantity, carton_quantity, lot_tracked, expiry_tracked, "
        "serial_tracked, hazmat, hs_code, country_of_origin, reorder_point; kit_components as "
        "`SKU:qty;SKU:qty` (the row is then a kit).",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
        serializer_class=s.ImportSerializer,
    )
    def import_csv(self, request):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        client = self.client_for(form.validated_data)
        result = imports.import_items(
            actor=self.actor,
            client=client,
            upload=form.validated_data["file"],
            dry_run=form.validated_data["dry_run"],
        )
        return _import_response(result)


# --- locations ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List locations", description="Bins of the nodes, in pick-path order (staff)."
    ),
    retrieve=extend_schema(summary="Get a location", description="One bin with its units on hand."),
    create=extend_schema(summary="Create a location", description="Operator admins."),
    partial_update=extend_schema(summary="Update a location", description="Type, pick sequence, active."),
)
class LocationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    queryset = Location.objects.none()
    serializer_class = s.LocationSerializer
    filterset_class = LocationFilter
    ordering_fields = ("pick_sequence", "code")
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.LOCATION_VIEW,
        "retrieve": Perm.LOCATION_VIEW,
        "create": Perm.LOCATION_MANAGE,
        "partial_update": Perm.LOCATION_MANAGE,
        "bulk": Perm.LOCATION_MANAGE,
    }

    def select(self):
        return selectors.location_list(actor=self.actor)

    def perform_create(self, serializer):
        location = services.location_create(actor=self.actor, **serializer.validated_data)
        serializer.instance = selectors.location_get(actor=self.actor, pk=location.pk)

    def perform_update(self, serializer):
        location = services.location_update(
            actor=self.actor, location=serializer.instance, **serializer.validated_data
        )
        serializer.instance = selectors.location_get(actor=self.actor, pk=location.pk)

    @extend_schema(
        summary="Create a range of bins",
        description="Every ZONE-AISLE-BAY-LEVEL of the ranges, in a serpentine pick path; existing bins are kept.",
        request=s.LocationBulkSerializer,
        responses={201: s.LocationBulkResultSerializer, **error_responses(400)},
    )
    @action(detail=False, methods=["post"], serializer_class=s.LocationBulkSerializer)
    def bulk(self, request):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        result = services.locations_bulk_create(actor=self.actor, **form.validated_data)
        return Response(
            {"created": len(result.created), "existing": result.existing}, status=status.HTTP_201_CREATED
        )


# --- balances, moves, adjustments, relocations, transfers --------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List balances",
        description="Stock per item x node x location x lot: on hand, allocated, available. In item, "
        "location and lot order (by id; `ordering=item__sku` sorts by SKU).",
    ),
    retrieve=extend_schema(summary="Get a balance", description="One balance."),
)
class BalanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Balance.objects.none()
    serializer_class = s.BalanceSerializer
    filterset_class = BalanceFilter
    ordering_fields = ("item__sku", "on_hand", "expiry_date", "received_at")
    # By client, item, bin and lot: the order of the balance's unique index, so a page is read from
    # the index instead of sorting every balance of the client by names in four joined tables.
    ordering = ("client_id", "item_id", "location_id", "lot_code")
    perms = dict.fromkeys(("list", "retrieve", "totals"), Perm.INVENTORY_VIEW)

    def select(self):
        return selectors.balance_list(actor=self.actor)

    @extend_schema(
        summary="Totals per item per node",
        description="On hand, allocated and available summed over locations and lots (filters as the list).",
        responses={200: s.BalanceTotalSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], serializer_class=s.BalanceTotalSerializer, ordering_fields=())
    def totals(self, request):
        balances = self.filter_queryset(self.get_queryset()).order_by()
        rows = selectors.balance_totals(actor=self.actor, balances=balances)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.BalanceTotalSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(
        summary="The stock ledger",
        description="Every change of stock, newest first: signed quantity, reason, document, who, when. Read-only.",
    ),
    retrieve=extend_schema(summary="Get a move", description="One ledger row."),
)
class MoveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Move.objects.none()
    serializer_class = s.MoveSerializer
    filterset_class = MoveFilter
    ordering_fields = ("created_at",)
    perms = {"list": Perm.INVENTORY_VIEW, "retrieve": Perm.INVENTORY_VIEW, "reverse": Perm.STOCK_ADJUST}

    def select(self):
        return selectors.move_list(actor=self.actor)

    @extend_schema(
        summary="Reverse a move",
        description="Staff: posts an equal and opposite move; the original stays as it was.",
        request=s.ReverseSerializer,
        responses={201: s.MoveSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"], serializer_class=s.ReverseSerializer)
    def reverse(self, request, pk=None):
        move = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        move = services.move_reverse(actor=self.actor, move=move, **form.validated_data)
        return Response(s.MoveSerializer(move).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(
        summary="Adjust stock",
        description="Staff only: a signed change of on hand with a reason code (damaged, found, lost, "
        "expired, count correction) and a note; the brand sees it in its ledger.",
        responses={201: s.MoveSerializer, **error_responses(400)},
    ),
)
class AdjustmentViewSet(mixins.CreateModelMixin, PlatformViewSet):
    queryset = Move.objects.none()
    serializer_class = s.AdjustmentSerializer
    perms = {"create": Perm.STOCK_ADJUST}

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        client = data.pop("client")
        sku = data.pop("sku")
        item = services.client_item(client.pk, sku=sku, field_name="sku")
        location = data.pop("location")  # one of the actor's bins (the serializer's choices)
        move = services.stock_adjust(actor=self.actor, client=client, item=item, location=location, **data)
        return Response(s.MoveSerializer(move).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(
        summary="Move units between locations",
        description="Staff: units from one balance to another bin of the same node (two ledger moves).",
        responses={201: s.MoveSerializer, **error_responses(400)},
    ),
)
class RelocationViewSet(mixins.CreateModelMixin, PlatformViewSet):
    queryset = Move.objects.none()
    serializer_class = s.RelocationSerializer
    perms = {"create": Perm.STOCK_ADJUST}

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        balance = _chosen(selectors.balance_list(actor=self.actor), data["balance"], "balance")
        move = services.stock_relocate(
            actor=self.actor,
            balance=balance,
            to_location=data["to_location"],
            quantity=data["quantity"],
            note=data["note"],
        )
        return Response(s.MoveSerializer(move).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List transfers between nodes", description="Units in transit and received."),
    retrieve=extend_schema(summary="Get a transfer", description="One transfer."),
    create=extend_schema(
        summary="Send units to another node",
        description="Staff: the units leave the source balance now (transfer out) and are in transit.",
    ),
    receive=extend_schema(
        summary="Receive a transfer",
        description="Staff at the destination: the units arrive (transfer in), by default at the receiving dock.",
    ),
)
class TransferViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PlatformViewSet
):
    queryset = Transfer.objects.none()
    serializer_class = s.TransferSerializer
    filterset_class = TransferFilter
    ordering_fields = ("shipped_at",)
    perms = {
        "list": Perm.INVENTORY_VIEW,
        "retrieve": Perm.INVENTORY_VIEW,
        "create": Perm.STOCK_ADJUST,
        "receive": Perm.STOCK_ADJUST,
    }

    def select(self):
        return selectors.transfer_list(actor=self.actor)

    def perform_create(self, serializer):
        data = serializer.validated_data
        balance = _chosen(selectors.balance_list(actor=self.actor), data["balance"], "balance")
        serializer.instance = services.transfer_dispatch(
            actor=self.actor,
            balance=balance,
            to_warehouse=data["to_warehouse"],
            quantity=data["quantity"],
            reference=data.get("reference", ""),
        )

    @extend_schema(
        request=s.TransferReceiveSerializer, responses={200: s.TransferSerializer, **error_responses(404)}
    )
    @action(detail=True, methods=["post"], serializer_class=s.TransferReceiveSerializer)
    def receive(self, request, pk=None):
        transfer = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        transfer = services.transfer_receive(
            actor=self.actor, transfer=transfer, to_location=form.validated_data.get("to_location")
        )
        return Response(s.TransferSerializer(transfer).data)


# --- cycle counts ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List cycle counts", description="Counts of the nodes the actor works in (staff)."
    ),
    retrieve=extend_schema(summary="Get a cycle count", description="One count with its progress."),
    create=extend_schema(
        summary="Create a cycle count",
        description="Count `locations` (everything in those bins) or `items` (everywhere at the node).",
    ),
)
class CycleCountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PlatformViewSet
):
    queryset = CycleCount.objects.none()
    serializer_class = s.CycleCountSerializer
    filterset_class = CountFilter
    ordering_fields = ("created_at",)
    perms = {
        "list": (Perm.COUNT, Perm.COUNT_APPROVE),
        "retrieve": (Perm.COUNT, Perm.COUNT_APPROVE),
        "lines": (Perm.COUNT, Perm.COUNT_APPROVE),
        "create": Perm.COUNT,
        "enter": Perm.COUNT,
        "submit": Perm.COUNT,
        "cancel": Perm.COUNT,
        "approve": Perm.COUNT_APPROVE,
    }

    def select(self):
        return selectors.count_list(actor=self.actor)

    def perform_create(self, serializer):
        data = serializer.validated_data
        count = services.count_create(
            actor=self.actor,
            warehouse=data["warehouse"],
            locations=data.get("locations", []),
            items=data.get("items", []),
            reason=data.get("reason", ""),
        )
        serializer.instance = selectors.count_get(actor=self.actor, pk=count.pk)

    def _count_response(self, count: CycleCount) -> Response:
        return Response(s.CycleCountSerializer(selectors.count_get(actor=self.actor, pk=count.pk)).data)

    @extend_schema(
        summary="Lines of a count",
        description="Blind while the count is open: system quantities and variances appear once submitted.",
        responses={200: s.CycleCountLineSerializer(many=True), **error_responses(404)},
    )
    @action(detail=True, methods=["get"], serializer_class=s.CycleCountLineSerializer, ordering_fields=())
    def lines(self, request, pk=None):
        count = self.get_object()
        page = self.paginate_queryset(selectors.count_lines(count=count))
        blind = count.status == "open"
        return self.get_paginated_response(
            s.CycleCountLineSerializer(page, many=True, context={"blind": blind}).data
        )

    @extend_schema(
        summary="Enter a count",
        description="The units counted for a line, or for an item found in a counted bin (location + code).",
        request=s.CountEntrySerializer,
        responses={200: s.CycleCountLineSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"], serializer_class=s.CountEntrySerializer)
    def enter(self, request, pk=None):
        count = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        line = item = None
        if "line" in data:
            line = _chosen(selectors.count_lines(count=count), data["line"], "line")
        elif data.get("code") and data.get("location"):
            client_id = data["client"].pk if data.get("client") else None
            item = selectors.item_by_code(actor=self.actor, code=data["code"], client_id=client_id)
        line = services.count_enter(
            actor=self.actor,
            count=count,
            counted_quantity=data["counted_quantity"],
            line=line,
            location=data.get("location"),
            item=item,
            lot_code=data.get("lot_code", ""),
        )
        return Response(s.CycleCountLineSerializer(line, context={"blind": True}).data)

    @extend_schema(
        summary="Submit a count", description="Every line counted; variances become visible.", request=None
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._count_response(services.count_submit(actor=self.actor, count=self.get_object()))

    @extend_schema(
        summary="Approve a count",
        description="Operator admins: each variance becomes a count-correction move.",
        request=None,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._count_response(services.count_approve(actor=self.actor, count=self.get_object()))

    @extend_schema(summary="Cancel a count", description="Nothing is posted.", request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._count_response(services.count_cancel(actor=self.actor, count=self.get_object()))


# --- ASNs --------------------------------------------------------------------------------------


def _asn_action(summary: str, description: str, request=None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={200: s.ASNSerializer, **error_responses(404)},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List ASNs",
        description="Advance ship notices with progress (expected, received, put away units).",
        responses={200: s.ASNListSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get an ASN", description="One ASN with lines, milestones and its status history."
    ),
    create=extend_schema(
        summary="Create an ASN",
        description="Lines by SKU or barcode with expected quantities (and lot/expiry). Draft unless `submit`.",
    ),
    partial_update=extend_schema(
        summary="Update an ASN",
        description="Header and lines while draft, submitted or in transit; ETA, carrier and tracking later too.",
    ),
)
class ASNViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    queryset = ASN.objects.none()
    serializer_class = s.ASNSerializer
    filterset_class = ASNFilter
    ordering_fields = ("created_at", "eta", "arrived_at", "waiting_orders", "waiting_value")
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.INVENTORY_VIEW,
        "retrieve": Perm.INVENTORY_VIEW,
        "receipts": Perm.INVENTORY_VIEW,
        "create": Perm.ASN_MANAGE,
        "partial_update": Perm.ASN_MANAGE,
        "import_csv": Perm.ASN_MANAGE,
        "submit": Perm.ASN_MANAGE,
        "cancel": Perm.ASN_MANAGE,
        "milestones": (Perm.ASN_MANAGE, Perm.ASN_RECEIVE),
        "arrive": Perm.ASN_RECEIVE,
        "receive": Perm.ASN_RECEIVE,
        "putaway": Perm.ASN_RECEIVE,
        "complete": Perm.ASN_RECEIVE,
        "close": Perm.ASN_RECEIVE,
    }

    def get_serializer_class(self):
        return s.ASNListSerializer if self.action == "list" else super().get_serializer_class()

    def select(self):
        qs = selectors.asn_list(actor=self.actor)
        return selectors.asn_detail_prefetch(qs) if self.action == "retrieve" else qs

    def _out(self, asn: ASN, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.asn_detail_prefetch(selectors.asn_list(actor=self.actor)).get(pk=asn.pk)
        return Response(s.ASNSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    @staticmethod
    def _lines(data: dict) -> list[dict]:
        return [
            {
                "sku": line["sku"],
                "expected_quantity": line["expected_quantity"],
                "lot_code": line.get("lot_code", ""),
                "expiry_date": line.get("expiry_date"),
            }
            for line in data.pop("lines")
        ]

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        client, data = self.client_and_fields(form.validated_data)
        lines = self._lines(data)
        asn = services.asn_create(
            actor=self.actor, client=client, warehouse=data.pop("warehouse"), lines=lines, **data
        )
        return self._out(asn, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        asn = self.get_object()
        form = self.get_serializer(asn, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        data.pop("submit", None)
        lines = self._lines(data) if "lines" in data else None
        services.asn_update(actor=self.actor, asn=asn, lines=lines, **data)
        return self._out(asn)

    @_asn_action("Submit an ASN", "Tells the node the goods are coming.")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._out(services.asn_submit(actor=self.actor, asn=self.get_object()))

    @_asn_action("Cancel an ASN", "Before the goods arrive.", s.ReasonSerializer)
    @action(detail=True, methods=["post"], serializer_class=s.ReasonSerializer)
    def cancel(self, request, pk=None):
        asn = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._out(services.asn_cancel(actor=self.actor, asn=asn, **form.validated_data))

    @extend_schema(
        summary="Add a freight milestone",
        description="Booked, departed origin, arrived port, customs cleared, out for delivery, delivered to "
        "dock; with an optional updated ETA.",
        request=s.MilestoneCreateSerializer,
        responses={201: s.ASNMilestoneSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"], serializer_class=s.MilestoneCreateSerializer)
    def milestones(self, request, pk=None):
        asn = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        milestone = services.asn_add_milestone(actor=self.actor, asn=asn, **form.validated_data)
        return Response(s.ASNMilestoneSerializer(milestone).data, status=status.HTTP_201_CREATED)

    @_asn_action(
        "Check the ASN in at the dock",
        "Sets `arrived_at` and the dock-to-stock deadline.",
        s.ArriveSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.ArriveSerializer)
    def arrive(self, request, pk=None):
        asn = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        arrived_at = form.validated_data.get("arrived_at")
        return self._out(services.asn_arrive(actor=self.actor, asn=asn, arrived_at=arrived_at))

    @extend_schema(
        summary="Receive units",
        description="Count units against a line, or a scanned barcode/SKU (an item not on the ASN is recorded "
        "as unexpected). Damaged units go to quarantine. Over-receipts are accepted and flagged in `warnings`.",
        request=s.ReceiveSerializer,
        responses={201: s.ReceiveResultSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"], serializer_class=s.ReceiveSerializer)
    def receive(self, request, pk=None):
        asn = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        line = None
        if "line" in data:
            line = _chosen(selectors.asn_lines(asn=asn), data.pop("line"), "line")
        result = services.asn_receive(actor=self.actor, asn=asn, line=line, **data)
        return Response(s.ReceiveResultSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Put away received units",
        description="Move good units of a line from the receiving dock to a pick or reserve bin; "
        "never more than were received and wait.",
        request=s.PutawaySerializer,
        responses={201: s.MoveSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"], serializer_class=s.PutawaySerializer)
    def putaway(self, request, pk=None):
        asn = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        line = _chosen(selectors.asn_lines(asn=asn), data["line"], "line")
        to_location = data["to_location"]  # one of the actor's bins (the serializer's choices)
        move = services.asn_putaway(
            actor=self.actor, asn=asn, line=line, to_location=to_location, quantity=data["quantity"]
        )
        return Response(s.MoveSerializer(move).data, status=status.HTTP_201_CREATED)

    @_asn_action("Finish receiving", "No more units are expected; `received_at` is set.", s.ReasonSerializer)
    @action(detail=True, methods=["post"], serializer_class=s.ReasonSerializer)
    def complete(self, request, pk=None):
        asn = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._out(services.asn_complete_receiving(actor=self.actor, asn=asn, **form.validated_data))

    @_asn_action(
        "Close an ASN", "Reconciles expected against received; notes per discrepant line.", s.CloseSerializer
    )
    @action(detail=True, methods=["post"], serializer_class=s.CloseSerializer)
    def close(self, request, pk=None):
        asn = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        notes = {}
        for key, text in form.validated_data.get("notes", {}).items():
            if not str(key).isdigit():
                raise ValidationError({f"notes.{key}": ["Use ASN line ids as keys."]})
            notes[int(key)] = text
        return self._out(services.asn_close(actor=self.actor, asn=asn, notes=notes))

    @extend_schema(
        summary="Receipts of an ASN",
        description="Every scan or entry: line, units, condition, lot, location, who and when.",
        responses={200: s.ReceiptSerializer(many=True), **error_responses(404)},
    )
    @action(detail=True, methods=["get"], serializer_class=s.ReceiptSerializer, ordering_fields=())
    def receipts(self, request, pk=None):
        asn = self.get_object()
        page = self.paginate_queryset(selectors.asn_receipts(asn=asn).order_by("created_at", "pk"))
        return self.get_paginated_response(s.ReceiptSerializer(page, many=True).data)

    @import_schema(
        "Import ASNs from CSV",
        "One row per ASN line, grouped into ASNs by `reference`. Columns: reference, warehouse (node "
        "code), sku (or barcode), expected_quantity (required); po_reference, sender, carrier, "
        "tracking_number, bol_number, container_number, eta, cartons, pallets (the ASN's header: rows "
        "of one ASN must agree), lot_code, expiry_date. Imported ASNs are submitted.",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser, JSONParser],
        serializer_class=s.ImportSerializer,
    )
    def import_csv(self, request):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        client = self.client_for(form.validated_data)
        result = imports.import_asns(
            actor=self.actor,
            client=client,
            upload=form.validated_data["file"],
            dry_run=form.validated_data["dry_run"],
        )
        return _import_response(result)
