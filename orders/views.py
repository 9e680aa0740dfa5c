"""Order pages: the brand portal (list, detail with its timeline, create, edit, hold, cancel) and the
operator console (search, queues, a client's orders, staff holds and re-allocation).

Reads go through ``page_selectors``, writes through ``services``: the same code paths as the API.
Another client's order is a 404 because the selectors never return it.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.roles import Perm
from accounts.views import error_messages, error_text, list_page, require_perm
from inventory.forms import ImportForm

from . import imports, services, shopify
from . import page_selectors as selectors
from . import selectors as order_selectors
from .enums import CANCELLABLE_STATUSES, EDITABLE_STATUSES, Channel, HoldKind, OrderStatus
from .forms import (
    HoldForm,
    OrderFilterForm,
    OrderForm,
    OrderLineEditFormSet,
    OrderLineForm,
    OrderLineFormSet,
    ShipToForm,
    ShopifyConnectionForm,
)
from .models import Order

KEEP_UPLOAD_BYTES = 1_000_000  # a validated file is carried to the import step up to this size
RELEASABLE = (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED, OrderStatus.RECEIVED)


portal_page = require_perm(Perm.PORTAL, Perm.ORDER_VIEW)
console_page = require_perm(Perm.CONSOLE, Perm.ORDER_VIEW)


def _errors_to(form: Form, exc: ValidationError) -> None:
    for key, errors in error_messages(exc).items():
        form.add_error(key if key in form.fields else None, errors)


def _line_errors_to(formset, filled: list[int], exc: ValidationError, form: Form | None = None) -> str | None:
    """Put a service's ``lines.<i>.<field>`` errors on the row they came from; returns the
    errors about the lines as a whole (and puts the rest on ``form``, when given)."""
    lines_error = []
    for key, errors in error_messages(exc).items():
        parts = (key or "").split(".")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
            row = formset.forms[filled[int(parts[1])]]
            row.add_error(parts[2] if parts[2] in row.fields else None, errors)
        elif key == "lines" or form is None:
            lines_error += errors
        else:
            form.add_error(key if key in form.fields else None, errors)
    return " ".join(lines_error) or None


def _filled_lines(formset) -> tuple[list[int], list[dict]]:
    """The rows that were filled in (blank rows are ignored): their indexes and their lines."""
    rows = [(i, f) for i, f in enumerate(formset.forms) if f.has_changed() and f.cleaned_data]
    return [i for i, _ in rows], [f.line() for _, f in rows]


def _own_client(request: HttpRequest):
    return account_selectors.client_get(actor=request.actor, pk=request.actor.client_id)


def _time_zone(order: Order) -> str:
    """Deadlines are the shipping node's local time (the client's until the order is routed)."""
    return order.warehouse.time_zone if order.warehouse_id else order.client.time_zone


def _filters(form: OrderFilterForm, time_zone: str) -> selectors.OrderFilters:
    if not form.is_valid():
        return selectors.OrderFilters()
    data = form.cleaned_data
    return selectors.OrderFilters(
        status=data.get("status") or "",
        channel=data.get("channel") or "",
        q=data.get("q") or "",
        client_id=data.get("client"),
        received_from=data.get("since"),
        received_to=data.get("until"),
        time_zone=time_zone,
    )


def _list(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """A list page, or only its rows for an htmx filter request."""
    return render(request, "orders/_order_rows.html" if request.htmx else template, context)


# --- portal ------------------------------------------------------------------------------------


@portal_page
def order_list(request: HttpRequest) -> HttpResponse:
    client = _own_client(request)
    form = OrderFilterForm(request.GET or None)
    orders = selectors.order_filter(
        selectors.order_list(actor=request.actor), _filters(form, client.time_zone)
    ).order_by("-received_at", "-pk")
    context = {
        "form": form,
        "page": list_page(request, orders),
        "can_manage": request.actor.can(Perm.ORDER_MANAGE),
        "detail_url": "portal-order",
        "list_url": "portal-orders",
    }
    return _list(request, "orders/portal/orders.html", context)


def _detail(request: HttpRequest, pk: int, *, portal: bool, **extra) -> HttpResponse:
    actor = request.actor
    order = selectors.order_get(actor=actor, pk=pk)
    open_holds = [h for h in order.holds.all() if h.released_at is None]
    can_manage = actor.can(Perm.ORDER_MANAGE)
    context = {
        "order": order,
        "portal": portal,
        "lines": order.lines.all(),
        "holds": order.holds.all(),
        "open_holds": open_holds,
        "timeline": selectors.order_timeline(order),
        "tz": _time_zone(order),
        "can_manage": can_manage,
        "editable": can_manage and order.status in EDITABLE_STATUSES,
        "cancellable": can_manage and order.status in CANCELLABLE_STATUSES,
        "client_hold_open": any(h.kind == HoldKind.CLIENT for h in open_holds),
        "can_reallocate": not portal and actor.can(Perm.ORDER_REALLOCATE) and order.status in RELEASABLE,
        "can_record_errors": not portal
        and actor.can(Perm.ORDER_ERROR_RECORD)
        and order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        "hold_form": extra.pop("hold_form", None) or HoldForm(),
        "incoming_asns": list(order_selectors.incoming_asns(order=order)),
        "now": timezone.now(),
        **extra,
    }
    return render(request, "orders/order.html", context)


@portal_page
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk, portal=True)


@portal_page
def order_create(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    if not actor.can(Perm.ORDER_MANAGE):
        raise PermissionDenied
    data = request.POST or None
    form = OrderForm(data)
    formset = OrderLineFormSet(data, prefix="lines")
    lines_error = duplicate = None
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        filled, lines = _filled_lines(formset)
        reference = form.cleaned_data["external_reference"]
        try:
            order = services.order_create(
                actor=actor,
                client=_own_client(request),
                external_reference=reference,
                lines=lines,
                ship_to=form.ship_to(),
                channel=Channel.PORTAL,
                **form.header(),
            )
        except services.DuplicateOrder as exc:
            duplicate = exc.existing
            form.add_error("external_reference", f"Order {reference} exists already as {duplicate.number}.")
        except ValidationError as exc:
            lines_error = _line_errors_to(formset, filled, exc, form)
        else:
            messages.success(request, f"{order.number} received.")
            return redirect("portal-order", order.pk)
    context = {"form": form, "formset": formset, "lines_error": lines_error, "duplicate": duplicate}
    return render(request, "orders/portal/order_form.html", context)


@portal_page
def order_line_row(request: HttpRequest) -> HttpResponse:
    """One more blank line row for the order forms (htmx "Add line")."""
    try:
        index = int(request.GET.get("index", ""))
    except ValueError:
        raise Http404 from None
    if not 0 <= index < 1000:
        raise Http404
    line = OrderLineForm(prefix=f"lines-{index}", empty_permitted=True, use_required_attribute=False)
    return render(request, "orders/portal/_line_row.html", {"line": line})


def _editable_order(request: HttpRequest, pk: int) -> Order:
    if not request.actor.can(Perm.ORDER_MANAGE):
        raise PermissionDenied
    order = selectors.order_get(actor=request.actor, pk=pk)
    if order.status not in EDITABLE_STATUSES:
        messages.error(request, f"{order.number} can no longer change: picking has started.")
    return order


@portal_page
def order_edit_address(request: HttpRequest, pk: int) -> HttpResponse:
    order = _editable_order(request, pk)
    if order.status not in EDITABLE_STATUSES:
        return redirect("portal-order", pk)
    initial = {f: getattr(order, f) for f in services.SHIP_TO_FIELDS}
    form = ShipToForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            order = services.order_update_address(actor=request.actor, order=order, **form.ship_to())
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, f"{order.number}: address updated.")
            return redirect("portal-order", pk)
    return render(request, "orders/portal/address_form.html", {"order": order, "form": form})


@portal_page
def order_edit_lines(request: HttpRequest, pk: int) -> HttpResponse:
    order = _editable_order(request, pk)
    if order.status not in EDITABLE_STATUSES:
        return redirect("portal-order", pk)
    initial = [{"sku": x.sku, "quantity": x.quantity, "unit_price": x.unit_price} for x in order.lines.all()]
    formset = OrderLineEditFormSet(request.POST or None, prefix="lines", initial=initial)
    lines_error = None
    if request.method == "POST" and formset.is_valid():
        filled, lines = _filled_lines_all(formset)
        try:
            order = services.order_update_lines(actor=request.actor, order=order, lines=lines)
        except ValidationError as exc:
            lines_error = _line_errors_to(formset, filled, exc)
        else:
            messages.success(request, f"{order.number}: lines updated.")
            return redirect("portal-order", pk)
    context = {"order": order, "formset": formset, "lines_error": lines_error}
    return render(request, "orders/portal/lines_form.html", context)


def _filled_lines_all(formset) -> tuple[list[int], list[dict]]:
    """Like ``_filled_lines`` but an unchanged pre-filled row counts too (it is a line kept), and
    a row ticked "Remove" does not."""
    rows = [
        (i, f)
        for i, f in enumerate(formset.forms)
        if f.cleaned_data and f.cleaned_data.get("sku") and not f.cleaned_data.get("DELETE")
    ]
    return [i for i, _ in rows], [f.line() for _, f in rows]


def _action(request: HttpRequest, pk: int, action: str, *, portal: bool) -> HttpResponse:
    actor = request.actor
    order = selectors.order_get(actor=actor, pk=pk)
    back = "portal-order" if portal else "console-order"
    reason = request.POST.get("reason", "").strip()
    try:
        if action == "cancel":
            if not actor.can(Perm.ORDER_MANAGE):
                raise PermissionDenied
            order = services.order_cancel(actor=actor, order=order, reason=reason)
            messages.success(request, f"{order.number} cancelled.")
        elif action == "hold":
            if not actor.can(Perm.ORDER_MANAGE):
                raise PermissionDenied
            form = HoldForm(request.POST)
            if not form.is_valid():
                return _detail(request, pk, portal=portal, hold_form=form)
            kind = HoldKind.CLIENT if portal else HoldKind.OPERATOR
            order = services.order_hold(
                actor=actor, order=order, kind=kind, reason=form.cleaned_data["reason"]
            )
            messages.success(request, f"{order.number}: {kind.label.lower()} placed.")
        elif action == "release":
            if not actor.can(Perm.ORDER_MANAGE):
                raise PermissionDenied
            kind = HoldKind.CLIENT if portal else (request.POST.get("kind") or None)
            if kind and kind not in HoldKind.values:
                raise Http404
            order = services.order_release(actor=actor, order=order, kind=kind)
            messages.success(request, f"{order.number}: released.")
        elif action == "reallocate" and not portal:
            order = services.order_reallocate(actor=actor, order=order)
            messages.success(request, f"{order.number}: routed again ({order.get_status_display().lower()}).")
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, f"{order.number}: {error_text(exc)}")
    return redirect(back, pk)


@require_POST
@portal_page
def order_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return _action(request, pk, action, portal=True)


@portal_page
def order_import(request: HttpRequest) -> HttpResponse:
    """CSV upload: validate the whole file and preview the orders (and the holds they will get);
    import only a clean file. A file that validated is carried to the import button as text."""
    if not request.actor.can(Perm.ORDER_MANAGE):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    result = content = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        raw = upload.read() if upload else form.cleaned_data["content"].encode()
        result = imports.import_orders(
            actor=request.actor, client=_own_client(request), upload=raw, dry_run=form.cleaned_data["dry_run"]
        )
        if result.valid and not result.dry_run:
            messages.success(request, f"Imported {result.created} orders from {result.rows} rows.")
            return redirect("portal-orders")
        if result.valid and len(raw) <= KEEP_UPLOAD_BYTES:
            try:
                content = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                content = None
    return render(
        request, "orders/portal/order_import.html", {"form": form, "result": result, "content": content}
    )


@portal_page
def shopify_settings(request: HttpRequest) -> HttpResponse:
    """The store connection: the webhook URL to paste into Shopify, and the secret that signs it."""
    actor = request.actor
    connection = order_selectors.shopify_connection_list(actor=actor).first()
    can_manage = any(actor.can(p) for p in shopify.MANAGE_PERMS)
    form = None
    if can_manage:
        initial = {"shop_domain": connection.shop_domain, "active": connection.active} if connection else None
        form = ShopifyConnectionForm(request.POST or None, connection=connection, initial=initial)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                if connection is None:
                    connection = shopify.connection_create(
                        actor=actor,
                        client=_own_client(request),
                        shop_domain=data["shop_domain"],
                        webhook_secret=data["webhook_secret"],
                        active=data["active"],
                    )
                else:
                    fields = {"shop_domain": data["shop_domain"], "active": data["active"]}
                    if data["webhook_secret"]:
                        fields["webhook_secret"] = data["webhook_secret"]
                    connection = shopify.connection_update(actor=actor, connection=connection, **fields)
            except ValidationError as exc:
                _errors_to(form, exc)
            else:
                messages.success(request, f"Shopify connection to {connection.shop_domain} saved.")
                return redirect("portal-shopify")
    endpoint = (
        request.build_absolute_uri(reverse("shopify-orders-create", kwargs={"token": connection.token}))
        if connection
        else None
    )
    hint = f"••••{connection.webhook_secret[-4:]}" if connection and connection.webhook_secret else None
    context = {"connection": connection, "endpoint": endpoint, "secret_hint": hint, "form": form}
    return render(request, "orders/portal/shopify.html", context)


# --- console -----------------------------------------------------------------------------------


def _console_list(request: HttpRequest, *, client=None) -> HttpResponse:
    actor = request.actor
    clients = None if client else account_selectors.client_list(actor=actor).order_by("name")
    form = OrderFilterForm(request.GET or None, clients=clients)
    orders = selectors.order_list(actor=actor)
    if client is not None:
        orders = orders.filter(client=client)
    orders = selectors.order_filter(orders, _filters(form, client.time_zone if client else "UTC"))
    context = {
        "form": form,
        "page": list_page(request, orders.order_by("-received_at", "-pk")),
        "client": client,
        "show_client": client is None,
        "detail_url": "console-order",
        "counts": selectors.order_queue_counts(actor=actor),
    }
    return _list(request, "orders/console/orders.html", context)


@console_page
def console_orders(request: HttpRequest) -> HttpResponse:
    return _console_list(request)


@console_page
def console_client_orders(request: HttpRequest, pk: int) -> HttpResponse:
    client = account_selectors.client_get(actor=request.actor, pk=pk)
    return _console_list(request, client=client)


@console_page
def console_queues(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    queue = request.GET.get("queue") or "late"
    if queue not in dict(selectors.QUEUES):
        raise Http404
    now = timezone.now()
    orders = selectors.order_queue(selectors.order_list(actor=actor, now=now), queue, now)
    counts = selectors.order_queue_counts(actor=actor, now=now)
    context = {
        "queue": queue,
        "tabs": [(name, label, counts[name]) for name, label in selectors.QUEUES],
        "page": list_page(request, orders),
        "show_client": True,
        "detail_url": "console-order",
    }
    template = "orders/console/_queue.html" if request.htmx else "orders/console/queues.html"
    return render(request, template, context)


@console_page
def console_order(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk, portal=False)


@require_POST
@console_page
def console_order_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return _action(request, pk, action, portal=False)
