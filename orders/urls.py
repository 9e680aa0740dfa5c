from django.urls import path

from . import views

urlpatterns = [
    # the brand portal
    path("portal/orders/", views.order_list, name="portal-orders"),
    path("portal/orders/new/", views.order_create, name="portal-order-create"),
    path("portal/orders/new/line/", views.order_line_row, name="portal-order-line-row"),
    path("portal/orders/import/", views.order_import, name="portal-order-import"),
    path("portal/shopify/", views.shopify_settings, name="portal-shopify"),
    path("portal/orders/<int:pk>/", views.order_detail, name="portal-order"),
    path("portal/orders/<int:pk>/address/", views.order_edit_address, name="portal-order-address"),
    path("portal/orders/<int:pk>/lines/", views.order_edit_lines, name="portal-order-lines"),
    path("portal/orders/<int:pk>/<str:action>/", views.order_action, name="portal-order-action"),
    # the console
    path("console/orders/", views.console_orders, name="console-orders"),
    path("console/orders/queues/", views.console_queues, name="console-order-queues"),
    path("console/orders/<int:pk>/", views.console_order, name="console-order"),
    path("console/orders/<int:pk>/<str:action>/", views.console_order_action, name="console-order-action"),
    path("console/clients/<int:pk>/orders/", views.console_client_orders, name="console-client-orders"),
]
