"""Inventory pages: the brand portal (items, stock, ledger, ASNs), the warehouse floor (dock,
receiving, putaway, counts) and the console's inbound views.

Reads go through ``selectors``, writes through ``services`` and ``imports``: one number, one code
path with the API. Another client's object is a 404 because the selectors never return it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Q
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.roles import Perm
from accounts.views import error_messages, error_text, list_page, require_perm

from . import imports, selectors, services
from .enums import ASN_RECEIVABLE, ASNStatus, CountStatus, LocationType
from .forms import (
    OPEN_ASN,
    ASNFilterForm,
    ASNForm,
    ASNLineForm,
    ASNLineFormSet,
    BalanceFilterForm,
    ClientFilterForm,
    CountCreateForm,
    CountEntryForm,
    DockForm,
    FoundItemForm,
    ImportForm,
    ItemFilterForm,
    ItemForm,
    MoveFilterForm,
    PutawayForm,
    ReceiveForm,
)

KEEP_UPLOAD_BYTES = 1_000_000  # a validated file is carried to the import step up to this size
CLOSED_ASN = (ASNStatus.CLOSED, ASNStatus.CANCELLED)
BALANCE_COLUMNS = (
    "pk",
    "item_id",
    "item__sku",
    "item__name",
    "warehouse__code",
    "location__code",
    "location__type",
    "lot_code",
    "expiry_date",
    "on_hand",
    "allocated",
    "available",
)


portal_page = require_perm(Perm.PORTAL, Perm.INVENTORY_VIEW)
floor_page = require_perm(Perm.WAREHOUSE_FLOOR)
receiving_page = require_perm(Perm.WAREHOUSE_FLOOR, Perm.ASN_RECEIVE)
console_page = require_perm(Perm.CONSOLE, Perm.INVENTORY_VIEW)


def _list(request: HttpRequest, template: str, rows_template: str, context: dict) -> HttpResponse:
    """A list page, or only its rows for an htmx filter request."""
    return render(request, rows_template if request.htmx else template, context)


def _errors_to(form: Form, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    """Put a service's errors next to the form's fields (unknown keys above the form)."""
    rename = rename or {}
    for key, errors in error_messages(exc).items():
        name = rename.get(key, key)
        form.add_error(name if name in form.fields else None, errors)


def _own_client(request: HttpRequest):
    return account_selectors.client_get(actor=request.actor, pk=request.actor.client_id)


def _day_start(day, tz: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))


@dataclass
class Feedback:
    """What the scanner screen says after a scan: ok (green), warn (amber) or error (red)."""

    level: str
    message: str
    details: list[str] = field(default_factory=list)


def _asn_for_detail(actor, pk):
    return get_object_or_404(selectors.asn_detail_prefetch(selectors.asn_list(actor=actor)), pk=pk)


def _filter_asns(asns, form: ASNFilterForm):
    if not form.is_valid():
        return asns
    data = form.cleaned_data
    if data.get("status") == OPEN_ASN:
        asns = asns.exclude(status__in=CLOSED_ASN)
    elif data.get("status"):
        asns = asns.filter(status=data["status"])
    if data.get("client"):
        asns = asns.filter(client_id=data["client"])
    if data.get("warehouse"):
        asns = asns.filter(warehouse_id=data["warehouse"])
    return asns


def _import(request: HttpRequest, run, template: str, done_url: str, what: str) -> HttpResponse:
    """The CSV upload pattern: validate the whole file, show every bad row, import only a clean file.
    A file that validated is carried (as text) to the import button, so it need not be chosen again."""
    form = ImportForm(request.POST or None, request.FILES or None)
    result = content = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        raw = upload.read() if upload else form.cleaned_data["content"].encode()
        result = run(upload=raw, dry_run=form.cleaned_data["dry_run"])
        if result.valid and not result.dry_run:
            messages.success(request, f"Imported {result.created} {what} from {result.rows} rows.")
            return redirect(done_url)
        if result.valid and len(raw) <= KEEP_UPLOAD_BYTES:
            try:
                content = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                content = None
    return render(request, template, {"form": form, "result": result, "content": content})


# --- portal: items -----------------------------------------------------------------------------


@portal_page
def item_list(request: HttpRequest) -> HttpResponse:
    form = ItemFilterForm(request.GET or None)
    items = selectors.item_list(actor=request.actor)
    if form.is_valid():
        if q := form.cleaned_data["q"].strip():
            items = items.filter(Q(sku__icontains=q) | Q(name__icontains=q) | Q(barcodes__code=q)).distinct()
        if form.cleaned_data["active"]:
            items = items.filter(active=form.cleaned_data["active"] == "true")
    context = {
        "form": form,
        "page": list_page(request, items.order_by("sku", "pk")),
        "can_manage": request.actor.can(Perm.ITEM_MANAGE),
    }
    return _list(request, "inventory/portal/items.html", "inventory/portal/_item_rows.html", context)


@portal_page
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    item = selectors.item_get(actor=actor, pk=pk)
    context = {
        "item": item,
        "stock": selectors.item_stock_by_node(actor=actor, item=item),
        "used_in": item.used_in_kits.select_related("kit") if not item.is_kit else [],
        "moves": selectors.move_list(actor=actor).filter(item=item).order_by("-created_at", "-pk")[:10],
        "tz": item.client.time_zone,
    }
    return render(request, "inventory/portal/item.html", context)


@portal_page
def item_create(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    if not actor.can(Perm.ITEM_MANAGE):
        raise PermissionDenied
    form = ItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kwargs, origin = form.service_kwargs()
        try:
            item = services.item_create(actor=actor, client=_own_client(request), **kwargs)
        except ValidationError as exc:
            rename = {f"barcodes.{i}.code": name for i, name in enumerate(origin)}
            rename |= {k: "components" for k in error_messages(exc) if k and k.startswith("components.")}
            _errors_to(form, exc, rename)
        else:
            messages.success(request, f"Item {item.sku} created.")
            return redirect("portal-item", item.pk)
    return render(request, "inventory/portal/item_form.html", {"form": form})


@portal_page
def item_import(request: HttpRequest) -> HttpResponse:
    if not request.actor.can(Perm.ITEM_MANAGE):
        raise PermissionDenied

    def run(upload, dry_run):
        return imports.import_items(
            actor=request.actor, client=_own_client(request), upload=upload, dry_run=dry_run
        )

    return _import(request, run, "inventory/portal/item_import.html", reverse("portal-items"), "items")


# --- portal: stock and the ledger --------------------------------------------------------------


@portal_page
def balance_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    warehouses = account_selectors.warehouse_list(actor=actor)
    form = BalanceFilterForm(request.GET or None, warehouses=warehouses)
    balances = selectors.balance_list(actor=actor)
    totals = False
    if form.is_valid():
        data = form.cleaned_data
        totals = data["view"] == "totals"
        if data["sku"].strip():
            balances = balances.filter(item__sku__icontains=data["sku"].strip())
        if data["warehouse"]:
            balances = balances.filter(warehouse_id=data["warehouse"])
        if data["location_type"]:
            balances = balances.filter(location__type=data["location_type"])
        if data["available"]:
            balances = balances.filter(on_hand__gt=F("allocated"))
    if totals:
        rows = selectors.balance_totals(actor=actor, balances=balances.order_by())
    else:
        # Dicts, not instances: balance_list's ``available`` annotation cannot be set on a Balance
        # (the model has a read-only ``available`` property), so instances of it fail to load.
        rows = (
            balances.filter(on_hand__gt=0)
            .order_by("item__sku", "warehouse__code", "location__code", "lot_code", "pk")
            .values(*BALANCE_COLUMNS)
        )
    page = list_page(request, rows)
    if not totals:
        labels = dict(LocationType.choices)
        page.object_list = [{**r, "location_type": labels.get(r["location__type"])} for r in page.object_list]
    context = {"form": form, "page": page, "totals": totals}
    return _list(request, "inventory/portal/balances.html", "inventory/portal/_balance_rows.html", context)


@portal_page
def move_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    client = _own_client(request)
    form = MoveFilterForm(request.GET or None, warehouses=account_selectors.warehouse_list(actor=actor))
    moves = selectors.move_list(actor=actor)
    if form.is_valid():
        data = form.cleaned_data
        if data["sku"].strip():
            moves = moves.filter(item__sku__iexact=data["sku"].strip())
        if data["reason"]:
            moves = moves.filter(reason=data["reason"])
        if data["warehouse"]:
            moves = moves.filter(warehouse_id=data["warehouse"])
        if data["since"]:
            moves = moves.filter(created_at__gte=_day_start(data["since"], client.time_zone))
        if data["until"]:
            moves = moves.filter(
                created_at__lt=_day_start(data["until"] + timedelta(days=1), client.time_zone)
            )
    context = {
        "form": form,
        "page": list_page(request, moves.order_by("-created_at", "-pk")),
        "tz": client.time_zone,
    }
    return _list(request, "inventory/portal/ledger.html", "inventory/portal/_move_rows.html", context)


# --- portal: ASNs ------------------------------------------------------------------------------


@portal_page
def asn_list(request: HttpRequest) -> HttpResponse:
    form = ASNFilterForm(request.GET or None)
    asns = _filter_asns(selectors.asn_list(actor=request.actor), form).order_by(*form.ordering())
    context = {
        "form": form,
        "page": list_page(request, asns),
        "can_manage": request.actor.can(Perm.ASN_MANAGE),
        "detail_url": "portal-asn",
    }
    return _list(request, "inventory/portal/asns.html", "inventory/_asn_rows.html", context)


def _asn_detail(request: HttpRequest, pk: int, *, portal: bool) -> HttpResponse:
    actor = request.actor
    asn = _asn_for_detail(actor, pk)
    context = {
        "asn": asn,
        "receipts": selectors.asn_receipts(asn=asn)[:200],
        "portal": portal,
        "can_manage": actor.can(Perm.ASN_MANAGE),
        "can_floor": actor.can(Perm.WAREHOUSE_FLOOR) and actor.can(Perm.ASN_RECEIVE),
        "cancellable": asn.status in (ASNStatus.DRAFT, ASNStatus.SUBMITTED, ASNStatus.IN_TRANSIT),
        "final": asn.status in (ASNStatus.RECEIVED, ASNStatus.CLOSED),
        "tz": asn.warehouse.time_zone,
    }
    return render(request, "inventory/asn.html", context)


@portal_page
def asn_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _asn_detail(request, pk, portal=True)


@portal_page
def asn_create(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    if not actor.can(Perm.ASN_MANAGE):
        raise PermissionDenied
    warehouses = account_selectors.warehouse_list(actor=actor).filter(active=True)
    data = request.POST or None
    form = ASNForm(data, warehouses=warehouses, initial={"submit": True})
    formset = ASNLineFormSet(data, prefix="lines")
    lines_error = None
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        filled = [
            (i, f.cleaned_data) for i, f in enumerate(formset.forms) if f.has_changed() and f.cleaned_data
        ]
        lines = [
            {
                "sku": d["sku"],
                "expected_quantity": d["expected_quantity"],
                "lot_code": d["lot_code"],
                "expiry_date": d["expiry_date"],
            }
            for _, d in filled
        ]
        try:
            asn = services.asn_create(
                actor=actor,
                client=_own_client(request),
                warehouse=form.cleaned_data["warehouse"],
                lines=lines,
                submit=form.cleaned_data["submit"],
                **form.header(),
            )
        except ValidationError as exc:
            for key, errors in error_messages(exc).items():
                parts = (key or "").split(".")
                if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
                    line_form = formset.forms[filled[int(parts[1])][0]]
                    line_form.add_error(parts[2] if parts[2] in line_form.fields else None, errors)
                elif key == "lines":
                    lines_error = " ".join(errors)
                else:
                    form.add_error(key if key in form.fields else None, errors)
        else:
            state = "submitted" if form.cleaned_data["submit"] else "saved as a draft"
            messages.success(request, f"{asn.number} {state}.")
            return redirect("portal-asn", asn.pk)
    return render(
        request,
        "inventory/portal/asn_form.html",
        {"form": form, "formset": formset, "lines_error": lines_error},
    )


@portal_page
def asn_line_row(request: HttpRequest) -> HttpResponse:
    """One more blank line row for the ASN form (htmx "Add line")."""
    try:
        index = int(request.GET.get("index", ""))
    except ValueError:
        raise Http404 from None
    if not 0 <= index < 500:
        raise Http404
    line = ASNLineForm(prefix=f"lines-{index}", empty_permitted=True, use_required_attribute=False)
    return render(request, "inventory/portal/_asn_line_row.html", {"line": line})


@portal_page
def asn_import(request: HttpRequest) -> HttpResponse:
    if not request.actor.can(Perm.ASN_MANAGE):
        raise PermissionDenied

    def run(upload, dry_run):
        return imports.import_asns(
            actor=request.actor, client=_own_client(request), upload=upload, dry_run=dry_run
        )

    return _import(request, run, "inventory/portal/asn_import.html", reverse("portal-asns"), "ASNs")


@require_POST
@portal_page
def asn_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    actor = request.actor
    asn = selectors.asn_get(actor=actor, pk=pk)
    try:
        if action == "submit":
            asn = services.asn_submit(actor=actor, asn=asn)
            messages.success(request, f"{asn.number} submitted: the node expects it.")
        elif action == "cancel":
            asn = services.asn_cancel(actor=actor, asn=asn, reason=request.POST.get("reason", "").strip())
            messages.success(request, f"{asn.number} cancelled.")
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    return redirect("portal-asn", pk)


# --- the floor: dock check-in ------------------------------------------------------------------


def _asn_by_code(actor, code: str):
    """The ASN a scanned or typed number, reference, tracking number or BOL names."""
    code = code.strip()
    asns = selectors.asn_list(actor=actor)
    number = code.upper().removeprefix("ASN-").removeprefix("ASN")
    if number.isdigit():
        found = list(asns.filter(pk=int(number))[:2])
        if found:
            return found[0]
    match = Q(reference__iexact=code) | Q(tracking_number__iexact=code) | Q(bol_number__iexact=code)
    found = list(asns.filter(match).exclude(status__in=CLOSED_ASN)[:2])
    if not found:
        raise ValidationError({"code": [f"No ASN matches “{code}”."]})
    if len(found) > 1:
        raise ValidationError({"code": [f"Several ASNs match “{code}”: check in from the list."]})
    return found[0]


@receiving_page
def dock(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    form = DockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            asn = _asn_by_code(actor, form.cleaned_data["code"])
            asn = services.asn_arrive(actor=actor, asn=asn)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, f"{asn.number} checked in at {asn.warehouse.code}.")
            return redirect("floor-dock")
    asns = selectors.asn_list(actor=actor)
    expected = asns.filter(status__in=[ASNStatus.SUBMITTED, ASNStatus.IN_TRANSIT]).order_by(
        F("eta").asc(nulls_last=True), "pk"
    )
    context = {
        "form": form,
        "page": list_page(request, expected),
        "at_dock": asns.filter(status=ASNStatus.ARRIVED).order_by("arrived_at", "pk")[:50],
    }
    return render(request, "inventory/floor/dock.html", context)


@require_POST
@receiving_page
def asn_arrive(request: HttpRequest, pk: int) -> HttpResponse:
    asn = selectors.asn_get(actor=request.actor, pk=pk)
    try:
        asn = services.asn_arrive(actor=request.actor, asn=asn)
    except ValidationError as exc:
        messages.error(request, f"{asn.number}: {error_text(exc)}")
    else:
        messages.success(request, f"{asn.number} checked in at {asn.warehouse.code}.")
    return redirect("floor-dock")


# --- the floor: receiving and putaway ----------------------------------------------------------


@receiving_page
def receiving_list(request: HttpRequest) -> HttpResponse:
    asns = selectors.asn_list(actor=request.actor).filter(
        status__in=[ASNStatus.ARRIVED, ASNStatus.RECEIVING, ASNStatus.RECEIVED]
    )
    context = {"page": list_page(request, asns.order_by("arrived_at", "pk"))}
    return render(request, "inventory/floor/receiving_list.html", context)


@receiving_page
def putaway_list(request: HttpRequest) -> HttpResponse:
    asns = selectors.asns_awaiting_putaway(actor=request.actor).order_by("arrived_at", "pk")
    return render(request, "inventory/floor/putaway_list.html", {"page": list_page(request, asns)})


def _receive_scan(request: HttpRequest, asn, form: ReceiveForm) -> Feedback:
    if not form.is_valid():
        errors = [
            f"{form.fields[k].label if k in form.fields else ''}: {' '.join(v)}".lstrip(": ")
            for k, v in form.errors.items()
        ]
        return Feedback("error", "Nothing was received.", errors)
    data = form.cleaned_data
    try:
        result = services.asn_receive(
            actor=request.actor,
            asn=asn,
            code=data["code"],
            quantity=data["quantity"],
            condition=data["condition"],
            lot_code=data["lot_code"],
            expiry_date=data["expiry_date"],
            session=data["session"],
        )
    except ValidationError as exc:
        return Feedback("error", error_text(exc))
    item = result.line.item
    damaged = " damaged (to quarantine)" if data["condition"] == "damaged" else ""
    message = f"Received {result.receipt.quantity} x {item.sku}{damaged}"
    return Feedback("warn" if result.warnings else "ok", message, list(result.warnings))


@receiving_page
def receive(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    asn = selectors.asn_get(actor=actor, pk=pk)
    feedback = None
    if request.method == "POST":
        form = ReceiveForm(request.POST)
        feedback = _receive_scan(request, asn, form)
        asn = selectors.asn_get(actor=actor, pk=pk)  # status and totals after the scan
        # The next scan starts clean but keeps the operator's settings.
        keep = {k: request.POST.get(k, "") for k in ("condition", "lot_code", "expiry_date", "session")}
        form = ReceiveForm(initial={"quantity": 1, **keep})
    else:
        form = ReceiveForm(initial={"quantity": 1, "condition": "good"})
    context = {
        "asn": asn,
        "lines": selectors.asn_lines(asn=asn),
        "form": form,
        "feedback": feedback,
        "receivable": asn.status in ASN_RECEIVABLE,
        "tz": asn.warehouse.time_zone,
    }
    template = "inventory/floor/_receive_panel.html" if request.htmx else "inventory/floor/receive.html"
    return render(request, template, context)


@require_POST
@receiving_page
def asn_finish(request: HttpRequest, pk: int) -> HttpResponse:
    asn = selectors.asn_get(actor=request.actor, pk=pk)
    try:
        asn = services.asn_complete_receiving(actor=request.actor, asn=asn)
    except ValidationError as exc:
        messages.error(request, f"{asn.number}: {error_text(exc)}")
        return redirect("floor-receive", pk)
    messages.success(request, f"{asn.number}: receiving finished. Put the units away.")
    return redirect("floor-putaway-asn", pk)


@require_POST
@receiving_page
def asn_close(request: HttpRequest, pk: int) -> HttpResponse:
    asn = selectors.asn_get(actor=request.actor, pk=pk)
    try:
        asn = services.asn_close(actor=request.actor, asn=asn)
    except ValidationError as exc:
        messages.error(request, f"{asn.number}: {error_text(exc)}")
        return redirect("floor-receive", pk)
    messages.success(request, f"{asn.number} closed.")
    return redirect("floor-receiving")


@dataclass
class PutawayRow:
    line: object
    waiting: int
    suggestions: list
    form: PutawayForm


@receiving_page
def putaway(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    asn = selectors.asn_get(actor=actor, pk=pk)
    lines = list(selectors.asn_lines(asn=asn))
    posted_line, posted_form = None, None
    if request.method == "POST":
        posted_line = next((x for x in lines if str(x.pk) == request.POST.get("line")), None)
        if posted_line is None:
            raise Http404
        posted_form = PutawayForm(request.POST, prefix=f"line-{posted_line.pk}")
        if posted_form.is_valid():
            code = request.POST.get("pick") or posted_form.cleaned_data["location"]
            location = selectors.location_by_code(actor=actor, warehouse_id=asn.warehouse_id, code=code)
            quantity = posted_form.cleaned_data["quantity"]
            if not code:
                posted_form.add_error("location", "Scan or type a location, or tap a suggested bin.")
            elif location is None:
                posted_form.add_error("location", f"No location “{code}” at {asn.warehouse.code}.")
            else:
                try:
                    services.asn_putaway(
                        actor=actor, asn=asn, line=posted_line, to_location=location, quantity=quantity
                    )
                except ValidationError as exc:
                    _errors_to(posted_form, exc, {"to_location": "location"})
                else:
                    messages.success(
                        request, f"Put away {quantity} x {posted_line.item.sku} to {location.code}."
                    )
                    return redirect("floor-putaway-asn", pk)
    rows = []
    for line in lines:
        waiting = line.received_quantity - line.putaway_quantity
        if waiting <= 0 and line is not posted_line:
            continue
        form = (
            posted_form
            if line is posted_line
            else PutawayForm(prefix=f"line-{line.pk}", initial={"quantity": waiting})
        )
        suggestions = selectors.putaway_suggestions(item=line.item, warehouse_id=asn.warehouse_id)
        rows.append(PutawayRow(line, waiting, suggestions, form))
    focus = next((r for r in rows if r.line is posted_line), rows[0] if rows else None)
    if focus:  # the scanner types into the line being worked on
        focus.form.fields["location"].widget.attrs["autofocus"] = True
    asn = selectors.asn_get(actor=actor, pk=pk)
    context = {"asn": asn, "rows": rows, "tz": asn.warehouse.time_zone}
    return render(request, "inventory/floor/putaway.html", context)


# --- the floor: cycle counts -------------------------------------------------------------------


def _may_count(actor) -> None:
    if not (actor.can(Perm.COUNT) or actor.can(Perm.COUNT_APPROVE)):
        raise PermissionDenied


@floor_page
def count_list(request: HttpRequest) -> HttpResponse:
    _may_count(request.actor)
    actor = request.actor
    form = None
    if actor.can(Perm.COUNT):
        warehouses = account_selectors.warehouse_list(actor=actor)
        form = CountCreateForm(request.POST or None, warehouses=warehouses)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            warehouse = get_object_or_404(warehouses, pk=data["warehouse"])
            prefix = data["bins"].strip().upper()
            try:
                if prefix:
                    locations = list(
                        selectors.location_list(actor=actor).filter(
                            warehouse=warehouse, code__startswith=prefix
                        )
                    )
                    if not locations:
                        raise ValidationError({"bins": [f"No bin at {warehouse.code} starts with {prefix}."]})
                    count = services.count_create(
                        actor=actor, warehouse=warehouse, locations=locations, reason=data["reason"]
                    )
                else:
                    item = selectors.item_by_code(actor=actor, code=data["code"])
                    count = services.count_create(
                        actor=actor, warehouse=warehouse, items=[item], reason=data["reason"]
                    )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error({"code": "code", "bins": "bins", "items": "code"}.get(name), errors)
            else:
                messages.success(
                    request, f"Count {count.pk} started: {count.lines.count()} line(s) to count."
                )
                return redirect("floor-count", pk=count.pk)
    elif request.method == "POST":
        raise PermissionDenied
    counts = selectors.count_list(actor=actor).filter(status__in=[CountStatus.OPEN, CountStatus.SUBMITTED])
    return render(
        request,
        "inventory/floor/counts.html",
        {"page": list_page(request, counts.order_by("-created_at", "-pk")), "form": form},
    )


def _count_context(request: HttpRequest, count, *, forms=None, found=None) -> dict:
    actor = request.actor
    clients = account_selectors.client_list(actor=actor).filter(warehouses=count.warehouse_id)
    lines = list(selectors.count_lines(count=count))
    forms = forms or {}
    return {
        "count": count,
        "open": count.status == CountStatus.OPEN,
        "rows": [
            (
                line,
                forms.get(line.pk)
                or CountEntryForm(
                    prefix=f"line-{line.pk}", initial={"counted_quantity": line.counted_quantity}
                ),
            )
            for line in lines
        ],
        "found": found or FoundItemForm(clients=clients),
        "can_count": actor.can(Perm.COUNT),
        "can_approve": actor.can(Perm.COUNT_APPROVE),
        "tz": count.warehouse.time_zone,
    }


@floor_page
def count_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _may_count(request.actor)
    count = selectors.count_get(actor=request.actor, pk=pk)
    return render(request, "inventory/floor/count.html", _count_context(request, count))


@require_POST
@floor_page
def count_enter(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    actor = request.actor
    count = selectors.count_get(actor=actor, pk=pk)
    line = get_object_or_404(selectors.count_lines(count=count), pk=line_pk)
    form = CountEntryForm(request.POST, prefix=f"line-{line.pk}")
    saved = False
    if form.is_valid():
        try:
            line = services.count_enter(
                actor=actor, count=count, line=line, counted_quantity=form.cleaned_data["counted_quantity"]
            )
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            saved = True
    if request.htmx:
        if saved:
            line = get_object_or_404(selectors.count_lines(count=count), pk=line_pk)
            form = CountEntryForm(
                prefix=f"line-{line.pk}", initial={"counted_quantity": line.counted_quantity}
            )
        return render(
            request,
            "inventory/floor/_count_line.html",
            {"line": line, "form": form, "count": count, "open": True, "saved": saved},
        )
    if saved:
        return redirect("floor-count", pk)
    return render(
        request, "inventory/floor/count.html", _count_context(request, count, forms={line.pk: form})
    )


@require_POST
@floor_page
def count_found(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    count = selectors.count_get(actor=actor, pk=pk)
    clients = account_selectors.client_list(actor=actor).filter(warehouses=count.warehouse_id)
    form = FoundItemForm(request.POST, clients=clients)
    if form.is_valid():
        data = form.cleaned_data
        location = selectors.location_by_code(
            actor=actor, warehouse_id=count.warehouse_id, code=data["location"]
        )
        if location is None:
            form.add_error("location", f"No location “{data['location']}” at {count.warehouse.code}.")
        else:
            try:
                item = selectors.item_by_code(actor=actor, code=data["code"], client_id=data.get("client"))
                services.count_enter(
                    actor=actor,
                    count=count,
                    location=location,
                    item=item,
                    counted_quantity=data["counted_quantity"],
                    lot_code=data["lot_code"].strip(),
                )
            except ValidationError as exc:
                _errors_to(form, exc)
            else:
                messages.success(
                    request, f"Recorded {data['counted_quantity']} x {item.sku} at {location.code}."
                )
                return redirect("floor-count", pk)
    return render(request, "inventory/floor/count.html", _count_context(request, count, found=form))


@require_POST
@floor_page
def count_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    actor = request.actor
    count = selectors.count_get(actor=actor, pk=pk)
    try:
        if action == "submit":
            services.count_submit(actor=actor, count=count)
            messages.success(request, f"Count {count.pk} submitted for approval.")
        elif action == "approve":
            services.count_approve(actor=actor, count=count)
            messages.success(request, f"Count {count.pk} approved: variances posted to the ledger.")
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    return redirect("floor-count", pk)


# --- console -----------------------------------------------------------------------------------


@console_page
def console_client_inventory(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    client = account_selectors.client_get(actor=actor, pk=pk)
    balances = selectors.balance_list(actor=actor).filter(client=client).order_by()
    open_asns = (
        selectors.asn_list(actor=actor)
        .filter(client=client)
        .exclude(status__in=CLOSED_ASN)
        .order_by("-created_at", "-pk")
    )
    context = {
        "client": client,
        "page": list_page(request, selectors.balance_totals(actor=actor, balances=balances)),
        "open_asns": open_asns[:50],
        "open_asn_count": open_asns.count(),
        "detail_url": "console-asn",
    }
    return render(request, "inventory/console/client_inventory.html", context)


@console_page
def console_inbound(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    form = ASNFilterForm(
        request.GET or {"status": OPEN_ASN},
        clients=account_selectors.client_list(actor=actor).order_by("name"),
        warehouses=account_selectors.warehouse_list(actor=actor),
    )
    asns = _filter_asns(selectors.asn_list(actor=actor), form).order_by(*form.ordering())
    context = {
        "form": form,
        "page": list_page(request, asns),
        "detail_url": "console-asn",
        "show_client": True,
    }
    return _list(request, "inventory/console/inbound.html", "inventory/_asn_rows.html", context)


@console_page
def console_asn(request: HttpRequest, pk: int) -> HttpResponse:
    return _asn_detail(request, pk, portal=False)


@console_page
def console_discrepancies(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    form = ClientFilterForm(
        request.GET or None, clients=account_selectors.client_list(actor=actor).order_by("name")
    )
    lines = selectors.open_discrepancies(actor=actor)
    if form.is_valid() and form.cleaned_data["client"]:
        lines = lines.filter(client_id=form.cleaned_data["client"])
    context = {"form": form, "page": list_page(request, lines)}
    return _list(
        request, "inventory/console/discrepancies.html", "inventory/console/_discrepancy_rows.html", context
    )
