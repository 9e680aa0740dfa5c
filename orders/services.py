"""Every write of the orders app: intake, holds, edits, cancellation, allocation, backorders."""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django_scopes import scope

from accounts import node_cache
from accounts.actors import Actor
from accounts.models import US_STATES, Client, Warehouse, WarehouseClosure
from accounts.roles import Perm
from accounts.services import audit_record
from fulfillment.geo import zip_point
from inventory.models import Item, ItemBarcode
from shipments.enums import EventType

from . import allocation, allocation_queue, bulk, clock
from .enums import (
    CANCELLABLE_STATUSES,
    CLIENT_CAUSED_HOLDS,
    EDITABLE_STATUSES,
    EXPEDITED_LEVELS,
    ORDER_TRANSITIONS,
    Channel,
    HoldKind,
    OrderStatus,
    OrderType,
    ServiceLevel,
)
from .models import Order, OrderEvent, OrderHold, OrderLine

SHIP_TO_FIELDS = (
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
)
REQUIRED_SHIP_TO = ("ship_to_name", "ship_to_address1", "ship_to_city", "ship_to_zip", "ship_to_country")
HEADER_FIELDS = (
    "order_type",
    "po_number",
    "retailer",
    "ship_window_start",
    "ship_window_end",
    "must_arrive_by",
    "service_level",
    "carrier_service",
    "gift_message",
    "tags",
    "notes",
    "currency",
)
ZIP_RE = re.compile(r"^\d{5}(-\d{4})?$")


class DuplicateOrder(Exception):
    """The external reference exists already for this client and channel (an API 409)."""

    def __init__(self, existing: Order):
        super().__init__(f"Order {existing.external_reference} exists already as {existing.number}.")
        self.existing = existing


def _stamp(actor: Actor) -> dict[str, Any]:
    return {"actor_user": actor.user, "actor_api_key": actor.api_key, "actor_label": actor.label[:200]}


def _check_transition(order: Order, to: str) -> None:
    if to not in ORDER_TRANSITIONS:  # every status is a key
        raise ValidationError({"status": [f"“{to}” is not an order status."]})
    if to not in ORDER_TRANSITIONS[order.status]:
        raise ValidationError(
            {
                "status": [
                    f"An order that is {order.get_status_display().lower()} cannot become {OrderStatus(to).label.lower()}."
                ]
            }
        )


def transition(*, actor: Actor, order: Order, to: str, reason: str = "") -> Order:
    """The one place an order's status changes: checks the table, saves, writes the event.
    The caller holds the order's row lock (every service locks it first)."""
    _check_transition(order, to)
    from_status, order.status = order.status, to
    if to == OrderStatus.CANCELLED:
        order.cancelled_at = timezone.now()
    order.save()
    OrderEvent.objects.create(
        client_id=order.client_id,
        order=order,
        from_status=from_status,
        to_status=to,
        reason=reason[:500],
        **_stamp(actor),
    )
    _emit_status_event(order, to)
    return order


def transition_many(
    *, actor: Actor, changes: Sequence[tuple[Order, str, str]], fields: Sequence[str] = ()
) -> None:
    """``transition`` for a batch of ``(order, to, reason)`` (a batch allocation): the same table
    check for every order, then one UPDATE of the statuses and of ``fields`` (which the caller has
    set on the orders), one INSERT of the events and one of the outbox rows. The caller holds the
    orders' row locks."""
    if not changes:
        return
    now = timezone.now()
    written = {"status", "updated_at", *fields}
    stamp = (
        actor.user.pk if actor.user else None,
        actor.api_key.pk if actor.api_key else None,
        actor.label[:200],
    )
    events = []
    for order, to, reason in changes:
        _check_transition(order, to)
        events.append((*stamp, order.client_id, order.pk, order.status, to, reason[:500], now))
        order.status, order.updated_at = to, now
        if to == OrderStatus.CANCELLED:
            order.cancelled_at = now
            written.add("cancelled_at")
    orders = [order for order, _to, _reason in changes]
    bulk.update_fields(Order, orders, sorted(written))
    bulk.insert_rows(OrderEvent, _EVENT_FIELDS, events)
    from shipments import events as outbox

    outbox.emit_many(
        (order.client_id, EVENT_ON_ENTERING[order.status], outbox.order_data(order))
        for order in orders
        if order.status in EVENT_ON_ENTERING
    )


# Order statuses a brand's webhooks and events feed hear about (order.created is emitted by intake).
EVENT_ON_ENTERING = {
    OrderStatus.ALLOCATED: EventType.ORDER_ALLOCATED,
    OrderStatus.BACKORDERED: EventType.ORDER_BACKORDERED,
    OrderStatus.CANCELLED: EventType.ORDER_CANCELLED,
    OrderStatus.SHIPPED: EventType.ORDER_SHIPPED,
    OrderStatus.DELIVERED: EventType.ORDER_DELIVERED,
}


def _emit_status_event(order: Order, to: str) -> None:
    """The outbox row, in the transition's transaction."""
    from shipments import events

    if event_type := EVENT_ON_ENTERING.get(to):
        events.emit(client_id=order.client_id, type=event_type, data=events.order_data(order))


# --- validation ----------------------------------------------------------------------------------


def address_problems(ship_to: dict[str, str]) -> list[str]:
    """What is wrong with a well-formed address (an address hold), as opposed to a missing field (a 400)."""
    problems = []
    if ship_to.get("ship_to_country", "US") == "US":
        state = (ship_to.get("ship_to_state") or "").upper()
        zip_code = ship_to.get("ship_to_zip") or ""
        if state not in US_STATES:
            problems.append(f"“{state or 'blank'}” is not a US state code")
        if not ZIP_RE.match(zip_code):
            problems.append(f"“{zip_code}” is not a US ZIP code")
        elif zip_point(zip_code) is None:
            problems.append(f"ZIP {zip_code} does not exist")
    return problems


