"""CSV imports of items and ASNs: the whole file is validated first; one bad row rejects the file
with a report naming every bad row, column and reason; a good file is written in one transaction."""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.actors import Actor
from accounts.models import Client, Warehouse
from accounts.roles import Perm
from accounts.services import audit_record

from . import services
from .models import ASN, ASNLine, Item, ItemBarcode, KitComponent

MAX_ROWS = 20000
CODE_MAX_LENGTH = ItemBarcode._meta.get_field("code").max_length
TRUE = {"1", "true", "yes", "y", "x"}
FALSE = {"", "0", "false", "no", "n"}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def _read(upload, required: set[str], allowed: set[str]) -> tuple[list[tuple[int, dict]], list[RowError]]:
    raw = upload.read() if hasattr(upload, "read") else upload
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return [], [RowError(1, "file", "The file is not UTF-8 text.")]
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        return [], [RowError(1, "file", "The file is empty.")]
    reader.fieldnames = header
    errors = [RowError(1, c, "Required column is missing.") for c in sorted(required - set(header))]
    errors += [RowError(1, c, "Unknown column.") for c in header if c not in allowed]
    if errors:
        return [], errors
    rows = []
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            return [], [RowError(number, "file", f"At most {MAX_ROWS} rows per file.")]
        cleaned = {k: (v or "").strip() for k, v in row.items() if k}
        if any(cleaned.values()):
            rows.append((number, cleaned))
    if not rows:
        errors.append(RowError(2, "file", "The file has no data rows."))
    return rows, errors


def _bool(value: str, row: int, column: str, errors: list[RowError]) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    errors.append(RowError(row, column, f"“{value}” is not yes/no."))
    return False


def _int(value: str, row: int, column: str, errors: list[RowError], *, minimum: int = 0) -> int | None:
    if value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        errors.append(RowError(row, column, f"“{value}” is not a whole number."))
        return None
    if number < minimum:
        errors.append(RowError(row, column, f"Must be at least {minimum}."))
        return None
    return number


def _decimal(value: str, row: int, column: str, errors: list[RowError]) -> Decimal | None:
    if value == "":
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        errors.append(RowError(row, column, f"“{value}” is not a number."))
        return None
    if number < 0:
        errors.append(RowError(row, column, "Must not be negative."))
        return None
    return number


def _date(value: str, row: int, column: str, errors: list[RowError]) -> date | None:
    if value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(RowError(row, column, f"“{value}” is not a date (YYYY-MM-DD)."))
        return None


# --- items -------------------------------------------------------------------------------------

ITEM_REQUIRED = {"sku", "name"}
ITEM_BARCODE_COLUMNS = ("upc", "ean", "scancode")
ITEM_COLUMNS = (
    ITEM_REQUIRED | set(ITEM_BARCODE_COLUMNS) | (set(services.ITEM_FIELDS) - {"active"}) | {"kit_components"}
)


def _barcodes(value: str) -> list[str]:
    """A barcode cell: one code, or several joined by ``|``."""
    return [c for c in (c.strip() for c in value.split("|")) if c]


def _validate_item_row(number: int, row: dict, errors: list[RowError]) -> dict:
    values: dict = {"sku": row.get("sku", ""), "name": row.get("name", "")}
    for column in ("description", "hs_code"):
        values[column] = row.get(column, "")
    values["country_of_origin"] = row.get("country_of_origin", "").upper()
    for column in ("weight_lb", "length_in", "width_in", "height_in"):
        values[column] = _decimal(row.get(column, ""), number, column, errors)
    for column in ("case_quantity", "carton_quantity"):
        values[column] = _int(row.get(column, ""), number, column, errors, minimum=1)
    values["reorder_point"] = _int(row.get("reorder_point", ""), number, "reorder_point", errors) or 0
    for column in ("lot_tracked", "expiry_tracked", "serial_tracked", "hazmat"):
        values[column] = _bool(row.get(column, ""), number, column, errors)
    candidate = Item(client_id=0, **values)
    try:
        candidate.clean_fields(exclude=["client"])
    except ValidationError as exc:
        for column, messages in exc.message_dict.items():
            errors.extend(RowError(number, column, m) for m in messages)
    return values


