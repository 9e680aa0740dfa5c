"""The fleet view (the console home) and the client dashboard (console and portal).

Reads go through ``reporting.dashboards`` and ``reporting.kpis``: the same numbers as the API.
Another client's dashboard is a 404 (``client_get`` never returns it).
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.roles import Perm
from accounts.views import require_perm

from .. import dashboards
from ..enums import Granularity

FLEET_PAGE_SIZE = 50
MAX_CUSTOM_DAYS = 366


class PeriodForm(forms.Form):
    """The dashboard's period: a preset or a custom range of the client's local days."""

    period = forms.ChoiceField(label="Period", choices=dashboards.PERIOD_CHOICES, required=False)
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    granularity = forms.ChoiceField(
        label="By", choices=[("", "Automatic"), *Granularity.choices], required=False
    )

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        if data.get("period") != dashboards.CUSTOM:
            return data
        start, end = data.get("start"), data.get("end")
        if start is None:
            self.add_error("start", "Choose the first day of a custom period.")
        if end is None:
            self.add_error("end", "Choose the last day of a custom period.")
        if start and end:
            if start > end:
                self.add_error("end", "The last day cannot be before the first.")
            elif end > self.today:
                self.add_error("end", "The period cannot end after today.")
            elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
                self.add_error("start", f"A custom period is at most {MAX_CUSTOM_DAYS} days.")
        return data

    def chosen_period(self) -> dashboards.Period:
        """The chosen period (the default, last 30 days, while the form is invalid)."""
        if not self.is_bound or not self.is_valid():
            return dashboards.resolve_period(dashboards.DEFAULT_PERIOD, today=self.today)
        data = self.cleaned_data
        return dashboards.resolve_period(
            data.get("period") or dashboards.DEFAULT_PERIOD,
            today=self.today,
            start=data.get("start"),
            end=data.get("end"),
            granularity=data.get("granularity") or None,
        )


# --- the fleet view ----------------------------------------------------------------------------


@require_perm(Perm.CONSOLE, Perm.REPORT_VIEW)
def fleet(request: HttpRequest) -> HttpResponse:
    """Every visible client's SLA health, today's queues per node, open alerts and inbound."""
    now = timezone.now()
    sort = request.GET.get("sort")
    key, descending = dashboards.parse_sort(sort)
    rows = dashboards.sort_fleet(dashboards.fleet_rows(actor=request.actor, now=now), sort)
    page = Paginator(rows, FLEET_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "sort_key": key,
        "sort_descending": descending,
        "columns": _fleet_columns(key, descending),
        "now": now,
        "can_see_alerts": request.actor.can(Perm.ALERT_VIEW),
    }
    template = "reporting/_fleet_table.html" if request.htmx else "reporting/fleet.html"
    return render(request, template, context)


FLEET_COLUMNS = (
    ("client", "Client", "Client name"),
    ("on_time_today", "On time today", "On-time ship rate today"),
    ("on_time_7d", "On time 7 days", "On-time ship rate, trailing 7 days"),
    ("due_today", "Due today", "Orders due today"),
    ("at_risk", "At risk", "Orders at risk"),
    ("late", "Late", "Late orders"),
    ("alerts", "Open alerts", "Open alerts, worst severity first"),
    ("asns", "ASNs arriving", "ASNs expected today and tomorrow"),
    ("asns_waiting", "Not stocked", "ASNs arrived and not stocked yet"),
)


def _fleet_columns(key: str, descending: bool) -> list[dict]:
    """Each header's next ``?sort=`` (a second click reverses) and its ``aria-sort``."""
    columns = []
    for name, label, long_label in FLEET_COLUMNS:
        current = name == key
        # Numbers sort worst first on the first click; the name A to Z.
        first = name if name in ("client", "on_time_today", "on_time_7d") else f"-{name}"
        if current:
            next_sort = name if descending else f"-{name}"
            aria = "descending" if descending else "ascending"
        else:
            next_sort, aria = first, ""
        columns.append({"name": name, "label": label, "long": long_label, "next": next_sort, "aria": aria})
    return columns


# --- the client dashboard ----------------------------------------------------------------------


def _dashboard(request: HttpRequest, client, *, portal: bool) -> HttpResponse:
    now = timezone.now()
    today = dashboards.local_today(client.time_zone, now)
    form = PeriodForm(request.GET or None, today=today)
    period = form.chosen_period()
    context = {
        "client": client,
        "form": form,
        "period": period,
        "portal": portal,
        "today": today,
        "quarter": (today.month - 1) // 3 + 1,
        "yesterday": today - timedelta(days=1),
        **dashboards.dashboard_data(actor=request.actor, client=client, period=period, now=now),
    }
    template = "reporting/_dashboard_body.html" if request.htmx else "reporting/dashboard.html"
    return render(request, template, context)


@require_perm(Perm.CONSOLE, Perm.REPORT_VIEW)
def console_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    client = account_selectors.client_get(actor=request.actor, pk=pk)
    return _dashboard(request, client, portal=False)


@require_perm(Perm.PORTAL, Perm.REPORT_VIEW)
def portal_dashboard(request: HttpRequest) -> HttpResponse:
    client = account_selectors.client_get(actor=request.actor, pk=request.actor.client_id)
    return _dashboard(request, client, portal=True)
