"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    """The process is alive and serving requests (touches nothing else)."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


def _check_broker() -> str | None:
    from fulfillment.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


@never_cache
@require_GET
def readyz(request):
    """Ready to take traffic: the database and the Celery broker answer. 503 names what does not."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    failing = {name: error for name, error in checks.items() if error}
    body = {
        "status": "unavailable" if failing else "ok",
        "checks": {name: ("ok" if not error else "unavailable") for name, error in checks.items()},
    }
    if failing:
        body["errors"] = failing
    return JsonResponse(body, status=503 if failing else 200)
