"""The reporting endpoints; each area registers its viewsets on the one router."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter(trailing_slash=True)

urlpatterns = router.urls
