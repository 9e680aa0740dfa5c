"""CSV import of orders: one row per line, grouped into orders by ``external_reference``.

As for items and ASNs (``inventory.imports``): the whole file is validated first, every bad row is
reported by row, column and reason, a duplicate reference (in the file's client's CSV orders) is one
of them, and a good file is written in one transaction: nothing is ever half-imported. An unknown
SKU or a doubtful address is not a bad row: the order is accepted onto a hold (it is real demand),
and the dry run's preview says which holds each order will get.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.actors import Actor
from accounts.models import Client
from accounts.roles import Perm
from accounts.services import audit_record
from inventory.imports import RowError, _decimal, _int, _read

from . import services
from .enums import Channel, ServiceLevel
from .models import Order

REQUIRED = {"external_reference", "sku", "quantity"}
HEADER_COLUMNS = (
    "ship_to_name",
    "ship_to_company",
    "ship_to_address1",
    "ship_to_address2",
    "ship_to_city",
    "ship_to_state",
    "ship_to_zip",
    "ship_to_country",
    "ship_to_phone",
    "ship_to_email",
    "service_level",
    "notes",
    "gift_message",
)
COLUMNS = REQUIRED | set(HEADER_COLUMNS) | {"unit_price"}
REQUIRED_HEADER = ("ship_to_name", "ship_to_address1", "ship_to_city", "ship_to_zip")
MAX_LENGTHS = {
    c: Order._meta.get_field(c).max_length for c in HEADER_COLUMNS if c not in ("notes", "gift_message")
}
MAX_LENGTHS["external_reference"] = Order._meta.get_field("external_reference").max_length
# Orders written per ``order_create_many`` call (one transaction for the whole file still): a big
# file's orders are not all held in memory at once.
WRITE_CHUNK = 500
SERVICE_LEVELS = frozenset(ServiceLevel.values)


@dataclass
class Preview:
    external_reference: str
    lines: int
    units: int
    ship_to_name: str
    holds: list[str]


@dataclass
class OrderImportResult:
    dry_run: bool
    rows: int = 0
    orders: int = 0
    created: int = 0
    preview: list[Preview] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def import_orders(*, actor: Actor, client: Client, upload, dry_run: bool) -> OrderImportResult:
    actor.require(Perm.ORDER_MANAGE, client_id=client.pk)
    result = OrderImportResult(dry_run=dry_run)
    rows, result.errors = _read(upload, REQUIRED, COLUMNS)
    result.rows = len(rows)
    if result.errors:
        return result
    errors = result.errors
    taken = services.taken_references(client, Channel.CSV, {row["external_reference"] for _, row in rows})
    groups: OrderedDict[str, dict] = OrderedDict()
    for number, row in rows:
        reference = row["external_reference"]
        if not reference:
            errors.append(RowError(number, "external_reference", "Required."))
            continue
        if len(reference) > MAX_LENGTHS["external_reference"]:
            errors.append(
                RowError(
                    number, "external_reference", f"At most {MAX_LENGTHS['external_reference']} characters."
                )
            )
        if reference in taken:
            errors.append(
                RowError(
                    number, "external_reference", f"A CSV order with reference {reference} already exists."
                )
            )
        group = groups.setdefault(
            reference, {"header": dict.fromkeys(HEADER_COLUMNS, ""), "source": {}, "row": number, "lines": []}
        )
        # Header columns may be repeated on every row of an order or given once; two different
        # values are an error naming both rows.
        for column in HEADER_COLUMNS:
            value = row.get(column, "")
            if not value:
                continue
            first = group["source"].get(column)
            if first is None:
                group["header"][column], group["source"][column] = value, number
                if (limit := MAX_LENGTHS.get(column)) and len(value) > limit:
                    errors.append(RowError(number, column, f"At most {limit} characters."))
            elif value != group["header"][column]:
                errors.append(
                    RowError(
                        number,
                        column,
                        f"“{value}” differs from “{group['header'][column]}” on row {first} "
                        f"of the same order ({reference}).",
                    )
                )
        sku = row["sku"]
        if not sku:
            errors.append(RowError(number, "sku", "Required."))
        elif len(sku) > 64:
            errors.append(RowError(number, "sku", "At most 64 characters."))
        if row["quantity"] == "":
            errors.append(RowError(number, "quantity", "Required."))
        quantity = _int(row["quantity"], number, "quantity", errors, minimum=1)
        price = _decimal(row.get("unit_price", ""), number, "unit_price", errors)
        group["lines"].append({"sku": sku, "quantity": quantity, "unit_price": price})
    for group in groups.values():
        header, source = group["header"], group["source"]
        for column in REQUIRED_HEADER:
            if not header[column]:
                errors.append(RowError(group["row"], column, "Required (on one row of the order at least)."))
        country = header["ship_to_country"].upper() or "US"
        header["ship_to_country"] = country
        if len(country) != 2 or not country.isalpha():
            errors.append(
                RowError(
                    source.get("ship_to_country", group["row"]),
                    "ship_to_country",
                    "Use a two-letter ISO code.",
                )
            )
        if header["ship_to_email"] and "@" not in header["ship_to_email"]:
            errors.append(RowError(source["ship_to_email"], "ship_to_email", "Not an e-mail address."))
        level = header["service_level"].lower() or ServiceLevel.STANDARD
        header["service_level"] = level
        if level not in SERVICE_LEVELS:
            errors.append(
                RowError(
                    source["service_level"],
                    "service_level",
                    f"Choose one of: {', '.join(ServiceLevel.values)}.",
                )
            )
    if not errors:
        result.preview = _preview(client, groups)
    result.orders = len(groups)
    if errors or dry_run:
        result.errors.sort(key=lambda e: (e.row, e.column))
        return result
    references = list(groups)
    orders = [
        {
            "external_reference": reference,
            "channel": Channel.CSV,
            "lines": group["lines"],
            "ship_to": {c: group["header"][c] for c in services.SHIP_TO_FIELDS},
            "service_level": group["header"]["service_level"],
            "notes": group["header"]["notes"],
            "gift_message": group["header"]["gift_message"],
        }
        for reference, group in groups.items()
    ]
    try:
        with transaction.atomic():
            for start in range(0, len(orders), WRITE_CHUNK):
                outcomes = services.order_create_many(
                    actor=actor, client=client, orders=orders[start : start + WRITE_CHUNK]
                )
                # As if created one by one: the first order that fails stops the import, and
                # nothing is written.
                failed = next((i for i, o in enumerate(outcomes) if isinstance(o, Exception)), None)
                if failed is None:
                    continue
                group, outcome = groups[references[start + failed]], outcomes[failed]
                if isinstance(outcome, ValidationError):
                    # A check the file pass missed: report it on the order's first row.
                    errors.extend(
                        RowError(group["source"].get(c, group["row"]), c, m)
                        for c, messages in outcome.message_dict.items()
                        for m in messages
                    )
                else:
                    errors.append(
                        RowError(
                            group["row"],
                            "external_reference",
                            f"{references[start + failed]} exists already.",
                        )
                    )
                raise outcome
            audit_record(
                actor=actor,
                action="order.imported",
                target=client,
                client_id=client.pk,
                changes={"orders": len(groups)},
            )
    except (ValidationError, services.DuplicateOrder):
        result.errors.sort(key=lambda e: (e.row, e.column))
        return result
    result.created = len(groups)
    return result


def _preview(client: Client, groups: OrderedDict[str, dict]) -> list[Preview]:
    """What each order will become: its lines and units, and the holds it will get."""
    codes = {line["sku"] for group in groups.values() for line in group["lines"]}
    known = services.known_codes(client, codes)
    previews = []
    for reference, group in groups.items():
        h = group["header"]
        holds = []
        if unknown := sorted({line["sku"] for line in group["lines"]} - known):
            holds.append(f"Unknown SKU: {', '.join(unknown)}")
        if problems := services.address_problems({c: h[c] for c in services.SHIP_TO_FIELDS}):
            holds.append("Address: " + "; ".join(problems))
        previews.append(
            Preview(
                external_reference=reference,
                lines=len(group["lines"]),
                units=sum(line["quantity"] or 0 for line in group["lines"]),
                ship_to_name=h["ship_to_name"],
                holds=holds,
            )
        )
    return previews
