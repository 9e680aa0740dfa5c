"""Console page: the fulfillment errors of one order, and a form to record one (staff)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import Perm
from accounts.views import require_perm
from orders.models import Order
from reporting import services
from reporting.enums import OrderErrorKind
from reporting.models import OrderError
from reporting.services import ERROR_STATUSES


class OrderErrorForm(forms.Form):
    kind = forms.ChoiceField(choices=OrderErrorKind.choices, label="Error")
    note = forms.CharField(max_length=500, required=False, label="Note")


@require_perm(Perm.CONSOLE, Perm.ORDER_VIEW)
def console_order_errors(request: HttpRequest, order_id: int) -> HttpResponse:
    """List the order's recorded errors; POST records one (or, with ``delete``, removes one)."""
    actor = request.actor
    order = get_object_or_404(Order.objects.filter(actor.client_q()).select_related("client"), pk=order_id)
    can_record = actor.can(Perm.ORDER_ERROR_RECORD)
    form = OrderErrorForm()
    if request.method == "POST":
        if not can_record:
            return HttpResponse("Your role may not record order errors.", status=403)
        if delete_id := request.POST.get("delete"):
            error = get_object_or_404(OrderError.objects.filter(order=order), pk=delete_id)
            services.order_error_delete(actor=actor, error=error)
            messages.success(request, "Error removed.")
            return redirect("console-order-errors", order_id=order.pk)
        form = OrderErrorForm(request.POST)
        if form.is_valid():
            try:
                services.order_error_record(
                    actor=actor, order=order, kind=form.cleaned_data["kind"], note=form.cleaned_data["note"]
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Error recorded.")
                return redirect("console-order-errors", order_id=order.pk)
    errors = OrderError.objects.filter(order=order).order_by("-created_at", "-id")
    return render(
        request,
        "reporting/order_errors.html",
        {
            "order": order,
            "errors": errors,
            "form": form,
            "can_record": can_record and order.status in ERROR_STATUSES,
            "can_delete": can_record,
        },
        status=400 if form.errors else 200,
    )
