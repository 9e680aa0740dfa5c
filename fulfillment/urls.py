from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from fulfillment import health
from orders import shopify
from reporting.views import order_errors
from shipments import carrier_webhook

# The routers' prefixes do not overlap; the busiest first (an order post is resolved before the
# resolver has tried every other route).
api_v1 = [
    path("", include("orders.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("inventory.api.urls")),
    path("", include("shipments.api.urls")),
    path("", include("reporting.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path(
        "webhooks/shopify/<str:token>/orders-create/",
        shopify.orders_create_webhook,
        name="shopify-orders-create",
    ),
    path(
        "webhooks/carriers/<str:token>/tracking/",
        carrier_webhook.carrier_tracking_webhook,
        name="carrier-tracking-webhook",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("inventory.urls")),
    # Before orders' ``console/orders/<pk>/<action>/``, which would take "errors" for an action.
    path(
        "console/orders/<int:order_id>/errors/",
        order_errors.console_order_errors,
        name="console-order-errors",
    ),
    path("", include("orders.urls")),
    path("", include("shipments.urls")),
    path("", include("reporting.urls")),
    path("", include("accounts.urls")),
]

handler404 = "fulfillment.views.page_not_found"
handler500 = "fulfillment.views.server_error"