def import_items(*, actor: Actor, client: Client, upload, dry_run: bool) -> ImportResult:
    actor.require(Perm.ITEM_MANAGE, client_id=client.pk)
    result = ImportResult(dry_run=dry_run)
    rows, result.errors = _read(upload, ITEM_REQUIRED, ITEM_COLUMNS)
    result.rows = len(rows)
    if result.errors:
        return result
    errors = result.errors
    existing_skus = set(Item.objects.filter(client=client).values_list("sku", flat=True))
    existing_codes = set(ItemBarcode.objects.filter(client=client).values_list("code", flat=True))
    # SKUs and barcodes share one namespace within a client (a scan must name one item), so each
    # is checked against the catalog and against every other row of the file.
    file_skus: dict[str, int] = {}
    file_codes: dict[str, int] = {}
    for number, row in rows:
        file_skus.setdefault(row.get("sku", ""), number)
        for column in ITEM_BARCODE_COLUMNS:
            for code in _barcodes(row.get(column, "")):
                file_codes.setdefault(code, number)
    parsed = []
    for number, row in rows:
        values = _validate_item_row(number, row, errors)
        sku = values["sku"]
        if not sku:
            pass  # "This field cannot be blank." from the row's own checks
        elif sku in existing_skus:
            errors.append(RowError(number, "sku", f"SKU {sku} already exists."))
        elif file_skus.get(sku, number) != number:
            errors.append(RowError(number, "sku", f"SKU {sku} is also on row {file_skus[sku]}."))
        elif sku in existing_codes:
            errors.append(RowError(number, "sku", f"“{sku}” is already a barcode of another item."))
        elif sku and file_codes.get(sku, number) != number:
            errors.append(RowError(number, "sku", f"“{sku}” is a barcode on row {file_codes[sku]}."))
        codes = []
        for column in ITEM_BARCODE_COLUMNS:
            for code in _barcodes(row.get(column, "")):
                if len(code) > CODE_MAX_LENGTH:
                    errors.append(RowError(number, column, f"At most {CODE_MAX_LENGTH} characters."))
                elif code in existing_codes:
                    errors.append(
                        RowError(number, column, f"Barcode {code} already identifies another item.")
                    )
                elif file_codes[code] != number:
                    errors.append(
                        RowError(number, column, f"Barcode {code} is also on row {file_codes[code]}.")
                    )
                elif any(c == code for c, _ in codes):
                    errors.append(RowError(number, column, f"Barcode {code} is listed twice on this row."))
                elif code != sku and (code in existing_skus or code in file_skus):
                    errors.append(RowError(number, column, f"“{code}” is the SKU of another item."))
                codes.append((code, column))
        components: list[tuple[str, int | None]] = []
        for part in filter(None, (p.strip() for p in row.get("kit_components", "").split(";"))):
            component_sku, _, qty = part.partition(":")
            component_sku = component_sku.strip()
            quantity = _int(qty.strip() or "1", number, "kit_components", errors, minimum=1)
            if any(c == component_sku for c, _ in components):
                errors.append(RowError(number, "kit_components", f"{component_sku} is listed twice."))
            components.append((component_sku, quantity))
        parsed.append((number, values, codes, components))
    plain = {values["sku"] for _, values, _, components in parsed if not components} | existing_skus
    existing_kits = set(Item.objects.filter(client=client, is_kit=True).values_list("sku", flat=True))
    for number, values, _, components in parsed:
        for component_sku, _ in components:
            if component_sku == values["sku"]:
                errors.append(RowError(number, "kit_components", "A kit cannot contain itself."))
            elif component_sku not in plain or component_sku in existing_kits:
                errors.append(
                    RowError(number, "kit_components", f"{component_sku} is not a plain item of this client.")
                )
    if errors or dry_run:
        result.errors.sort(key=lambda e: (e.row, e.column))
        return result
    with transaction.atomic():
        items = Item.objects.bulk_create(
            [Item(client=client, is_kit=bool(components), **values) for _, values, _, components in parsed]
        )
        by_sku = {i.sku: i for i in items} | {
            i.sku: i
            for i in Item.objects.filter(client=client, sku__in={s for _, _, _, c in parsed for s, _ in c})
        }
        ItemBarcode.objects.bulk_create(
            [
                ItemBarcode(client=client, item=item, code=code, kind=column)
                for item, (_, _, codes, _) in zip(items, parsed, strict=True)
                for code, column in codes
            ]
        )
        KitComponent.objects.bulk_create(
            [
                KitComponent(client=client, kit=item, component=by_sku[sku], quantity=quantity)
                for item, (_, _, _, components) in zip(items, parsed, strict=True)
                for sku, quantity in components
            ]
        )
        audit_record(
            actor=actor,
            action="item.imported",
            target=client,
            client_id=client.pk,
            changes={"items": len(items)},
        )
    result.created = len(items)
    return result


# --- ASNs --------------------------------------------------------------------------------------

ASN_REQUIRED = {"reference", "warehouse", "sku", "expected_quantity"}
ASN_COLUMNS = ASN_REQUIRED | {
    "po_reference",
    "sender",
    "carrier",
    "tracking_number",
    "bol_number",
    "container_number",
    "eta",
    "cartons",
    "pallets",
    "lot_code",
    "expiry_date",
}
ASN_TEXT_HEADER = ("po_reference", "sender", "carrier", "tracking_number", "bol_number", "container_number")
ASN_TEXT_FIELDS = {"reference", *ASN_TEXT_HEADER}
LOT_MAX_LENGTH = ASNLine._meta.get_field("lot_code").max_length
ASN_HEADER = (
    "warehouse",
    "po_reference",
    "sender",
    "carrier",
    "tracking_number",
    "bol_number",
    "container_number",
    "eta",
    "cartons",
    "pallets",
)


