"""The nightly KPI rollup: each client's numerators and denominators per local day in ``DailyKPI``,
its shipping breakdowns (by carrier, service and zone) per local day in ``DailyShipping`` and its
units shipped per item per local day in ``DailyItemShipped`` (the movers).

Late shipments, cancellations, deliveries and order errors keep changing past days, so each night
recomputes a trailing window (``days_back``) for every active client. The counters come from
``reporting.kpis.daily_counters`` (the same set-based queries a live report uses), so a report
reads the same numbers from the rollup as it would compute live (``shipping_rolled_up`` marks the
days whose breakdown and item rows were written with them: a day rolled up before the breakdowns existed is
counted live). Idempotent: ``update_or_create`` per (client, day), the day's breakdown rows
replaced; running twice, or after a worker died half way, leaves the same rows.
Only complete local days are stored (today is always counted live by ``kpi_report``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Client

from .kpis import (
    _SHIPPING_KEYS,
    COUNTERS,
    _Nodes,
    _Scope,
    daily_counters,
    daily_item_units,
    daily_shipping,
    local_today,
)
from .models import DailyItemShipped, DailyKPI, DailyShipping


def rollup_range(
    *, client: Client, first: date, last: date, now: datetime | None = None, nodes: _Nodes | None = None
) -> int:
    """Write the DailyKPI rows of ``client`` for [first, last] (days not over yet are skipped).
    Returns the number of rows written."""
    now = now or timezone.now()
    last = min(last, local_today(client, now) - timedelta(days=1))
    if first > last:
        return 0
    nodes = nodes or _Nodes.load()
    counters = daily_counters(client=client, first=first, last=last, now=now, nodes=nodes)
    shipping = daily_shipping(_Scope([client], first, last), nodes)
    item_units = daily_item_units(_Scope([client], first, last))
    with scopes_disabled(), transaction.atomic():
        for day, values in counters.items():
            DailyKPI.objects.update_or_create(
                client=client,
                day=day,
                defaults={k: values[k] for k in COUNTERS} | {"shipping_rolled_up": True},
            )
        DailyShipping.objects.filter(client=client, day__gte=first, day__lte=last).delete()
        DailyShipping.objects.bulk_create(
            DailyShipping(
                client=client,
                day=day,
                breakdown=name,
                **dict(zip(_SHIPPING_KEYS[name], key, strict=True)),
                **values,
            )
            for (_client, day, name, key), values in shipping.items()
        )
        DailyItemShipped.objects.filter(client=client, day__gte=first, day__lte=last).delete()
        DailyItemShipped.objects.bulk_create(
            DailyItemShipped(client=client, day=day, item_id=item_id, units=units)
            for (_client, day, item_id), units in item_units.items()
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
