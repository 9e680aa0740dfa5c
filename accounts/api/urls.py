from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("clients", views.ClientViewSet, basename="client")
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("users", views.UserViewSet, basename="user")
router.register("api-keys", views.APIKeyViewSet, basename="api-key")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = router.urls