def _clean_ship_to(ship_to: dict[str, Any]) -> dict[str, str]:
    cleaned = {f: str(ship_to.get(f) or "").strip() for f in SHIP_TO_FIELDS}
    cleaned["ship_to_country"] = (cleaned["ship_to_country"] or "US").upper()
    cleaned["ship_to_state"] = cleaned["ship_to_state"].upper()
    errors = {f: ["This field is required."] for f in REQUIRED_SHIP_TO if not cleaned[f]}
    if cleaned["ship_to_country"] and not re.fullmatch(r"[A-Z]{2}", cleaned["ship_to_country"]):
        errors["ship_to_country"] = ["Use a two-letter ISO country code, e.g. US."]
    if cleaned["ship_to_email"] and "@" not in cleaned["ship_to_email"]:
        errors["ship_to_email"] = ["Enter a valid e-mail address."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _decimal(value: Any, name: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({name: ["Enter a number."]}) from None
    if number < 0:
        raise ValidationError({name: ["Must not be negative."]})
    return number


@dataclass
class LineSpec:
    sku: str
    quantity: int
    item: Item | None
    unit_price: Decimal | None
    customs_value: Decimal | None


def _items_by_code(client: Client, codes: set[str]) -> dict[str, Item]:
    """The client's items by SKU, and by barcode for the codes that are no SKU. Intake needs only
    an item's id, SKU and whether it is active: the rest of each row stays deferred (read if
    anything asks), which spares building thousands of whole items for a batch."""
    codes.discard("")
    if not codes:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_ITEMS_SQL, [client.pk, list(codes)])
            rows = cursor.fetchall()
        items = {sku: _item(pk, client.pk, sku, active) for pk, sku, active in rows}
    else:
        items = {i.sku: i for i in Item.objects.filter(client=client, sku__in=codes)}
    if missing := codes - set(items):
        for code in ItemBarcode.objects.filter(client=client, code__in=missing).select_related("item"):
            items[code.code] = code.item
    return items


def known_codes(client: Client, codes: set[str]) -> set[str]:
    """The codes that name one of the client's items (a SKU, or else a barcode)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_SKUS_SQL, [client.pk, list(codes)])
            known = {sku for (sku,) in cursor.fetchall()}
    else:
        known = set(Item.objects.filter(client=client, sku__in=codes).values_list("sku", flat=True))
    if missing := codes - known:
        known |= set(
            ItemBarcode.objects.filter(client=client, code__in=missing).values_list("code", flat=True)
        )
    return known


def taken_references(client: Client, channel: str, references: set[str]) -> set[str]:
    """The references among ``references`` that the client's orders of ``channel`` hold already."""
    if connection.vendor != "postgresql":
        return set(
            Order.objects.filter(
                client=client, channel=channel, external_reference__in=references
            ).values_list("external_reference", flat=True)
        )
    with connection.cursor() as cursor:
        cursor.execute(_TAKEN_SQL, [client.pk, channel, list(references)])
        return {reference for (reference,) in cursor.fetchall()}


_SKUS_SQL = f"SELECT sku FROM {Item._meta.db_table} WHERE client_id = %s AND sku = ANY(%s::varchar[])"
_TAKEN_SQL = (
    f"SELECT external_reference FROM {Order._meta.db_table} "
    "WHERE client_id = %s AND channel = %s AND external_reference = ANY(%s::varchar[])"
)


def _item(pk: int, client_id: int, sku: str, active: bool) -> Item:
    """``Item.from_db(alias, ["id", "client_id", "sku", "active"], ...)``: an item loaded from
    the database with those fields and the others deferred (read if anything asks), set up as
    ``from_db`` leaves it without going through ``__init__`` for each of a batch's items."""
    return bulk.instance(
        Item, (("id", pk), ("client_id", client_id), ("sku", sku), ("active", active)), db=connection.alias
    )


_ITEMS_SQL = (
    f"SELECT id, sku, active FROM {Item._meta.db_table} WHERE client_id = %s AND sku = ANY(%s::varchar[])"
)


def _clean_lines(
    client: Client, lines: list[dict], *, items: dict[str, Item] | None = None
) -> list[LineSpec]:
    """``items``: the codes already looked up (``_items_by_code``) for a batch of orders."""
    if not lines:
        raise ValidationError({"lines": ["An order needs at least one line."]})
    if len(lines) > 1000:
        raise ValidationError({"lines": ["At most 1000 lines per order."]})
    errors: dict[str, list[str]] = {}
    specs = []
    if items is None:
        items = _items_by_code(client, {str(line.get("sku") or "").strip() for line in lines})
    for i, line in enumerate(lines):
        sku = str(line.get("sku") or "").strip()
        quantity = line.get("quantity")
        if not sku:
            errors[f"lines.{i}.sku"] = ["This field is required."]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            try:
                quantity = int(str(quantity))
                if quantity <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                errors[f"lines.{i}.quantity"] = ["Must be a positive whole number."]
                continue
        try:
            price = _decimal(line.get("unit_price"), f"lines.{i}.unit_price")
            customs = _decimal(line.get("customs_value"), f"lines.{i}.customs_value")
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        specs.append(LineSpec(sku, quantity, items.get(sku), price, customs))
    if errors:
        raise ValidationError(errors)
    return specs


def _sku_problems(specs: list[LineSpec]) -> list[str]:
    """Exception-hold reasons naming the SKUs that cannot be allocated (the demand is real)."""
    problems = []
    if unknown := sorted({s.sku for s in specs if s.item is None}):
        problems.append(f"Unknown SKU: {', '.join(unknown)}"[:500])
    if inactive := sorted({s.sku for s in specs if s.item is not None and not s.item.active}):
        problems.append(f"Inactive SKU: {', '.join(inactive)}"[:500])
    return problems


def _enqueue_allocation(order: Order) -> None:
    """After the commit, allocate the order with this process's next batch (``allocation_queue``)."""
    # The ids, not the order: a batch's orders are not kept in memory until the commit.
    order_id, client_id = order.pk, order.client_id
    transaction.on_commit(lambda: allocation_queue.request_allocation(order_id, client_id))


def _enqueue_allocations(orders: list[Order]) -> None:
    """One order: this process's next batch of single orders. Several (a bulk or CSV intake): one
    batch task per chunk after commit, which allocates them with a few set-based statements each."""
    if len(orders) == 1:
        _enqueue_allocation(orders[0])
        return
    from .tasks import allocate_orders

    ids = [o.pk for o in orders]
    size = ALLOCATION_TASK_CHUNK
    transaction.on_commit(
        lambda: [allocate_orders.delay(ids[i : i + size]) for i in range(0, len(ids), size)]
    )


ALLOCATION_TASK_CHUNK = 2_000

# --- intake --------------------------------------------------------------------------------------

ORDER_ARGUMENTS = ("external_reference", "lines", "ship_to", "channel", "received_at")
_ORDER_KEYS = frozenset(HEADER_FIELDS) | frozenset(ORDER_ARGUMENTS)
_CHANNELS = frozenset(Channel.values)
_SERVICE_LEVELS = frozenset(ServiceLevel.values)
_ORDER_TYPES = frozenset(OrderType.values)
_API, _STANDARD, _DTC = Channel.API, ServiceLevel.STANDARD, OrderType.DTC  # (an enum member is a slow lookup)


class Created:
    """An order intake wrote, with the rows written beside it: while its transaction is open
    nobody else can have changed them, so a response can be built without reading them back.

    A batch writes its lines, holds and events from plain values; their model instances are made
    only when someone asks (the API's one-order answer), not for each of a CSV file's orders."""

    def __init__(self, order: Order, lines=(), holds=(), events=(), *, build=None):
        self.order = order
        self._rows = None if build is not None else (list(lines), list(holds), list(events))
        self._build = build

    def _built(self) -> tuple[list[OrderLine], list[OrderHold], list[OrderEvent]]:
        if self._rows is None:
            self._rows = self._build()
        return self._rows

    @property
    def lines(self) -> list[OrderLine]:
        return self._built()[0]

    @property
    def holds(self) -> list[OrderHold]:
        return self._built()[1]

    @property
    def events(self) -> list[OrderEvent]:
        return self._built()[2]


@dataclass
class _Draft:
    """One order of a batch while it is checked: what it will write, or why it will not."""

    index: int
    key: tuple[str, str]  # (channel, external reference)
    order: Order | None = None
    specs: list[LineSpec] = dataclasses.field(default_factory=list)
    holds: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    error: ValidationError | None = None  # found after the duplicate check, so a duplicate wins


def _check_header(raw: dict[str, Any]) -> tuple[str, str]:
    """The checks that come before the duplicate check; the order's (channel, reference)."""
    if unknown := raw.keys() - _ORDER_KEYS:
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    reference = (raw["external_reference"] or "").strip()
    if not reference:
        raise ValidationError({"external_reference": ["This field is required."]})
    channel = raw.get("channel", _API)
    if channel not in _CHANNELS:
        raise ValidationError({"channel": [f"Choose one of: {', '.join(Channel.values)}."]})
    if raw.get("service_level", _STANDARD) not in _SERVICE_LEVELS:
        raise ValidationError({"service_level": [f"Choose one of: {', '.join(ServiceLevel.values)}."]})
    if raw.get("order_type", _DTC) not in _ORDER_TYPES:
        raise ValidationError({"order_type": [f"Choose one of: {', '.join(OrderType.values)}."]})
    return channel, reference


def _plainly_valid(field) -> Any:
    """For a field whose value ``Model.full_clean`` would pass through unchanged when it is of the
    plain kind checked here, that check (``value -> bool``); None when only ``field.clean`` can
    say. A value the check does not pass still goes to ``field.clean``, for its exact message."""
    from django.core import validators
    from django.db import models

    kinds = {type(v) for v in field.validators}
    if type(field) in (models.CharField, models.TextField) and kinds <= {
        validators.MaxLengthValidator,
        validators.ProhibitNullCharactersValidator,
    }:
        limit = field.max_length or 0
        allowed = frozenset(str(k) for k, _ in field.flatchoices) if field.choices else None
        blank = field.blank

        def check(value) -> bool:
            return (
                isinstance(value, str)  # (a str enum member too: to_python keeps it as it is)
                and (not limit or len(value) <= limit)
                and "\x00" not in value
                and (blank or value != "")
                and (allowed is None or value in allowed)
            )

        return check
    if (
        type(field) is models.EmailField
        and validators.EmailValidator in kinds
        and kinds <= {validators.EmailValidator, validators.MaxLengthValidator}
    ):
        limit = field.max_length
        return lambda value: type(value) is str and len(value) <= limit and plain_email(value)
    if type(field) is models.DateTimeField and not field.validators:
        return lambda value: isinstance(value, datetime)
    if type(field) is models.BooleanField and not field.validators:
        return lambda value: type(value) is bool
    return None


# A subset of the addresses Django's ``EmailValidator`` accepts (dot-atom local part of the
# common characters; host names of letters, digits and inner hyphens; a TLD of letters), checked
# by one match instead of the validator's several: an address it does not match is still given to
# the validator. ``tests/orders/test_intake_checks.py`` checks that it accepts nothing Django refuses.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.IGNORECASE | re.ASCII,
)


