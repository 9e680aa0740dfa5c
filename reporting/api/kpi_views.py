"""``GET /api/v1/reports/kpis/`` (JSON, or CSV with ``?format=csv``) and the order errors."""

from __future__ import annotations

from datetime import date, timedelta

import django_filters
from django.core.exceptions import ValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status
from rest_framework.response import Response

from accounts.models import Client
from accounts.roles import Perm
from fulfillment.api.errors import APIError
from fulfillment.api.filters import StableOrderingFilter
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from fulfillment.spreadsheet import stream_csv
from orders.models import Order
from reporting import services
from reporting.enums import Granularity, OrderErrorKind
from reporting.kpis import KPIReport, kpi_report
from reporting.models import DailyKPI, OrderError

from . import kpi_serializers as s

MAX_DAY_SERIES = 400  # days in a day-by-day series
MAX_PERIOD_DAYS = 1100  # about three years in any report


class CSVRenderer(renderers.BaseRenderer):
    """Lets ``?format=csv`` / ``Accept: text/csv`` through content negotiation (the view streams)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only errors reach here (the report itself is streamed): render them as text.
        return str(data).encode()


def _bad(field: str, message: str) -> APIError:
    return APIError(message, code="invalid", fields={field: [message]})


def _date(params, name: str) -> date:
    raw = params.get(name)
    if not raw:
        raise _bad(name, f"Give `{name}` as a date (YYYY-MM-DD).")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _bad(name, f"“{raw}” is not a date (YYYY-MM-DD).") from None


def requested_clients(actor, params) -> list[int]:
    """``client`` repeated or comma-separated; default every client the actor sees. Like every list
    filter of the API, a client the actor does not see (or that does not exist) is left out, so the
    answer for another brand's id is the answer for a missing one: a report of no client."""
    raw = [part.strip() for value in params.getlist("client") for part in value.split(",") if part.strip()]
    visible = Client.objects.filter(actor.client_q("pk"))
    if not raw:
        return list(visible.order_by("pk").values_list("pk", flat=True))
    try:
        ids = sorted({int(v) for v in raw})
    except ValueError:
        raise _bad("client", "Give client ids (numbers), repeated or comma-separated.") from None
    return list(visible.filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def report_query(actor, params) -> dict:
    """The validated query of a KPI report (400 naming the field otherwise)."""
    start, end = _date(params, "from"), _date(params, "to")
    if start > end:
        raise _bad("to", "`to` is before `from`.")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise _bad("to", f"A report covers at most {MAX_PERIOD_DAYS} days.")
    granularity = params.get("granularity") or None
    if granularity is not None and granularity not in Granularity.values:
        raise _bad("granularity", f"Use one of {', '.join(Granularity.values)}.")
    if granularity == Granularity.DAY and (end - start).days + 1 > MAX_DAY_SERIES:
        raise _bad(
            "granularity", f"A day-by-day series covers at most {MAX_DAY_SERIES} days: use week or month."
        )
    return {
        "client_ids": requested_clients(actor, params),
        "start": start,
        "end": end,
        "granularity": granularity,
    }


CSV_HEADER = [
    "period",
    "from",
    "to",
    "kpi",
    "label",
    "value",
    "display",
    "numerator",
    "denominator",
    "unit",
    "target",
    "meets_target",
]


def report_csv_rows(report: KPIReport):
    """One row per period per KPI: the totals (period ``total``), then the series."""
    yield CSV_HEADER

    def rows(period: str, first: date, last: date, values):
        for v in values.values():
            yield [
                period,
                first.isoformat(),
                last.isoformat(),
                v.key,
                v.label,
                None if v.value is None else str(v.value),
                v.display,
                None if v.numerator is None else str(v.numerator),
                None if v.denominator is None else str(v.denominator),
                v.unit,
                None if v.target is None else str(v.target),
                v.meets_target,
            ]

    yield from rows("total", report.start, report.end, report.totals)
    periods = [p for p, _ in report.series]
    for i, (period, values) in enumerate(report.series):
        last = periods[i + 1] - timedelta(days=1) if i + 1 < len(periods) else report.end
        yield from rows(period.isoformat(), max(period, report.start), min(last, report.end), values)


REPORT_PARAMETERS = [
    OpenApiParameter(
        "client",
        int,
        many=True,
        required=False,
        description="Repeat (or comma-separate) for a client set; default every client you see. A client "
        "you do not see is left out, like one that does not exist (as in every list filter).",
    ),
    OpenApiParameter(
        "from", OpenApiTypes.DATE, required=True, description="First local day (client time zone)"
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="Last local day, inclusive"),
    OpenApiParameter(
        "granularity",
        str,
        enum=Granularity.values,
        required=False,
        description=f"A series by day (at most {MAX_DAY_SERIES} days), week (Mondays) or month",
    ),
    OpenApiParameter(
        "format", str, enum=["json", "csv"], required=False, description="csv: the same numbers"
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="KPIs of a client or client set over a period",
        description="Every KPI of DOMAIN.md over the local days `from`..`to` (each client's time zone; a set "
        "sums each client's own days): value (null is n/a: an empty denominator), display, numerator, "
        "denominator, unit, the client's target and whether it is met (one client asked). With "
        "`granularity`, a series by day, week or month; shipping broken down by carrier, service and zone. "
        "`?format=csv` (or `Accept: text/csv`) streams the same numbers, one row per period per KPI, "
        "spreadsheet-safe. Complete days come from the nightly rollup, today is computed live.",
        parameters=REPORT_PARAMETERS,
        responses={
            200: OpenApiResponse(s.KPIReportSerializer, description="The report (or CSV)"),
            **error_responses(400, 401, 403, 429),
        },
    )
)
class KPIReportViewSet(PlatformViewSet):
    queryset = DailyKPI.objects.none()
    perms = {"list": Perm.REPORT_VIEW}
    pagination_class = None
    filter_backends: list = []
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]
    serializer_class = s.KPIReportSerializer

    def select(self):
        return DailyKPI.objects.none()

    def list(self, request, *args, **kwargs):
        query = report_query(self.actor, request.query_params)
        report = kpi_report(**query)
        if getattr(request.accepted_renderer, "format", None) == "csv":
            name = f"kpis-{query['start'].isoformat()}-{query['end'].isoformat()}.csv"
            response = stream_csv(report_csv_rows(report), name)
            response["Cache-Control"] = "no-store"
            return response
        return Response(s.KPIReportSerializer(report).data)


