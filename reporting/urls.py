"""Pages of the reporting app: the fleet view, client dashboards, the alert inbox, QBRs, exports."""

urlpatterns = []
