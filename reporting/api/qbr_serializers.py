"""QBR reports (notes, action items and the computed quarter) and their action items."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Client
from inventory.api.serializers import ActorChoicesMixin
from reporting.models import QBRActionItem, QBRReport


class QBRActionItemSerializer(ActorChoicesMixin, serializers.ModelSerializer):
    report = serializers.PrimaryKeyRelatedField(
        queryset=QBRReport.objects.none(), help_text="The QBR report the item belongs to"
    )

    class Meta:
        model = QBRActionItem
        fields = ("id", "client", "report", "text", "owner", "due_date", "done", "created_at")
        read_only_fields = ("id", "client", "done", "created_at")

    def get_fields(self):
        fields = super().get_fields()
        actor = getattr(self.context.get("request"), "actor", None)
        if actor is not None:
            fields["report"].queryset = QBRReport.objects.filter(actor.client_q())
        if self.instance is not None and not isinstance(self.instance, list):
            fields["report"].read_only = True
            fields["text"].required = False
        return fields


class QBRReportSerializer(serializers.ModelSerializer):
    action_items = QBRActionItemSerializer(many=True, read_only=True)

    class Meta:
        model = QBRReport
        fields = ("id", "client", "year", "quarter", "notes", "updated_at", "updated_by", "action_items")
        read_only_fields = ("id", "client", "year", "quarter", "updated_at", "updated_by", "action_items")


class QBRReportDetailSerializer(QBRReportSerializer):
    content = serializers.SerializerMethodField(
        help_text="The quarter's numbers as the page and the PDF show them: sections of KPIs (value, "
        "previous quarter, change, target), weekly volumes, movers, shipping breakdowns, alerts"
    )

    class Meta(QBRReportSerializer.Meta):
        fields = (*QBRReportSerializer.Meta.fields, "content")
        read_only_fields = (*QBRReportSerializer.Meta.read_only_fields, "content")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_content(self, report: QBRReport) -> dict:
        from reporting.qbr import Quarter, build_qbr, qbr_as_dict

        return qbr_as_dict(build_qbr(client=report.client, quarter=Quarter(report.year, report.quarter)))


class QBROpenSerializer(ActorChoicesMixin, serializers.Serializer):
    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all())
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    quarter = serializers.IntegerField(min_value=1, max_value=4)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20_000)


class QBRNotesSerializer(serializers.Serializer):
    notes = serializers.CharField(allow_blank=True, max_length=20_000)
