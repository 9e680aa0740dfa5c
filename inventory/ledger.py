"""The only code that changes a balance: it writes the move in the same transaction.

Balances are locked (``SELECT ... FOR UPDATE``) before they are read for a decision, changed
with ``F()`` expressions, and guarded by CHECK constraints; every change leaves one immutable
``Move``. Each function opens the scope of the one client it writes for, so it never depends on
(or leaks through) the caller's scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone
from django_scopes import scope

from accounts.actors import Actor

from .enums import SELLABLE_LOCATION_TYPES, MoveReason
from .models import Balance, Item, Location, Move


@dataclass(frozen=True)
class Document:
    """What caused a move: ``Document("asn", 12, "ASN-000012")``."""

    type: str
    id: int | str
    ref: str = ""


def lock_balance(balance_id: int, client_id: int) -> Balance:
    with scope(client=client_id):
        return Balance.objects.select_for_update(of=("self",)).select_related("location").get(pk=balance_id)


def ensure_balance(
    *, client_id: int, item: Item, location: Location, lot_code: str = "", expiry_date: date | None = None
) -> Balance:
    """The balance of (client, item, location, lot), created empty if new (not locked)."""
    with scope(client=client_id):
        lookup = {"client_id": client_id, "item": item, "location": location, "lot_code": lot_code or ""}
        balance = Balance.objects.filter(**lookup).first()
        if balance is None:
            try:
                with transaction.atomic():
                    balance = Balance.objects.create(
                        **lookup, warehouse_id=location.warehouse_id, expiry_date=expiry_date
                    )
            except IntegrityError:  # created by a concurrent transaction
                balance = Balance.objects.get(**lookup)
    if lot_code and expiry_date and balance.expiry_date and balance.expiry_date != expiry_date:
        raise ValidationError(
            {"expiry_date": [f"Lot {lot_code} already has expiry {balance.expiry_date.isoformat()}."]}
        )
    return balance


def balance_for_update(
    *, client_id: int, item: Item, location: Location, lot_code: str = "", expiry_date: date | None = None
) -> Balance:
    """The balance of (client, item, location, lot), created empty if new, locked for update."""
    balance = ensure_balance(
        client_id=client_id, item=item, location=location, lot_code=lot_code, expiry_date=expiry_date
    )
    return lock_balance(balance.pk, client_id)


def lock_balances(ids: list[int], client_id: int) -> dict[int, Balance]:
    """Lock several balances in primary-key order, so two transactions never wait on each other."""
    with scope(client=client_id):
        rows = Balance.objects.select_for_update(of=("self",)).select_related("location").filter(pk__in=ids)
        return {b.pk: b for b in rows.order_by("pk")}


def post_move(
    *,
    actor: Actor,
    balance: Balance,
    quantity: int,
    reason: str,
    document: Document | None = None,
    adjustment_code: str = "",
    note: str = "",
    received_at: datetime | None = None,
    reverses: Move | None = None,
    field: str = "quantity",
) -> Move:
    """Change a locked balance by ``quantity`` and write its move. Refuses to take on hand below
    what is allocated (or below zero), naming ``field`` in the error."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationError({field: ["Enter a whole number."]})
    if quantity == 0:
        raise ValidationError({field: ["The quantity must not be zero."]})
    if balance.on_hand + quantity < balance.allocated:
        free = balance.on_hand - balance.allocated
        raise ValidationError(
            {field: [f"Only {free} unit{'s' if free != 1 else ''} available at {balance.location.code}."]}
        )
    updates = {"on_hand": F("on_hand") + quantity}
    if quantity > 0 and received_at is not None:
        updates["received_at"] = Least(F("received_at"), received_at) if balance.received_at else received_at
    if quantity > 0 and balance.location.type in SELLABLE_LOCATION_TYPES:
        client_id, item_id = balance.client_id, balance.item_id
        transaction.on_commit(lambda: stock_became_sellable(client_id, item_id))
    if balance.location.type in SELLABLE_LOCATION_TYPES:
        low_stock_check(balance.client_id, [balance.item_id])
    with scope(client=balance.client_id):
        Balance.objects.filter(pk=balance.pk).update(**updates)
        balance.refresh_from_db(fields=["on_hand", "allocated", "received_at"])
        document = document or Document("", "")
        return Move.objects.create(
            client_id=balance.client_id,
            item_id=balance.item_id,
            balance=balance,
            warehouse_id=balance.warehouse_id,
            location_id=balance.location_id,
            lot_code=balance.lot_code,
            expiry_date=balance.expiry_date,
            quantity=quantity,
            reason=reason,
            adjustment_code=adjustment_code,
            document_type=document.type,
            document_id=str(document.id),
            document_ref=document.ref[:100],
            reverses=reverses,
            note=note[:500],
            actor_user=actor.user,
            actor_api_key=actor.api_key,
            actor_label=actor.label[:200],
        )


