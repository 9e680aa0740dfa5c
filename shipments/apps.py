from django.apps import AppConfig


class ShipmentsConfig(AppConfig):
    name = "shipments"
    verbose_name = "Shipments, carriers and webhooks"

    def ready(self) -> None:
        # The subscription cache's invalidation receivers, in every process that can change a
        # subscription (web, workers, shells), not only where events are fanned out.
        from . import subscription_cache  # noqa: F401
