"""Writes of the QBR: the account manager's notes and action items (QBR_EDIT), each audited.

The report row of a quarter is created on the first write (the numbers themselves are computed,
never stored), so a quarter nobody wrote about has no row.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.actors import Actor
from accounts.models import Client
from accounts.roles import Perm
from accounts.services import audit_record

from .models import QBRActionItem, QBRReport
from .qbr import Quarter

MAX_NOTES = 20_000


def _quarter(year: int, quarter: int) -> Quarter:
    try:
        return Quarter(int(year), int(quarter))
    except (TypeError, ValueError) as exc:
        field = "quarter" if str(exc).startswith("A quarter") else "year"
        raise ValidationError({field: [str(exc)]}) from exc


def _report_for_update(*, actor: Actor, client: Client, year: int, quarter: int) -> tuple[QBRReport, bool]:
    """The quarter's report row, locked, created if absent (two first writes at once: one row)."""
    q = _quarter(year, quarter)
    report = (
        QBRReport.objects.select_for_update().filter(client=client, year=q.year, quarter=q.quarter).first()
    )
    if report is not None:
        return report, False
    try:
        with transaction.atomic():
            report = QBRReport.objects.create(
                client=client, year=q.year, quarter=q.quarter, updated_by=actor.label[:200]
            )
    except IntegrityError:
        return QBRReport.objects.select_for_update().get(client=client, year=q.year, quarter=q.quarter), False
    audit_record(
        actor=actor,
        action="qbr.open",
        target=report,
        client_id=client.pk,
        changes={"year": q.year, "quarter": q.quarter},
    )
    return report, True


def qbr_report_open(*, actor: Actor, client: Client, year: int, quarter: int) -> tuple[QBRReport, bool]:
    """The report of a quarter, created if it does not exist yet: (report, created)."""
    actor.require(Perm.QBR_EDIT, client_id=client.pk)
    with transaction.atomic():
        return _report_for_update(actor=actor, client=client, year=year, quarter=quarter)


def qbr_notes_update(*, actor: Actor, client: Client, year: int, quarter: int, notes: str) -> QBRReport:
    actor.require(Perm.QBR_EDIT, client_id=client.pk)
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise ValidationError({"notes": [f"At most {MAX_NOTES:,} characters."]})
    with transaction.atomic():
        report, _created = _report_for_update(actor=actor, client=client, year=year, quarter=quarter)
        if report.notes != notes:
            before = report.notes
            report.notes, report.updated_by = notes, actor.label[:200]
            report.save(update_fields=["notes", "updated_by", "updated_at"])
            audit_record(
                actor=actor,
                action="qbr.notes",
                target=report,
                client_id=client.pk,
                changes={"notes": [before[:200], notes[:200]]},
            )
    return report


def _clean_item(text, owner, due_date) -> dict:
    errors: dict[str, list[str]] = {}
    fields = {}
    if text is not None:
        text = str(text).strip()
        if not text:
            errors["text"] = ["Say what is to be done."]
        elif len(text) > 500:
            errors["text"] = ["At most 500 characters."]
        fields["text"] = text
    if owner is not None:
        owner = str(owner).strip()
        if len(owner) > 200:
            errors["owner"] = ["At most 200 characters."]
        fields["owner"] = owner
    if due_date is not None:
        if not isinstance(due_date, date):
            errors["due_date"] = ["Give a date (YYYY-MM-DD)."]
        fields["due_date"] = due_date
    if errors:
        raise ValidationError(errors)
    return fields


def qbr_action_item_create(
    *,
    actor: Actor,
    client: Client,
    year: int,
    quarter: int,
    text: str,
    owner: str = "",
    due_date: date | None = None,
) -> QBRActionItem:
    actor.require(Perm.QBR_EDIT, client_id=client.pk)
    fields = _clean_item(text or "", owner or "", due_date)
    with transaction.atomic():
        report, _created = _report_for_update(actor=actor, client=client, year=year, quarter=quarter)
        item = QBRActionItem.objects.create(client=client, report=report, **fields)
        audit_record(
            actor=actor,
            action="qbr.action_item.create",
            target=item,
            client_id=client.pk,
            changes={k: v for k, v in fields.items() if v not in ("", None)} | {"report": report.pk},
        )
    return item


_UNSET = object()


def qbr_action_item_update(
    *, actor: Actor, item: QBRActionItem, text=_UNSET, owner=_UNSET, due_date=_UNSET
) -> QBRActionItem:
    """Change an item's text, owner or due date (``done`` has its own service)."""
    actor.require(Perm.QBR_EDIT, client_id=item.client_id)
    clear_due = due_date is None
    fields = _clean_item(
        None if text is _UNSET else text,
        None if owner is _UNSET else owner,
        None if due_date is _UNSET else due_date,
    )
    if clear_due:
        fields["due_date"] = None
    with transaction.atomic():
        locked = QBRActionItem.objects.select_for_update().get(pk=item.pk)
        changes = {k: [getattr(locked, k), v] for k, v in fields.items() if getattr(locked, k) != v}
        if changes:
            for name, (_old, new) in changes.items():
                setattr(locked, name, new)
            locked.save(update_fields=list(changes))
            audit_record(
                actor=actor,
                action="qbr.action_item.update",
                target=locked,
                client_id=locked.client_id,
                changes=changes,
            )
    return locked


def qbr_action_item_set_done(*, actor: Actor, item: QBRActionItem, done: bool) -> QBRActionItem:
    """Complete (or reopen) an action item; doing it twice changes nothing."""
    actor.require(Perm.QBR_EDIT, client_id=item.client_id)
    with transaction.atomic():
        locked = QBRActionItem.objects.select_for_update().get(pk=item.pk)
        if locked.done != done:
            locked.done = done
            locked.save(update_fields=["done"])
            audit_record(
                actor=actor,
                action="qbr.action_item.complete" if done else "qbr.action_item.reopen",
                target=locked,
                client_id=locked.client_id,
                changes={"done": [not done, done]},
            )
    return locked


def qbr_action_item_delete(*, actor: Actor, item: QBRActionItem) -> None:
    actor.require(Perm.QBR_EDIT, client_id=item.client_id)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="qbr.action_item.delete",
            target=item,
            client_id=item.client_id,
            changes={"text": item.text},
        )
        item.delete()
