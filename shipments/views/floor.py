"""Floor pages: waves, the pick screen and the pack station (scanner + tablet).

Reads through ``shipments.selectors``, writes through the wave, picking and packing services (the
API's code path). A refused scan shows the service's message and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST
from django_scopes import scope

from accounts.enums import Role
from accounts.models import User
from accounts.roles import Perm
from accounts.views import error_text, list_page, require_perm
from shipments import selectors
from shipments.enums import WaveStatus
from shipments.forms import (
    AssignForm,
    PackageCloseForm,
    PackScanForm,
    PackStartForm,
    PickScanForm,
    ShortForm,
    WaveCreateForm,
)
from shipments.models import BoxType
from shipments.services import packing, picking, waves

view_page = require_perm(Perm.WAVE_VIEW)
work_page = require_perm(Perm.FULFILL)


@dataclass
class Feedback:
    """What the scanner screen says after a scan: ok (green) or error (red)."""

    level: str
    message: str
    details: list[str] = field(default_factory=list)


def _operators(wave):
    return User.objects.filter(
        role=Role.WAREHOUSE_OPERATOR, is_active=True, warehouses=wave.warehouse_id
    ).order_by("email")


# --- waves -----------------------------------------------------------------------------------------


@view_page
def wave_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    nodes = selectors.floor_nodes(actor=actor)
    form = WaveCreateForm(request.POST or None, nodes=nodes, initial={"warehouse": nodes.first()})
    preview = None
    if request.method == "POST":
        if not actor.can(Perm.FULFILL):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            filters = {
                "ship_by_date": data["ship_by_date"],
                "service_level": data["service_level"],
                "units": data["units"],
            }
            if "preview" in request.POST:
                with scope(client=actor.client_scope):
                    preview = waves.wave_candidates(
                        actor=actor, warehouse=data["warehouse"], **filters
                    ).count()
                if data["limit"]:
                    preview = min(preview, data["limit"])
            else:
                try:
                    wave = waves.wave_create(
                        actor=actor, warehouse=data["warehouse"], limit=data["limit"], **filters
                    )
                except ValidationError as exc:
                    form.add_error(None, error_text(exc))
                else:
                    messages.success(request, f"{wave.number} planned: review and release it.")
                    return redirect("floor-wave", wave.pk)
    context = {
        "page": list_page(request, selectors.open_waves(actor=actor)),
        "form": form,
        "preview": preview,
        "can_work": actor.can(Perm.FULFILL),
    }
    return render(request, "shipments/floor/waves.html", context)


@view_page
def wave_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    wave = selectors.wave_get(actor=actor, pk=pk)
    context = {
        "wave": wave,
        "picks": selectors.wave_picks(actor=actor, wave=wave),
        "shorts": selectors.short_picks(actor=actor, wave=wave),
        "assign_form": AssignForm(operators=_operators(wave), initial={"assigned_to": wave.assigned_to_id}),
        "can_work": actor.can(Perm.FULFILL),
        "workable": wave.status in (WaveStatus.RELEASED, WaveStatus.PICKING),
    }
    return render(request, "shipments/floor/wave.html", context)


@require_POST
@work_page
def wave_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    actor = request.actor
    wave = selectors.wave_get(actor=actor, pk=pk)
    try:
        if action == "release":
            waves.wave_release(actor=actor, wave=wave)
            messages.success(request, f"{wave.number} released to the floor.")
        elif action == "cancel":
            waves.wave_cancel(actor=actor, wave=wave, reason=request.POST.get("reason", ""))
            messages.success(request, f"{wave.number} cancelled.")
        elif action == "assign":
            form = AssignForm(request.POST, operators=_operators(wave))
            if not form.is_valid():
                raise ValidationError({"assigned_to": ["Choose a picker of this node."]})
            waves.wave_assign(actor=actor, wave=wave, user=form.cleaned_data["assigned_to"])
            messages.success(request, f"{wave.number} assigned.")
        else:
            return HttpResponse(status=404)
    except ValidationError as exc:
        messages.error(request, f"{wave.number}: {error_text(exc)}")
    return redirect("floor-wave", pk)


# --- the pick screen ------------------------------------------------------------------------------


@work_page
def wave_pick(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    wave = selectors.wave_get(actor=actor, pk=pk)
    feedback = None
    if request.method == "POST":
        pick = selectors.pick_get(actor=actor, pk=request.POST.get("pick") or 0)
        try:
            if "short" in request.POST:
                form = ShortForm(request.POST)
                if not form.is_valid():
                    raise ValidationError({"found": ["Enter the units found (0 or more)."]})
                short = picking.pick_short(actor=actor, pick=pick, found=form.cleaned_data["found"])
                feedback = Feedback(
                    "warn",
                    f"Short recorded: {pick.item.sku} found {short.found} of {short.expected}.",
                    [short.outcome],
                )
            else:
                form = PickScanForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(dict(form.errors.items()))
                data = form.cleaned_data
                picking.pick_confirm(
                    actor=actor,
                    pick=pick,
                    location=data["location"],
                    item=data["item"],
                    quantity=data["quantity"],
                )
                feedback = Feedback(
                    "ok", f"Picked {data['quantity']} x {pick.item.sku} from {pick.location.code}."
                )
        except ValidationError as exc:
            feedback = Feedback("error", f"Refused, nothing picked: {error_text(exc)}")
        wave = selectors.wave_get(actor=actor, pk=pk)
    current = selectors.next_pick(actor=actor, wave=wave)
    context = {
        "wave": wave,
        "pick": current,
        "feedback": feedback,
        "scan_form": PickScanForm(initial={"quantity": 1}),
        "short_form": ShortForm(initial={"found": current.picked_quantity if current else 0}),
    }
    template = "shipments/floor/_pick_panel.html" if request.htmx else "shipments/floor/pick.html"
    return render(request, template, context)


# --- the pack station -----------------------------------------------------------------------------


@work_page
def pack_start(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    nodes = selectors.floor_nodes(actor=actor)
    form = PackStartForm(request.POST or None, nodes=nodes, initial={"warehouse": nodes.first()})
    if request.method == "POST" and form.is_valid():
        order = selectors.packing_order_by_code(actor=actor, code=form.cleaned_data["code"])
        if order is None:
            form.add_error("code", f"No order “{form.cleaned_data['code']}” (scan its order number).")
        else:
            try:
                shipment = packing.pack_start(
                    actor=actor, order=order, warehouse=form.cleaned_data["warehouse"]
                )
            except ValidationError as exc:
                form.add_error("code", error_text(exc))
            else:
                return redirect("floor-pack-station", shipment.pk)
    context = {
        "form": form,
        "sessions": selectors.pack_session_list(actor=actor).filter(warehouse__in=nodes)[:50],
        "ready": selectors.orders_ready_to_pack(
            actor=actor, warehouse_ids=list(nodes.values_list("pk", flat=True))
        )[:50],
    }
    return render(request, "shipments/floor/pack.html", context)


def _link(name: str, pk: int) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


def _station_context(request: HttpRequest, shipment, *, feedback=None, close_form=None) -> dict:
    with scope(client=shipment.client_id):
        units = packing.shipment_units(shipment)
        packages = selectors.shipment_packages(shipment=shipment)
        proposal = selectors.pack_proposal(shipment, units=units)
    boxes = BoxType.objects.filter(warehouse_id=shipment.warehouse_id, active=True).order_by("code")
    if close_form is None:
        first = proposal.first
        close_form = PackageCloseForm(boxes=boxes, initial={"box_type": first.box.pk if first else None})
    open_package = next((p for p in packages if p.closed_at is None), None)
    return {
        "shipment": shipment,
        "units": units,
        "packages": packages,
        "open_package": open_package,
        "proposal": proposal,
        "feedback": feedback,
        "scan_form": PackScanForm(initial={"quantity": 1}),
        "close_form": close_form,
        "complete": bool(units) and all(u.left == 0 for u in units) and packages and not open_package,
        "label_links": [
            (label, url)
            for label, url in (
                ("Label (PDF)", _link("floor-shipment-label", shipment.pk)),
                ("Label (ZPL)", _link("floor-shipment-label-zpl", shipment.pk)),
                ("Packing slip", _link("floor-shipment-slip", shipment.pk)),
            )
            if url
        ],
        "can_buy_label": _buy_label() is not None,
    }


def _buy_label():
    try:
        from shipments.services.shipping import buy_label
    except ImportError:  # the label service is another area's; the station works up to packing
        return None
    return buy_label


def _shipment(request: HttpRequest, pk: int):
    """The shipment of a pack session, whatever its status (a labelled one shows its print links)."""
    from shipments.models import Shipment

    shipments = Shipment.objects.filter(request.actor.client_q("client")).filter(
        selectors._node_q(request.actor)
    )
    return get_object_or_404(
        shipments.select_related("order", "warehouse", "client", "service", "carrier"), pk=pk
    )


@work_page
def pack_station(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    shipment = _shipment(request, pk)
    feedback, close_form = None, None
    if request.method == "POST":
        step = request.POST.get("step", "scan")
        try:
            if step == "scan":
                form = PackScanForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(dict(form.errors.items()))
                line = packing.pack_scan(
                    actor=actor,
                    shipment=shipment,
                    code=form.cleaned_data["code"],
                    quantity=form.cleaned_data["quantity"],
                )
                feedback = Feedback(
                    "ok",
                    f"Packed {form.cleaned_data['quantity']} x {line.item.sku} in package {line.package.number}.",
                )
            elif step == "close":
                boxes = BoxType.objects.filter(warehouse_id=shipment.warehouse_id, active=True)
                close_form = PackageCloseForm(request.POST, boxes=boxes)
                if not close_form.is_valid():
                    raise ValidationError(dict(close_form.errors.items()))
                package = selectors.open_package(shipment)
                if package is None:
                    raise ValidationError({"package": ["No open package."]})
                data = close_form.cleaned_data
                packing.package_close(
                    actor=actor,
                    package=package,
                    box_type=data["box_type"],
                    weight_lb=data["weight_lb"],
                    length_in=data["length_in"],
                    width_in=data["width_in"],
                    height_in=data["height_in"],
                )
                close_form = None
                feedback = Feedback("ok", f"Package {package.number} closed.")
            elif step == "new":
                package = packing.package_open_next(actor=actor, shipment=shipment)
                feedback = Feedback("ok", f"Package {package.number} open.")
            elif step == "complete":
                packing.pack_complete(actor=actor, shipment=shipment)
                buy_label = _buy_label()
                if buy_label is not None and "buy_label" in request.POST:
                    shipment.refresh_from_db()
                    buy_label(actor=actor, shipment=shipment)
                    feedback = Feedback("ok", "Packed; label bought. Print it.")
                else:
                    feedback = Feedback("ok", "Packed.")
            elif step == "label":
                buy_label = _buy_label()
                if buy_label is None:
                    raise ValidationError({"status": ["Labels cannot be bought here yet."]})
                buy_label(actor=actor, shipment=shipment)
                feedback = Feedback("ok", "Label bought. Print it.")
        except ValidationError as exc:
            feedback = Feedback("error", f"Refused: {error_text(exc)}")
        shipment = _shipment(request, pk)
    context = _station_context(request, shipment, feedback=feedback, close_form=close_form)
    template = "shipments/floor/_station_panel.html" if request.htmx else "shipments/floor/station.html"
    return render(request, template, context)