# --- order errors -------------------------------------------------------------------------------


class OrderErrorFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client", help_text="Staff: one client's errors")
    order = django_filters.NumberFilter(field_name="order")
    kind = django_filters.MultipleChoiceFilter(choices=OrderErrorKind.choices, help_text="Repeat for several")

    class Meta:
        model = OrderError
        fields: list[str] = []


def order_error_list(*, actor):
    """The errors of the orders the actor sees (one query with the order joined)."""
    return OrderError.objects.filter(actor.client_q()).select_related("order")


@extend_schema_view(
    list=extend_schema(
        summary="List order errors",
        description="Fulfillment errors recorded against shipped orders (they count against order accuracy and "
        "the perfect order rate of the day the order shipped). Newest first.",
        responses={200: s.OrderErrorSerializer(many=True), **error_responses(400, 401, 403, 429)},
    ),
    retrieve=extend_schema(
        summary="Get an order error",
        description="One recorded error.",
        responses={200: s.OrderErrorSerializer, **error_responses(401, 403, 404, 429)},
    ),
    create=extend_schema(
        summary="Record an order error",
        description="Staff record a mis-pick, wrong quantity, damage by the node or a wrong label against a "
        "shipped or delivered order (another status is a 400 naming `order`). Audited.",
        request=s.OrderErrorCreateSerializer,
        responses={201: s.OrderErrorSerializer, **error_responses(400, 401, 403, 409, 422, 429)},
    ),
    destroy=extend_schema(
        summary="Delete an order error",
        description="Remove an error recorded by mistake (audited); the KPIs of its day follow.",
        responses={204: None, **error_responses(401, 403, 404, 429)},
    ),
)
class OrderErrorViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    PlatformViewSet,
):
    queryset = OrderError.objects.none()
    serializer_class = s.OrderErrorSerializer
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = OrderErrorFilter
    ordering_fields = ["created_at", "kind"]
    perms = {
        "list": Perm.REPORT_VIEW,
        "retrieve": Perm.REPORT_VIEW,
        "create": Perm.ORDER_ERROR_RECORD,
        "destroy": Perm.ORDER_ERROR_RECORD,
    }

    def select(self):
        return order_error_list(actor=self.actor)

    def create(self, request, *args, **kwargs):
        serializer = s.OrderErrorCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order: Order = data["order"]
        try:
            error = services.order_error_record(
                actor=self.actor, order=order, kind=data["kind"], note=data["note"]
            )
        except ValidationError as exc:
            raise APIError(
                exc.messages[0], code="invalid", fields={k: list(v) for k, v in exc.message_dict.items()}
            ) from exc
        error = order_error_list(actor=self.actor).get(pk=error.pk)
        return Response(s.OrderErrorSerializer(error).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.order_error_delete(actor=self.actor, error=instance)
