"""The exports page (console and portal): a form that streams a CSV at once or, for a large export
(more than ``EXPORT_STREAM_MAX_ROWS`` rows, or when asked), starts a background job; the user's
jobs with an htmx-polled progress bar, and the download of a finished job's file (its requester's
only: anyone else gets a 404)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.models import Client
from accounts.roles import Perm
from accounts.views import list_page, require_perm
from reporting import export_services, exports
from reporting.api.export_views import csv_response
from reporting.enums import ExportKind

console_page = require_perm(Perm.CONSOLE, Perm.EXPORT)
portal_page = require_perm(Perm.PORTAL, Perm.EXPORT)
export_page = require_perm(Perm.EXPORT)

DATE = forms.DateInput(attrs={"type": "date"})


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label="What", choices=ExportKind.choices)
    clients = forms.MultipleChoiceField(
        required=False,
        help_text="None chosen: every client you see.",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    date_from = forms.DateField(label="From", widget=DATE, help_text="First day, in each client's time zone")
    date_to = forms.DateField(label="To", widget=DATE, help_text="Last day (inclusive)")
    background = forms.BooleanField(
        label="Prepare it in the background (I will download it from this page)", required=False
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        if actor.is_client:
            del self.fields["clients"]
        else:
            visible = Client.objects.filter(actor.client_q("pk")).order_by("name", "pk")
            self.fields["clients"].choices = [(str(c.pk), c.name) for c in visible.only("pk", "name")]
        today = timezone.localdate()
        self.fields["date_to"].initial = today
        self.fields["date_from"].initial = today.replace(day=1)


def _exports(request: HttpRequest, *, portal: bool) -> HttpResponse:
    actor = request.actor
    form = ExportForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        client_ids = [int(pk) for pk in data.get("clients") or []] or None
        try:
            asked = exports.export_request(
                actor=actor,
                kind=data["kind"],
                start=data["date_from"],
                end=data["date_to"],
                client_ids=client_ids,
            )
            rows = None if data["background"] else exports.count_rows(actor=actor, request=asked)
            if rows is not None and rows <= settings.EXPORT_STREAM_MAX_ROWS:
                return csv_response(actor=actor, request=asked)
            job = export_services.export_job_create(
                actor=actor,
                kind=asked.kind,
                start=asked.start,
                end=asked.end,
                client_ids=list(asked.client_ids),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                name = {"from": "date_from", "to": "date_to"}.get(field, field)
                form.add_error(name if name in form.fields else None, errors)
        else:
            reason = (
                f"{rows:,} rows is more than {settings.EXPORT_STREAM_MAX_ROWS:,}: "
                if rows is not None
                else ""
            )
            messages.success(
                request, f"{reason}export {job.pk} is being prepared; download it below when ready."
            )
            return redirect("portal-exports" if portal else "console-exports")
    jobs = export_services.export_job_list(actor=actor)
    context = {
        "form": form,
        "page": list_page(request, jobs, size=20),
        "portal": portal,
        "list_url": "portal-exports" if portal else "console-exports",
        "stream_max": settings.EXPORT_STREAM_MAX_ROWS,
    }
    if request.htmx and request.method == "GET":
        return render(request, "reporting/exports_rows.html", context)
    return render(request, "reporting/exports.html", context, status=400 if form.errors else 200)


@console_page
def console_exports(request: HttpRequest) -> HttpResponse:
    return _exports(request, portal=False)


@portal_page
def portal_exports(request: HttpRequest) -> HttpResponse:
    return _exports(request, portal=True)


@export_page
def export_job_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One job's row: what the progress bar polls (every 2 s while queued or running)."""
    job = export_services.export_job_get(actor=request.actor, pk=pk)
    return render(request, "reporting/exports_job.html", {"job": job})


@export_page
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job, path = export_services.export_job_file(actor=request.actor, pk=pk)
    response = FileResponse(path.open("rb"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{job.file_name}"'
    response["Cache-Control"] = "no-store"
    return response
