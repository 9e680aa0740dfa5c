"""Pages of the shipments app: the floor (waves, picking, the pack station), the console
(shipments, exceptions, manifests) and the portal (shipments, webhooks)."""

from django.urls import path

from .views import floor
from .views import shipments as shipment_pages
from .views import webhooks as webhook_pages

urlpatterns = [
    # the floor: waves, picking, the pack station
    path("floor/waves/", floor.wave_list, name="floor-waves"),
    path("floor/waves/<int:pk>/", floor.wave_detail, name="floor-wave"),
    path("floor/waves/<int:pk>/pick/", floor.wave_pick, name="floor-wave-pick"),
    path("floor/waves/<int:pk>/<slug:action>/", floor.wave_action, name="floor-wave-action"),
    path("floor/pack/", floor.pack_start, name="floor-pack"),
    path("floor/pack/<int:pk>/", floor.pack_station, name="floor-pack-station"),
    path("portal/webhooks/", webhook_pages.portal_webhooks, name="portal-webhooks"),
    path("portal/webhooks/<int:pk>/", webhook_pages.portal_webhook, name="portal-webhook"),
    path(
        "portal/webhooks/<int:pk>/<slug:action>/",
        webhook_pages.portal_webhook_action,
        name="portal-webhook-action",
    ),
    # shipments: console, portal, the floor's scan-out, label and slip downloads
    path("console/shipments/", shipment_pages.console_shipments, name="console-shipments"),
    path(
        "console/shipments/exceptions/", shipment_pages.console_exceptions, name="console-shipment-exceptions"
    ),
    path("console/shipments/<int:pk>/", shipment_pages.console_shipment, name="console-shipment"),
    path(
        "console/shipments/<int:pk>/<slug:action>/",
        shipment_pages.console_shipment_action,
        name="console-shipment-action",
    ),
    path("console/manifests/", shipment_pages.console_manifests, name="console-manifests"),
    path("console/manifests/<int:pk>/", shipment_pages.console_manifest, name="console-manifest"),
    path("portal/shipments/", shipment_pages.portal_shipments, name="portal-shipments"),
    path("portal/shipments/<int:pk>/", shipment_pages.portal_shipment, name="portal-shipment"),
    path("floor/ship/", shipment_pages.floor_ship, name="floor-ship"),
    path("floor/shipments/<int:pk>/label.pdf", shipment_pages.shipment_label, name="floor-shipment-label"),
    path(
        "floor/shipments/<int:pk>/label.zpl",
        shipment_pages.shipment_label_zpl,
        name="floor-shipment-label-zpl",
    ),
    path("floor/shipments/<int:pk>/slip.pdf", shipment_pages.shipment_slip, name="floor-shipment-slip"),
]
