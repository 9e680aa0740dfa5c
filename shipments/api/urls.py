"""The shipments app's endpoints; each area registers its viewsets on the one router."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter(trailing_slash=True)

from . import carrier_views  # noqa: E402 - carriers, services, rate quotes, box catalogs

router.register("carriers", carrier_views.CarrierViewSet, basename="carrier")
router.register("services", carrier_views.ServiceViewSet, basename="carrier-service")
router.register("rate-quotes", carrier_views.RateQuoteViewSet, basename="rate-quote")
router.register("box-types", carrier_views.BoxTypeViewSet, basename="box-type")

from . import webhook_views  # noqa: E402 - webhook subscriptions, their deliveries, the events feed

router.register("webhooks", webhook_views.WebhookViewSet, basename="webhook")
router.register(
    r"webhooks/(?P<webhook_pk>[0-9]+)/deliveries",
    webhook_views.WebhookDeliveryViewSet,
    basename="webhook-delivery",
)
router.register("events", webhook_views.EventFeedViewSet, basename="event")

from . import views  # noqa: E402 - shipments (labels, shipping, tracking) and manifests

router.register("shipments", views.ShipmentViewSet, basename="shipment")
router.register("manifests", views.ManifestViewSet, basename="manifest")

from . import floor_views  # noqa: E402 - waves, picks, pack sessions, packages (the floor)

router.register("waves", floor_views.WaveViewSet, basename="wave")
router.register("picks", floor_views.PickViewSet, basename="pick")
router.register("pack-sessions", floor_views.PackSessionViewSet, basename="pack-session")
router.register("packages", floor_views.PackageViewSet, basename="package")

urlpatterns = router.urls
