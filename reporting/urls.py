"""Pages of the reporting app: the fleet view, client dashboards, the alert inbox, QBRs, exports."""

from django.urls import path

from .views import alerts, dashboards
from .views import exports as export_pages
from .views import qbr as qbr_pages

urlpatterns = [
    path("console/", dashboards.fleet, name="console-home"),
    path(
        "console/clients/<int:pk>/dashboard/",
        dashboards.console_dashboard,
        name="console-client-dashboard",
    ),
    path("portal/dashboard/", dashboards.portal_dashboard, name="portal-dashboard"),
    # the alert inbox and a client's alert rules
    path("console/alerts/", alerts.console_alerts, name="console-alerts"),
    path("console/alerts/<int:pk>/", alerts.console_alert, name="console-alert"),
    path("console/alerts/<int:pk>/<slug:action>/", alerts.console_alert_action, name="console-alert-action"),
    path("console/clients/<int:pk>/alert-rules/", alerts.console_alert_rules, name="console-alert-rules"),
    path("portal/alerts/", alerts.portal_alerts, name="portal-alerts"),
    path("portal/alerts/<int:pk>/", alerts.portal_alert, name="portal-alert"),
    path("portal/alerts/<int:pk>/<slug:action>/", alerts.portal_alert_action, name="portal-alert-action"),
    # QBRs: console (notes and action items editable) and the brand's own, read-only, in the portal
    path("console/clients/<int:pk>/qbr/", qbr_pages.console_qbrs, name="console-qbrs"),
    path(
        "console/clients/<int:pk>/qbr/<int:year>/q<int:quarter>/", qbr_pages.console_qbr, name="console-qbr"
    ),
    path(
        "console/clients/<int:pk>/qbr/<int:year>/q<int:quarter>/pdf/",
        qbr_pages.console_qbr_pdf,
        name="console-qbr-pdf",
    ),
    path(
        "console/clients/<int:pk>/qbr/<int:year>/q<int:quarter>/notes/",
        qbr_pages.console_qbr_notes,
        name="console-qbr-notes",
    ),
    path(
        "console/clients/<int:pk>/qbr/<int:year>/q<int:quarter>/actions/",
        qbr_pages.console_qbr_item_add,
        name="console-qbr-action-add",
    ),
    path(
        "console/clients/<int:pk>/qbr/<int:year>/q<int:quarter>/actions/<int:item>/<slug:action>/",
        qbr_pages.console_qbr_item_action,
        name="console-qbr-action",
    ),
    path("portal/qbr/", qbr_pages.portal_qbrs, name="portal-qbrs"),
    path("portal/qbr/<int:year>/q<int:quarter>/", qbr_pages.portal_qbr, name="portal-qbr"),
    path("portal/qbr/<int:year>/q<int:quarter>/pdf/", qbr_pages.portal_qbr_pdf, name="portal-qbr-pdf"),
    # exports: the form, my jobs with their progress, downloads
    path("console/exports/", export_pages.console_exports, name="console-exports"),
    path("portal/exports/", export_pages.portal_exports, name="portal-exports"),
    path("exports/<int:pk>/", export_pages.export_job_row, name="export-job-row"),
    path("exports/<int:pk>/download/", export_pages.export_download, name="export-download"),
]
