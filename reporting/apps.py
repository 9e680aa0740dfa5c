from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting: KPIs, alerts, QBRs, exports"

    def ready(self) -> None:
        from . import (
            alert_tasks,  # noqa: F401
            export_tasks,  # noqa: F401
        )
