from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("orders", views.OrderViewSet, basename="order")
router.register("shopify-connections", views.ShopifyConnectionViewSet, basename="shopify-connection")

urlpatterns = router.urls
