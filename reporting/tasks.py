"""Thin Celery tasks of the reporting app: they receive ids and plain values and call a service."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.db import OperationalError

from . import rollup


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rollup_kpis(days_back: int = 45) -> int:
    """The nightly KPI rollup (idempotent: it recomputes and overwrites the trailing window)."""
    return rollup.rollup(days_back=days_back)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rollup_kpis_day(*, client_id: int, day: str) -> int:
    """Recompute one client's one rolled-up day (after an order error changed it)."""
    return rollup.rollup_day(client_id=client_id, day=date.fromisoformat(day))
