"""QBR reports: the account manager's notes and action items kept with a client's quarter, the
quarter's numbers (``content``) and its PDF. Brands read their own; staff with QBR_EDIT write."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import Perm
from fulfillment.api.schema import error_responses
from fulfillment.api.views import PlatformViewSet
from reporting import qbr_services
from reporting.models import QBRActionItem, QBRReport

from . import qbr_serializers as s


class QBRReportFilter(django_filters.FilterSet):
    client = django_filters.NumberFilter(field_name="client_id", help_text="A client's reports")
    year = django_filters.NumberFilter()
    quarter = django_filters.NumberFilter()

    class Meta:
        model = QBRReport
        fields: list[str] = []


class QBRActionItemFilter(django_filters.FilterSet):
    report = django_filters.NumberFilter(field_name="report_id", help_text="One report's items")
    client = django_filters.NumberFilter(field_name="client_id")
    done = django_filters.BooleanFilter()

    class Meta:
        model = QBRActionItem
        fields: list[str] = []


def _raise(exc: ValidationError):
    from rest_framework.exceptions import ValidationError as DRFValidationError

    raise DRFValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


@extend_schema_view(
    list=extend_schema(
        summary="List QBR reports",
        description="The quarters someone wrote notes or action items for, per client (yours, for a brand), "
        "newest first, with their notes and action items. The numbers of any quarter are in a report's "
        "`content` and on the QBR pages.",
    ),
    retrieve=extend_schema(
        summary="Get a QBR report",
        description="Notes, action items and `content`: the quarter's KPIs each with the previous quarter and "
        "the change, weekly orders, units and on-time rate, inventory movers, shipping by carrier, service "
        "and zone, alerts and exceptions: the numbers of the page and the PDF.",
        responses={200: s.QBRReportDetailSerializer, **error_responses(404)},
    ),
    partial_update=extend_schema(
        summary="Update a QBR's notes",
        description="Account managers and operator admins (QBR_EDIT). Audited.",
        request=s.QBRNotesSerializer,
    ),
)
class QBRReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    queryset = QBRReport.objects.none()
    serializer_class = s.QBRReportSerializer
    filterset_class = QBRReportFilter
    ordering_fields = ("year", "quarter", "updated_at")
    ordering = ("-year", "-quarter")
    http_method_names = ["get", "post", "patch", "head", "options"]
    perms = {
        "list": Perm.REPORT_VIEW,
        "retrieve": Perm.REPORT_VIEW,
        "pdf": Perm.REPORT_VIEW,
        "create": Perm.QBR_EDIT,
        "partial_update": Perm.QBR_EDIT,
    }

    def get_serializer_class(self):
        return s.QBRReportDetailSerializer if self.action == "retrieve" else super().get_serializer_class()

    def select(self):
        return (
            QBRReport.objects.filter(self.actor.client_q())
            .select_related("client")
            .prefetch_related("action_items")
        )

    def _out(self, report: QBRReport, code=status.HTTP_200_OK) -> Response:
        fresh = self.select().get(pk=report.pk)
        return Response(s.QBRReportSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        summary="Open a QBR report",
        description="The report of a client's quarter, created if it does not exist yet (201; 200 with the "
        "existing one), with `notes` when given. Account managers and operator admins (QBR_EDIT). A client "
        "you do not see is a 400 naming `client`.",
        request=s.QBROpenSerializer,
        responses={201: s.QBRReportSerializer, 200: s.QBRReportSerializer, **error_responses(400)},
    )
    def create(self, request, *args, **kwargs):
        form = s.QBROpenSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            report, created = qbr_services.qbr_report_open(
                actor=self.actor, client=data["client"], year=data["year"], quarter=data["quarter"]
            )
            if "notes" in data:
                report = qbr_services.qbr_notes_update(
                    actor=self.actor,
                    client=data["client"],
                    year=data["year"],
                    quarter=data["quarter"],
                    notes=data["notes"],
                )
        except ValidationError as exc:
            _raise(exc)
        return self._out(report, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def partial_update(self, request, *args, **kwargs):
        report = self.get_object()
        form = s.QBRNotesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            report = qbr_services.qbr_notes_update(
                actor=self.actor,
                client=report.client,
                year=report.year,
                quarter=report.quarter,
                notes=form.validated_data["notes"],
            )
        except ValidationError as exc:
            _raise(exc)
        return self._out(report)

    @extend_schema(
        summary="Download the QBR as a PDF",
        description="The QBR of the report's quarter as a PDF: the client's name, the quarter, every KPI with "
        "the previous quarter, charts of weekly orders and of the on-time rate against the target, notes and "
        "action items.",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF"),
            **error_responses(404),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def pdf(self, request, pk=None):
        from reporting.pdf import qbr_pdf
        from reporting.qbr import Quarter, build_qbr

        report = self.get_object()
        quarter = Quarter(report.year, report.quarter)
        response = HttpResponse(
            qbr_pdf(build_qbr(client=report.client, quarter=quarter)), content_type="application/pdf"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="qbr-{report.client.slug}-{report.year}-q{report.quarter}.pdf"'
        )
        return response

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=force or self.action == "pdf")


@extend_schema_view(
    list=extend_schema(
        summary="List QBR action items",
        description="Action items of the QBR reports you see (`?report=` for one report), open ones first.",
    ),
    retrieve=extend_schema(summary="Get a QBR action item", description="One action item."),
    create=extend_schema(
        summary="Add a QBR action item",
        description="`report`, `text`, and optionally `owner` and `due_date`. QBR_EDIT. Audited.",
    ),
    partial_update=extend_schema(
        summary="Update a QBR action item",
        description="Change `text`, `owner` or `due_date` (null clears it). Completing is an action.",
    ),
    destroy=extend_schema(summary="Delete a QBR action item", description="Removes it (audited)."),
)
class QBRActionItemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PlatformViewSet,
):
    queryset = QBRActionItem.objects.none()
    serializer_class = s.QBRActionItemSerializer
    filterset_class = QBRActionItemFilter
    ordering_fields = ("due_date", "created_at")
    ordering = ("done", "due_date")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    perms = {
        "list": Perm.REPORT_VIEW,
        "retrieve": Perm.REPORT_VIEW,
        "create": Perm.QBR_EDIT,
        "partial_update": Perm.QBR_EDIT,
        "destroy": Perm.QBR_EDIT,
        "complete": Perm.QBR_EDIT,
        "reopen": Perm.QBR_EDIT,
    }

    def select(self):
        return QBRActionItem.objects.filter(self.actor.client_q()).select_related("report")

    def _out(self, item: QBRActionItem, code=status.HTTP_200_OK) -> Response:
        fresh = self.select().get(pk=item.pk)
        return Response(
            s.QBRActionItemSerializer(fresh, context=self.get_serializer_context()).data, status=code
        )

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        report = data.pop("report")
        try:
            item = qbr_services.qbr_action_item_create(
                actor=self.actor, client=report.client, year=report.year, quarter=report.quarter, **data
            )
        except ValidationError as exc:
            _raise(exc)
        return self._out(item, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        item = self.get_object()
        form = self.get_serializer(item, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        try:
            item = qbr_services.qbr_action_item_update(actor=self.actor, item=item, **form.validated_data)
        except ValidationError as exc:
            _raise(exc)
        return self._out(item)

    def perform_destroy(self, instance):
        qbr_services.qbr_action_item_delete(actor=self.actor, item=instance)

    @extend_schema(
        summary="Complete a QBR action item",
        description="Marks it done (done twice changes nothing). QBR_EDIT. Audited.",
        request=None,
        responses={200: s.QBRActionItemSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._out(
            qbr_services.qbr_action_item_set_done(actor=self.actor, item=self.get_object(), done=True)
        )

    @extend_schema(
        summary="Reopen a QBR action item",
        description="Marks a done item open again. QBR_EDIT. Audited.",
        request=None,
        responses={200: s.QBRActionItemSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._out(
            qbr_services.qbr_action_item_set_done(actor=self.actor, item=self.get_object(), done=False)
        )
