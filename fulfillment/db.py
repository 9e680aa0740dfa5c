"""Routing of reporting reads to a read replica (``DATABASE_REPLICA_URL``).

Reports read inside ``reporting_reads()``; everything else, and every write, stays on the primary,
so a request never reads its own write from a lagging replica.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

_reporting: ContextVar[bool] = ContextVar("reporting_reads", default=False)


@contextmanager
def reporting_reads() -> Iterator[None]:
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)


def reporting_alias() -> str:
    """The database alias reporting reads use: the replica when one is configured."""
    return "replica" if "replica" in settings.DATABASES else "default"


class ReportingReplicaRouter:
    def db_for_read(self, model, **hints):
        return reporting_alias() if _reporting.get() else "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
