from django.urls import path

from . import views

urlpatterns = [
    # the brand portal
    path("portal/items/", views.item_list, name="portal-items"),
    path("portal/items/new/", views.item_create, name="portal-item-create"),
    path("portal/items/import/", views.item_import, name="portal-item-import"),
    path("portal/items/<int:pk>/", views.item_detail, name="portal-item"),
    path("portal/inventory/", views.balance_list, name="portal-inventory"),
    path("portal/ledger/", views.move_list, name="portal-ledger"),
    path("portal/asns/", views.asn_list, name="portal-asns"),
    path("portal/asns/new/", views.asn_create, name="portal-asn-create"),
    path("portal/asns/new/line/", views.asn_line_row, name="portal-asn-line-row"),
    path("portal/asns/import/", views.asn_import, name="portal-asn-import"),
    path("portal/asns/<int:pk>/", views.asn_detail, name="portal-asn"),
    path("portal/asns/<int:pk>/<str:action>/", views.asn_action, name="portal-asn-action"),
    # the warehouse floor
    path("floor/dock/", views.dock, name="floor-dock"),
    path("floor/receiving/", views.receiving_list, name="floor-receiving"),
    path("floor/putaway/", views.putaway_list, name="floor-putaway"),
    path("floor/asns/<int:pk>/arrive/", views.asn_arrive, name="floor-arrive"),
    path("floor/asns/<int:pk>/receive/", views.receive, name="floor-receive"),
    path("floor/asns/<int:pk>/finish/", views.asn_finish, name="floor-finish"),
    path("floor/asns/<int:pk>/close/", views.asn_close, name="floor-close"),
    path("floor/asns/<int:pk>/putaway/", views.putaway, name="floor-putaway-asn"),
    path("floor/counts/", views.count_list, name="floor-counts"),
    path("floor/counts/<int:pk>/", views.count_detail, name="floor-count"),
    path("floor/counts/<int:pk>/lines/<int:line_pk>/", views.count_enter, name="floor-count-enter"),
    path("floor/counts/<int:pk>/found/", views.count_found, name="floor-count-found"),
    path("floor/counts/<int:pk>/<str:action>/", views.count_action, name="floor-count-action"),
    # the console
    path(
        "console/clients/<int:pk>/inventory/", views.console_client_inventory, name="console-client-inventory"
    ),
    path("console/inbound/", views.console_inbound, name="console-inbound"),
    path("console/asns/<int:pk>/", views.console_asn, name="console-asn"),
    path("console/discrepancies/", views.console_discrepancies, name="console-discrepancies"),
]
