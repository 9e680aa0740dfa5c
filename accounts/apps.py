from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and tenants"

    def ready(self) -> None:
        # The API-key cache's invalidation receivers, in every process that can change a key, its
        # client or its staff user (web, workers, shells), not only where authentication runs.
        from . import api_key_cache  # noqa: F401
