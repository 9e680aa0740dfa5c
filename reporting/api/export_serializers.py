"""Export jobs and the query of a streamed CSV export."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Client
from inventory.api.serializers import ActorChoicesMixin
from reporting.enums import ExportKind, ExportStatus
from reporting.models import ExportJob


class PeriodDayField(serializers.DateField):
    """A day of the job's period, read from its ``params``."""

    def __init__(self, *, key: str, **kwargs):
        self.key = key
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, job):
        return job.params.get(self.key)


def _period_fields(fields: dict, *, required: bool = True) -> dict:
    fields["from"] = serializers.DateField(
        source="date_from", required=required, help_text="First day of the period, in each client's time zone"
    )
    fields["to"] = serializers.DateField(
        source="date_to", required=required, help_text="Last day of the period (inclusive)"
    )
    return fields


class ExportJobSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ExportKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=ExportStatus.choices, read_only=True)
    clients = serializers.SerializerMethodField(help_text="The clients exported")
    progress = serializers.IntegerField(read_only=True, help_text="Percent of rows written (100 when done)")
    download_url = serializers.SerializerMethodField(help_text="Where to fetch the CSV once `done`")

    class Meta:
        model = ExportJob
        fields = (
            "id",
            "kind",
            "status",
            "clients",
            "rows_total",
            "rows_done",
            "progress",
            "error",
            "download_url",
            "created_at",
            "finished_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_clients(self, job: ExportJob) -> list[int]:
        return list(job.params.get("clients", []))

    def get_fields(self):
        fields = super().get_fields()
        # ``from`` and ``to`` are Python keywords: declared here rather than as attributes.
        fields["from"] = PeriodDayField(key="from", help_text="First local day of the period")
        fields["to"] = PeriodDayField(key="to", help_text="Last local day of the period (inclusive)")
        return fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != ExportStatus.DONE:
            return None
        url = reverse("export-job-download", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ExportJobCreateSerializer(ActorChoicesMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExportKind.choices)
    clients = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.all(),
        many=True,
        required=False,
        help_text="Clients to export (default: every client you see; a client's key: its own)",
    )

    def get_fields(self):
        return _period_fields(super().get_fields())


class ExportQuerySerializer(serializers.Serializer):
    """The query of ``GET /api/v1/exports/csv/``."""

    kind = serializers.ChoiceField(choices=ExportKind.choices)
    client = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="Repeat for several; default every client you see. Another client's id exports nothing.",
    )

    def get_fields(self):
        return _period_fields(super().get_fields(), required=False)
