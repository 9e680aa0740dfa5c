"""The reporting endpoints; each area registers its viewsets on the one router."""

from rest_framework.routers import SimpleRouter

from .alert_views import AlertRuleViewSet, AlertViewSet
from .export_views import ExportJobViewSet
from .kpi_views import KPIReportViewSet, OrderErrorViewSet
from .qbr_views import QBRActionItemViewSet, QBRReportViewSet

router = SimpleRouter(trailing_slash=True)
router.register("exports", ExportJobViewSet, basename="export-job")
router.register("qbrs", QBRReportViewSet, basename="qbr")
router.register("qbr-action-items", QBRActionItemViewSet, basename="qbr-action-item")
router.register("reports/kpis", KPIReportViewSet, basename="kpi-report")
router.register("order-errors", OrderErrorViewSet, basename="order-error")
router.register("alerts", AlertViewSet, basename="alert")
router.register(r"clients/(?P<client_pk>[0-9]+)/alert-rules", AlertRuleViewSet, basename="alert-rule")

urlpatterns = router.urls