def stock_became_sellable(client_id: int, item_id: int) -> None:
    """After commit: let the orders waiting for this item try again (orders.tasks, by name, so the
    ledger does not depend on the orders app)."""
    from fulfillment.celery import app

    app.signature("orders.tasks.allocate_backorders", args=(client_id, [item_id])).delay()


def low_stock_check(client_id: int, item_ids: Iterable[int]) -> None:
    """After commit: compare the items' available units with their reorder points. Called where
    available stock changes: sellable moves here, reservations in ``orders.allocation``
    (shipments.tasks, by name, so the ledger does not depend on the shipments app)."""
    ids = sorted(set(item_ids))
    if not ids:
        return

    def send() -> None:
        from fulfillment.celery import app

        app.signature("shipments.tasks.check_low_stock", args=(client_id, ids)).delay()

    transaction.on_commit(send)


def relocate(
    *,
    actor: Actor,
    balance: Balance,
    to_location: Location,
    quantity: int,
    reason: str = MoveReason.RELOCATION,
    document: Document | None = None,
    note: str = "",
) -> tuple[Move, Move]:
    """Move units between two locations of one node: a pair of moves, both balances locked in
    primary-key order (no deadlock between two opposite relocations)."""
    if quantity <= 0:
        raise ValidationError({"quantity": ["The quantity must be positive."]})
    if to_location.warehouse_id != balance.warehouse_id:
        raise ValidationError(
            {"to_location": ["Choose a location in the same node (use a transfer between nodes)."]}
        )
    if to_location.pk == balance.location_id:
        raise ValidationError({"to_location": ["The units are already there."]})
    if not to_location.active:
        raise ValidationError({"to_location": [f"Location {to_location.code} is inactive."]})
    target = ensure_balance(
        client_id=balance.client_id,
        item=balance.item,
        location=to_location,
        lot_code=balance.lot_code,
        expiry_date=balance.expiry_date,
    )
    locked = lock_balances([balance.pk, target.pk], balance.client_id)
    source, target = locked[balance.pk], locked[target.pk]
    out = post_move(
        actor=actor, balance=source, quantity=-quantity, reason=reason, document=document, note=note
    )
    into = post_move(
        actor=actor,
        balance=target,
        quantity=quantity,
        reason=reason,
        document=document,
        note=note,
        received_at=source.received_at,
    )
    return out, into


def reverse(*, actor: Actor, move: Move, note: str) -> Move:
    """Undo a move with an equal and opposite one (the original stays as it was).

    The balance is locked before looking for an earlier reversal: two concurrent reversals of one
    move serialize on that lock, and the second sees the first (instead of failing on the unique
    ``reverses`` column)."""
    already = ValidationError({"move": ["This move is a reversal or has already been reversed."]})
    if move.reverses_id:
        raise already
    balance = lock_balance(move.balance_id, move.client_id)
    with scope(client=move.client_id):
        if Move.objects.filter(reverses_id=move.pk).exists():
            raise already
    return post_move(
        actor=actor,
        balance=balance,
        quantity=-move.quantity,
        reason=MoveReason.REVERSAL,
        document=Document(move.document_type, move.document_id, move.document_ref),
        note=note or f"Reverses move {move.pk}",
        reverses=move,
    )


def now() -> datetime:
    return timezone.now()
