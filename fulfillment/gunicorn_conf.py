"""The web server's configuration: ``gunicorn fulfillment.wsgi -c python:fulfillment.gunicorn_conf``.

The Dockerfile, docker-compose.yml, the Procfile (``make run``) and the scale benchmark
(``bench/intake.py``) all start gunicorn with it, so the benchmark measures what production runs.

- ``gthread`` workers: each keeps its clients' connections alive (an integration posting orders
  one after the other, a load balancer's pool), and its threads overlap the waits on PostgreSQL
  and Redis; the GIL keeps a worker to one core, so ``WEB_CONCURRENCY`` workers (default 3 on
  two cores: one per core plus one) carry ``WEB_THREADS`` threads each (default 4).
- ``reuse_port``: every worker listens on a socket of its own (``SO_REUSEPORT``) and the kernel
  spreads new connections over them. On the one socket gunicorn otherwise shares, whichever worker
  wakes first accepts, and long-lived keep-alive connections pile up on it: measured with twelve
  connections, all twelve on one worker half the time, which then used one core while the other
  idled (200 instead of 280-300 orders/s, bench/intake.py). The Procfile (``make run``, one
  machine, a developer's) turns it off, so that a second platform started on a port already in
  use fails to bind instead of sharing the port with the first.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", 3)
threads = _int("WEB_THREADS", 4)
reuse_port = os.environ.get("WEB_REUSE_PORT", "true").strip().lower() not in {"0", "false", "no", "off"}
keepalive = _int("WEB_KEEPALIVE", 5)  # seconds an idle connection stays open
timeout = _int("WEB_TIMEOUT", 60)
graceful_timeout = 30
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
control_socket_disable = True
