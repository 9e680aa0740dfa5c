import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfillment.settings")

application = get_wsgi_application()


def _start() -> None:
    """Load what the first requests would (``fulfillment.warmup``), then settle the collector over
    the started process (``fulfillment.heap``)."""
    from fulfillment import heap, warmup

    warmup.warm()
    heap.settle()


_start()
