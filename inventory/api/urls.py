from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
# The sub-collections of /inventory/ come first, so "moves" is never taken for a balance id.
router.register("inventory/moves", views.MoveViewSet, basename="move")
router.register("inventory/adjustments", views.AdjustmentViewSet, basename="adjustment")
router.register("inventory/relocations", views.RelocationViewSet, basename="relocation")
router.register("inventory/transfers", views.TransferViewSet, basename="transfer")
router.register("inventory", views.BalanceViewSet, basename="balance")
router.register("items", views.ItemViewSet, basename="item")
router.register("locations", views.LocationViewSet, basename="location")
router.register("cycle-counts", views.CycleCountViewSet, basename="cycle-count")
router.register("asns", views.ASNViewSet, basename="asn")

urlpatterns = router.urls
