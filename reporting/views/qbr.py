"""QBR pages: the console's (account managers and operator admins: notes and action items are
editable there) and the brand portal's (its own QBRs, read-only), the index of quarters, and the
PDF. Another client's QBR is a 404 (``client_get`` never returns it)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Client
from accounts.roles import Perm
from accounts.selectors import client_get
from accounts.views import error_text, require_perm
from reporting import charts, qbr_services
from reporting.models import QBRActionItem, QBRReport
from reporting.pdf import qbr_pdf
from reporting.qbr import QBR, Quarter, build_qbr, recent_quarters, week_label

console_page = require_perm(Perm.CONSOLE, Perm.REPORT_VIEW, Perm.QBR_EDIT)
portal_page = require_perm(Perm.PORTAL, Perm.REPORT_VIEW)


class NotesForm(forms.Form):
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), required=False, max_length=qbr_services.MAX_NOTES
    )


class ActionItemForm(forms.Form):
    text = forms.CharField(label="Action", max_length=500)
    owner = forms.CharField(max_length=200, required=False)
    due_date = forms.DateField(label="Due", required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _quarter(year: int, quarter: int) -> Quarter:
    try:
        return Quarter(year, quarter)
    except ValueError as exc:
        raise Http404 from exc


def _charts(qbr: QBR) -> list[charts.Chart]:
    labels = [week_label(w["week"]) for w in qbr.weeks]
    target = qbr.on_time_target
    return [
        charts.volume_bar_chart(
            key="weekly_orders",
            title="Orders per week",
            labels=labels,
            series=[
                ("Received", [w["orders_received"] for w in qbr.weeks]),
                ("Shipped", [w["orders_shipped"] for w in qbr.weeks]),
            ],
        ),
        charts.volume_bar_chart(
            key="weekly_units",
            title="Units shipped per week",
            labels=labels,
            series=[("Units shipped", [w["units_shipped"] for w in qbr.weeks])],
        ),
        charts.kpi_line_chart(
            key="on_time_ship_rate",
            title="On-time ship rate",
            labels=labels,
            values=[w["on_time"].value for w in qbr.weeks],
            displays=[w["on_time"].display for w in qbr.weeks],
            target=target,
            target_display="" if target is None else f"{target:.2f}%",
        ),
    ]


def _page(request: HttpRequest, client: Client, quarter: Quarter, *, portal: bool, **extra) -> HttpResponse:
    qbr = build_qbr(client=client, quarter=quarter)
    context = {
        "client": client,
        "qbr": qbr,
        "quarter": quarter,
        "previous": quarter.previous,
        "charts": _charts(qbr),
        "portal": portal,
        "can_edit": not portal and request.actor.can(Perm.QBR_EDIT),
        "notes_form": extra.pop("notes_form", None)
        or NotesForm(initial={"notes": qbr.notes.notes if qbr.notes else ""}),
        "item_form": extra.pop("item_form", None) or ActionItemForm(),
        "pdf_url": _url("portal-qbr-pdf" if portal else "console-qbr-pdf", client, quarter, portal),
        "index_url": _url("portal-qbrs" if portal else "console-qbrs", client, None, portal),
        **extra,
    }
    return render(request, "reporting/qbr.html", context, status=400 if extra.get("invalid") else 200)


def _url(name: str, client: Client, quarter: Quarter | None, portal: bool) -> str:
    from django.urls import reverse

    args = [] if portal else [client.pk]
    if quarter is not None:
        args += [quarter.year, quarter.quarter]
    return reverse(name, args=args)


def _pdf(client: Client, quarter: Quarter) -> HttpResponse:
    body = qbr_pdf(build_qbr(client=client, quarter=quarter))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="qbr-{client.slug}-{quarter.year}-q{quarter.quarter}.pdf"'
    )
    return response


def _index(request: HttpRequest, client: Client, *, portal: bool) -> HttpResponse:
    kept = {
        (r.year, r.quarter): r
        for r in QBRReport.objects.filter(client=client).only("year", "quarter", "updated_at", "client_id")
    }
    quarters = recent_quarters(client)
    quarters += [Quarter(y, q) for (y, q) in sorted(kept, reverse=True) if Quarter(y, q) not in quarters]
    rows = [
        {
            "quarter": q,
            "url": _url("portal-qbr" if portal else "console-qbr", client, q, portal),
            "report": kept.get((q.year, q.quarter)),
        }
        for q in quarters
    ]
    return render(request, "reporting/qbr_index.html", {"client": client, "rows": rows, "portal": portal})


# --- console --------------------------------------------------------------------------------------


@console_page
def console_qbrs(request: HttpRequest, pk: int) -> HttpResponse:
    return _index(request, client_get(actor=request.actor, pk=pk), portal=False)


@console_page
def console_qbr(request: HttpRequest, pk: int, year: int, quarter: int) -> HttpResponse:
    return _page(request, client_get(actor=request.actor, pk=pk), _quarter(year, quarter), portal=False)


@console_page
def console_qbr_pdf(request: HttpRequest, pk: int, year: int, quarter: int) -> HttpResponse:
    return _pdf(client_get(actor=request.actor, pk=pk), _quarter(year, quarter))


@console_page
@require_POST
def console_qbr_notes(request: HttpRequest, pk: int, year: int, quarter: int) -> HttpResponse:
    client, q = client_get(actor=request.actor, pk=pk), _quarter(year, quarter)
    form = NotesForm(request.POST)
    if form.is_valid():
        try:
            qbr_services.qbr_notes_update(
                actor=request.actor,
                client=client,
                year=q.year,
                quarter=q.quarter,
                notes=form.cleaned_data["notes"],
            )
        except ValidationError as exc:
            form.add_error("notes", error_text(exc))
        else:
            messages.success(request, "Notes saved.")
            return redirect(_url("console-qbr", client, q, False) + "#notes")
    return _page(request, client, q, portal=False, notes_form=form, invalid=True)


@console_page
@require_POST
def console_qbr_item_add(request: HttpRequest, pk: int, year: int, quarter: int) -> HttpResponse:
    client, q = client_get(actor=request.actor, pk=pk), _quarter(year, quarter)
    form = ActionItemForm(request.POST)
    if form.is_valid():
        try:
            qbr_services.qbr_action_item_create(
                actor=request.actor, client=client, year=q.year, quarter=q.quarter, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Action item added.")
            return redirect(_url("console-qbr", client, q, False) + "#actions")
    return _page(request, client, q, portal=False, item_form=form, invalid=True)


ITEM_ACTIONS = {"complete", "reopen", "delete"}


@console_page
@require_POST
def console_qbr_item_action(
    request: HttpRequest, pk: int, year: int, quarter: int, item: int, action: str
) -> HttpResponse:
    client, q = client_get(actor=request.actor, pk=pk), _quarter(year, quarter)
    if action not in ITEM_ACTIONS:
        raise Http404
    obj = get_object_or_404(
        QBRActionItem.objects.filter(client=client, report__year=q.year, report__quarter=q.quarter), pk=item
    )
    if action == "delete":
        qbr_services.qbr_action_item_delete(actor=request.actor, item=obj)
        messages.success(request, "Action item removed.")
    else:
        qbr_services.qbr_action_item_set_done(actor=request.actor, item=obj, done=action == "complete")
    return redirect(_url("console-qbr", client, q, False) + "#actions")


# --- portal ---------------------------------------------------------------------------------------


def _own_client(request: HttpRequest) -> Client:
    return client_get(actor=request.actor, pk=request.actor.client_id)


@portal_page
def portal_qbrs(request: HttpRequest) -> HttpResponse:
    return _index(request, _own_client(request), portal=True)


@portal_page
def portal_qbr(request: HttpRequest, year: int, quarter: int) -> HttpResponse:
    return _page(request, _own_client(request), _quarter(year, quarter), portal=True)


@portal_page
def portal_qbr_pdf(request: HttpRequest, year: int, quarter: int) -> HttpResponse:
    return _pdf(_own_client(request), _quarter(year, quarter))
