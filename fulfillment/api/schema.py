"""OpenAPI: the shared error shape on every operation, and the Idempotency-Key header on POSTs."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(
                    help_text="Machine-readable, e.g. invalid, not_found, throttled"
                ),
                "message": serializers.CharField(help_text="Human-readable; names the first bad field"),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    help_text="Field name (dotted for nested) -> messages",
                ),
            },
        )
    },
)

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each bad field.",
    401: "Missing, invalid or revoked API key.",
    403: "The key or role may not do this (read-only keys may only read).",
    404: "No such object, or it belongs to another client.",
    409: "Conflict: the same Idempotency-Key is still in flight.",
    410: "Gone: it existed, and was deleted after its retention period.",
    422: "The Idempotency-Key was already used with a different request.",
    429: "Rate limit exceeded; see Retry-After.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Makes a POST safe to retry: the first response is replayed for 24 hours.",
)


class PlatformAutoSchema(AutoSchema):
    def get_override_parameters(self):
        params = super().get_override_parameters()
        if self.method == "POST":
            params = [*params, IDEMPOTENCY_HEADER]
        return params

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = [401, 403, 429]
        if self.method == "POST":
            codes += [409, 422]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append(400)
        if "{" in self.path:
            codes.append(404)
        for code, response in error_responses(*codes).items():
            responses.setdefault(
                str(code), self._get_response_for_code(response, str(code), direction=direction)
            )
        return responses
