"""The collector of a started web or worker process is settled (``fulfillment.heap``)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from fulfillment import heap

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def restore_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_the_started_heap_and_spaces_out_young_collections(restore_collector):
    gc.unfreeze()
    survivor = {"made": "before settling"}
    heap.settle()
    assert gc.get_freeze_count() > 1000  # the interpreter, Django and the apps at least
    assert gc.get_threshold()[0] == heap.YOUNGEST_THRESHOLD
    assert not any(o is survivor for o in gc.get_objects())  # frozen: out of the collector's reach

    made_after = [[] for _ in range(3)]
    assert any(o is made_after for o in gc.get_objects())  # what comes later is in reach


def test_a_cycle_made_after_settling_is_still_collected(restore_collector):
    heap.settle()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None


def test_the_wsgi_application_settles_its_process():
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"},
        "DJANGO_SETTINGS_MODULE": "fulfillment.settings",
    }
    code = (
        "import gc, fulfillment.wsgi as w; "
        "print(callable(w.application), gc.get_freeze_count() > 10000, gc.get_threshold()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", str(heap.YOUNGEST_THRESHOLD)]


def test_each_celery_pool_process_settles_its_heap(restore_collector):
    from celery import signals

    import fulfillment.celery  # noqa: F401 (connects the receiver)

    assert signals.worker_process_init.has_listeners()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    signals.worker_process_init.send(sender=None)
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold()[0] == heap.YOUNGEST_THRESHOLD


def test_a_started_process_has_loaded_the_zip_data_and_the_holidays():
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"},
        "DJANGO_SETTINGS_MODULE": "fulfillment.settings",
    }
    code = (
        "import fulfillment.wsgi; "
        "from fulfillment.calendar import _federal_holidays; from fulfillment.geo import zip_point; "
        "print(_federal_holidays.cache_info().currsize >= 2, zip_point.cache_info().currsize >= 1)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]
