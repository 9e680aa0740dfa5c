"""Writes of the KPI area: order errors recorded by staff against shipped orders.

An order error counts against order accuracy and the perfect order rate of the local day the
order shipped; the nightly rollup recomputes that day, and ``kpi_report`` counts today live, so a
recorded (or deleted) error shows in the next report of a day not yet rolled up and after the next
night for older days. The service asks the rollup to refresh that day on commit so it shows at once.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_scopes import scope

from accounts.actors import Actor
from accounts.roles import Perm
from accounts.services import audit_record
from orders.enums import OrderStatus
from orders.models import Order

from .enums import OrderErrorKind
from .models import OrderError

ERROR_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})


def _stamp(actor: Actor) -> dict:
    return {"actor_user": actor.user, "actor_api_key": actor.api_key, "actor_label": actor.label[:200]}


def _require_staff(actor: Actor, client_id: int) -> None:
    actor.require(Perm.ORDER_ERROR_RECORD, client_id=client_id)
    if not actor.is_staff:
        raise PermissionDenied("Only the operator's staff record fulfillment errors.")


def _refresh_shipped_day(order: Order) -> None:
    """Recompute the rolled-up day the order shipped in (if it has a row) after commit."""
    from .tasks import rollup_kpis_day

    if order.shipped_at is None:
        return
    from .kpis import _zone

    day = order.shipped_at.astimezone(_zone(order.client)).date()
    transaction.on_commit(lambda: rollup_kpis_day.delay(client_id=order.client_id, day=day.isoformat()))


@transaction.atomic
def order_error_record(*, actor: Actor, order: Order, kind: str, note: str = "") -> OrderError:
    """Record a fulfillment error (mis-pick, wrong quantity, damaged, wrong label) against a shipped
    or delivered order. Another status is a 400 naming ``order``."""
    _require_staff(actor, order.client_id)
    if kind not in OrderErrorKind.values:
        raise ValidationError({"kind": [f"“{kind}” is not an order error kind."]})
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationError({"note": ["Keep the note within 500 characters."]})
    with scope(client=order.client_id):
        order = Order.objects.select_related("client").get(pk=order.pk)
        if order.status not in ERROR_STATUSES:
            raise ValidationError(
                {
                    "order": [
                        f"{order.number} is {order.get_status_display().lower()}: errors are recorded "
                        "against shipped or delivered orders."
                    ]
                }
            )
        error = OrderError.objects.create(
            client_id=order.client_id, order=order, kind=kind, note=note, **_stamp(actor)
        )
    audit_record(
        actor=actor,
        action="order_error.recorded",
        target=error,
        client_id=order.client_id,
        changes={"order": order.number, "kind": kind, "note": note},
    )
    _refresh_shipped_day(order)
    return error


@transaction.atomic
def order_error_delete(*, actor: Actor, error: OrderError) -> None:
    """Remove an error recorded by mistake (audited)."""
    _require_staff(actor, error.client_id)
    with scope(client=error.client_id):
        order = Order.objects.select_related("client").get(pk=error.order_id)
        audit_record(
            actor=actor,
            action="order_error.deleted",
            target=error,
            client_id=error.client_id,
            changes={"order": order.number, "kind": error.kind, "note": error.note},
        )
        OrderError.objects.filter(pk=error.pk).delete()
    _refresh_shipped_day(order)
