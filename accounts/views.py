"""Pages: the operator console and the brand portal. Same selectors and services as the API."""

from __future__ import annotations

import contextlib
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import APIKeyForm, ClientSearchForm, InviteUserForm
from .roles import Perm

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def require_perm(*perms: Perm):
    """A page for signed-in users holding every one of ``perms`` (403 otherwise)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not all(request.actor.can(perm) for perm in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _page(request: HttpRequest, queryset, size: int = PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def list_page(request: HttpRequest, queryset, size: int = PAGE_SIZE):
    """One page of a list; ``?per_page=`` (1 to ``MAX_PAGE_SIZE``) for people and for the
    query-count tests, ``size`` when it is absent or not a number."""
    with contextlib.suppress(ValueError):
        size = min(max(int(request.GET.get("per_page", size)), 1), MAX_PAGE_SIZE)
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def error_messages(exc: ValidationError) -> dict[str | None, list[str]]:
    """A ``ValidationError``'s messages by field (``None``: not about one field)."""
    return exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}


def error_text(exc: ValidationError) -> str:
    """A ``ValidationError``'s messages on one line (a flash message, a scanner's feedback)."""
    return " ".join(m for errors in error_messages(exc).values() for m in errors)


def _form_errors_to(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("console-home" if request.actor.can(Perm.CONSOLE) else "portal-home")


# --- console -----------------------------------------------------------------------------------


@require_perm(Perm.CONSOLE)
def console_clients(request: HttpRequest) -> HttpResponse:
    """The client search (the console home is the fleet view, ``reporting.views.dashboards``)."""
    form = ClientSearchForm(request.GET or None)
    clients = selectors.client_list(actor=request.actor)
    if form.is_valid():
        if q := form.cleaned_data["q"]:
            clients = clients.filter(Q(name__icontains=q) | Q(slug__icontains=q))
        if form.cleaned_data["active"]:
            clients = clients.filter(active=form.cleaned_data["active"] == "true")
    page = _page(request, clients.order_by("name", "pk"))
    template = "console/_client_rows.html" if request.htmx else "console/home.html"
    return render(request, template, {"form": form, "page": page})


@require_perm(Perm.CONSOLE)
def console_client(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.actor
    client = selectors.client_get(actor=actor, pk=pk)
    context = {
        "client": client,
        "can_qbr": actor.can(Perm.QBR_EDIT),
        "can_alert_rules": actor.can(Perm.ALERT_RULES),
        "can_alerts": actor.can(Perm.ALERT_VIEW),
    }
    if actor.can(Perm.USER_VIEW):
        context["users"] = selectors.user_list(actor=actor).filter(client=client)
    if actor.can(Perm.API_KEY_VIEW):
        context["api_keys"] = selectors.api_key_list(actor=actor).filter(client=client)
    if actor.can(Perm.AUDIT_VIEW):
        context["events"] = selectors.audit_event_list(actor=actor).filter(client=client)[:20]
    return render(request, "console/client.html", context)


@require_perm(Perm.CONSOLE)
def console_warehouses(request: HttpRequest) -> HttpResponse:
    warehouses = selectors.warehouse_list(actor=request.actor)
    return render(request, "console/warehouses.html", {"warehouses": warehouses})


@require_perm(Perm.AUDIT_VIEW)
def console_audit(request: HttpRequest) -> HttpResponse:
    if not request.actor.can(Perm.CONSOLE):
        raise PermissionDenied
    events = selectors.audit_event_list(actor=request.actor)
    if client_id := request.GET.get("client", "").strip():
        events = events.filter(client_id=client_id) if client_id.isdigit() else events.none()
    return render(
        request,
        "console/audit.html",
        {"page": _page(request, events), "clients": selectors.client_list(actor=request.actor)},
    )


# --- portal ------------------------------------------------------------------------------------


def _own_client(request: HttpRequest):
    return selectors.client_get(actor=request.actor, pk=request.actor.client_id)


@require_perm(Perm.PORTAL)
def portal_home(request: HttpRequest) -> HttpResponse:
    client = _own_client(request)
    warehouses = selectors.warehouse_list(actor=request.actor)
    return render(request, "portal/home.html", {"client": client, "warehouses": warehouses})


@require_perm(Perm.PORTAL)
def portal_users(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    if not actor.can(Perm.USER_VIEW):
        raise PermissionDenied
    form = InviteUserForm(request.POST or None) if actor.can(Perm.USER_MANAGE) else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                user = services.user_invite(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors_to(form, exc)
            else:
                messages.success(request, f"Invitation sent to {user.email}.")
                return redirect("portal-users")
    users = selectors.user_list(actor=actor)
    return render(request, "portal/users.html", {"form": form, "page": _page(request, users)})


@require_POST
@require_perm(Perm.USER_MANAGE)
def portal_user_set_active(request: HttpRequest, pk: int, active: str) -> HttpResponse:
    if active not in ("activate", "deactivate"):
        raise Http404
    user = selectors.user_get(actor=request.actor, pk=pk)
    try:
        user = services.user_set_active(actor=request.actor, user=user, active=active == "activate")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if request.htmx:
        return render(request, "portal/_user_row.html", {"u": user})
    return redirect("portal-users")


@require_perm(Perm.PORTAL)
def portal_api_keys(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    if not actor.can(Perm.API_KEY_VIEW):
        raise PermissionDenied
    form = APIKeyForm(request.POST or None) if actor.can(Perm.API_KEY_MANAGE) else None
    new_key = None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                new_key = services.api_key_create(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors_to(form, exc)
            else:
                form = APIKeyForm()
    keys = selectors.api_key_list(actor=actor)
    # The secret is rendered into this one response only; it is not stored anywhere.
    response = render(request, "portal/api_keys.html", {"form": form, "keys": keys, "new_key": new_key})
    if new_key:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@require_perm(Perm.API_KEY_MANAGE)
def portal_api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.api_key_get(actor=request.actor, pk=pk)
    key = services.api_key_revoke(actor=request.actor, api_key=key)
    messages.success(request, f"Key “{key.name}” ({key.prefix}…) revoked.")
    return redirect("portal-api-keys")


@require_perm(Perm.AUDIT_VIEW)
def portal_audit(request: HttpRequest) -> HttpResponse:
    if not request.actor.can(Perm.PORTAL):
        raise PermissionDenied
    events = selectors.audit_event_list(actor=request.actor)
    return render(request, "portal/audit.html", {"page": _page(request, events)})
