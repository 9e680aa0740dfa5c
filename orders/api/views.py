"""Order endpoints: list and detail, intake (one, bulk, CSV), the actions, the Shopify connection."""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import ReturnDict

from accounts import node_cache
from accounts.models import Client
from accounts.roles import Perm
from fulfillment.api.errors import APIError, file_import_response, flatten_fields
from fulfillment.api.schema import ErrorSerializer, error_responses
from fulfillment.api.serializers import represent
from fulfillment.api.views import PlatformViewSet
from orders import imports, selectors, services, shopify
from orders.models import Order, ShopifyConnection
from shipments import subscription_cache

from . import serializers as s
from .fast_input import compile_input
from .filters import OrderFilter

DUPLICATE_409 = OpenApiResponse(
    ErrorSerializer,
    description="Duplicate external reference (`code` duplicate_order, `existing_id` the existing order's "
    "id), or the same Idempotency-Key still in flight.",
)


def _api_field(name: str) -> str:
    """A service's field name as the API names it (``ship_to_zip`` -> ``ship_to.zip``)."""
    return f"ship_to.{name.removeprefix('ship_to_')}" if name.startswith("ship_to_") else name


def _api_errors(exc: ValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for name, messages in exc.message_dict.items():
        fields.setdefault(_api_field(name), []).extend(messages)
    return fields


def _raise_api(exc: ValidationError):
    raise DRFValidationError(_api_errors(exc)) from exc


def _order_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data.pop("client", None)
    data["lines"] = [dict(line) for line in data["lines"]]
    data["ship_to"] = dict(data["ship_to"])
    return data


def _as_read(created: services.Created) -> Order:
    """The order as ``selectors.order_get`` would read it back inside the transaction that wrote
    it (nobody else can have changed it yet): its rows attached as prefetched, its totals as the
    list's annotations."""
    order = created.order
    cache = {}
    for name, rows in (
        ("lines", created.lines),
        ("allocations", []),
        ("holds", created.holds),
        ("events", created.events),
    ):
        queryset = QuerySet(model=getattr(Order, name).rel.related_model)
        queryset._result_cache, queryset._prefetch_done = list(rows), True
        cache[name] = queryset
    order._prefetched_objects_cache = cache
    order.line_count = len(created.lines)
    order.units = sum(line.quantity for line in created.lines)
    return order


# DRF builds a serializer's fields (a deep copy of every declared field, the nested serializers'
# too, and for a model serializer the model's introspection) for every instance it makes, which
# costs more than checking and writing an order. Intake keeps its serializers per thread and gives
# each use the request's own context (and so its own clock for ``late`` and ``at_risk``).
_serializers = threading.local()


def _create_form(context: dict) -> s.OrderCreateSerializer:
    """An ``OrderCreateSerializer`` for the request's actor: one per thread and actor scope, as
    the choices of ``client`` are narrowed to what the actor sees when its fields are built."""
    forms = _serializers.__dict__.setdefault("create_forms", {})
    key = repr(context["request"].actor.client_scope)
    if (form := forms.get(key)) is None:
        if len(forms) >= 64:
            forms.clear()
        form = forms[key] = s.OrderCreateSerializer(context=context)
        form.fields  # noqa: B018 (built now, for this actor)
        form._fast_input = compile_input(form)
    form._context = context
    return form


def _validate_order(form: s.OrderCreateSerializer, raw: Any) -> dict:
    """``form.run_validation(raw)``: in one pass when the order is plainly valid, else by DRF
    (which names every bad field)."""
    if form._fast_input is not None and (data := form._fast_input(raw)) is not None:
        return data
    return form.run_validation(raw)


def _represent(order: Order, context: dict) -> ReturnDict:
    """``OrderSerializer(order, context=context).data``, with one serializer per thread."""
    serializer = getattr(_serializers, "order", None)
    if serializer is None:
        serializer = _serializers.order = s.OrderSerializer(context={})
    serializer._context = context
    return ReturnDict(represent(serializer, order), serializer=serializer)


def _duplicate(exc: services.DuplicateOrder) -> APIError:
    return APIError(
        str(exc),
        code="duplicate_order",
        status_code=status.HTTP_409_CONFLICT,
        fields={"external_reference": ["An order with this reference exists already."]},
        extra={"existing_id": exc.existing.pk},
    )


def _order_action(summary: str, description: str, request=None):
    return extend_schema(
        summary=summary,
        description=description + " A status that does not allow it is a 400 naming `status`.",
        request=request,
        responses={200: s.OrderSerializer, **error_responses(400, 404)},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List orders",
        description="Orders with status, node, ship-by and line totals, newest first. `late` and `at_risk` "
        "are computed against the current time (DOMAIN.md's alert rules).",
    ),
    retrieve=extend_schema(
        summary="Get an order",
        description="One order with its lines (and the item each SKU resolved to), allocations (node, bin, "
        "lot, units), holds and the event timeline.",
    ),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = Order.objects.none()
    serializer_class = s.OrderSerializer
    filterset_class = OrderFilter
    ordering_fields = ("received_at", "ship_by", "external_reference", "status", "created_at")
    perms = {
        "list": Perm.ORDER_VIEW,
        "retrieve": Perm.ORDER_VIEW,
        "create": Perm.ORDER_MANAGE,
        "bulk": Perm.ORDER_MANAGE,
        "import_csv": Perm.ORDER_MANAGE,
        "cancel": Perm.ORDER_MANAGE,
        "hold": Perm.ORDER_MANAGE,
        "release": Perm.ORDER_MANAGE,
        "update_address": Perm.ORDER_MANAGE,
        "update_lines": Perm.ORDER_MANAGE,
        "reallocate": Perm.ORDER_REALLOCATE,
    }

    def get_serializer_class(self):
        return s.OrderListSerializer if self.action == "list" else super().get_serializer_class()

    def cache_read_ahead(self, request) -> tuple[str, ...]:
        """A brand's order intake reads its nodes (the ship-by) and its webhook flag (the outbox)
        from the cache: fetched with the rate limit's round trip (``PrincipalRateThrottle``)."""
        actor = getattr(request, "actor", None)
        if self.action != "create" or actor is None or not actor.is_client:
            return ()
        return node_cache.cache_key(actor.client_id), subscription_cache.cache_key(actor.client_id)

    def select(self):
        if self.action == "list":
            return selectors.order_rows(actor=self.actor)
        return selectors.order_detail_prefetch(selectors.order_list(actor=self.actor))

    def _out(self, order: Order, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.order_get(actor=self.actor, pk=order.pk)
        return Response(s.OrderSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def _form(self, serializer_class, data=None):
        form = serializer_class(
            data=self.request.data if data is None else data, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    @extend_schema(
        summary="Create an order",
        description="One order. A client's key creates for its own client; staff name `client`. A "
        "malformed order is a 400 naming the field and writes nothing. An unknown SKU is accepted onto an "
        "exception hold naming it; an address that fails the US state/ZIP checks onto an address hold. A "
        "duplicate `external_reference` (per client and channel) is a 409 carrying `existing_id`. The order "
        "is routed and allocated right after it is committed.",
        request=s.OrderCreateSerializer,
        responses={201: s.OrderSerializer, 409: DUPLICATE_409},
    )
    def create(self, request, *args, **kwargs):
        data = dict(_validate_order(_create_form(self.get_serializer_context()), request.data))
        client = self._client(data)
        [outcome] = services.order_create_many(actor=self.actor, client=client, orders=[_order_kwargs(data)])
        if isinstance(outcome, services.DuplicateOrder):
            raise _duplicate(outcome)
        if isinstance(outcome, ValidationError):
            _raise_api(outcome)
        if transaction.get_connection().in_atomic_block:
            # Not committed yet (an Idempotency-Key's transaction): what was written is the order.
            data = _represent(_as_read(outcome), self.get_serializer_context())
            return Response(data, status=status.HTTP_201_CREATED)
        # Committed, and so maybe allocated already: read it back.
        return self._out(outcome.order, status.HTTP_201_CREATED)

    def _client(self, data: dict) -> Client:
        """``client_for``, without reading again the client an API key was just loaded with."""
        key = self.actor.api_key
        if self.actor.is_client and key is not None and key.client_id == self.actor.client_id:
            return key.client
        return self.client_for(data)

    @extend_schema(
        summary="Create orders in bulk",
        description=f"Up to {s.MAX_BULK} orders per call, each shaped like the body of `POST /api/v1/orders/`. "
        "Each order is created in its own savepoint, so one bad order does not stop the others. The answer "
        "is a 200 with one result per order, in the request's order: `created` (with `id`), `duplicate` "
        "(with `existing_id`) or `invalid` (with `errors`, field -> messages). More orders than allowed, or "
        "no `orders` list, is a 400 naming `orders`.",
        request=s.BulkCreateSerializer,
        responses={200: s.BulkResponseSerializer},
    )
    @action(detail=False, methods=["post"], serializer_class=s.BulkCreateSerializer)
    def bulk(self, request):
        data = self._form(s.BulkCreateSerializer)
        client = self._client(data)
        form = _create_form(self.get_serializer_context())
        results: list[dict] = [{} for _ in data["orders"]]
        valid = []
        for index, raw in enumerate(data["orders"]):
            raw = {k: v for k, v in raw.items() if k != "client"}
            try:
                validated = _validate_order(form, raw)
            except DRFValidationError as exc:
                results[index] = {"index": index, "status": "invalid", "errors": flatten_fields(exc.detail)}
            else:
                valid.append((index, _order_kwargs(validated)))
        outcomes = services.order_create_many(
            actor=self.actor, client=client, orders=[kwargs for _, kwargs in valid]
        )
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, services.DuplicateOrder):
                results[index] = {"index": index, "status": "duplicate", "existing_id": outcome.existing.pk}
            elif isinstance(outcome, ValidationError):
                results[index] = {"index": index, "status": "invalid", "errors": _api_errors(outcome)}
            else:
                results[index] = {"index": index, "status": "created", "id": outcome.order.pk}
        counts = {k: sum(r["status"] == k for r in results) for k in ("created", "duplicate", "invalid")}
        body = {
            "created": counts["created"],
            "duplicates": counts["duplicate"],
            "invalid": counts["invalid"],
            "results": results,
        }
        # Already the shape of BulkResponseSerializer (the schema's), plain ints, strings and lists.
        return Response(body)

    @extend_schema(
        summary="Import orders from CSV",
        description="One row per order line, grouped into orders by `external_reference`. Columns: "
        "external_reference, sku (or barcode), quantity (required); ship_to_name, ship_to_company, "
        "ship_to_address1, ship_to_address2, ship_to_city, ship_to_state, ship_to_zip, ship_to_country, "
        "ship_to_phone, ship_to_email, service_level, notes, gift_message (the order's header: rows of one "
        "order must agree, or give it once); unit_price. The channel is `csv`; a reference that exists "
        "already is a bad row. The whole file is checked first: any bad row rejects it (400, `error.rows` "
        "names every bad row, column and reason) and nothing is written; a good file is written in one "
        "transaction (201). `dry_run` checks only (200) and previews each order with the holds it will get.",
        request={"multipart/form-data": s.OrderImportSerializer},
        responses={200: s.OrderImportResultSerializer, 201: s.OrderImportResultSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser, JSONParser],
        serializer_class=s.OrderImportSerializer,
    )
    def import_csv(self, request):
        data = self._form(s.OrderImportSerializer)
        client = self.client_for(data)
        result = imports.import_orders(
            actor=self.actor, client=client, upload=data["file"], dry_run=data["dry_run"]
        )
        return file_import_response(result, s.OrderImportResultSerializer(result).data)

    @_order_action(
        "Cancel an order", "Before picking starts; its reservations are released.", s.CancelSerializer
    )
    @action(detail=True, methods=["post"], serializer_class=s.CancelSerializer)
    def cancel(self, request, pk=None):
        order = self.get_object()
        data = self._form(s.CancelSerializer)
        return self._call(services.order_cancel, order=order, **data)

    @_order_action(
        "Hold an order",
        "Brands place client holds; staff also operator holds. Its reservations are released.",
        s.HoldSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.HoldSerializer)
    def hold(self, request, pk=None):
        order = self.get_object()
        data = self._form(s.HoldSerializer)
        return self._call(services.order_hold, order=order, **data)

    @_order_action(
        "Release holds",
        "Releases the open holds (of `kind`, when given) that you may release; when none is left the order "
        "is routed and allocated again. Releasing a client-caused hold restarts the SLA clock.",
        s.ReleaseSerializer,
    )
    @action(detail=True, methods=["post"], serializer_class=s.ReleaseSerializer)
    def release(self, request, pk=None):
        order = self.get_object()
        data = self._form(s.ReleaseSerializer)
        return self._call(services.order_release, order=order, kind=data.get("kind"))

    @_order_action(
        "Change the ship-to address",
        "Until picking starts; the parts given replace the order's. A corrected address releases its address "
        "hold; a doubtful one puts the order on an address hold.",
        s.ShipToUpdateSerializer,
    )
    @action(
        detail=True, methods=["post"], url_path="update-address", serializer_class=s.ShipToUpdateSerializer
    )
    def update_address(self, request, pk=None):
        order = self.get_object()
        data = self._form(s.ShipToUpdateSerializer)
        if not data:
            raise ValidationError({"non_field_errors": ["Give at least one part of the address."]})
        return self._call(services.order_update_address, order=order, **data)

    @_order_action(
        "Replace the lines",
        "Until picking starts; reservations are released and made again. Unknown SKUs put the order on an "
        "exception hold naming them.",
        s.UpdateLinesSerializer,
    )
    @action(detail=True, methods=["post"], url_path="update-lines", serializer_class=s.UpdateLinesSerializer)
    def update_lines(self, request, pk=None):
        order = self.get_object()
        data = self._form(s.UpdateLinesSerializer)
        lines = [dict(line) for line in data["lines"]]
        return self._call(services.order_update_lines, order=order, lines=lines)

    @_order_action(
        "Re-allocate an order",
        "Staff: release the reservations and route the order again (e.g. after stock moved).",
    )
    @action(detail=True, methods=["post"])
    def reallocate(self, request, pk=None):
        return self._call(services.order_reallocate, order=self.get_object())

    def _call(self, service, **kwargs) -> Response:
        try:
            order = service(actor=self.actor, **kwargs)
        except ValidationError as exc:
            _raise_api(exc)
        return self._out(order)


@extend_schema_view(
    list=extend_schema(
        summary="List Shopify connections",
        description="The store connected to each client you see (a brand sees its own): the webhook URL to "
        "subscribe `orders/create` to and whether a signing secret is set. The secret is never returned.",
    ),
    retrieve=extend_schema(summary="Get a Shopify connection", description="One client's store connection."),
    create=extend_schema(
        summary="Connect a Shopify store",
        description="One per client: the shop's myshopify.com domain and the webhook signing secret (kept to "
        "verify `X-Shopify-Hmac-Sha256`; write-only). Client admins for their own client; staff name `client`.",
    ),
    partial_update=extend_schema(
        summary="Update a Shopify connection",
        description="Change the domain, replace the secret, or pause intake (`active`: false answers "
        "deliveries with 401).",
    ),
)
class ShopifyConnectionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PlatformViewSet,
):
    queryset = ShopifyConnection.objects.none()
    serializer_class = s.ShopifyConnectionSerializer
    ordering_fields = ("created_at",)
    filterset_fields: list[str] = []
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.API_KEY_VIEW,
        "retrieve": Perm.API_KEY_VIEW,
        "create": shopify.MANAGE_PERMS,
        "partial_update": shopify.MANAGE_PERMS,
    }

    def select(self):
        return selectors.shopify_connection_list(actor=self.actor)

    def perform_create(self, serializer):
        client, data = self.client_and_fields(serializer.validated_data)
        serializer.instance = shopify.connection_create(actor=self.actor, client=client, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("client", None)
        serializer.instance = shopify.connection_update(
            actor=self.actor, connection=serializer.instance, **data
        )
