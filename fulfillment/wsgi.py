import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfillment.settings")

application = get_wsgi_application()


def _start() -> None:
    """Import what the first request would (the URLconf, and through it every view), then settle
    the collector over the started process (``fulfillment.heap``)."""
    from django.urls import get_resolver

    from fulfillment import heap

    get_resolver().url_patterns  # noqa: B018 (imports the URLconf and its views)
    heap.settle()


_start()
