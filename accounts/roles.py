"""What each role may see and do: one table, read by the API, the pages, the services and the tests.

Visibility (which clients' data a role sees) is the other half and lives in ``Actor.client_scope``:
operator admins see every client, account managers their assigned clients, warehouse operators the
clients served at their nodes, client roles their own client only.
"""

from enum import StrEnum

from .enums import Role


class Perm(StrEnum):
    CONSOLE = "console.use"  # the operator console pages
    PORTAL = "portal.use"  # the brand portal pages
    ADMIN_SITE = "admin.use"  # Django admin
    CLIENT_VIEW = "client.view"
    CLIENT_CREATE = "client.create"
    CLIENT_UPDATE = "client.update"  # profile, SLA settings, KPI targets, nodes
    CLIENT_ASSIGN = "client.assign"  # account managers of a client
    WAREHOUSE_VIEW = "warehouse.view"
    WAREHOUSE_MANAGE = "warehouse.manage"
    USER_VIEW = "user.view"
    USER_MANAGE = "user.manage"  # the users of the clients the actor sees
    STAFF_MANAGE = "staff.manage"  # operator staff users
    API_KEY_VIEW = "api_key.view"
    API_KEY_MANAGE = "api_key.manage"  # the keys of the clients the actor sees
    STAFF_KEY_OWN = "api_key.own"  # a staff key of one's own
    AUDIT_VIEW = "audit.view"
    WAREHOUSE_FLOOR = "floor.use"  # the warehouse screens (check-in, receiving, putaway, counts)
    INVENTORY_VIEW = "inventory.view"  # items, balances, the ledger, ASNs
    ITEM_MANAGE = "item.manage"
    LOCATION_VIEW = "location.view"
    LOCATION_MANAGE = "location.manage"
    STOCK_ADJUST = "stock.adjust"  # adjustments, relocations, transfers, reversals (staff only)
    COUNT = "count.perform"
    COUNT_APPROVE = "count.approve"
    ASN_MANAGE = "asn.manage"  # create, edit, submit, cancel, milestones
    ASN_RECEIVE = "asn.receive"  # dock check-in, receiving, putaway, closing
    ORDER_VIEW = "order.view"
    ORDER_MANAGE = "order.manage"  # create, edit, hold, release, cancel
    ORDER_REALLOCATE = "order.reallocate"  # staff: route and allocate again
    WAVE_VIEW = "wave.view"  # waves and pick lists (staff)
    FULFILL = "fulfillment.perform"  # waves, picking, packing, labels, voids, manifests
    SHIPMENT_VIEW = "shipment.view"  # shipments, packages, tracking, labels and slips
    TRACKING_RECORD = "tracking.record"  # post tracking events (staff integrations)
    CARRIER_VIEW = "carrier.view"  # carriers, services, rate quotes
    CARRIER_MANAGE = "carrier.manage"  # carriers, services, rate cards, box catalog
    EVENT_VIEW = "event.view"  # the events feed
    WEBHOOK_VIEW = "webhook.view"  # subscriptions and their delivery logs
    WEBHOOK_MANAGE = "webhook.manage"  # subscribe, edit, replay, send a test event
    REPORT_VIEW = "report.view"  # KPIs, dashboards, the fleet view, QBRs
    ALERT_VIEW = "alert.view"  # the alert inbox (brands: the alerts shown to them)
    ALERT_MANAGE = "alert.manage"  # acknowledge, assign, comment, resolve (staff)
    ALERT_RULES = "alert.rules"  # per-client rules and thresholds
    ORDER_ERROR_RECORD = "order_error.record"  # record a fulfillment error against a shipped order
    QBR_EDIT = "qbr.edit"  # QBR notes and action items
    EXPORT = "export.run"  # CSV exports


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OPERATOR_ADMIN: frozenset(Perm) - {Perm.PORTAL},
    Role.ACCOUNT_MANAGER: frozenset(
        {
            Perm.CONSOLE,
            Perm.CLIENT_VIEW,
            Perm.CLIENT_UPDATE,
            Perm.WAREHOUSE_VIEW,
            Perm.USER_VIEW,
            Perm.USER_MANAGE,
            Perm.API_KEY_VIEW,
            Perm.STAFF_KEY_OWN,
            Perm.AUDIT_VIEW,
            Perm.INVENTORY_VIEW,
            Perm.ITEM_MANAGE,
            Perm.LOCATION_VIEW,
            Perm.ASN_MANAGE,
            Perm.ORDER_VIEW,
            Perm.ORDER_MANAGE,
            Perm.ORDER_REALLOCATE,
            Perm.WAVE_VIEW,
            Perm.SHIPMENT_VIEW,
            Perm.TRACKING_RECORD,
            Perm.CARRIER_VIEW,
            Perm.EVENT_VIEW,
            Perm.WEBHOOK_VIEW,
            Perm.WEBHOOK_MANAGE,
            Perm.REPORT_VIEW,
            Perm.ALERT_VIEW,
            Perm.ALERT_MANAGE,
            Perm.ALERT_RULES,
            Perm.ORDER_ERROR_RECORD,
            Perm.QBR_EDIT,
            Perm.EXPORT,
        }
    ),
    Role.WAREHOUSE_OPERATOR: frozenset(
        {
            Perm.CONSOLE,
            Perm.CLIENT_VIEW,
            Perm.WAREHOUSE_VIEW,
            Perm.STAFF_KEY_OWN,
            Perm.WAREHOUSE_FLOOR,
            Perm.INVENTORY_VIEW,
            Perm.LOCATION_VIEW,
            Perm.STOCK_ADJUST,
            Perm.COUNT,
            Perm.ASN_RECEIVE,
            Perm.ORDER_VIEW,
            Perm.WAVE_VIEW,
            Perm.FULFILL,
            Perm.SHIPMENT_VIEW,
            Perm.TRACKING_RECORD,
            Perm.CARRIER_VIEW,
            Perm.REPORT_VIEW,
            Perm.ALERT_VIEW,
            Perm.ALERT_MANAGE,
            Perm.ORDER_ERROR_RECORD,
        }
    ),
    Role.CLIENT_ADMIN: frozenset(
        {
            Perm.PORTAL,
            Perm.CLIENT_VIEW,
            Perm.WAREHOUSE_VIEW,
            Perm.USER_VIEW,
            Perm.USER_MANAGE,
            Perm.API_KEY_VIEW,
            Perm.API_KEY_MANAGE,
            Perm.AUDIT_VIEW,
            Perm.INVENTORY_VIEW,
            Perm.ITEM_MANAGE,
            Perm.ASN_MANAGE,
            Perm.ORDER_VIEW,
            Perm.ORDER_MANAGE,
            Perm.SHIPMENT_VIEW,
            Perm.CARRIER_VIEW,
            Perm.EVENT_VIEW,
            Perm.WEBHOOK_VIEW,
            Perm.WEBHOOK_MANAGE,
            Perm.REPORT_VIEW,
            Perm.ALERT_VIEW,
            Perm.EXPORT,
        }
    ),
    Role.CLIENT_USER: frozenset(
        {
            Perm.PORTAL,
            Perm.CLIENT_VIEW,
            Perm.WAREHOUSE_VIEW,
            Perm.USER_VIEW,
            Perm.INVENTORY_VIEW,
            Perm.ITEM_MANAGE,
            Perm.ASN_MANAGE,
            Perm.ORDER_VIEW,
            Perm.ORDER_MANAGE,
            Perm.SHIPMENT_VIEW,
            Perm.CARRIER_VIEW,
            Perm.EVENT_VIEW,
            Perm.REPORT_VIEW,
            Perm.ALERT_VIEW,
            Perm.EXPORT,
        }
    ),
}


def role_can(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(Role(role), frozenset())
