"""The allocation of single orders, gathered per process into batch tasks.

An integration posting orders one at a time would otherwise send one Celery task per order, and
building and publishing a task message costs about a millisecond of CPU: an eighth of an API
order's whole cost in the web process. After its commit, an order's id joins this process's pending
batch instead; the batch goes out as one ``orders.tasks.allocate_orders`` task ``FLUSH_AFTER``
seconds after its first id, or at once when it reaches ``MAX_BATCH`` ids. Allocation starts at most
that much later, and ``allocation.allocate_many`` decides each order of a batch exactly as
``allocate`` would, one after the other, most urgent first.

Should the process die with ids pending (committed orders whose task was not sent yet), the orders
stay received and ``allocate_waiting`` (beat, every minute, for received orders untouched for a
minute) allocates them: the same net that catches a task lost on its way. A failed publish is logged
and left to the same net.

With eager Celery (tests, no broker) each order's own task runs at once, as it always did.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

logger = logging.getLogger(__name__)

FLUSH_AFTER = 0.25  # seconds
MAX_BATCH = 500


class _Pending:
    """This process's ids waiting to be sent, and the timer that will send them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[int] = []
        self.timer: threading.Timer | None = None

    def add(self, order_id: int) -> None:
        with self.lock:
            self.ids.append(order_id)
            if len(self.ids) < MAX_BATCH:
                if self.timer is None:
                    self.timer = threading.Timer(FLUSH_AFTER, self.flush)
                    self.timer.daemon = True
                    self.timer.start()
                return
            ids = self._take()
        _send(ids)

    def flush(self) -> None:
        with self.lock:
            ids = self._take()
        if ids:
            _send(ids)

    def _take(self) -> list[int]:
        ids, self.ids = self.ids, []
        if self.timer is not None:
            self.timer.cancel()  # (a no-op when the timer itself is flushing)
            self.timer = None
        return ids


def _send(ids: list[int]) -> None:
    from .tasks import allocate_orders

    try:
        allocate_orders.delay(ids)
    except Exception:  # the broker is down: allocate_waiting will take these orders
        logger.exception("Could not queue the allocation of %d orders; the backlog sweep will.", len(ids))


_pending = _Pending()


def _reset_after_fork() -> None:
    """A forked child starts with nothing pending (the parent's ids are the parent's to send) and
    a lock nobody holds."""
    global _pending
    _pending = _Pending()


os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(lambda: _pending.flush())


def request_allocation(order_id: int, client_id: int) -> None:
    """Allocate this committed order soon: with the next batch of this process, or (eager Celery)
    now, by its own task."""
    from fulfillment.celery import app

    from .tasks import allocate_order

    if app.conf.task_always_eager:
        allocate_order.delay(order_id, client_id)
        return
    _pending.add(order_id)


def flush() -> None:
    """Send what is pending now (tests; a process about to stop)."""
    _pending.flush()
