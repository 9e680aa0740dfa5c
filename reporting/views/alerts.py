"""The alert inbox (console: every alert the person sees, with acknowledge, assign, comment and
resolve in place; portal: the brand's client-visible alerts, read and comment) and a client's
alert rules (console, account managers).

Reads go through ``reporting.alert_selectors``, writes through ``reporting.alert_services``: the
same code paths as the API. Another client's alert is a 404 because the selector never returns it.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.roles import Perm
from accounts.views import error_messages, error_text, list_page, require_perm

from .. import alert_selectors as selectors
from .. import alert_services as services
from ..enums import RULE_DEFAULTS, AlertRule, Severity

console_page = require_perm(Perm.CONSOLE, Perm.ALERT_VIEW)
portal_page = require_perm(Perm.PORTAL, Perm.ALERT_VIEW)
rules_page = require_perm(Perm.CONSOLE, Perm.ALERT_RULES)


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        initial="unresolved",
        choices=[
            ("unresolved", "Not resolved"),
            ("open", "Open"),
            ("acknowledged", "Acknowledged"),
            ("resolved", "Resolved"),
            ("all", "All"),
        ],
    )
    rule = forms.ChoiceField(required=False, choices=[("", "Any"), *AlertRule.choices])
    severity = forms.ChoiceField(required=False, choices=[("", "Any"), *Severity.choices])
    client = forms.ChoiceField(required=False)
    mine = forms.BooleanField(label="Assigned to me", required=False)

    def __init__(self, *args, actor, portal: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if portal:
            del self.fields["client"]
            del self.fields["mine"]
        else:
            clients = selectors.clients_with_alerts_visible(actor=actor)
            self.fields["client"].choices = [("", "Any")] + [(str(c.pk), c.name) for c in clients]

    def filters(self) -> dict:
        if not self.is_valid():
            return {"status": "unresolved"}
        data = self.cleaned_data
        status = data.get("status") or "unresolved"
        return {
            "status": "" if status == "all" else status,
            "rule": data.get("rule") or "",
            "severity": data.get("severity") or "",
            "client": int(data["client"]) if data.get("client") else None,
            "mine": bool(data.get("mine")),
        }


def _inbox(request: HttpRequest, *, portal: bool) -> HttpResponse:
    actor = request.actor
    form = AlertFilterForm(request.GET or None, actor=actor, portal=portal)
    qs = selectors.filter_alerts(selectors.alert_list(actor=actor), actor=actor, **form.filters())
    context = {
        "form": form,
        "page": list_page(request, qs.order_by("-opened_at", "-pk")),
        "portal": portal,
        "list_url": "portal-alerts" if portal else "console-alerts",
        "detail_url": "portal-alert" if portal else "console-alert",
        "counts": None if portal else selectors.inbox_counts(actor=actor),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "reporting/alerts/_rows.html", context)
    return render(request, "reporting/alerts/inbox.html", context)


def _detail_context(request: HttpRequest, pk: int, *, portal: bool, errors=None) -> dict:
    actor = request.actor
    alert = selectors.alert_get(actor=actor, pk=pk)
    manage = not portal and selectors.can_manage(actor)
    return {
        "alert": alert,
        "status": selectors.alert_status(alert),
        "comments": alert.comments.all(),
        "portal": portal,
        "can_manage": manage and not alert.resolved_at,
        "assignees": selectors.assignable_users(client_id=alert.client_id) if manage else [],
        "errors": errors or {},
        "list_url": "portal-alerts" if portal else "console-alerts",
        "action_url": "portal-alert-action" if portal else "console-alert-action",
    }


def _detail(request: HttpRequest, pk: int, *, portal: bool) -> HttpResponse:
    return render(request, "reporting/alerts/detail.html", _detail_context(request, pk, portal=portal))


def _act(request: HttpRequest, pk: int, action: str, *, portal: bool) -> HttpResponse:
    """One action; htmx swaps the alert's panel in place, a plain form post redirects back."""
    actor = request.actor
    alert = selectors.alert_get(actor=actor, pk=pk)
    allowed = {"comment"} if portal else {"acknowledge", "assign", "comment", "resolve"}
    if action not in allowed:
        raise Http404
    errors = None
    try:
        if action == "acknowledge":
            services.alert_acknowledge(actor=actor, alert=alert)
            note = "Acknowledged."
        elif action == "assign":
            raw = request.POST.get("user", "").strip()
            user = None
            if raw:
                user = User.objects.filter(pk=int(raw) if raw.isdigit() else 0).first()
                if user is None:
                    raise ValidationError({"user": ["Choose a staff member."]})
            services.alert_assign(actor=actor, alert=alert, user=user)
            note = f"Assigned to {user.email}." if user else "Unassigned."
        elif action == "comment":
            services.alert_comment(actor=actor, alert=alert, body=request.POST.get("body", ""))
            note = "Comment added."
        else:
            services.alert_resolve(actor=actor, alert=alert, note=request.POST.get("note", ""))
            note = "Resolved."
    except PermissionDenied:
        raise
    except ValidationError as exc:
        errors = error_messages(exc)
        note = None
        if not request.htmx:
            messages.error(request, error_text(exc))
    if request.htmx:
        context = _detail_context(request, pk, portal=portal, errors=errors)
        context["feedback"] = note
        return render(request, "reporting/alerts/_panel.html", context)
    if note:
        messages.success(request, note)
    return redirect("portal-alert" if portal else "console-alert", pk)


@console_page
def console_alerts(request: HttpRequest) -> HttpResponse:
    return _inbox(request, portal=False)


@console_page
def console_alert(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk, portal=False)


@require_POST
@console_page
def console_alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return _act(request, pk, action, portal=False)


@portal_page
def portal_alerts(request: HttpRequest) -> HttpResponse:
    return _inbox(request, portal=True)


@portal_page
def portal_alert(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk, portal=True)


@require_POST
@portal_page
def portal_alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return _act(request, pk, action, portal=True)


# --- rules -----------------------------------------------------------------------------------


@rules_page
def console_alert_rules(request: HttpRequest, pk: int) -> HttpResponse:
    """Every rule of one client with its effective values; each row saves on its own."""
    actor = request.actor
    client = selectors.rule_client_get(actor=actor, pk=pk)
    errors: dict[str, dict] = {}
    if request.method == "POST":
        rule = request.POST.get("rule", "")
        if rule not in AlertRule.values:
            raise Http404
        fields = {
            "enabled": request.POST.get("enabled") == "on",
            "client_visible": request.POST.get("client_visible") == "on",
            "severity": request.POST.get("severity", ""),
        }
        if RULE_DEFAULTS[rule].threshold is not None:
            fields["threshold"] = request.POST.get("threshold", "").strip() or None
        try:
            services.rule_setting_update(actor=actor, client=client, rule=rule, **fields)
        except ValidationError as exc:
            errors[rule] = error_messages(exc)
        else:
            messages.success(request, f"{AlertRule(rule).label}: saved.")
            return redirect("console-alert-rules", client.pk)
    context = {
        "client": client,
        "rules": selectors.rule_table(client=client),
        "severities": Severity.choices,
        "errors": errors,
    }
    return render(request, "reporting/alerts/rules.html", context, status=400 if errors else 200)
