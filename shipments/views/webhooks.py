"""Portal pages for webhook subscriptions: the list, subscribing (the secret shown once), and a
subscription's page with its delivery log, test events, replay, enable/disable and secret rotation."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Client
from accounts.roles import Perm
from accounts.views import require_perm
from shipments import webhook_selectors as selectors
from shipments import webhooks
from shipments.enums import DeliveryStatus, EventType

DELIVERY_PAGE_SIZE = 25


def _event_type_choices():
    return [(t, EventType(t).label + f" ({t})") for t in webhooks.subscribable_types()]


class SubscriptionForm(forms.Form):
    url = forms.CharField(label="URL", max_length=500, help_text="Events are POSTed here as signed JSON.")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=_event_type_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event type.",
    )


class ReplayEventForm(forms.Form):
    event = forms.CharField(label="Event id", help_text="evt_123 or 123; scan or type, then Enter.")

    def clean_event(self):
        raw = self.cleaned_data["event"].strip().removeprefix("evt_")
        if not raw.isdigit():
            raise ValidationError("Enter an event id such as evt_123.")
        return int(raw)


class ReplayRangeForm(forms.Form):
    since = forms.DateTimeField(
        label="From (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        label="Until (UTC)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


def _form_errors_to(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _portal(request: HttpRequest) -> None:
    if not request.actor.can(Perm.PORTAL):
        raise PermissionDenied


@require_perm(Perm.WEBHOOK_VIEW)
def portal_webhooks(request: HttpRequest) -> HttpResponse:
    """The subscriptions with their status and last delivery; client admins subscribe here."""
    _portal(request)
    actor = request.actor
    form = SubscriptionForm(request.POST or None) if actor.can(Perm.WEBHOOK_MANAGE) else None
    created = None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                created = webhooks.subscription_create(
                    actor=actor, client=Client.objects.get(pk=actor.client_id), **form.cleaned_data
                )
            except ValidationError as exc:
                _form_errors_to(form, exc)
            else:
                form = SubscriptionForm()
    context = {"subscriptions": selectors.subscription_list(actor=actor), "form": form, "created": created}
    response = render(request, "shipments/webhooks/list.html", context)
    if created:
        response["Cache-Control"] = "no-store"  # the secret is in this response only
    return response


@require_perm(Perm.WEBHOOK_VIEW)
def portal_webhook(request: HttpRequest, pk: int) -> HttpResponse:
    """One subscription: its settings and delivery log (filtered by status; htmx swaps the log)."""
    _portal(request)
    actor = request.actor
    subscription = selectors.subscription_get(actor=actor, pk=pk)
    status = request.GET.get("status") or None
    if status not in DeliveryStatus.values:
        status = None
    deliveries = selectors.delivery_list(actor=actor, subscription=subscription, status=status)
    page = Paginator(deliveries, DELIVERY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "subscription": subscription,
        "page": page,
        "status": status,
        "statuses": DeliveryStatus.choices,
        "can_manage": actor.can(Perm.WEBHOOK_MANAGE),
        "event_form": ReplayEventForm(),
        "range_form": ReplayRangeForm(),
        "new_secret": request.session.pop(f"webhook-secret-{subscription.pk}", None),
        "overlap_hours": settings.WEBHOOK_SECRET_OVERLAP_HOURS,
        "previous_secret_until": webhooks.previous_secret_until(subscription, timezone.now()),
    }
    if request.htmx and request.htmx.target == "delivery-log":
        return render(request, "shipments/webhooks/_deliveries.html", context)
    response = render(request, "shipments/webhooks/detail.html", context)
    if context["new_secret"]:
        response["Cache-Control"] = "no-store"
    return response


def _managed(request: HttpRequest, pk: int):
    _portal(request)
    return selectors.subscription_get(actor=request.actor, pk=pk)


@require_POST
@require_perm(Perm.WEBHOOK_MANAGE)
def portal_webhook_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The buttons of a subscription's page: test, enable, disable, rotate, replay, delete."""
    subscription = _managed(request, pk)
    actor = request.actor
    try:
        if action == "test":
            delivery = webhooks.send_test(actor=actor, subscription=subscription)
            messages.success(request, f"Test event {delivery.event.webhook_id} sent.")
        elif action in ("enable", "disable"):
            webhooks.subscription_set_active(
                actor=actor, subscription=subscription, active=action == "enable"
            )
            messages.success(request, f"Subscription {action}d.")
        elif action == "rotate":
            rotated = webhooks.subscription_rotate_secret(actor=actor, subscription=subscription)
            # Shown once, on the next page view, then dropped from the session.
            request.session[f"webhook-secret-{rotated.pk}"] = rotated.secret
            until = rotated.previous_secret_expires_at
            messages.success(
                request,
                f"New secret made. The old one also signs until {timezone.localtime(until):%Y-%m-%d %H:%M %Z}: "
                "switch your endpoint before then."
                if until
                else "New secret made; the old one no longer signs anything.",
            )
        elif action == "replay-event":
            form = ReplayEventForm(request.POST)
            if not form.is_valid():
                raise ValidationError({"event": form.errors["event"]})
            webhooks.replay(actor=actor, subscription=subscription, event_id=form.cleaned_data["event"])
            messages.success(request, f"Event evt_{form.cleaned_data['event']} queued again.")
        elif action == "replay-range":
            form = ReplayRangeForm(request.POST)
            if not form.is_valid():
                raise ValidationError(dict(form.errors))
            rows = webhooks.replay(
                actor=actor,
                subscription=subscription,
                since=form.cleaned_data["since"],
                until=form.cleaned_data["until"],
            )
            messages.success(request, f"{len(rows)} event{'s' if len(rows) != 1 else ''} queued again.")
        elif action == "delete":
            webhooks.subscription_delete(actor=actor, subscription=subscription)
            messages.success(request, f"Subscription to {subscription.url} deleted.")
            return redirect("portal-webhooks")
        else:
            raise PermissionDenied
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            for error in errors:
                messages.error(request, f"{field.replace('_', ' ').capitalize()}: {error}")
    return redirect("portal-webhook", pk=subscription.pk)