def plain_email(value: str) -> bool:
    """Whether ``value`` is an e-mail address of the plain kind every validator accepts."""
    return len(value) <= 254 and value.isascii() and _PLAIN_EMAIL.fullmatch(value) is not None


_ORDER_CHECKS: list | None = None


def _order_checks() -> list:
    global _ORDER_CHECKS
    if _ORDER_CHECKS is None:
        _ORDER_CHECKS = [
            (f, _plainly_valid(f))
            for f in Order._meta.fields
            if f.name not in ("client", "warehouse") and not f.generated
        ]
    return _ORDER_CHECKS


def _new_order(client: Client, values: dict[str, Any]) -> Order:
    """``Order(client=client, **values)`` (``values`` by attribute name, every one a concrete
    field) made by ``bulk.instance`` (``tests/orders/test_intake_checks.py`` checks that it is the
    same order), without ``Model.__init__``'s loop over the model's forty-odd fields."""
    values["client_id"] = client.pk
    order = bulk.instance(
        Order,
        [
            (name, values.pop(name) if name in values else default())
            for name, default in bulk.field_defaults(Order)
        ],
    )
    if values:
        raise TypeError(f"Order has no field(s) {', '.join(values)}")
    order.client = client
    return order


def _clean_order_fields(order: Order) -> None:
    """``order.full_clean(exclude=["client", "warehouse"], validate_unique=False,
    validate_constraints=False)`` (``Order`` has no ``clean()``) with the same errors, without
    calling every field's validators for values that plainly pass them."""
    errors = {}
    for field, plain in _order_checks():
        value = getattr(order, field.attname)
        if field.blank and value in field.empty_values:
            continue
        if plain is not None and plain(value):
            continue
        try:
            setattr(order, field.attname, field.clean(value, order))
        except ValidationError as exc:
            errors[field.name] = exc.error_list
    if errors:
        raise ValidationError(errors)