def import_asns(*, actor: Actor, client: Client, upload, dry_run: bool, submit: bool = True) -> ImportResult:
    """One row per ASN line, grouped by ``reference``; header columns must agree within an ASN."""
    actor.require(Perm.ASN_MANAGE, client_id=client.pk)
    result = ImportResult(dry_run=dry_run)
    rows, result.errors = _read(upload, ASN_REQUIRED, ASN_COLUMNS)
    result.rows = len(rows)
    if result.errors:
        return result
    errors = result.errors
    warehouses = {w.code.upper(): w for w in Warehouse.objects.filter(clients=client)}
    items = {i.sku: i for i in Item.objects.filter(client=client)}
    barcodes = dict(ItemBarcode.objects.filter(client=client).values_list("code", "item__sku"))
    taken = set(ASN.objects.filter(client=client).exclude(reference="").values_list("reference", flat=True))
    groups: OrderedDict[str, dict] = OrderedDict()
    for number, row in rows:
        reference = row["reference"]
        if not reference:
            errors.append(RowError(number, "reference", "Required."))
            continue
        if reference in taken:
            errors.append(RowError(number, "reference", f"An ASN with reference {reference} already exists."))
        group = groups.setdefault(
            reference, {"header": dict.fromkeys(ASN_HEADER, ""), "source": {}, "row": number, "lines": []}
        )
        # Header columns may be repeated on every row of an ASN or given once; two different
        # values are an error that names both rows.
        for column in ASN_HEADER:
            value = row.get(column, "").upper() if column == "warehouse" else row.get(column, "")
            if not value:
                continue
            first = group["source"].get(column)
            if first is None:
                group["header"][column], group["source"][column] = value, number
                if column == "warehouse" and value not in warehouses:
                    errors.append(
                        RowError(number, column, f"“{row[column]}” is not a node this client uses.")
                    )
            elif value != group["header"][column]:
                errors.append(
                    RowError(
                        number,
                        column,
                        f"“{row[column]}” differs from “{group['header'][column]}” on row {first} "
                        f"of the same ASN ({reference}).",
                    )
                )
        value = row["sku"]
        item = items.get(value) or items.get(barcodes.get(value, ""))
        if item is None:
            errors.append(RowError(number, "sku", f"No item with SKU or barcode “{value}”."))
        elif item.is_kit:
            errors.append(RowError(number, "sku", f"{item.sku} is a kit: send its components."))
        if row["expected_quantity"] == "":
            errors.append(RowError(number, "expected_quantity", "Required."))
        quantity = _int(row["expected_quantity"], number, "expected_quantity", errors, minimum=1)
        lot_code = row.get("lot_code", "")
        if len(lot_code) > LOT_MAX_LENGTH:
            errors.append(RowError(number, "lot_code", f"At most {LOT_MAX_LENGTH} characters."))
        raw_expiry = row.get("expiry_date", "")
        expiry = _date(raw_expiry, number, "expiry_date", errors)
        if item is not None and (lot_code or expiry):
            try:
                services.check_lot(item, lot_code, expiry)
            except ValidationError as exc:
                for column, messages in exc.message_dict.items():
                    if not (column == "expiry_date" and raw_expiry):  # a bad date is reported already
                        errors.extend(RowError(number, column, m) for m in messages)
        group["lines"].append(
            {"item": item, "expected_quantity": quantity, "lot_code": lot_code, "expiry_date": expiry}
        )
    for reference, group in groups.items():
        header, source = group["header"], group["source"]
        if not header["warehouse"]:
            errors.append(RowError(group["row"], "warehouse", "Required."))
        header["eta_date"] = _date(header["eta"], source.get("eta", 0), "eta", errors)
        for column in ("cartons", "pallets"):
            header[f"{column}_n"] = _int(header[column], source.get(column, 0), column, errors)
        candidate = ASN(reference=reference, **{c: header[c] for c in ASN_TEXT_HEADER})
        try:
            candidate.clean_fields(
                exclude=[f.name for f in ASN._meta.fields if f.name not in ASN_TEXT_FIELDS]
            )
        except ValidationError as exc:
            for column, messages in exc.message_dict.items():
                row_number = group["row"] if column == "reference" else source.get(column, group["row"])
                errors.extend(RowError(row_number, column, m) for m in messages)
    if errors or dry_run:
        result.errors.sort(key=lambda e: (e.row, e.column))
        return result
    with transaction.atomic():
        for reference, group in groups.items():
            h = group["header"]
            services.asn_create(
                actor=actor,
                client=client,
                warehouse=warehouses[h["warehouse"]],
                lines=group["lines"],
                submit=submit,
                reference=reference,
                po_reference=h["po_reference"],
                sender=h["sender"],
                carrier=h["carrier"],
                tracking_number=h["tracking_number"],
                bol_number=h["bol_number"],
                container_number=h["container_number"],
                eta=h["eta_date"],
                cartons=h["cartons_n"],
                pallets=h["pallets_n"],
            )
    result.created = len(groups)
    return result
