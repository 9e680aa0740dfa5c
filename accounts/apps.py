from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and tenants"

    def ready(self) -> None:
        # The invalidation receivers of the API-key cache and of the client-nodes cache, in every
        # process that can change a key, its client or its staff user, or a node, its closures or a
        # client's nodes (web, workers, shells), not only where authentication or intake runs.
        from . import api_key_cache, node_cache  # noqa: F401
