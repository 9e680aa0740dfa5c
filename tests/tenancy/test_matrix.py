"""The tenancy matrix: every operation in the OpenAPI schema, tried by tenant B's actors on tenant A.

The operations come from ``/api/schema/``, so an endpoint added later is probed without anyone
remembering to add it here. What the matrix needs to know about an endpoint is how to find
"tenant A's objects" for its path parameters: ``COLLECTIONS`` maps a collection's prefix
(``/api/v1/users/``) to that. A new action on a registered collection (``/api/v1/users/{id}/lock/``)
is covered at once; a new collection fails the matrix until it is registered.

For every operation and every actor of tenant B it checks that
- no response contains a marker of A (A's slug, A's users' e-mails, A's key prefixes, a unique
  string in the names of A's objects), and B's lists hold none of A's ids, even filtered on A;
- on an object path, A's id answers exactly like an id that does not exist (403, 404 or 405, and
  404 whenever the actor's role may do the action at all), while B's own object answers 200;
- a body that refers to A's objects answers like one that refers to missing ids;
- nothing of A is written, whatever the request: A's rows are compared after every write.

Each tenant has a real inventory (``build_stock``: items, a kit, stock in bins of two nodes, moves,
transfers, ASNs in several states with receipts, a cycle count). The warehouse operator of B's node,
the role that changes stock, is probed on the inventory operations too; bins and counts belong to the
operator, and ``test_bins_and_counts_are_operator_owned`` pins down who sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.urls import Resolver404, resolve
from django_scopes import ScopeError, scope
from rest_framework.permissions import SAFE_METHODS
from rest_framework.test import APIClient

from accounts import services
from accounts.actors import Actor
from accounts.enums import Role
from accounts.models import APIKey, AuditEvent, Client, User, Warehouse, WarehouseClosure
from accounts.roles import Perm
from inventory import services as inventory_services
from inventory.models import (
    ASN,
    ASNEvent,
    ASNLine,
    ASNMilestone,
    Balance,
    CycleCount,
    CycleCountLine,
    Item,
    ItemBarcode,
    KitComponent,
    Location,
    Move,
    Receipt,
    Transfer,
)
from orders import allocation as order_allocation
from orders import services as order_services
from orders.models import Allocation, Order, OrderEvent, OrderHold, OrderLine, ShopifyConnection
from reporting.models import (
    Alert,
    AlertComment,
    AlertRuleSetting,
    ExportJob,
    OrderError,
    QBRActionItem,
    QBRReport,
)
from shipments.demo_carriers import seed_boxes, seed_carriers
from shipments.models import (
    BoxType,
    Carrier,
    CarrierService,
    Event,
    Manifest,
    Package,
    PackageLine,
    PickTask,
    Shipment,
    ShortPick,
    TrackingEvent,
    VoidedLabel,
    Wave,
    WebhookDelivery,
    WebhookSubscription,
)
from tests.accounts.factories import UserFactory, WarehouseFactory, make_api_key
from tests.inventory.factories import Node, make_item, make_node, stock

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ANSWERS_HIDING_AN_OBJECT = {403, 404, 405}
MISSING_ID = 999_999_999


# --- the world: two tenants, each with an account manager and marked objects --------------------


@dataclass
class Side:
    """One tenant (conftest's ``make_tenant``) plus what the matrix adds: an account manager
    assigned only to it (with a staff key), and unique markers in the names of its objects."""

    label: str
    tenant: Any
    manager: User
    manager_key: APIKey
    manager_secret: str
    marker: str  # in names of the tenant's own objects: no other tenant's actor may see it
    node_marker: str  # in its node's name: hidden from other clients, not from operator staff
    operator: User = field(init=False)  # a warehouse operator who works at the tenant's node only
    stock: Stock = field(init=False)
    orders: list[Order] = field(init=False)  # allocated, on hold (unknown SKU), cancelled
    shopify: ShopifyConnection = field(init=False)
    webhook: WebhookSubscription = field(init=False)
    floor: Floor = field(init=False)  # a wave picked and an order packed at its node
    shipping: Shipping = field(init=False)  # parcels labelled, manifested and tracked
    qbr_report: QBRReport = field(init=False)  # a QBR with notes and an action item
    qbr_item: QBRActionItem = field(init=False)
    exports: dict[tuple[str, int], int] = field(init=False)  # requester -> their export job
    snapshot_query: tuple[str, list] | None = field(default=None, init=False, repr=False)

    @property
    def client(self) -> Client:
        return self.tenant.client

    @property
    def warehouse(self) -> Warehouse:
        return self.tenant.warehouse

    def private_markers(self) -> set[str]:
        t = self.tenant
        return {
            self.marker,
            t.client.slug,
            t.admin.email,
            t.user.email,
            self.manager.email,
            t.key.prefix,
            t.ro_key.prefix,
            self.manager_key.prefix,
            f"key of {self.label}",
        }


def build_side(tenant, label: str) -> Side:
    system = Actor.system("tenancy matrix")
    marker, node_marker = f"mx{uuid.uuid4().hex[:12]}", f"nd{uuid.uuid4().hex[:12]}"
    manager = UserFactory(
        role=Role.ACCOUNT_MANAGER,
        client=None,
        email=f"manager-{tenant.client.slug}@example.test",
        password=None,
    )
    services.client_update(
        actor=system, client=tenant.client, name=f"Tenant {label} {marker}", account_manager_ids=[manager.pk]
    )
    services.user_update(actor=system, user=tenant.user, full_name=f"Person of {label} {marker}")
    services.warehouse_update(
        actor=system,
        warehouse=tenant.warehouse,
        name=f"Node of {label} {node_marker}",
        closures=[{"date": date(2031, 1, 3), "reason": f"Closed {node_marker}"}],
    )
    manager_key, manager_secret = make_api_key(staff_user=manager, name=f"staff key of {label} {marker}")
    side = Side(label, tenant, manager, manager_key, manager_secret, marker, node_marker)
    side.operator = UserFactory(
        role=Role.WAREHOUSE_OPERATOR, client=None, email=f"operator-{tenant.client.slug}@example.test"
    )
    side.operator.warehouses.add(tenant.warehouse)
    side.stock = build_stock(side)
    build_orders(side)
    seed_carriers()  # carriers are shared by every tenant (idempotent)
    seed_boxes(side.warehouse)
    side.floor = build_floor(side)
    side.shipping = build_shipping(side)
    build_webhooks(side)
    build_qbr_and_exports(side)
    build_alerts(side)
    return side


def build_alerts(side: Side) -> None:
    """Alerts opened by the sweeps: a late order (shown to the brand) and the same order at risk
    before (staff only, resolved), with a comment and an override of one rule."""
    from reporting.alert_services import alert_comment, rule_setting_update
    from tests.reporting.alert_support import open_alerts

    system = Actor.system("tenancy matrix")
    alerts = open_alerts(side.client, side.warehouse, node=side.stock.node)
    alert_comment(actor=system, alert=alerts[0], body=f"Comment {side.marker}")
    rule_setting_update(actor=system, client=side.client, rule="asn_overdue", threshold=2)


def _alerts_of(side: Side) -> list[int]:
    """The tenant's alerts, the brand-visible ones first (B's actors must reach B's first)."""
    rows = Alert.objects.filter(client=side.client).order_by("-client_visible", "pk")
    return list(rows.values_list("pk", flat=True))


def build_qbr_and_exports(side: Side) -> None:
    """A QBR (notes and an action item, through the services) and an export job for each of the
    tenant's people and keys: a job is its requester's own, nobody else's (read-only keys cannot
    ask for one, so theirs is written directly)."""
    from reporting import export_services, qbr_services

    system = Actor.system("tenancy matrix")
    args = {"client": side.client, "year": 2026, "quarter": 1}
    side.qbr_report = qbr_services.qbr_notes_update(actor=system, notes=f"Notes {side.marker}", **args)
    side.qbr_item = qbr_services.qbr_action_item_create(actor=system, text=f"Action {side.marker}", **args)
    t, side.exports = side.tenant, {}
    for key, actor in (
        (("user", t.admin.pk), Actor.for_user(t.admin)),
        (("user", t.user.pk), Actor.for_user(t.user)),
        (("user", side.manager.pk), Actor.for_user(side.manager)),
        (("key", t.key.pk), Actor.for_api_key(t.key)),
    ):
        job = export_services.export_job_create(
            actor=actor,
            kind="orders",
            start=date(2026, 1, 1),
            end=date(2026, 1, 31),
            client_ids=[side.client.pk],
        )
        side.exports[key] = job.pk
    side.exports[("key", t.ro_key.pk)] = ExportJob.objects.create(
        kind="orders",
        params={"clients": [side.client.pk], "from": "2026-01-01", "to": "2026-01-31"},
        actor_api_key=t.ro_key,
        actor_label=f"read-only key of {side.label}",
    ).pk


def _own_export(side: Side, actor: Actor) -> int:
    return side.exports[("user", actor.user.pk) if actor.user else ("key", actor.api_key.pk)]


def build_webhooks(side: Side) -> None:
    """A subscription with a delivery of one of the tenant's events; the events (order.created...,
    asn.arrived... written by the services above) are made older than the feed's settle window."""
    side.webhook = WebhookSubscription.objects.create(
        client=side.client, url=f"https://example.com/{side.marker}", description=f"Hook {side.marker}"
    )
    Event.objects.filter(client=side.client).update(created_at=F("created_at") - timedelta(minutes=1))
    WebhookDelivery.objects.create(
        client=side.client, subscription=side.webhook, event=Event.objects.filter(client=side.client).first()
    )


def _ship_to(side: Side) -> dict[str, str]:
    return {
        "ship_to_name": f"Buyer {side.marker}",
        "ship_to_address1": "1 Main St",
        "ship_to_city": "Hoboken",
        "ship_to_state": "NJ",
        "ship_to_zip": "07030",
    }


def _allocated_order(side: Side, kind: str) -> Order:
    """One unit of the tenant's plain item, ordered and allocated through the services."""
    system = Actor.system("tenancy matrix")
    order = order_services.order_create(
        actor=system,
        client=side.client,
        external_reference=f"{side.label}-{kind}-{uuid.uuid4().hex[:8].upper()}",
        lines=[{"sku": side.stock.plain.sku, "quantity": 1}],
        ship_to=_ship_to(side),
    )
    order_allocation.allocate(actor=system, order=order)
    return order


@dataclass
class Shipping:
    labelled: Shipment  # a label bought, waiting at the dock
    shipped: Shipment  # handed over on a manifest, with a carrier tracking event
    manifest: Manifest


def build_shipping(side: Side) -> Shipping:
    """A tenant's parcels, through the services: one order labelled and manifested (shipped, then
    tracked), one labelled and waiting for pickup."""
    from reporting.services import order_error_record
    from shipments.services.shipping import buy_label, manifest_close
    from shipments.services.tracking import record_tracking_event
    from tests.shipments.factories import pack_order

    system = Actor.system("tenancy matrix")

    def labelled() -> Shipment:
        order = _allocated_order(side, "SHIP")
        return buy_label(actor=system, shipment=pack_order(order, side.stock.node))

    shipped = labelled()
    manifest = manifest_close(actor=system, warehouse=side.warehouse, carrier=shipped.carrier)
    shipped = Shipment.objects.get(pk=shipped.pk)
    record_tracking_event(
        actor=system,
        shipment=shipped,
        status="in_transit",
        occurred_at=shipped.shipped_at,
        location=f"Hub {side.marker}",
        source="carrier",
        external_id=f"evt-{side.marker}",
    )
    # A fulfillment error recorded against the shipped order (the order-errors collection).
    order_error_record(actor=system, order=shipped.order, kind="mis_pick", note=f"Error {side.marker}")
    return Shipping(labelled=labelled(), shipped=shipped, manifest=manifest)


@dataclass
class Floor:
    wave: Wave
    picks: list[int]
    shipment: Shipment  # packed, waiting for its label: a pack session
    packages: list[int]


def build_floor(side: Side) -> Floor:
    """A tenant's floor work, through the services: an order of its plain item waved, picked and
    packed at its node."""
    from tests.shipments.factories import pack_order

    order = _allocated_order(side, "FLOOR")
    shipment = pack_order(order, side.stock.node)
    picks = PickTask.objects.filter(order=order).order_by("pk")
    return Floor(
        wave=picks[0].wave,
        picks=list(picks.values_list("pk", flat=True)),
        shipment=shipment,
        packages=list(Package.objects.filter(shipment=shipment).values_list("pk", flat=True)),
    )


def build_orders(side: Side) -> None:
    """A tenant's orders, built through the services: one allocated from its stock, one on an
    exception hold for an unknown SKU, one cancelled; and its Shopify store connection."""
    system = Actor.system("tenancy matrix")
    marker, u = side.marker, uuid.uuid4().hex[:8].upper()
    ship_to = _ship_to(side)

    def create(reference: str, lines: list[dict]) -> Order:
        return order_services.order_create(
            actor=system,
            client=side.client,
            external_reference=reference,
            lines=lines,
            ship_to=ship_to,
            notes=f"Order {marker}",
        )

    allocated = create(f"{side.label}-ORD-{u}", [{"sku": side.stock.plain.sku, "quantity": 2}])
    order_allocation.allocate(actor=system, order=allocated)
    held = create(f"{side.label}-HELD-{u}", [{"sku": f"GHOST-{marker}", "quantity": 1}])
    cancelled = create(f"{side.label}-CXL-{u}", [{"sku": side.stock.kit.sku, "quantity": 1}])
    order_services.order_cancel(actor=system, order=cancelled, reason=f"Cancelled {marker}")
    side.orders = [Order.objects.get(pk=o.pk) for o in (allocated, held, cancelled)]
    side.shopify = ShopifyConnection.objects.create(
        client=side.client, shop_domain=f"{marker}.myshopify.com", webhook_secret=f"secret-{marker}"
    )


@dataclass
class Stock:
    """A tenant's inventory, built through the services: items (one with a barcode, a kit, a
    lot-tracked one), bins at its node and at a second node, stock in a bin, an adjustment, a
    transfer in transit and a received one, ASNs (submitted with a milestone, arrived with a
    receipt, received and put away) and a cycle count at its node."""

    node: Node
    second_node: Node
    plain: Item
    kit: Item
    lot_item: Item
    balance: Balance  # the plain item's units in a pick bin
    lot_balance: Balance
    submitted_asn: ASN
    receiving_asn: ASN
    receiving_line: ASNLine
    transfer: Transfer
    count: CycleCount

    @property
    def nodes(self) -> list[Warehouse]:
        return [self.node.warehouse, self.second_node.warehouse]


def build_stock(side: Side) -> Stock:
    system = Actor.system("tenancy matrix")
    client, marker, u = side.client, side.marker, uuid.uuid4().hex[:8].upper()
    node = make_node(side.warehouse)
    second = WarehouseFactory(name=f"Second node of {side.label} {side.node_marker}")
    client.warehouses.add(second)
    second_node = make_node(second)
    plain = make_item(client, f"{side.label}-PLAIN-{u}", barcode=f"0{u}", name=f"Plain {marker}")
    part = make_item(client, f"{side.label}-PART-{u}", name=f"Part {marker}")
    kit = inventory_services.item_create(
        actor=system,
        client=client,
        sku=f"{side.label}-KIT-{u}",
        name=f"Kit {marker}",
        is_kit=True,
        components=[{"sku": plain.sku, "quantity": 2}, {"sku": part.sku, "quantity": 1}],
    )
    lot_item = make_item(client, f"{side.label}-LOT-{u}", name=f"Lot item {marker}", lot_tracked=True)
    stock(client, node, plain, 10)
    stock(client, node, part, 4, location=node.bins[1])
    lot_asn = inventory_services.asn_create(
        actor=system,
        client=client,
        warehouse=node.warehouse,
        lines=[{"item": lot_item, "expected_quantity": 6, "lot_code": f"LOT{marker}"}],
        submit=True,
        sender=f"Vendor {marker}",
    )
    inventory_services.asn_arrive(actor=system, asn=lot_asn)
    lot_line = lot_asn.lines.get()
    inventory_services.asn_receive(actor=system, asn=lot_asn, line=lot_line, quantity=6)
    inventory_services.asn_putaway(
        actor=system, asn=lot_asn, line=lot_line, to_location=node.reserve[0], quantity=6
    )
    inventory_services.asn_close(actor=system, asn=lot_asn, notes={lot_line.pk: f"All good {marker}"})
    inventory_services.stock_adjust(
        actor=system,
        client=client,
        item=plain,
        location=node.bins[2],
        quantity=2,
        code="found",
        note=f"Found {marker}",
    )
    balance = Balance.objects.get(client=client, item=plain, location=node.bins[0])
    received = inventory_services.transfer_dispatch(
        actor=system, balance=balance, to_warehouse=second, quantity=1, reference=f"T1 {marker}"
    )
    inventory_services.transfer_receive(actor=system, transfer=received)
    transfer = inventory_services.transfer_dispatch(
        actor=system, balance=balance, to_warehouse=second, quantity=1, reference=f"T2 {marker}"
    )
    submitted = inventory_services.asn_create(
        actor=system,
        client=client,
        warehouse=node.warehouse,
        lines=[{"item": plain, "expected_quantity": 5}],
        submit=True,
        reference=f"PO-{u}",
        notes=f"Coming {marker}",
    )
    inventory_services.asn_add_milestone(actor=system, asn=submitted, kind="booked", note=f"Booked {marker}")
    receiving = inventory_services.asn_create(
        actor=system,
        client=client,
        warehouse=node.warehouse,
        lines=[{"item": plain, "expected_quantity": 8}, {"item": part, "expected_quantity": 2}],
        submit=True,
        sender=f"Vendor {marker}",
    )
    inventory_services.asn_arrive(actor=system, asn=receiving)
    receiving_line = receiving.lines.order_by("pk").first()
    inventory_services.asn_receive(
        actor=system, asn=receiving, line=receiving_line, quantity=3, session=f"S {marker}"
    )
    count = inventory_services.count_create(
        actor=system, warehouse=node.warehouse, locations=[node.bins[0]], reason=f"Count {side.node_marker}"
    )
    return Stock(
        node=node,
        second_node=second_node,
        plain=plain,
        kit=kit,
        lot_item=lot_item,
        balance=Balance.objects.get(pk=balance.pk),
        lot_balance=Balance.objects.get(client=client, item=lot_item, location=node.reserve[0]),
        submitted_asn=submitted,
        receiving_asn=receiving,
        receiving_line=receiving_line,
        transfer=transfer,
        count=count,
    )


# --- the registry: how to find a tenant's objects in each collection ----------------------------


@dataclass(frozen=True)
class Collection:
    """How the matrix finds one tenant's objects in a collection.

    ``objects``: ids of the tenant's objects to try on the collection's object paths (the first
    one also stands for the parent in nested paths, and is B's object that B must reach).
    ``all_ids``: every id of the tenant's objects, none of which may appear in another tenant's
    list (default: ``objects``). ``staff_see_all``: operator-owned rows (nodes) that staff roles see
    whatever their clients; only client actors must not see another client's. ``node_bound``: of
    those, a warehouse operator sees only the rows of the nodes they work at.
    """

    objects: Callable[[Side], list[int | str]]
    all_ids: Callable[[Side], set] | None = None
    staff_see_all: bool = False
    node_bound: bool = False
    shared: bool = False  # operator data every role reads alike (carriers): no tenant owns it
    query: tuple[tuple[str, str], ...] = ()  # parameters a request without them is refused (a report's dates)
    # Rows owned by the person or key that made them (export jobs): B's own object for this actor.
    mine: Callable[[Side, Actor], int | str] | None = None

    def first(self, side: Side) -> int | str:
        return self.objects(side)[0]

    def ids(self, side: Side) -> set:
        return self.all_ids(side) if self.all_ids else set(self.objects(side))


def _users_of(side: Side) -> set[int]:
    return set(
        User.objects.filter(Q(client=side.client) | Q(pk=side.manager.pk)).values_list("pk", flat=True)
    )


def _keys_of(side: Side) -> set[int]:
    keys = APIKey.all_objects.filter(Q(client=side.client) | Q(staff_user=side.manager))
    return set(keys.values_list("pk", flat=True))


def _audit_events_of(side: Side) -> set[int]:
    return set(AuditEvent.objects.filter(client=side.client).values_list("pk", flat=True))


def _items_of(side: Side) -> set[int]:
    return set(Item.objects.filter(client=side.client).values_list("pk", flat=True))


def _balances_of(side: Side) -> set[int]:
    return set(Balance.objects.filter(client=side.client).values_list("pk", flat=True))


def _moves_of(side: Side) -> set[int]:
    return set(Move.objects.filter(client=side.client).values_list("pk", flat=True))


def _transfers_of(side: Side) -> set[int]:
    return set(Transfer.objects.filter(client=side.client).values_list("pk", flat=True))


def _asns_of(side: Side) -> set[int]:
    return set(ASN.objects.filter(client=side.client).values_list("pk", flat=True))


def _locations_of(side: Side) -> set[int]:
    return set(Location.objects.filter(warehouse__in=side.stock.nodes).values_list("pk", flat=True))


def _counts_of(side: Side) -> set[int]:
    return set(CycleCount.objects.filter(warehouse__in=side.stock.nodes).values_list("pk", flat=True))


def _events_of(side: Side) -> list[str]:
    events = Event.objects.filter(client=side.client).order_by("pk")
    return [f"evt_{pk}" for pk in events.values_list("pk", flat=True)]


def _orders_of(side: Side) -> set[int]:
    return set(Order.objects.filter(client=side.client).values_list("pk", flat=True))


# Keyed by the path up to a path parameter ("/api/v1/orders/{id}/lines/" for a nested one).
COLLECTIONS: dict[str, Collection] = {
    "/api/v1/clients/": Collection(lambda s: [s.client.pk]),
    "/api/v1/warehouses/": Collection(lambda s: [s.warehouse.pk], staff_see_all=True, node_bound=True),
    "/api/v1/users/": Collection(
        lambda s: [s.tenant.user.pk, s.tenant.admin.pk, s.manager.pk], all_ids=_users_of
    ),
    "/api/v1/api-keys/": Collection(lambda s: [s.tenant.key.pk, s.manager_key.pk], all_ids=_keys_of),
    "/api/v1/audit-events/": Collection(lambda s: [min(_audit_events_of(s))], all_ids=_audit_events_of),
    # Inventory: the client's own rows, except bins and counts (operator-owned, see below).
    "/api/v1/items/": Collection(
        lambda s: [s.stock.plain.pk, s.stock.kit.pk, s.stock.lot_item.pk], all_ids=_items_of
    ),
    "/api/v1/inventory/": Collection(
        lambda s: [s.stock.balance.pk, s.stock.lot_balance.pk], all_ids=_balances_of
    ),
    "/api/v1/inventory/moves/": Collection(
        lambda s: [max(_moves_of(s)), min(_moves_of(s))], all_ids=_moves_of
    ),
    "/api/v1/inventory/adjustments/": Collection(lambda s: sorted(_moves_of(s))[:1]),
    "/api/v1/inventory/relocations/": Collection(lambda s: sorted(_moves_of(s))[:1]),
    "/api/v1/inventory/transfers/": Collection(lambda s: [s.stock.transfer.pk], all_ids=_transfers_of),
    "/api/v1/asns/": Collection(
        lambda s: [s.stock.receiving_asn.pk, s.stock.submitted_asn.pk], all_ids=_asns_of
    ),
    # A bin holds many clients' stock and a count covers bins: both belong to the operator. Client
    # roles have no LOCATION_VIEW/COUNT (403 whatever the id); staff see every node's bins, like nodes.
    "/api/v1/locations/": Collection(
        lambda s: [s.stock.node.bins[0].pk, s.stock.node.dock.pk],
        all_ids=_locations_of,
        staff_see_all=True,
        node_bound=True,
    ),
    "/api/v1/cycle-counts/": Collection(
        lambda s: [s.stock.count.pk], all_ids=_counts_of, staff_see_all=True, node_bound=True
    ),
    "/api/v1/orders/": Collection(lambda s: [o.pk for o in s.orders], all_ids=_orders_of),
    "/api/v1/shopify-connections/": Collection(lambda s: [s.shopify.pk]),
    # Subscriptions (their deliveries are nested under them) and the events feed, whose rows are
    # the webhook bodies: ``id`` is ``evt_<id>``.
    "/api/v1/webhooks/": Collection(lambda s: [s.webhook.pk]),
    "/api/v1/events/": Collection(lambda s: _events_of(s)[:1], all_ids=lambda s: set(_events_of(s))),
    # The floor: a wave holds many brands' orders but is seen only at its node (operators working
    # there, account managers of clients served there); picks, pack sessions and packages are the
    # client's rows.
    "/api/v1/waves/": Collection(lambda s: [s.floor.wave.pk]),
    "/api/v1/picks/": Collection(lambda s: s.floor.picks),
    "/api/v1/pack-sessions/": Collection(lambda s: [s.floor.shipment.pk]),
    "/api/v1/packages/": Collection(lambda s: s.floor.packages),
    # Carriers and their services are operator data every role reads; a box catalog belongs to a
    # node (seen like the node: staff every node, a client its own nodes).
    "/api/v1/carriers/": Collection(lambda s: [c.pk for c in Carrier.objects.order_by("pk")], shared=True),
    "/api/v1/services/": Collection(
        lambda s: list(CarrierService.objects.order_by("pk").values_list("pk", flat=True)[:3]), shared=True
    ),
    "/api/v1/rate-quotes/": Collection(lambda s: [], shared=True),
    # Shipments are the client's; a manifest (one carrier's parcels at one node, every brand's)
    # is the operator's, seen like its node.
    "/api/v1/shipments/": Collection(
        lambda s: [s.shipping.shipped.pk, s.shipping.labelled.pk, s.floor.shipment.pk],
        all_ids=lambda s: set(Shipment.objects.filter(client=s.client).values_list("pk", flat=True)),
    ),
    "/api/v1/manifests/": Collection(lambda s: [s.shipping.manifest.pk], staff_see_all=True, node_bound=True),
    # KPI reports are computed, not stored: no object of A to find, only numbers that must not leak
    # (B naming A's client is a 400, like a missing one). Order errors are the client's rows.
    "/api/v1/reports/": Collection(lambda s: [], query=(("from", "2026-01-01"), ("to", "2026-01-31"))),
    "/api/v1/order-errors/": Collection(
        lambda s: list(OrderError.objects.filter(client=s.client).order_by("pk").values_list("pk", flat=True))
    ),
    # A QBR report and its action items are the client's; an export job is its requester's alone.
    "/api/v1/qbrs/": Collection(lambda s: [s.qbr_report.pk]),
    "/api/v1/qbr-action-items/": Collection(lambda s: [s.qbr_item.pk]),
    "/api/v1/exports/": Collection(lambda s: sorted(s.exports.values()), mine=_own_export),
    # Alerts are the client's (a brand sees its visible ones only); a client's rules are nested
    # under it and named by the rule.
    "/api/v1/alerts/": Collection(_alerts_of),
    "/api/v1/clients/{client_pk}/alert-rules/": Collection(lambda s: ["order_late", "asn_overdue"]),
    "/api/v1/box-types/": Collection(
        lambda s: list(
            BoxType.objects.filter(warehouse=s.warehouse).order_by("pk").values_list("pk", flat=True)
        ),
        staff_see_all=True,
        node_bound=True,
    ),
}

REGISTER_HINT = (
    "register it in COLLECTIONS in tests/tenancy/test_matrix.py: a function that returns the "
    "tenant's object ids in this collection (create the objects in build_side if the tenant has none)"
)


def _missing(value: Any) -> Any:
    """The same reference, to an object that does not exist."""
    if isinstance(value, list):
        return [_missing(v) for v in value]
    return MISSING_ID if isinstance(value, int) else value


@dataclass(frozen=True)
class Body:
    what: str
    to_a: dict  # refers to A's objects
    to_missing: dict  # the same references, to ids that do not exist
    refers_to: frozenset[str]  # the COLLECTIONS the references point into


def write_bodies(a: Side, b: Side | None = None) -> list[Body]:
    """Plausible bodies that point at A's objects: all references at once, and each alone (so a
    rejected reference does not hide what another one would do). Fresh e-mails, slugs and SKUs,
    so a body that B may legitimately post never collides with an earlier one; B's own node (when
    given) so that B's writes get past "which node" to the reference under test."""

    def base() -> dict:
        u = uuid.uuid4().hex[:10]
        return {
            "name": f"leak {u}",
            "full_name": f"leak {u}",
            "email": f"leak-{u}@example.test",
            "slug": f"leak-{u}",
            "role": Role.CLIENT_USER.value,
            "scope": "read_write",
            "sku": f"LEAK-{u}",
            "is_kit": True,
            "quantity": 1,
            "expected_quantity": 1,
            "counted_quantity": 1,
            "note": f"leak {u}",
            "kind": "departed_origin",
            **({"warehouse": b.warehouse.pk} if b else {}),
        }

    def ref(key: str, value: Any, missing: Any = None) -> tuple[str, Any, Any]:
        return key, value, _missing(value) if missing is None else missing

    st, nowhere = a.stock, f"NOWHERE-{uuid.uuid4().hex[:8]}"
    references = {  # field -> (the collection it points into, A's value, the same to nothing)
        "client": ref("/api/v1/clients/", a.client.pk),
        "staff_user": ref("/api/v1/users/", a.manager.pk),
        "warehouses": ref("/api/v1/warehouses/", [a.warehouse.pk]),
        "account_managers": ref("/api/v1/users/", [a.manager.pk]),
        "warehouse": ref("/api/v1/warehouses/", a.warehouse.pk),
        "to_warehouse": ref("/api/v1/warehouses/", st.second_node.warehouse.pk),
        "item": ref("/api/v1/items/", st.plain.pk),
        "items": ref("/api/v1/items/", [st.plain.pk]),
        "code": ref("/api/v1/items/", st.plain.barcodes.get().code, nowhere),
        "components": ref(
            "/api/v1/items/", [{"sku": st.plain.sku, "quantity": 1}], [{"sku": nowhere, "quantity": 1}]
        ),
        "lines": ref(
            "/api/v1/items/",
            [{"sku": st.plain.sku, "expected_quantity": 1}],
            [{"sku": nowhere, "expected_quantity": 1}],
        ),
        "balance": ref("/api/v1/inventory/", st.balance.pk),
        "line": ref("/api/v1/asns/", st.receiving_line.pk),
        "location": ref("/api/v1/locations/", st.node.bins[0].pk),
        "locations": ref("/api/v1/locations/", [st.node.bins[0].pk]),
        "to_location": ref("/api/v1/locations/", st.node.bins[1].pk),
        "report": ref("/api/v1/qbrs/", a.qbr_report.pk),
    }
    variants = [("all references to A", references)]
    variants += [(f"{name}=A's", {name: r}) for name, r in references.items()]
    variants.append(("staff_user=A's client admin", {"staff_user": ref("/api/v1/users/", a.tenant.admin.pk)}))
    variants.append(("adjustment of A's SKU", {"sku": ref("/api/v1/items/", st.plain.sku, nowhere)}))
    return [
        Body(
            what,
            base() | {name: value for name, (_key, value, _none) in refs.items()},
            base() | {name: none for name, (_key, _value, none) in refs.items()},
            frozenset(key for key, _value, _none in refs.values()),
        )
        for what, refs in variants
    ]


def query_probes(a: Side) -> dict[str, Any]:
    """List filters that name A's objects: B's lists must come back without A's rows. A dict
    value narrows the filter with other parameters: a bare ``target_id`` may match B's own audit
    events about an object of another type that happens to have the same id."""
    st = a.stock
    return {
        "client": a.client.pk,
        "account_manager": a.manager.pk,
        "slug": a.client.slug,
        "q": a.client.slug,
        "email": a.tenant.admin.email,
        "target_id": {"target_type": APIKey._meta.label_lower, "target_id": a.tenant.key.pk},
        "item": st.plain.pk,
        "location": st.node.bins[0].pk,
        "sku": st.plain.sku,
        "barcode": st.plain.barcodes.get().code,
        "reference": st.submitted_asn.reference,
        "lot_code": st.lot_balance.lot_code,
        "document_id": str(st.receiving_asn.pk),
        "external_reference": a.orders[0].external_reference,
        "report": a.qbr_report.pk,
    }


def snapshot(a: Side) -> dict[str, str]:
    """Everything of A that B's actors must never change, new users and keys of A included (one
    query, compiled once per side: it runs after every write)."""
    if a.snapshot_query is None:
        a.snapshot_query = fingerprint_query(
            snapshot_querysets(a)
            | inventory_querysets(a)
            | order_querysets(a)
            | floor_querysets(a)
            | qbr_export_querysets(a)
        )
    with connection.cursor() as cursor:
        cursor.execute(*a.snapshot_query)
        return dict(cursor.fetchall())


def snapshot_querysets(a: Side) -> dict[str, QuerySet]:
    client, warehouse, manager = a.client, a.warehouse, a.manager
    users = User.objects.filter(Q(client=client) | Q(pk=manager.pk))
    managers, client_nodes = Client.account_managers.through.objects, Client.warehouses.through.objects
    operators = User.warehouses.through.objects
    return {
        "client": Client.objects.filter(pk=client.pk),
        "client.account_managers": managers.filter(client=client).values("client_id", "user_id"),
        "client.warehouses": client_nodes.filter(client=client).values("client_id", "warehouse_id"),
        "users": users,
        "users.warehouses": operators.filter(user__in=users).values("user_id", "warehouse_id"),
        "manager.managed_clients": managers.filter(user=manager).values("client_id", "user_id"),
        "api_keys": APIKey.all_objects.filter(Q(client=client) | Q(staff_user=manager)),
        "audit_events": AuditEvent.objects.filter(client=client),
        "warehouse": Warehouse.objects.filter(pk=warehouse.pk),
        "warehouse.closures": WarehouseClosure.objects.filter(warehouse=warehouse),
        "warehouse.clients": client_nodes.filter(warehouse=warehouse).values("client_id", "warehouse_id"),
        "warehouse.operators": operators.filter(warehouse=warehouse).values("user_id", "warehouse_id"),
    }


def inventory_querysets(a: Side) -> dict[str, QuerySet]:
    """A's catalog, stock, ledger, transfers and ASNs, and the bins and counts of A's nodes."""
    client, nodes = a.client, a.stock.nodes
    return {
        "items": Item.objects.filter(client=client),
        "items.barcodes": ItemBarcode.objects.filter(client=client),
        "items.components": KitComponent.objects.filter(client=client),
        "balances": Balance.objects.filter(client=client),
        "moves": Move.objects.filter(client=client),
        "transfers": Transfer.objects.filter(client=client),
        "asns": ASN.objects.filter(client=client),
        "asns.lines": ASNLine.objects.filter(client=client),
        "asns.events": ASNEvent.objects.filter(client=client),
        "asns.milestones": ASNMilestone.objects.filter(client=client),
        "asns.receipts": Receipt.objects.filter(client=client),
        "locations": Location.objects.filter(warehouse__in=nodes),
        "cycle_counts": CycleCount.objects.filter(warehouse__in=nodes),
        "cycle_counts.lines": CycleCountLine.objects.filter(Q(client=client) | Q(count__warehouse__in=nodes)),
    }


def order_querysets(a: Side) -> dict[str, QuerySet]:
    """A's orders with their lines, reservations, holds and events, and its Shopify connection."""
    client = a.client
    return {
        "orders": Order.objects.filter(client=client),
        "orders.lines": OrderLine.objects.filter(client=client),
        "orders.allocations": Allocation.objects.filter(client=client),
        "orders.holds": OrderHold.objects.filter(client=client),
        "orders.events": OrderEvent.objects.filter(client=client),
        "shopify_connection": ShopifyConnection.objects.filter(client=client),
        "events": Event.objects.filter(client=client),
        "webhooks": WebhookSubscription.objects.filter(client=client),
        "webhooks.deliveries": WebhookDelivery.objects.filter(client=client),
    }


def floor_querysets(a: Side) -> dict[str, QuerySet]:
    """A's waves, picks, short picks, shipments (pack sessions) and packages."""
    client = a.client
    return {
        "waves": Wave.objects.filter(warehouse__in=a.stock.nodes),
        "picks": PickTask.objects.filter(client=client),
        "short_picks": ShortPick.objects.filter(client=client),
        "shipments": Shipment.objects.filter(client=client),
        "packages": Package.objects.filter(client=client),
        "packages.lines": PackageLine.objects.filter(client=client),
        "tracking_events": TrackingEvent.objects.filter(client=client),
        "voided_labels": VoidedLabel.objects.filter(client=client),
        "manifests": Manifest.objects.filter(warehouse__in=a.stock.nodes),
    }


def qbr_export_querysets(a: Side) -> dict[str, QuerySet]:
    """A's QBR reports and action items, and the export jobs of A's people and keys."""
    return {
        "qbr_reports": QBRReport.objects.filter(client=a.client),
        "qbr_action_items": QBRActionItem.objects.filter(client=a.client),
        "export_jobs": ExportJob.objects.filter(pk__in=list(a.exports.values())),
        "alerts": Alert.objects.filter(client=a.client),
        "alert_comments": AlertComment.objects.filter(client=a.client),
        "alert_rules": AlertRuleSetting.objects.filter(client=a.client),
    }


def fingerprint_query(querysets: dict[str, QuerySet]) -> tuple[str, list]:
    """One query that answers (key, md5 of the rows of its queryset: every column, or the
    ``values()`` chosen): a change still names the key it is under."""
    parts, params = [], []
    for key, queryset in querysets.items():
        sql, query_params = queryset.order_by().query.sql_with_params()
        parts.append(
            f"SELECT %s, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ({sql}) t"
        )
        params += [key, *query_params]
    return " UNION ALL ".join(parts), params


# --- the actors of tenant B ---------------------------------------------------------------------


def _key_api(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def _session_api(user: User) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


ACTORS: dict[str, Callable[[Side], tuple[APIClient, Actor]]] = {
    "B's read-write key": lambda b: (_key_api(b.tenant.secret), Actor.for_api_key(b.tenant.key)),
    "B's read-only key": lambda b: (_key_api(b.tenant.ro_secret), Actor.for_api_key(b.tenant.ro_key)),
    "B's client admin (session)": lambda b: (_session_api(b.tenant.admin), Actor.for_user(b.tenant.admin)),
    "B's client user (session)": lambda b: (_session_api(b.tenant.user), Actor.for_user(b.tenant.user)),
    "B's account manager (session)": lambda b: (_session_api(b.manager), Actor.for_user(b.manager)),
    "B's account manager (staff key)": lambda b: (
        _key_api(b.manager_secret),
        Actor.for_api_key(b.manager_key),
    ),
}


# --- the schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    path_params: tuple[tuple[str, dict], ...]  # (name, JSON schema), in path order
    query_params: frozenset[str]

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def schema_operations() -> list[Operation]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    operations = []
    for path, item in response.json()["paths"].items():
        shared = item.get("parameters", [])
        for method, spec in item.items():
            if method == "parameters":
                continue
            params = {(p["in"], p["name"]): p for p in [*shared, *spec.get("parameters", [])]}
            in_path = {name: p.get("schema", {}) for (where, name), p in params.items() if where == "path"}
            ordered = tuple(sorted(in_path.items(), key=lambda kv: path.index("{" + kv[0] + "}")))
            query = frozenset(name for where, name in params if where == "query")
            operations.append(Operation(path, method, ordered, query))
    return operations


def missing_value(param_schema: dict) -> int | str:
    if param_schema.get("type") == "integer":
        return MISSING_ID
    if param_schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return f"missing-{uuid.uuid4().hex[:8]}"


def answer(response) -> tuple[int, list[str]]:
    """What a caller learns from a response, besides the ids it sent: the status and the fields
    named in an error."""
    if getattr(response, "streaming", False):  # a streamed download (CSV) names no field
        return response.status_code, []
    try:
        fields = response.json()["error"]["fields"]
    except (ValueError, KeyError, TypeError):
        fields = {}
    return response.status_code, sorted(fields)


def list_rows(response) -> list | None:
    if getattr(response, "streaming", False):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    rows = data.get("results") if isinstance(data, dict) else data
    return rows if isinstance(rows, list) else None


def _body(response) -> bytes:
    """The response's bytes, of a streamed one (a CSV export) too: read once, then kept."""
    if not getattr(response, "streaming", False):
        return response.content
    if not hasattr(response, "matrix_body"):
        response.matrix_body = b"".join(response.streaming_content)
    return response.matrix_body


# --- the probe ----------------------------------------------------------------------------------


@dataclass
class Probe:
    """One actor of B, trying every operation on A; failures are collected, each naming the
    operation, the actor and the request."""

    a: Side
    b: Side
    actor_name: str
    api: APIClient
    actor: Actor
    failures: list[str] = field(default_factory=list)
    exercised: set[tuple[str, str]] = field(default_factory=set)
    baseline: dict = field(default_factory=dict)

    def fail(self, op: Operation, what: str, problem: str) -> None:
        self.failures.append(f"{op} as {self.actor_name} ({what}): {problem}")

    # What the actor may see and do --------------------------------------------------------------
    def markers(self, collections: list[Collection]) -> set[str]:
        markers = self.a.private_markers()
        if all(self.hidden_from_actor(c) for c in collections):
            markers.add(self.a.node_marker)
        return markers

    def own_first(self, collection: Collection) -> int | str:
        """B's object that this actor must reach (its own, in a collection of requesters' rows)."""
        return collection.mine(self.b, self.actor) if collection.mine else collection.first(self.b)

    def hidden_from_actor(self, collection: Collection) -> bool:
        """Whether A's objects in this collection are A's own as far as this actor is concerned."""
        if collection.shared:
            return False
        if self.actor.is_client or not collection.staff_see_all:
            return True
        return collection.node_bound and self.actor.role == Role.WAREHOUSE_OPERATOR

    def role_allows(self, method: str, url: str) -> bool:
        """Whether the actor's role may do this action at all: the view's ``perms`` map (action ->
        Perm, or a tuple of which one suffices), and read-only keys only read."""
        if self.actor.read_only and method.upper() not in SAFE_METHODS:
            return False
        try:
            view = resolve(url).func
        except Resolver404:
            return False
        perms = getattr(getattr(view, "cls", None), "perms", None)
        if perms is None:
            return True
        needed = perms.get((getattr(view, "actions", None) or {}).get(method))
        if isinstance(needed, Perm):
            needed = (needed,)
        return bool(needed) and any(self.actor.can(perm) for perm in needed)

    # One request, with the checks every request gets -------------------------------------------
    def send(
        self,
        op: Operation,
        url: str,
        what: str,
        *,
        collections: list[Collection],
        body: dict | None = None,
        query: dict | None = None,
        echoed: frozenset[str] = frozenset(),
    ):
        try:
            if op.method == "get":
                response = self.api.get(url, query or {})
            else:
                response = getattr(self.api, op.method)(url, body or {}, format="json")
        except Exception as exc:  # a 500 re-raised by the test client: report it with the others
            self.fail(op, what, f"raised {exc.__class__.__name__}: {exc}")
            return None
        if response.status_code >= 500:
            self.fail(op, what, f"answered {response.status_code}")
        text = _body(response).decode("utf-8", "replace")
        if leaked := sorted(m for m in self.markers(collections) - echoed if m in text):
            self.fail(op, what, f"response ({response.status_code}) contains A's {leaked}: {text[:300]}")
        if op.method != "get":
            self.check_nothing_written(f"{op} as {self.actor_name} ({what}, answered {response.status_code})")
        return response

    def check_nothing_written(self, by: str) -> None:
        now = snapshot(self.a)
        if now != self.baseline:
            changed = sorted(k for k in now if now[k] != self.baseline[k])
            self.failures.append(f"{by}: wrote to A: {changed} changed")
            self.baseline = now

    # Operations ---------------------------------------------------------------------------------
    def collections_of(self, op: Operation) -> list[Collection] | None:
        """The registered collection of each path parameter (or, without any, of the path)."""
        if not op.path_params:
            keys = [k for k in COLLECTIONS if op.path.startswith(k)]
            if not keys:
                self.fail(
                    op, "collection", f"no collection for {op.path!r} in the tenancy matrix; {REGISTER_HINT}"
                )
                return None
            return [COLLECTIONS[max(keys, key=len)]]
        collections = []
        for name, _schema in op.path_params:
            key = op.path[: op.path.index("{" + name + "}")]
            if key not in COLLECTIONS:
                self.fail(op, f"{{{name}}}", f"no collection {key!r} in the tenancy matrix; {REGISTER_HINT}")
                return None
            collections.append(COLLECTIONS[key])
        return collections

    def exercise(self, op: Operation) -> None:
        if op.method not in HTTP_METHODS:
            return  # reported as not exercised
        collections = self.collections_of(op)
        if collections is None:
            return
        if op.path_params:
            self.object_operation(op, collections)
        elif op.method == "get":
            self.list_operation(op, collections[0], own_list=op.path in COLLECTIONS)
        else:
            self.collection_write(op, collections[0])
        self.exercised.add((op.path, op.method))

    def url(self, op: Operation, values: list) -> str:
        url = op.path
        for (name, _schema), value in zip(op.path_params, values, strict=True):
            url = url.replace("{" + name + "}", str(value))
        return url

    def object_operation(self, op: Operation, collections: list[Collection]) -> None:
        parents = [c.first(self.a) for c in collections[:-1]]
        a_urls = [self.url(op, [*parents, obj]) for obj in collections[-1].objects(self.a)]
        missing_url = self.url(op, [missing_value(schema) for _name, schema in op.path_params])
        hidden = any(self.hidden_from_actor(c) for c in collections)
        allowed = self.role_allows(op.method, missing_url)
        if op.method == "get":
            bodies = [("no body", None)]
        else:
            bodies = [("empty body", {}), ("body referring to A", write_bodies(self.a, self.b)[0].to_a)]
        for what, body in bodies:
            on_missing = self.send(op, missing_url, f"missing id, {what}", collections=collections, body=body)
            for a_url in a_urls:
                where = f"A's {a_url}, {what}"
                on_a = self.send(op, a_url, where, collections=collections, body=body)
                if not hidden or on_a is None:
                    continue
                if on_missing is not None and answer(on_a) != answer(on_missing):
                    self.fail(
                        op,
                        where,
                        f"A's object answers {answer(on_a)}, a missing id {answer(on_missing)}: "
                        "its existence is revealed",
                    )
                if on_a.status_code not in ANSWERS_HIDING_AN_OBJECT:
                    self.fail(op, where, f"A's object answers {on_a.status_code}, not 403/404/405")
                elif allowed and on_a.status_code != 404:
                    self.fail(
                        op,
                        where,
                        f"the role may do this, so A's object must be a 404, not {on_a.status_code}",
                    )
        # Positive control: the actor reaches B's own object, so the 404s above are tenancy at work.
        is_detail = op.path.endswith("{" + op.path_params[-1][0] + "}/")
        if op.method == "get" and is_detail and allowed:
            b_url = self.url(op, [self.own_first(c) for c in collections])
            on_b = self.send(op, b_url, "B's own object", collections=collections)
            if on_b is not None and on_b.status_code != 200:
                self.fail(
                    op, b_url, f"B's own object answers {on_b.status_code}, not 200 (is the registry right?)"
                )

    def list_operation(self, op: Operation, collection: Collection, *, own_list: bool) -> None:
        allowed = self.role_allows(op.method, op.path)
        page = {"page_size": settings.API_MAX_PAGE_SIZE} if "page_size" in op.query_params else {}
        page |= dict(collection.query)
        probes = [("no filter", {})]
        probes += [
            (f"?{k}=A's", v if isinstance(v, dict) else {k: v})
            for k, v in query_probes(self.a).items()
            if k in op.query_params
        ]
        for what, query in probes:
            echoed = frozenset(str(v) for v in query.values())  # the caller's own input is no leak
            response = self.send(
                op, op.path, what, collections=[collection], query=page | query, echoed=echoed
            )
            if response is None:
                continue
            expected = {200} if allowed else ANSWERS_HIDING_AN_OBJECT
            if response.status_code not in expected:
                self.fail(op, what, f"answered {response.status_code}, expected one of {sorted(expected)}")
            rows = list_rows(response) if response.status_code == 200 and own_list else None
            if rows is None:
                continue
            ids = {row.get("id") for row in rows if isinstance(row, dict)}
            if self.hidden_from_actor(collection) and (shown := ids & collection.ids(self.a)):
                self.fail(op, what, f"lists A's objects {sorted(shown)}")
            if not query and self.own_first(collection) not in ids:
                self.fail(
                    op, what, "does not list B's own object, so proves nothing (is the registry right?)"
                )

    def collection_write(self, op: Operation, collection: Collection) -> None:
        for body in write_bodies(self.a, self.b):
            self.send(op, op.path, body.what, collections=[collection], body=body.to_a)

    # Existence oracles: a reference to A's object must answer like one to a missing object ------
    def filter_oracle(self, op: Operation) -> None:
        for name, value in query_probes(self.a).items():
            query = value if isinstance(value, dict) else {name: value}
            if name not in op.query_params or not isinstance(query[name], int):
                continue
            on_a, on_missing = self.api.get(op.path, query), self.api.get(op.path, query | {name: MISSING_ID})
            seen = [(r.status_code, len(list_rows(r) or [])) for r in (on_a, on_missing)]
            if seen[0] != seen[1]:
                self.fail(
                    op,
                    f"?{name}=",
                    f"filtered on A's id answers (status, rows) {seen[0]}, on a missing id {seen[1]}: "
                    "its existence is revealed",
                )

    def body_oracle(self, op: Operation) -> None:
        for body in write_bodies(self.a, self.b):
            if not all(self.hidden_from_actor(COLLECTIONS[key]) for key in body.refers_to):
                continue  # e.g. nodes: staff may know every node
            on_a = getattr(self.api, op.method)(op.path, body.to_a, format="json")
            on_missing = getattr(self.api, op.method)(op.path, body.to_missing, format="json")
            if answer(on_a) != answer(on_missing):
                self.fail(
                    op,
                    body.what,
                    f"referring to A's objects answers {answer(on_a)}, to missing ones "
                    f"{answer(on_missing)}: their existence is revealed",
                )


def make_probe(actor_name: str, tenant_a, tenant_b) -> Probe:
    a, b = build_side(tenant_a, "A"), build_side(tenant_b, "B")
    api, actor = ACTORS[actor_name](b)
    return Probe(a=a, b=b, actor_name=actor_name, api=api, actor=actor, baseline=snapshot(a))


def _actor_id(name: str) -> str:
    return name.removeprefix("B's ").replace(" (", "-").replace(")", "").replace(" ", "-")


@pytest.mark.parametrize("actor_name", list(ACTORS), ids=_actor_id)
def test_tenant_b_actors_never_see_nor_change_tenant_a(actor_name, tenant_a, tenant_b):
    probe = make_probe(actor_name, tenant_a, tenant_b)
    operations = schema_operations()

    for op in operations:
        probe.exercise(op)
    probe.check_nothing_written("the GET operations (writes are checked one by one)")

    reported = {f.split(" as ", 1)[0] for f in probe.failures}
    for op in operations:
        if (op.path, op.method) not in probe.exercised and str(op) not in reported:
            probe.failures.append(f"{op}: in the schema but not exercised by the matrix")
    paths = {op.path for op in operations}
    for key in COLLECTIONS:
        if not any(path.startswith(key) for path in paths):
            probe.failures.append(
                f"{key}: registered in COLLECTIONS but not in the schema (renamed? remove it)"
            )
    assert probe.exercised, "the schema lists no operation"
    assert not probe.failures, f"{len(probe.failures)} tenancy failures:\n" + "\n".join(probe.failures)


INVENTORY = tuple(
    key
    for key in COLLECTIONS
    if key.startswith(
        (
            "/api/v1/items/",
            "/api/v1/inventory/",
            "/api/v1/locations/",
            "/api/v1/cycle-counts/",
            "/api/v1/asns/",
        )
    )
)


def test_tenant_b_warehouse_operator_never_sees_nor_changes_tenant_a_inventory(tenant_a, tenant_b):
    """The role that adjusts, moves, receives, puts away and counts, working at B's node: every
    inventory operation, tried on A's node and A's stock, answers as if they did not exist (bins and
    counts of other nodes included), with the same existence oracles as the other actors."""
    a, b = build_side(tenant_a, "A"), build_side(tenant_b, "B")
    probe = Probe(
        a=a,
        b=b,
        actor_name="B's warehouse operator (session)",
        api=_session_api(b.operator),
        actor=Actor.for_user(b.operator),
        baseline=snapshot(a),
    )
    operations = [op for op in schema_operations() if op.path.startswith(INVENTORY)]
    assert operations
    for op in operations:
        probe.exercise(op)
        if not op.path_params and op.method == "get":
            probe.filter_oracle(op)
        elif not op.path_params:
            probe.body_oracle(op)
    probe.check_nothing_written("the operator's requests")
    missed = [str(op) for op in operations if (op.path, op.method) not in probe.exercised]
    assert not missed, missed
    assert not probe.failures, f"{len(probe.failures)} tenancy failures:\n" + "\n".join(probe.failures)


# Bins and counts belong to the operator (a bin holds many clients' stock). What each of B's actors
# gets on them: (the bin list, A's bin, the count list, A's count, whether A's bins are listed).
# Client roles hold neither LOCATION_VIEW nor COUNT: 403 whatever the id. Account managers see every
# node's bins (as they see every node) but do not count. A warehouse operator sees and counts at the
# nodes they work at only: A's bin and count are missing ids to them.
OPERATOR_OWNED = {
    "B's read-write key": (403, 403, 403, 403, False),
    "B's read-only key": (403, 403, 403, 403, False),
    "B's client admin (session)": (403, 403, 403, 403, False),
    "B's client user (session)": (403, 403, 403, 403, False),
    "B's account manager (session)": (200, 200, 403, 403, True),
    "B's account manager (staff key)": (200, 200, 403, 403, True),
    "B's warehouse operator (session)": (200, 404, 200, 404, False),
}


def test_bins_and_counts_are_operator_owned(tenant_a, tenant_b):
    a, b = build_side(tenant_a, "A"), build_side(tenant_b, "B")
    actors = ACTORS | {"B's warehouse operator (session)": lambda s: (_session_api(s.operator), None)}
    a_bin, a_count = a.stock.node.bins[0].pk, a.stock.count.pk
    page = {"page_size": settings.API_MAX_PAGE_SIZE}
    seen = {}
    for name, make in actors.items():
        api, _actor = make(b)
        bins, counts = api.get("/api/v1/locations/", page), api.get("/api/v1/cycle-counts/", page)
        listed = {row["id"] for row in list_rows(bins) or []} if bins.status_code == 200 else set()
        seen[name] = (
            bins.status_code,
            api.get(f"/api/v1/locations/{a_bin}/").status_code,
            counts.status_code,
            api.get(f"/api/v1/cycle-counts/{a_count}/").status_code,
            a_bin in listed,
        )
        if bins.status_code == 200:
            assert b.stock.node.bins[0].pk in listed, name
        if counts.status_code == 200:
            assert {row["id"] for row in list_rows(counts)} & _counts_of(a) == set(), name
    assert seen == OPERATOR_OWNED


ORACLES = ["list filters", "write bodies"]


@pytest.mark.parametrize("kind", ORACLES)
def test_references_to_tenant_a_answer_like_references_to_missing_ids(kind, tenant_a, tenant_b):
    """A list filtered on A's id, or a body naming A's objects, must answer exactly like one naming
    ids that do not exist (same status, same rows, same fields in error): else B learns which exist."""
    a, b = build_side(tenant_a, "A"), build_side(tenant_b, "B")
    operations = [op for op in schema_operations() if not op.path_params]
    failures = []
    for actor_name, make in ACTORS.items():
        api, actor = make(b)
        probe = Probe(a=a, b=b, actor_name=actor_name, api=api, actor=actor)
        for op in operations:
            if op.method == "get" and kind == "list filters":
                probe.filter_oracle(op)
            elif op.method != "get" and kind == "write bodies" and probe.collections_of(op):
                probe.body_oracle(op)
        failures += probe.failures
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("manager", [AuditEvent.objects, APIKey.objects], ids=["AuditEvent", "APIKey"])
def test_scoped_manager_fails_closed_outside_any_scope(db, manager):
    with scope(_enabled=True), pytest.raises(ScopeError):
        list(manager.all())
