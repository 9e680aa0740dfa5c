"""The Celery app. Tasks are thin: they receive ids, open the tenant scope and call a service."""

import os

from celery import Celery, signals
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfillment.settings")


class _RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, with one client for its synchronous commands (a publish's LPUSH)
    per connection pool instead of a new ``redis.Redis`` for each: building one copies
    redis-py's table of response callbacks, about half of a publish's CPU. The client takes a
    connection from the pool per command, as a new one would; a new pool (after a fork or a
    reconnect) gets a new client."""

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool, client = self.__dict__.get("_sync_client", (None, None))
        if client is None or pool is not self.pool:
            client = super()._create_client()
            self._sync_client = (self.pool, client)
        return client


class RedisTransport(kombu_redis.Transport):
    """``redis://`` brokers (``CELERY_BROKER_TRANSPORT`` in settings)."""

    Channel = _RedisChannel


app = Celery("fulfillment")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_process_init.connect
def _settle_heap(**_) -> None:
    """Each pool process, once started, loads what its first tasks would and settles its
    collector over what start-up loaded."""
    from fulfillment import heap, warmup

    warmup.warm(urls=False)
    heap.settle()