def _draft_order(draft: _Draft, client: Client, raw: dict[str, Any], items: dict[str, Item], now) -> None:
    """Check the address and lines and build the order (not saved) and the holds it gets."""
    channel, reference = draft.key
    header = {k: v for k, v in raw.items() if k not in ORDER_ARGUMENTS}
    cleaned = _clean_ship_to(raw["ship_to"])
    draft.specs = _clean_lines(client, raw["lines"], items=items)
    order = _new_order(
        client,
        {
            "channel": channel,
            "external_reference": reference,
            "received_at": raw.get("received_at") or now,
            **cleaned,
            **header,
        },
    )
    _clean_order_fields(order)
    draft.order = order
    draft.holds = [(HoldKind.EXCEPTION, reason) for reason in _sku_problems(draft.specs)]
    if problems := address_problems(cleaned):
        draft.holds.append((HoldKind.ADDRESS, "; ".join(problems)[:500]))


def _existing_orders(client: Client, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Order]:
    if not keys:
        return {}
    found = Order.objects.filter(
        client=client,
        channel__in={channel for channel, _ in keys},
        external_reference__in={reference for _, reference in keys},
    )
    return {key: o for o in found if (key := (o.channel, o.external_reference)) in keys}


class _Placement:
    """Where a released order will ship from (its nearest node) and so its ship-by: the client's
    nodes are read once per batch, each destination ZIP and each deadline computed once."""

    def __init__(self, client: Client):
        self.client = client
        self._nodes: list | None = None
        self._nearest: dict[str, Any] = {}
        self._deadlines: dict[tuple, Any] = {}

    def ship_by(self, order: Order):
        if self._nodes is None:
            self._nodes = _active_nodes(self.client)
        zip_code = order.ship_to_zip
        if zip_code not in self._nearest:
            nodes = clock.nearest_first(self._nodes, zip_code)
            self._nearest[zip_code] = nodes[0] if nodes else None
        warehouse = self._nearest[zip_code]
        key = (warehouse.pk if warehouse else None, order.service_level, order.released_at)
        if key not in self._deadlines:
            self._deadlines[key] = clock.ship_by(
                client=self.client,
                warehouse=warehouse,
                released_at=order.released_at,
                service_level=order.service_level,
            )
        return self._deadlines[key]


def _active_nodes(client: Client) -> list[Warehouse]:
    """``client.warehouses.filter(active=True).prefetch_related("closures").order_by("pk")`` with
    what the clock reads of each node (id, ZIP, time zone, closures): on PostgreSQL from the shared
    cache (``accounts.node_cache``, invalidated on every change) or else in one statement."""
    if connection.vendor != "postgresql":
        return list(client.warehouses.filter(active=True).prefetch_related("closures").order_by("pk"))
    rows = node_cache.cached(client.pk)
    if rows is None:
        with connection.cursor() as cursor:
            cursor.execute(_NODES_SQL, [client.pk])
            rows = cursor.fetchall()
        node_cache.remember(client.pk, rows)
    return _nodes_from_rows(rows)


def _nodes_from_rows(rows: Sequence[Sequence[Any]]) -> list[Warehouse]:
    """Nodes (with their closures as if prefetched) from (id, ZIP, time zone, closure dates) rows."""
    return list(_nodes_of(tuple((pk, z, tz, tuple(dates)) for pk, z, tz, dates in rows)))


@functools.lru_cache(maxsize=256)
def _nodes_of(rows: tuple[tuple[Any, ...], ...]) -> tuple[Warehouse, ...]:
    """The nodes of these rows, built once per process for the same rows (a client's entry in
    ``node_cache`` changes only with its nodes): shared by every intake of the client, which only
    reads them (``_Placement``: distances and the business calendar)."""
    nodes = []
    for pk, zip_code, time_zone, dates in rows:
        node = Warehouse.from_db(DEFAULT_DB_ALIAS, ["id", "zip_code", "time_zone"], (pk, zip_code, time_zone))
        closures = QuerySet(model=WarehouseClosure)
        closures._result_cache = [WarehouseClosure(warehouse_id=pk, date=d) for d in dates]
        closures._prefetch_done = True
        node._prefetched_objects_cache = {"closures": closures}
        nodes.append(node)
    return tuple(nodes)


