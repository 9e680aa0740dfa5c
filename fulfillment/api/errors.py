"""One error shape for the whole API:

    {"error": {"code": "...", "message": "...", "fields": {"field": ["..."]}}}

Validation errors name every field (nested ones with dotted paths, ``lines.0.sku``); the message
repeats the first of them so a log line alone says what was wrong.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


class APIError(exceptions.APIException):
    """A domain error with its own code and status; ``extra`` is merged into the error body."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail=message, code=code or self.default_code)
        self.code = code or self.default_code
        if status_code:
            self.status_code = status_code
        self.fields = fields or {}
        self.extra = extra or {}


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key in ("non_field_errors", "__all__") and not prefix else key
            out.update(flatten_fields(value, f"{prefix}.{name}" if prefix else str(name)))
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for i, value in enumerate(detail):
                if value:
                    out.update(flatten_fields(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(code: str, message: str, fields: dict | None = None, **extra: Any) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def exception_handler(exc: Exception, context: dict):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        first_field, first_errors = next(iter(fields.items()), ("", [""]))
        where = "" if first_field == "non_field_errors" else f"{first_field}: "
        response.data = error_body("invalid", f"Invalid input. {where}{first_errors[0]}".strip(), fields)
    elif isinstance(exc, APIError):
        response.data = error_body(exc.code, str(exc.detail), exc.fields, **exc.extra)
    elif isinstance(exc, exceptions.Throttled):
        response.data = error_body(
            "throttled",
            f"Too many requests; retry in {exc.wait:.0f} s." if exc.wait else "Too many requests.",
        )
    else:
        response.data = error_body(_code_of(exc), str(exc.detail))
    return response


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def file_import_response(result, body: dict):
    """The answer to a CSV import: 200 (dry run) or 201 with ``body``, or one 400 in the error shape
    naming every bad row and column (``result`` has ``valid``, ``dry_run`` and ``errors`` with
    ``row``, ``column`` and ``message``; ``body["errors"]`` is their serialised list)."""
    from rest_framework.response import Response

    if result.valid:
        return Response(body, status=status.HTTP_200_OK if result.dry_run else status.HTTP_201_CREATED)
    fields: dict[str, list[str]] = {}
    for e in result.errors:
        fields.setdefault(f"row {e.row}.{e.column}", []).append(e.message)
    first = result.errors[0]
    message = (
        f"The file has {len(result.errors)} problem(s); nothing was imported. "
        f"Row {first.row}, {first.column}: {first.message}"
    )
    return Response(
        error_body("invalid_file", message, fields, rows=body["errors"]), status=status.HTTP_400_BAD_REQUEST
    )
