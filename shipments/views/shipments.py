"""Shipment pages: the console (shipments with filters and CSV export, a shipment's detail with
void and ship, exceptions, manifests), the brand portal (its shipments with their tracking), the
floor's scan-out, and the label and slip downloads.

Reads go through ``shipment_selectors``, writes through ``services.shipping``: the same code paths
as the API. Another client's shipment is a 404 because the selectors never return it.
"""

from __future__ import annotations

import itertools

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Warehouse
from accounts.roles import Perm
from accounts.views import error_text, list_page, require_perm
from fulfillment.spreadsheet import stream_csv
from inventory.forms import SCAN

from .. import shipment_selectors as selectors
from ..api.views import label_response, slip_response
from ..enums import ShipmentStatus
from ..models import Carrier
from ..services import shipping

SORTS = {
    "created": "created_at",
    "shipped": "shipped_at",
    "delivered": "delivered_at",
    "eta": "estimated_delivery_date",
    "cost": "cost",
    "status": "status",
}


console_page = require_perm(Perm.CONSOLE, Perm.SHIPMENT_VIEW)
portal_page = require_perm(Perm.PORTAL, Perm.SHIPMENT_VIEW)
floor_page = require_perm(Perm.WAREHOUSE_FLOOR, Perm.FULFILL)
view_page = require_perm(Perm.SHIPMENT_VIEW)


# --- filters -------------------------------------------------------------------------------------