def _nodes_sql() -> str:
    through = Client.warehouses.through._meta
    return (
        f"SELECT w.id, w.zip_code, w.time_zone, "
        f"COALESCE(ARRAY(SELECT c.date FROM {WarehouseClosure._meta.db_table} c "
        f"WHERE c.warehouse_id = w.id ORDER BY c.id), '{{}}') "
        f"FROM {Warehouse._meta.db_table} w JOIN {through.db_table} cw ON cw.warehouse_id = w.id "
        f"WHERE cw.client_id = %s AND w.active ORDER BY w.id"
    )


_NODES_SQL = _nodes_sql()


def order_create_many(
    *, actor: Actor, client: Client, orders: Sequence[dict[str, Any]]
) -> list[Created | DuplicateOrder | ValidationError]:
    """Accept a batch of orders, each given as ``order_create``'s keyword arguments: the outcome
    of each, in order, exactly as if each had been created in turn in a savepoint of its own (a
    bad or duplicate order does not stop the others; a reference repeated in the batch is a
    duplicate of its first created order). One statement per kind of row for the whole batch.

    One transaction; inside the caller's, no savepoint of its own: what fails is an outcome, not
    an exception, and an unexpected database error fails the caller's transaction anyway."""
    actor.require(Perm.ORDER_MANAGE, client_id=client.pk)
    with transaction.atomic(savepoint=False):
        return _create_many(actor, client, orders)


def _create_many(
    actor: Actor, client: Client, orders: Sequence[dict[str, Any]]
) -> list[Created | DuplicateOrder | ValidationError]:
    outcomes: list[Created | DuplicateOrder | ValidationError | None] = [None] * len(orders)
    drafts = []
    for index, raw in enumerate(orders):
        try:
            drafts.append(_Draft(index, _check_header(raw)))
        except ValidationError as exc:
            outcomes[index] = exc
    codes = {str(line.get("sku") or "").strip() for d in drafts for line in orders[d.index]["lines"] or []}
    items = _items_by_code(client, codes)
    now = timezone.now()
    for draft in drafts:
        try:
            _draft_order(draft, client, orders[draft.index], items, now)
        except ValidationError as exc:
            draft.error = exc
    # An order that failed its checks is still a duplicate if its reference exists: look those up
    # now; the others' references are checked by the unique constraint when they are inserted.
    existing = _existing_orders(client, {d.key for d in drafts if d.error})
    placement = _Placement(client)
    while True:
        first: dict[tuple[str, str], _Draft] = {}
        for draft in drafts:
            if draft.key not in existing and draft.key not in first and draft.error is None:
                first[draft.key] = draft
        written = list(first.values())
        if not written:
            break
        taken = _write_orders(client, written, placement=placement, now=now)
        if not taken:
            break
        # An order of the same reference committed meanwhile: that one is the order.
        found = _existing_orders(client, taken)
        if len(found) != len(taken):
            raise IntegrityError(
                f"Order references conflicted but were not found: {sorted(taken - set(found))}"
            )
        existing.update(found)
        if connection.vendor == "postgresql":
            # The others are inserted (ON CONFLICT DO NOTHING skipped only these).
            written = [d for d in written if d.key not in taken]
            first = {d.key: d for d in written}
            break
    created = _write_rows(actor, client, written, now=now)
    for draft in drafts:
        earlier = first.get(draft.key)
        if draft.key in existing:
            outcomes[draft.index] = DuplicateOrder(existing[draft.key])
        elif earlier is not None and earlier.index < draft.index:
            outcomes[draft.index] = DuplicateOrder(earlier.order)
        elif draft.error is not None:
            outcomes[draft.index] = draft.error
        else:
            outcomes[draft.index] = created[draft.index]
    return outcomes


_ORDER_COLUMNS: tuple[list, Any] | None = None


def _order_columns() -> tuple[list, Any]:
    """The columns an order is inserted with, and a function reading their values off an order
    (``operator.attrgetter``: one call instead of a getattr per column)."""
    global _ORDER_COLUMNS
    if _ORDER_COLUMNS is None:
        columns = [f for f in Order._meta.concrete_fields if not f.primary_key]
        _ORDER_COLUMNS = columns, operator.attrgetter(*(f.attname for f in columns))
    return _ORDER_COLUMNS


def _write_orders(
    client: Client, drafts: list[_Draft], *, placement: _Placement, now
) -> set[tuple[str, str]]:
    """Insert the orders: on hold (with the holds' reasons) or released with their ship-by. The
    references another order holds already (committed meanwhile) are not inserted: returned.

    On PostgreSQL one ``INSERT ... SELECT FROM UNNEST ... ON CONFLICT DO NOTHING RETURNING``: a
    conflict waits for the other transaction like the unique constraint would, and skips only
    that order (no savepoint to roll back and retry)."""
    for draft in drafts:
        order = draft.order
        order.status = OrderStatus.RECEIVED  # (again, when a duplicate made the first try fail)
        if draft.holds:
            _check_transition(order, OrderStatus.ON_HOLD)
            order.status, order.released_at, order.ship_by = OrderStatus.ON_HOLD, None, None
        else:
            order.status, order.released_at = OrderStatus.RECEIVED, order.received_at
            order.ship_by = placement.ship_by(order)
        order.created_at = order.updated_at = now
    if connection.vendor != "postgresql":
        try:
            with transaction.atomic():
                Order.objects.bulk_create([d.order for d in drafts])
        except IntegrityError:
            taken = set(_existing_orders(client, {d.key for d in drafts}))
            if not taken:
                raise
            return taken
        return set()
    columns, values_of = _order_columns()
    ids = bulk.insert_returning(
        Order,
        [f.attname for f in columns],
        [values_of(d.order) for d in drafts],
        returning=("id", "channel", "external_reference"),
        on_conflict_do_nothing=("client_id", "channel", "external_reference"),
    )
    pks = {(channel, reference): pk for pk, channel, reference in ids}
    taken = set()
    for draft in drafts:
        if (pk := pks.get(draft.key)) is None:
            taken.add(draft.key)
        else:
            draft.order.pk = pk
            draft.order._state.adding, draft.order._state.db = False, connection.alias
    return taken


