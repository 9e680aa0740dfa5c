"""Django's PostgreSQL backend, with ``CONN_HEALTH_CHECKS`` asked only of a connection left idle.

A persistent connection's health check is a ``SELECT 1`` at the start of each request (or task):
a round trip, and work for PostgreSQL, on every request. A connection that finished a request
less than ``HEALTH_CHECK_AFTER_IDLE_SECONDS`` ago was working then; under load every connection
is such, and the check would only ever answer yes. One idle longer (when PostgreSQL may have
restarted or a firewall dropped it) is checked as before. A connection whose request failed on a
database error is checked by Django at the end of that request either way.
"""

from __future__ import annotations

from time import monotonic

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0
    _used_at: float | None = None

    def close_if_unusable_or_obsolete(self):
        # Called as each request (or task) starts and as it ends (``close_old_connections``).
        super().close_if_unusable_or_obsolete()
        now = monotonic()
        if self.connection is None:
            self._used_at = None
            return
        if self._used_at is not None and now - self._used_at < self.HEALTH_CHECK_AFTER_IDLE_SECONDS:
            self.health_check_done = True
        self._used_at = now
