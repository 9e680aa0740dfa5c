"""The nightly KPI rollup: each client's numerators and denominators per local day in ``DailyKPI``.

Late shipments, cancellations, deliveries and order errors keep changing past days, so each night
recomputes a trailing window (``days_back``) for every active client. The counters come from
``reporting.kpis.daily_counters`` (the same set-based queries a live report uses), so a report
reads the same numbers from the rollup as it would compute live. Idempotent: ``update_or_create``
per (client, day); running twice, or after a worker died half way, leaves the same rows.
Only complete local days are stored (today is always counted live by ``kpi_report``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Client

from .kpis import COUNTERS, _Nodes, daily_counters, local_today
from .models import DailyKPI


def rollup_range(
    *, client: Client, first: date, last: date, now: datetime | None = None, nodes: _Nodes | None = None
) -> int:
    """Write the DailyKPI rows of ``client`` for [first, last] (days not over yet are skipped).
    Returns the number of rows written."""
    now = now or timezone.now()
    last = min(last, local_today(client, now) - timedelta(days=1))
    if first > last:
        return 0
    counters = daily_counters(client=client, first=first, last=last, now=now, nodes=nodes)
    with scopes_disabled(), transaction.atomic():
        for day, values in counters.items():
            DailyKPI.objects.update_or_create(
                client=client, day=day, defaults={k: values[k] for k in COUNTERS}
            )
    return len(counters)


def rollup_day(*, client_id: int, day: date, now: datetime | None = None) -> int:
    """Recompute one client's one local day."""
    with scopes_disabled():
        client = Client.objects.get(pk=client_id)
    return rollup_range(client=client, first=day, last=day, now=now)


def rollup(*, days_back: int = 45, today: date | None = None, now: datetime | None = None) -> int:
    """Recompute the trailing ``days_back`` complete local days of every active client (the
    nightly task). ``today`` pins the window's end (testing, backfills)."""
    now = now or timezone.now()
    nodes = _Nodes.load()
    written = 0
    with scopes_disabled():
        clients = list(Client.objects.filter(active=True).order_by("pk"))
    for client in clients:
        end = (today or local_today(client, now)) - timedelta(days=1)
        written += rollup_range(
            client=client, first=end - timedelta(days=days_back - 1), last=end, now=now, nodes=nodes
        )
    return written
