"""A real Celery beat and worker (subprocesses on the test database and the Redis broker) run
the order sweep every second: a late order raises ONE alert, ONE e-mail and ONE webhook delivery,
however many times the sweep runs. The production path, not the eager shortcut of the suite."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.actors import Actor
from accounts.enums import Role
from reporting.enums import AlertRule
from reporting.models import Alert
from shipments import webhooks
from shipments.models import WebhookDelivery
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, make_node, stock
from tests.orders.factories import make_order
from tests.shipments.test_webhook_worker import database_url
from tests.shipments.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(ROOT / ".venv" / "bin" / "celery")
READY_TIMEOUT = 20
ALERT_TIMEOUT = 15
EXTRA_CYCLES_SECONDS = 3  # the sweep keeps running: nothing more may appear


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [CELERY, "-A", "fulfillment", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait(check, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in logs)
    pytest.fail(f"{what} within {timeout} s\n{tails}")


def _sweeps(log: Path) -> int:
    """Order sweeps the worker has finished (beat's own run counter is saved only now and then)."""
    return log.read_text(errors="replace").count("sweep_order_alerts[") // 2  # received, succeeded


def _mails(outbox: Path) -> list[str]:
    """The messages the worker's file backend wrote (one file per connection, messages split by
    the backend's separator line)."""
    messages = []
    for path in sorted(outbox.glob("*.log")):
        messages += [m for m in path.read_text().split("-" * 79) if "Subject:" in m]
    return messages


@pytest.mark.xdist_group("celery-worker")
@pytest.mark.django_db(transaction=True)
def test_beat_and_a_worker_raise_one_alert_one_mail_one_webhook(tenant_a, tmp_path):
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the subprocesses share the test database (PostgreSQL) and the Redis broker")
    client = tenant_a.client
    manager = UserFactory(role=Role.ACCOUNT_MANAGER, client=None, email="am-worker@example.test")
    client.account_managers.add(manager)
    node = make_node(tenant_a.warehouse)
    item = make_item(client)
    stock(client, node, item, 3)
    order = make_order(client, [(item, 1)], received_at=timezone.now() - timedelta(days=5))
    assert order.ship_by < timezone.now()
    receiver = Receiver().start()
    webhooks.subscription_create(
        actor=Actor.for_user(tenant_a.admin),
        client=client,
        url=receiver.url,
        event_types=["alert.opened", "alert.resolved"],
    )
    # The schedule as beat reads it (DatabaseScheduler): the order sweep every second.
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="alerts-orders (test: every second)",
        task="reporting.alert_tasks.sweep_order_alerts",
        interval=every_second,
    )
    queue = f"alerts-test-{uuid.uuid4().hex[:8]}"  # this test's own queue on the shared broker
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # django-environ drops the first slash of the path: four slashes for an absolute one.
        "EMAIL_URL": f"filemail:///{outbox}",
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        "PYTHONUNBUFFERED": "1",
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = _start(
        [*("worker", "-P", "solo", "-Q", queue, "-l", "INFO"), "--without-heartbeat", "--without-gossip"],
        env,
        worker_log,
    )
    beat = None
    logs = [worker_log, beat_log]
    try:
        _wait(lambda: b" ready." in worker_log.read_bytes(), READY_TIMEOUT, "the worker was not ready", logs)
        beat = _start(["beat", "-l", "INFO", "--max-interval", "1"], env, beat_log)

        def all_three() -> bool:
            return (
                Alert.objects.filter(rule=AlertRule.ORDER_LATE).exists()
                and len(_mails(outbox)) >= 1
                and WebhookDelivery.objects.filter(status="succeeded").exists()
            )

        _wait(all_three, ALERT_TIMEOUT, "no alert, e-mail and webhook delivery", logs)
        runs_before = _sweeps(worker_log)
        time.sleep(EXTRA_CYCLES_SECONDS)
        assert _sweeps(worker_log) >= runs_before + 2, "the sweep did not keep running"

        (alert,) = Alert.objects.filter(client=client)
        assert (alert.rule, alert.object_id, alert.notified_at is not None) == (
            AlertRule.ORDER_LATE,
            str(order.pk),
            True,
        )
        (message,) = _mails(outbox)
        assert "am-worker@example.test" in message and order.number in message
        (request,) = receiver.requests
        assert b'"alert.opened"' in request.body and str(order.pk).encode() in request.body
    finally:
        receiver.stop()
        if beat is not None:
            _stop(beat)
        _stop(worker)
