"""A real Celery worker (a subprocess on the test database and the broker) fans out an event and
delivers it to the local receiver: the path production takes, not the eager shortcut the rest of
the suite uses."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from standardwebhooks import Webhook

from accounts.actors import Actor
from fulfillment.celery import app
from shipments import webhooks
from shipments.events import emit, envelope
from shipments.models import Event, WebhookDelivery

from .webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20
DELIVERY_TIMEOUT = 15


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(check, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout} s; worker log:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.mark.xdist_group("celery-worker")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_an_event_to_the_receiver(tenant_a, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database through PostgreSQL")
    receiver = Receiver(fail_first=0).start()
    queue = f"webhooks-test-{uuid.uuid4().hex[:8]}"  # this test's own queue on a shared broker
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "fulfillment",
                "worker",
                "-P",
                "solo",
                "-Q",
                queue,
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    try:
        wait_for(lambda: b" ready." in log.read_bytes(), READY_TIMEOUT, "the worker was not ready", log)
        subscription = webhooks.subscription_create(
            actor=Actor.for_user(tenant_a.admin), client=tenant_a.client, url=receiver.url
        )
        app.conf.task_always_eager, app.conf.task_default_queue = False, queue
        with transaction.atomic():
            emit(client_id=tenant_a.client.pk, type="order.created", data={"order_id": 7})
        event = Event.objects.filter(client=tenant_a.client, type="order.created").latest("pk")

        def delivered() -> bool:
            return WebhookDelivery.objects.filter(event=event, status="succeeded").exists()

        wait_for(delivered, DELIVERY_TIMEOUT, "the event was not delivered", log)
        (request,) = receiver.requests
        assert Webhook(subscription.secret).verify(request.body, request.headers) == envelope(event)
        assert request.headers["webhook-id"] == event.webhook_id
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, default_queue
        receiver.stop()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