_LINE_FIELDS = ("client_id", "order_id", "sku", "item_id", "quantity", "unit_price", "customs_value")
_EVENT_FIELDS = (
    "actor_user_id",
    "actor_api_key_id",
    "actor_label",
    "client_id",
    "order_id",
    "from_status",
    "to_status",
    "reason",
    "created_at",
)
_HOLD_FIELDS = (
    "actor_user_id",
    "actor_api_key_id",
    "actor_label",
    "client_id",
    "order_id",
    "kind",
    "reason",
    "placed_at",
    "released_by",
)


def _write_rows(actor: Actor, client: Client, drafts: list[_Draft], *, now) -> dict[int, Created]:
    """The rows beside the inserted orders: lines, status events, holds, the outbox; then each
    released order's allocation is queued for after the commit. One statement per kind of row,
    from plain values (a model instance per row costs more than the database's work)."""
    from shipments import events as outbox

    stamp = (
        actor.user.pk if actor.user else None,
        actor.api_key.pk if actor.api_key else None,
        actor.label[:200],
    )
    lines, received, held, holds = [], [], [], []
    for draft in drafts:
        order_id = draft.order.pk
        for s in draft.specs:
            item_id = s.item.pk if s.item is not None else None
            lines.append((client.pk, order_id, s.sku, item_id, s.quantity, s.unit_price, s.customs_value))
        received.append(
            (*stamp, client.pk, order_id, "", OrderStatus.RECEIVED, f"via {draft.order.channel}", now)
        )
        if draft.holds:
            for kind, reason in draft.holds:
                holds.append((*stamp, client.pk, order_id, kind, reason, now, ""))
            reason = "; ".join(r for _, r in draft.holds)[:500]
            held.append((*stamp, client.pk, order_id, OrderStatus.RECEIVED, OrderStatus.ON_HOLD, reason, now))
    line_ids = bulk.insert_returning(OrderLine, _LINE_FIELDS, lines)
    hold_ids = bulk.insert_returning(OrderHold, _HOLD_FIELDS, holds)
    status_events = received + held  # each order's received event first
    _enqueue_allocations([d.order for d in drafts if not d.holds])
    created_events = ((client.pk, "order.created", outbox.order_data(d.order)) for d in drafts)
    if connection.vendor == "postgresql":
        # The status events go with the outbox's INSERT, in its round trip.
        outbox.emit_many(
            created_events, before=[bulk.insert_statement(OrderEvent, _EVENT_FIELDS, status_events)]
        )
    else:
        bulk.insert_rows(OrderEvent, _EVENT_FIELDS, status_events)
        outbox.emit_many(created_events)

    created = {}
    line_at = hold_at = 0
    for draft in drafts:
        n_lines, n_holds = len(draft.specs), len(draft.holds)
        built = _Built(
            actor,
            client,
            draft,
            [pk for (pk,) in line_ids[line_at : line_at + n_lines]],
            [pk for (pk,) in hold_ids[hold_at : hold_at + n_holds]],
            now,
        )
        line_at, hold_at = line_at + n_lines, hold_at + n_holds
        created[draft.index] = Created(draft.order, build=built)
    return created


@dataclass
class _Built:
    """The model instances of one created order's rows, made on demand (``Created``)."""

    actor: Actor
    client: Client
    draft: _Draft
    line_ids: list[int]
    hold_ids: list[int]
    now: Any

    def __call__(self) -> tuple[list[OrderLine], list[OrderHold], list[OrderEvent]]:
        client, draft, order, now = self.client, self.draft, self.draft.order, self.now
        stamp = _stamp(self.actor)
        db = connection.alias
        lines = [
            bulk.made(
                OrderLine,
                {
                    "id": pk,
                    "client_id": client.pk,
                    "order_id": order.pk,
                    "sku": s.sku,
                    "item_id": s.item.pk if s.item is not None else None,
                    "quantity": s.quantity,
                    "unit_price": s.unit_price,
                    "customs_value": s.customs_value,
                },
                {"client": client, "order": order, "item": s.item},
                db=db,
            )
            for pk, s in zip(self.line_ids, draft.specs, strict=True)
        ]
        holds = [
            OrderHold(id=pk, client=client, order=order, kind=kind, reason=reason, placed_at=now, **stamp)
            for pk, (kind, reason) in zip(self.hold_ids, draft.holds, strict=True)
        ]
        events = [
            OrderEvent(
                client=client,
                order=order,
                to_status=OrderStatus.RECEIVED,
                reason=f"via {order.channel}",
                created_at=now,
                **stamp,
            )
        ]
        if draft.holds:
            events.append(
                OrderEvent(
                    client=client,
                    order=order,
                    from_status=OrderStatus.RECEIVED,
                    to_status=OrderStatus.ON_HOLD,
                    reason="; ".join(r for _, r in draft.holds)[:500],
                    created_at=now,
                    **stamp,
                )
            )
        for row in (*holds, *events):
            row._state.adding, row._state.db = False, db
        return lines, holds, events


