"""CSV exports: streamed at once (``GET /api/v1/exports/<kind>.csv/``) or, when large, as a job
(``POST /api/v1/exports/``) whose progress you poll and whose file you download."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import Perm
from fulfillment.api.errors import APIError
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from reporting import export_services, exports
from reporting.enums import ExportKind
from reporting.models import ExportJob

from . import export_serializers as s

DEFAULT_PERIOD_DAYS = 30


def csv_response(*, actor, request: exports.ExportRequest) -> StreamingHttpResponse:
    """The export streamed line by line (never built in memory), inside the actor's scope."""
    response = StreamingHttpResponse(
        exports.streamed_csv_lines(actor=actor, request=request), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{request.filename}"'
    response["Cache-Control"] = "no-store"
    return response


def too_large(rows: int) -> APIError:
    return APIError(
        f"This export has {rows:,} rows, more than {settings.EXPORT_STREAM_MAX_ROWS:,} streamed at once: "
        "ask for it as a job (POST /api/v1/exports/) or narrow the period.",
        code="export_too_large",
        fields={"to": [f"{rows:,} rows; at most {settings.EXPORT_STREAM_MAX_ROWS:,} stream at once."]},
    )


KIND_DESCRIPTIONS = {
    ExportKind.ORDERS: "Orders received in the period (client's local days): status, node, ship-to, lines "
    "and units, received / ship-by / shipped / delivered / cancelled times.",
    ExportKind.SHIPMENTS: "Shipments shipped in the period (and those not shipped yet created in it): "
    "carrier, service, zone, billable weight, cost, packages and units, dates and transit days.",
    ExportKind.SNAPSHOTS: "Daily inventory snapshots (on hand per item and node at the end of each node-local "
    "day) dated in the period.",
    ExportKind.MOVES: "Every stock move (the ledger) in the period: signed quantity, reason, document, who.",
    ExportKind.KPIS: "Every KPI of each client over the period: value, display, unit, numerator, "
    "denominator, target and whether it is met: the numbers of `GET /api/v1/reports/kpis/`.",
}

CSV_PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        required=False,
        description="First local day (default: 29 days before `to`)",
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, required=False, description="Last local day (default: today)"),
    OpenApiParameter(
        "client",
        int,
        many=True,
        required=False,
        description="Repeat for several; default every client you see. A client you do not see exports "
        "nothing (like a list filter).",
    ),
]


def _csv_action(kind: str):
    """One streamed-CSV action per export kind: ``GET /api/v1/exports/<kind>.csv/``."""

    def export_csv(self, request):
        return self._stream(kind)

    export_csv.__name__ = export_csv.__qualname__ = f"{kind}_csv"
    routed = action(
        detail=False,
        methods=["get"],
        url_path=f"{kind}.csv",
        url_name=f"{kind}-csv",
        pagination_class=None,
        filter_backends=[],
    )(export_csv)
    return extend_schema(
        summary=f"Export {ExportKind(kind).label.lower()} as CSV",
        description=KIND_DESCRIPTIONS[kind]
        + " Streamed (`text/csv`), header row first; times are ISO 8601 in the client's time zone. A cell "
        "that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) is "
        "prefixed with `'`. More rows than the stream limit (`EXPORT_STREAM_MAX_ROWS`, 50,000 by default) "
        "is a 400 (`export_too_large`): ask for a job instead.",
        parameters=CSV_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file"),
            **error_responses(400),
        },
    )(routed)


@extend_schema_view(
    list=extend_schema(
        summary="List my export jobs",
        description="The export jobs you asked for (yours only, not your colleagues'), newest first, with "
        "their status (queued, running, done, failed), progress and, once done, `download_url`.",
    ),
    retrieve=extend_schema(
        summary="Get an export job",
        description="One of your export jobs: poll it for `rows_done` / `rows_total` and `progress` until "
        "`status` is `done` (then fetch `download_url`) or `failed` (`error` says why). Another person's "
        "job is a 404.",
    ),
    create=extend_schema(
        summary="Start an export job",
        description="A CSV export written by a background worker, for exports too large to stream. "
        "`kind`: orders, shipments, snapshots, moves or kpis (the same columns as the streamed exports); "
        "`from` / `to`: the period's local days; `clients`: default every client you see (a client you do "
        "not see is a 400 naming `clients`). Answers 202 with the queued job.",
        request=s.ExportJobCreateSerializer,
        responses={202: s.ExportJobSerializer, **error_responses(400)},
    ),
)
class ExportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = ExportJob.objects.none()
    serializer_class = s.ExportJobSerializer
    ordering_fields = ("created_at",)
    ordering = ("-created_at",)
    perms = {
        "list": Perm.EXPORT,
        "retrieve": Perm.EXPORT,
        "create": Perm.EXPORT,
        "download": Perm.EXPORT,
        **{f"{kind}_csv": Perm.EXPORT for kind in ExportKind.values},
    }

    def select(self):
        return export_services.export_job_list(actor=self.actor)

    def create(self, request, *args, **kwargs):
        form = s.ExportJobCreateSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job = export_services.export_job_create(
            actor=self.actor,
            kind=data["kind"],
            start=data["date_from"],
            end=data["date_to"],
            client_ids=[c.pk for c in data.get("clients") or []] or None,
        )
        job.refresh_from_db()
        body = s.ExportJobSerializer(job, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download an export job's file",
        description="The finished job's CSV. Only the person (or key) who asked for it may download it; "
        "a job not done yet, or another person's, is a 404. Files are kept `EXPORT_RETENTION_DAYS` days "
        "(default 7); then the job's status becomes `expired` and its download a 410 saying so.",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file"),
            **error_responses(404, 410),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def download(self, request, pk=None):
        try:
            job, path = export_services.export_job_file(actor=self.actor, pk=pk)
        except export_services.ExportExpired as exc:
            raise APIError(str(exc), code="expired", status_code=status.HTTP_410_GONE) from None
        response = FileResponse(path.open("rb"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{job.file_name}"'
        response["Cache-Control"] = "no-store"
        return response

    def _stream(self, kind: str):
        form = s.ExportQuerySerializer(data={"kind": kind, **self._query()})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        end = data.get("date_to") or timezone.localdate()
        start = data.get("date_from") or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        request = exports.export_request(
            actor=self.actor,
            kind=kind,
            start=start,
            end=end,
            client_ids=data.get("client"),
            strict_clients=False,
        )
        rows = exports.count_rows(actor=self.actor, request=request)
        if rows > settings.EXPORT_STREAM_MAX_ROWS:
            raise too_large(rows)
        return csv_response(actor=self.actor, request=request)

    def _query(self) -> dict:
        params = self.request.query_params
        query: dict = {name: params[name] for name in ("from", "to") if params.get(name)}
        if clients := params.getlist("client"):
            query["client"] = clients
        return query

    def perform_content_negotiation(self, request, force=False):
        # The CSVs and file downloads are not rendered by DRF: an ``Accept: text/csv`` must not be a 406.
        downloads = self.action == "download" or (self.action or "").endswith("_csv")
        return super().perform_content_negotiation(request, force=force or downloads)

    orders_csv = _csv_action(ExportKind.ORDERS)
    shipments_csv = _csv_action(ExportKind.SHIPMENTS)
    snapshots_csv = _csv_action(ExportKind.SNAPSHOTS)
    moves_csv = _csv_action(ExportKind.MOVES)
    kpis_csv = _csv_action(ExportKind.KPIS)