class ShipmentFilterForm(forms.Form):
    q = forms.CharField(label="Tracking or order", required=False, max_length=100)
    status = forms.ChoiceField(choices=[("", "Any"), *list(ShipmentStatus.choices)], required=False)
    carrier = forms.ChoiceField(required=False)
    warehouse = forms.ChoiceField(label="Node", required=False)
    flag = forms.ChoiceField(
        label="Only",
        required=False,
        choices=[("", "All"), ("late", "Late"), ("stalled", "Stalled"), ("exception", "Exception")],
    )
    shipped_from = forms.DateField(
        label="Shipped from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    shipped_to = forms.DateField(
        label="Shipped to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[("", "Newest")]
        + [(k, k.title()) for k in SORTS]
        + [(f"-{k}", f"{k.title()} ↓") for k in SORTS],
    )

    def __init__(self, *args, staff: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [("", "Any")] + [
            (c.code, c.name) for c in Carrier.objects.order_by("name")
        ]
        if staff:
            self.fields["warehouse"].choices = [("", "Any")] + [
                (w.code, w.code) for w in Warehouse.objects.order_by("code")
            ]
        else:
            del self.fields["warehouse"]


def filter_shipments(qs, form: ShipmentFilterForm, time_zone: str = "UTC"):
    """The list filters of the pages (the API's filters, as a form)."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django.db.models import Q

    if not form.is_valid():
        return qs.order_by("-created_at", "-pk")
    data = form.cleaned_data
    if q := (data.get("q") or "").strip():
        number = q.upper().removeprefix("SHP-").removeprefix("ORD-")
        match = Q(tracking_number__iexact=q) | Q(order__external_reference__iexact=q)
        if number.isdigit() and len(number) <= 9:
            match |= Q(pk=int(number)) | Q(order_id=int(number))
        qs = qs.filter(match)
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("carrier"):
        qs = qs.filter(carrier__code=data["carrier"])
    if data.get("warehouse"):
        qs = qs.filter(warehouse__code=data["warehouse"])
    flag = data.get("flag")
    if flag == "late":
        qs = qs.filter(selectors.late_q())
    elif flag == "stalled":
        qs = qs.filter(selectors.stalled_q())
    elif flag == "exception":
        qs = qs.filter(selectors.exception_q())
    zone = ZoneInfo(time_zone)
    if data.get("shipped_from"):
        qs = qs.filter(shipped_at__gte=datetime.combine(data["shipped_from"], time(0), tzinfo=zone))
    if data.get("shipped_to"):
        end = datetime.combine(data["shipped_to"] + timedelta(days=1), time(0), tzinfo=zone)
        qs = qs.filter(shipped_at__lt=end)
    sort = data.get("sort") or ""
    field = SORTS.get(sort.lstrip("-"))
    if field:
        from django.db.models import F

        expr = F(field).desc(nulls_last=True) if sort.startswith("-") else F(field).asc(nulls_last=True)
        return qs.order_by(expr, "-pk")
    return qs.order_by("-created_at", "-pk")


def _csv_response(qs, filename: str) -> StreamingHttpResponse:
    rows = itertools.chain(
        [selectors.CSV_COLUMNS], (selectors.csv_row(s) for s in qs.iterator(chunk_size=500))
    )
    return stream_csv(rows, filename)


def _list(request: HttpRequest, *, portal: bool) -> HttpResponse:
    actor = request.actor
    form = ShipmentFilterForm(request.GET or None, staff=not portal)
    time_zone = actor.user.client.time_zone if portal and actor.user and actor.user.client_id else "UTC"
    shipments = filter_shipments(selectors.shipment_list(actor=actor), form, time_zone)
    if request.GET.get("export") == "csv":
        return _csv_response(shipments, f"shipments-{timezone.now():%Y%m%d-%H%M}.csv")
    context = {
        "form": form,
        "page": list_page(request, shipments),
        "portal": portal,
        "detail_url": "portal-shipment" if portal else "console-shipment",
        "list_url": "portal-shipments" if portal else "console-shipments",
        "export_query": (request.GET.copy().urlencode() + "&" if request.GET else "") + "export=csv",
    }
    template = (
        "shipments/console/_shipment_rows.html"
        if request.htmx
        else ("shipments/portal/shipments.html" if portal else "shipments/console/shipments.html")
    )
    return render(request, template, context)


def _detail(request: HttpRequest, pk: int, *, portal: bool) -> HttpResponse:
    actor = request.actor
    shipment = selectors.shipment_get(actor=actor, pk=pk)
    can_fulfill = not portal and actor.can(Perm.FULFILL)
    context = {
        "shipment": shipment,
        "portal": portal,
        "packages": shipment.packages.all(),
        "events": shipment.tracking_events.all(),
        "voided": shipment.voided_labels.all(),
        "quotes": shipment.quotes,
        "tracking_url": selectors.tracking_url(shipment),
        "tz": shipment.warehouse.time_zone,
        "can_buy": can_fulfill and shipment.status == ShipmentStatus.PACKING and shipment.packed_at,
        "can_void": can_fulfill
        and shipment.status == ShipmentStatus.LABEL_CREATED
        and not shipment.manifest_id,
        "can_ship": can_fulfill and shipment.status == ShipmentStatus.LABEL_CREATED,
        "list_url": "portal-shipments" if portal else "console-shipments",
    }
    return render(request, "shipments/console/shipment.html", context)


# --- console -------------------------------------------------------------------------------------


@console_page
def console_shipments(request: HttpRequest) -> HttpResponse:
    return _list(request, portal=False)


@console_page
def console_shipment(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk, portal=False)


@require_POST
@console_page
def console_shipment_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    actor = request.actor
    shipment = selectors.shipment_get(actor=actor, pk=pk)
    try:
        if action == "buy-label":
            shipment = shipping.buy_label(actor=actor, shipment=shipment)
            messages.success(
                request, f"{shipment.number}: {shipment.service} label {shipment.tracking_number}."
            )
        elif action == "void":
            shipment = shipping.void_label(
                actor=actor, shipment=shipment, reason=request.POST.get("reason", "")
            )
            messages.success(request, f"{shipment.number}: label voided; back to packing.")
        elif action == "ship":
            shipment = shipping.ship_out(actor=actor, shipment=shipment)
            messages.success(request, f"{shipment.number} shipped.")
        else:
            from django.http import Http404

            raise Http404
    except ValidationError as exc:
        messages.error(request, f"{shipment.number}: {error_text(exc)}")
    return redirect("console-shipment", pk)


@console_page
def console_exceptions(request: HttpRequest) -> HttpResponse:
    """What needs a person: carrier exceptions, stalled parcels and late ones."""
    base = selectors.shipment_list(actor=request.actor)
    now = timezone.now()
    sections = [
        (
            "exception",
            "Carrier exceptions",
            base.filter(selectors.exception_q()).order_by("-last_event_at", "-pk"),
        ),
        (
            "stalled",
            "Stalled: no tracking event for 2 business days",
            base.filter(selectors.stalled_q(now)).order_by("shipped_at", "pk"),
        ),
        (
            "late",
            "Late: the estimated delivery day has ended (node time)",
            base.filter(selectors.late_q(now)).order_by("estimated_delivery_date", "pk"),
        ),
    ]
    context = {"sections": [(key, title, list(qs[:100])) for key, title, qs in sections]}
    return render(request, "shipments/console/exceptions.html", context)


class ManifestCloseForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), label="Node")
    carrier = forms.ModelChoiceField(queryset=Carrier.objects.none())

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        nodes = Warehouse.objects.filter(active=True).order_by("code")
        if actor is not None and actor.role == "warehouse_operator":
            nodes = nodes.filter(operators=actor.user)
        self.fields["warehouse"].queryset = nodes
        self.fields["carrier"].queryset = Carrier.objects.filter(active=True).order_by("name")


@require_perm(Perm.CONSOLE, Perm.WAVE_VIEW)
def console_manifests(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    can_close = actor.can(Perm.FULFILL)
    form = ManifestCloseForm(request.POST or None, actor=actor) if can_close else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                manifest = shipping.manifest_close(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, error_text(exc))
            else:
                messages.success(
                    request, f"{manifest.number} closed: {manifest.shipment_count} shipments shipped."
                )
                return redirect("console-manifest", manifest.pk)
    context = {
        "form": form,
        "page": list_page(request, selectors.manifest_list(actor=actor).order_by("-closed_at", "-pk")),
        "waiting": selectors.manifest_candidates(actor=actor),
    }
    return render(request, "shipments/console/manifests.html", context)


@require_perm(Perm.CONSOLE, Perm.WAVE_VIEW)
def console_manifest(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    manifest = selectors.manifest_get(actor=actor, pk=pk)
    shipments = selectors.manifest_shipments(actor=actor, manifest=manifest)
    if request.GET.get("export") == "csv":
        return _csv_response(shipments, f"{manifest.number}.csv")
    context = {"manifest": manifest, "shipments": shipments}
    return render(request, "shipments/console/manifest.html", context)


# --- portal --------------------------------------------------------------------------------------


@portal_page
def portal_shipments(request: HttpRequest) -> HttpResponse:
    return _list(request, portal=True)


@portal_page
def portal_shipment(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk, portal=True)


# --- floor: scan-out -----------------------------------------------------------------------------


class ScanOutForm(forms.Form):
    code = forms.CharField(
        label="Tracking number (scan the label)",
        max_length=60,
        widget=forms.TextInput(attrs={**SCAN, "autofocus": True, "placeholder": "Scan or type"}),
    )


@floor_page
def floor_ship(request: HttpRequest) -> HttpResponse:
    """The dock: scan a label, the parcel ships (a second scan of the same label changes nothing)."""
    actor = request.actor
    form = ScanOutForm(request.POST or None)
    shipped = None
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        shipment = selectors.shipment_by_tracking(actor=actor, code=code)
        if shipment is None:
            form.add_error("code", f"No shipment has the label “{code}”.")
        else:
            already = shipment.status != ShipmentStatus.LABEL_CREATED
            try:
                shipped = shipping.ship_out(actor=actor, shipment=shipment)
            except ValidationError as exc:
                form.add_error("code", error_text(exc))
            else:
                if already:
                    messages.info(
                        request, f"{shipped.number} had left already ({shipped.get_status_display()})."
                    )
                else:
                    messages.success(request, f"{shipped.number} shipped ({shipped.tracking_number}).")
                return redirect("floor-ship")
    waiting = (
        selectors.shipment_list(actor=actor)
        .filter(status=ShipmentStatus.LABEL_CREATED)
        .order_by("label_created_at", "pk")
    )
    context = {"form": form, "page": list_page(request, waiting)}
    return render(request, "shipments/floor/ship.html", context)


# --- downloads -----------------------------------------------------------------------------------


@view_page
def shipment_label(request: HttpRequest, pk: int) -> HttpResponse:
    return label_response(selectors.shipment_for_download(actor=request.actor, pk=pk), "pdf")


@view_page
def shipment_label_zpl(request: HttpRequest, pk: int) -> HttpResponse:
    return label_response(selectors.shipment_for_download(actor=request.actor, pk=pk), "zpl")


@view_page
def shipment_slip(request: HttpRequest, pk: int) -> HttpResponse:
    return slip_response(selectors.shipment_get(actor=request.actor, pk=pk))