def order_create(
    *,
    actor: Actor,
    client: Client,
    external_reference: str,
    lines: list[dict],
    ship_to: dict[str, Any],
    channel: str = Channel.API,
    received_at=None,
    **header: Any,
) -> Order:
    """Accept an order. A duplicate reference raises DuplicateOrder; a malformed one a
    ValidationError naming the field; an unknown SKU or a doubtful address puts it on hold.
    One transaction (``order_create_many`` of one order)."""
    order = {"external_reference": external_reference, "lines": lines, "ship_to": ship_to, "channel": channel}
    [outcome] = order_create_many(
        actor=actor, client=client, orders=[{**order, "received_at": received_at, **header}]
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome.order


# --- holds ---------------------------------------------------------------------------------------


def _lock(order: Order) -> Order:
    with scope(client=order.client_id):
        return Order.objects.select_for_update(of=("self",)).select_related("client").get(pk=order.pk)


@transaction.atomic
def order_hold(*, actor: Actor, order: Order, kind: str, reason: str) -> Order:
    """Put an order on hold (reservations are released so the stock can serve other orders)."""
    actor.require(Perm.ORDER_MANAGE, client_id=order.client_id)
    if kind not in HoldKind.values:
        raise ValidationError({"kind": [f"Choose one of: {', '.join(HoldKind.values)}."]})
    if actor.is_client and kind != HoldKind.CLIENT:
        raise PermissionDenied("Brands place client holds; other holds are the operator's.")
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the order is held."]})
    order = _lock(order)
    if order.status not in EDITABLE_STATUSES:
        raise ValidationError(
            {"status": [f"An order that is {order.get_status_display().lower()} cannot be held."]}
        )
    OrderHold.objects.create(
        client_id=order.client_id, order=order, kind=kind, reason=reason[:500], **_stamp(actor)
    )
    if order.status != OrderStatus.ON_HOLD:
        allocation.release_allocations(order)
        order.warehouse = None if order.status == OrderStatus.ALLOCATED else order.warehouse
        transition(
            actor=actor, order=order, to=OrderStatus.ON_HOLD, reason=f"{HoldKind(kind).label}: {reason}"
        )
    return order


def _brand_caused_this_hold(order: Order) -> bool:
    """Whether a client-caused hold kept the order from being workable during its current stay
    on hold (not only among the holds released last: a client hold released before an operator
    hold still restarts the clock when the order becomes workable)."""
    held_since = order.events.filter(to_status=OrderStatus.ON_HOLD).order_by("-created_at", "-pk").first()
    holds = order.holds.filter(kind__in=list(CLIENT_CAUSED_HOLDS))
    if held_since is not None:
        holds = holds.filter(released_at__gte=held_since.created_at)
    return holds.exists()


def _release(actor: Actor, order: Order, holds: list[OrderHold]) -> Order:
    now = timezone.now()
    for hold in holds:
        hold.released_at, hold.released_by = now, actor.label[:200]
        hold.save(update_fields=["released_at", "released_by"])
    if order.holds.filter(released_at__isnull=True).exists() or order.status != OrderStatus.ON_HOLD:
        return order
    if _brand_caused_this_hold(order) or order.released_at is None:
        order.released_at = now  # the brand caused it: the SLA clock restarts (DOMAIN.md)
    nodes = clock.nodes_by_distance(order.client, order.ship_to_zip)
    order.ship_by = clock.ship_by(
        client=order.client,
        warehouse=order.warehouse or (nodes[0] if nodes else None),
        released_at=order.released_at,
        service_level=order.service_level,
    )
    transition(actor=actor, order=order, to=OrderStatus.RECEIVED, reason="released")
    _enqueue_allocation(order)
    return order


@transaction.atomic
def order_release(*, actor: Actor, order: Order, kind: str | None = None) -> Order:
    """Release the open holds (of ``kind``, when given) that the actor may release."""
    actor.require(Perm.ORDER_MANAGE, client_id=order.client_id)
    if kind and kind not in HoldKind.values:
        raise ValidationError({"kind": [f"Choose one of: {', '.join(HoldKind.values)}."]})
    if actor.is_client and kind and kind != HoldKind.CLIENT:
        raise PermissionDenied("Brands release client holds; other holds are released by the operator.")
    order = _lock(order)
    holds = list(order.holds.filter(released_at__isnull=True))
    if kind:
        holds = [h for h in holds if h.kind == kind]
    if actor.is_client:
        theirs = [h for h in holds if h.kind == HoldKind.CLIENT]
        if holds and not theirs:
            raise PermissionDenied("Brands release client holds; other holds are released by the operator.")
        holds = theirs
    if not holds:
        raise ValidationError({"kind": ["There is no open hold you can release."]})
    if any(h.kind == HoldKind.EXCEPTION for h in holds) and order.lines.filter(item__isnull=True).exists():
        raise ValidationError({"lines": ["Fix the unknown SKUs (edit the lines) before releasing."]})
    if (
        any(h.kind == HoldKind.ADDRESS for h in holds)
        and address_problems({f: getattr(order, f) for f in SHIP_TO_FIELDS})
        and not actor.is_staff
    ):
        raise ValidationError({"ship_to_zip": ["Correct the address before releasing."]})
    return _release(actor, order, holds)


# --- edits and cancellation ------------------------------------------------------------------------


@transaction.atomic
def order_update_address(*, actor: Actor, order: Order, **ship_to: Any) -> Order:
    """Edit the ship-to until picking starts; a corrected address releases its address hold, and
    an allocated order is routed again for the new destination."""
    actor.require(Perm.ORDER_MANAGE, client_id=order.client_id)
    if unknown := set(ship_to) - set(SHIP_TO_FIELDS):
        raise ValidationError({f: ["Unknown field."] for f in unknown})
    order = _lock(order)
    if order.status not in EDITABLE_STATUSES:
        raise ValidationError({"status": ["The address can no longer change: picking has started."]})
    cleaned = _clean_ship_to({**{f: getattr(order, f) for f in SHIP_TO_FIELDS}, **ship_to})
    changes = {f: [getattr(order, f), v] for f, v in cleaned.items() if getattr(order, f) != v}
    for field, value in cleaned.items():
        setattr(order, field, value)
    order.save()
    audit_record(
        actor=actor, action="order.address_updated", target=order, client_id=order.client_id, changes=changes
    )
    problems = address_problems(cleaned)
    open_address = list(order.holds.filter(released_at__isnull=True, kind=HoldKind.ADDRESS))
    if problems and not open_address:
        return order_hold(
            actor=Actor.system("address check"),
            order=order,
            kind=HoldKind.ADDRESS,
            reason="; ".join(problems),
        )
    if not problems and open_address:
        return _release(actor, order, open_address)
    if order.status == OrderStatus.ALLOCATED and "ship_to_zip" in changes:
        _reroute(actor, order, "address changed")
    return order


def _reroute(actor: Actor, order: Order, reason: str) -> None:
    """Release and allocate again in the caller's transaction; ``order`` is refreshed (allocate
    works on its own locked copy of the row)."""
    allocation.release_allocations(order)
    order.warehouse = None
    transition(actor=actor, order=order, to=OrderStatus.RECEIVED, reason=reason)
    allocation.allocate(actor=actor, order=order)
    order.refresh_from_db()


@transaction.atomic
def order_update_lines(*, actor: Actor, order: Order, lines: list[dict]) -> Order:
    """Replace the lines until picking starts; reservations are released and made again."""
    actor.require(Perm.ORDER_MANAGE, client_id=order.client_id)
    order = _lock(order)
    if order.status not in EDITABLE_STATUSES:
        raise ValidationError({"status": ["The lines can no longer change: picking has started."]})
    specs = _clean_lines(order.client, lines)
    allocation.release_allocations(order)
    order.lines.all().delete()
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                client_id=order.client_id,
                order=order,
                sku=s.sku,
                item=s.item,
                quantity=s.quantity,
                unit_price=s.unit_price,
                customs_value=s.customs_value,
            )
            for s in specs
        ]
    )
    audit_record(
        actor=actor,
        action="order.lines_updated",
        target=order,
        client_id=order.client_id,
        changes={"lines": [f"{s.quantity} x {s.sku}" for s in specs]},
    )
    problems = _sku_problems(specs)
    exception_holds = list(order.holds.filter(released_at__isnull=True, kind=HoldKind.EXCEPTION))
    if problems and exception_holds:
        # Still not allocatable: the open hold names what is wrong now.
        for hold in exception_holds:
            hold.reason = "; ".join(problems)[:500]
            hold.save(update_fields=["reason"])
        return order
    if problems:
        return order_hold(
            actor=Actor.system("SKU check"), order=order, kind=HoldKind.EXCEPTION, reason="; ".join(problems)
        )
    if exception_holds:
        return _release(actor, order, exception_holds)
    if order.status == OrderStatus.ALLOCATED:
        _reroute(actor, order, "lines changed")
    elif order.status in (OrderStatus.RECEIVED, OrderStatus.BACKORDERED):
        # A backorder that the new lines let through is released from backorder (allocate
        # restarts its clock); one still short stays backordered.
        allocation.allocate(actor=actor, order=order)
        order.refresh_from_db()
    return order


