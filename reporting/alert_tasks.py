"""Thin Celery tasks of the alert engine (beat entries in ``CELERY_BEAT_SCHEDULE``).

Named explicitly: Celery autodiscovers ``tasks.py`` only, and ``ReportingConfig.ready`` imports
this module. Every task is idempotent and acknowledged late: each rule's sweep is one
transaction guarded by the alerts' unique constraint and the announcement claim, so a task run
again after a worker died mid-sweep neither loses nor duplicates an alert, event or e-mail.
"""

from __future__ import annotations

from celery import shared_task


def _run(rules) -> dict[str, int]:
    from .alerts import sweep

    return {r.rule: len(r.opened) for r in sweep(rules)}


@shared_task(name="reporting.alert_tasks.sweep_order_alerts", acks_late=True)
def sweep_order_alerts() -> dict[str, int]:
    """Every minute: orders at risk and late."""
    from .alerts import ORDER_RULES

    return _run(ORDER_RULES)


@shared_task(name="reporting.alert_tasks.sweep_flow_alerts", acks_late=True)
def sweep_flow_alerts() -> dict[str, int]:
    """Every five minutes: ASNs overdue, dock-to-stock late, shipments stalled, late, in exception."""
    from .alerts import FLOW_RULES

    return _run(FLOW_RULES)


@shared_task(name="reporting.alert_tasks.sweep_stock_alerts", acks_late=True)
def sweep_stock_alerts() -> dict[str, int]:
    """Hourly: low stock and out of stock."""
    from .alerts import STOCK_RULES

    return _run(STOCK_RULES)


@shared_task(name="reporting.alert_tasks.sweep_kpi_alerts", acks_late=True)
def sweep_kpi_alerts() -> dict[str, int]:
    """Nightly: KPIs under target."""
    from .alerts import KPI_RULES

    return _run(KPI_RULES)


@shared_task(name="reporting.alert_tasks.send_alert_mail", acks_late=True)
def send_alert_mail(alert_ids: list[int], counts: dict[str, int] | None = None) -> int:
    """The immediate e-mail of critical alerts a sweep has just announced (``counts``: see
    ``send_opened_mail``)."""
    from .notifications import send_opened_mail

    return send_opened_mail(alert_ids=alert_ids, counts=counts)


@shared_task(name="reporting.alert_tasks.send_alert_digest", acks_late=True)
def send_alert_digest() -> int:
    """Daily: each account manager's digest of the alerts opened since the last one."""
    from .notifications import send_digest

    return send_digest()
