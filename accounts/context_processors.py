from .roles import Perm


def navigation(request):
    """The navigation for the signed-in actor's role."""
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"nav": []}
    items = []
    if actor.can(Perm.CONSOLE):
        items += [
            ("console-home", "Fleet"),
            ("console-clients", "Clients"),
            ("console-warehouses", "Warehouses"),
        ]
        if actor.can(Perm.AUDIT_VIEW):
            items.append(("console-audit", "Audit trail"))
        if actor.can(Perm.INVENTORY_VIEW):
            items += [("console-inbound", "Inbound"), ("console-discrepancies", "Discrepancies")]
        if actor.can(Perm.ORDER_VIEW):
            items.append(("console-orders", "Orders"))
        if actor.can(Perm.SHIPMENT_VIEW):
            items += [
                ("console-shipments", "Shipments"),
                ("console-shipment-exceptions", "Exceptions"),
                ("console-manifests", "Manifests"),
            ]
        if actor.can(Perm.ALERT_VIEW):
            items.append(("console-alerts", "Alerts"))
        if actor.can(Perm.EXPORT):
            items.append(("console-exports", "Exports"))
    if actor.can(Perm.WAREHOUSE_FLOOR):
        items += [("floor-dock", "Dock"), ("floor-receiving", "Receiving"), ("floor-putaway", "Putaway")]
        items.append(("floor-counts", "Counts"))
    if actor.can(Perm.FULFILL):
        items += [("floor-waves", "Waves"), ("floor-pack", "Pack"), ("floor-ship", "Ship")]
    if actor.can(Perm.PORTAL):
        items.append(("portal-home", "Overview"))
        if actor.can(Perm.REPORT_VIEW):
            items += [("portal-dashboard", "Dashboard"), ("portal-qbrs", "QBRs")]
        if actor.can(Perm.ALERT_VIEW):
            items.append(("portal-alerts", "Alerts"))
        if actor.can(Perm.EXPORT):
            items.append(("portal-exports", "Exports"))
        if actor.can(Perm.INVENTORY_VIEW):
            items += [
                ("portal-items", "Items"),
                ("portal-inventory", "Inventory"),
                ("portal-ledger", "Ledger"),
            ]
            items.append(("portal-asns", "ASNs"))
        if actor.can(Perm.ORDER_VIEW):
            items.append(("portal-orders", "Orders"))
        if actor.can(Perm.SHIPMENT_VIEW):
            items.append(("portal-shipments", "Shipments"))
        if actor.can(Perm.WEBHOOK_VIEW):
            items.append(("portal-webhooks", "Webhooks"))
        if actor.can(Perm.USER_VIEW):
            items.append(("portal-users", "Users"))
        if actor.can(Perm.API_KEY_VIEW):
            items.append(("portal-api-keys", "API keys"))
        if actor.can(Perm.AUDIT_VIEW):
            items.append(("portal-audit", "Audit trail"))
    items.append(("api-docs", "API"))
    if actor.can(Perm.ADMIN_SITE):
        items.append(("admin:index", "Admin"))
    return {"nav": items, "actor": actor}