@transaction.atomic
def order_cancel(*, actor: Actor, order: Order, reason: str = "") -> Order:
    actor.require(Perm.ORDER_MANAGE, client_id=order.client_id)
    order = _lock(order)
    if order.status not in CANCELLABLE_STATUSES:
        raise ValidationError(
            {"status": [f"An order that is {order.get_status_display().lower()} cannot be cancelled."]}
        )
    allocation.release_allocations(order)
    return transition(actor=actor, order=order, to=OrderStatus.CANCELLED, reason=reason or "cancelled")


@transaction.atomic
def order_reallocate(*, actor: Actor, order: Order) -> Order:
    """Staff: release the reservations and route the order again (e.g. after stock moved)."""
    actor.require(Perm.ORDER_REALLOCATE, client_id=order.client_id)
    order = _lock(order)
    if order.status not in (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED, OrderStatus.RECEIVED):
        raise ValidationError(
            {"status": [f"An order that is {order.get_status_display().lower()} cannot be re-allocated."]}
        )
    if order.status == OrderStatus.ALLOCATED:
        _reroute(actor, order, "re-allocated by staff")
    else:
        allocation.allocate(actor=actor, order=order)
    order.refresh_from_db()
    return order


# --- backorders ----------------------------------------------------------------------------------


def backorders_waiting_for(*, client_id: int, item_ids: list[int]):
    """Backordered orders that need any of the items (directly or through a kit), expedited
    service levels first, then by ship-by."""
    with scope(client=client_id):
        return (
            Order.objects.filter(client_id=client_id, status=OrderStatus.BACKORDERED)
            .filter(Q(lines__item__in=item_ids) | Q(lines__item__components__component__in=item_ids))
            .distinct()
            .annotate(
                urgency=Case(
                    When(service_level__in=list(EXPEDITED_LEVELS), then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("urgency", "ship_by", "received_at", "pk")
        )


def allocate_backorders(*, client_id: int, item_ids: list[int]) -> int:
    """Stock arrived: try the waiting orders in priority order, a batch per transaction (the most
    urgent batch first; within a batch ``allocate_many`` plans in the same order)."""
    actor = Actor.system("backorder allocation")
    with scope(client=client_id):
        ids = list(
            backorders_waiting_for(client_id=client_id, item_ids=item_ids).values_list("pk", flat=True)
        )
    allocated = 0
    for start in range(0, len(ids), allocation.BATCH_SIZE):
        statuses = allocation.allocate_many(actor=actor, order_ids=ids[start : start + allocation.BATCH_SIZE])
        allocated += sum(status == OrderStatus.ALLOCATED for status in statuses.values())
    return allocated
