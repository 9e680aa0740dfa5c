"""Fixtures shared by the webhook and events-feed tests."""

from __future__ import annotations

import pytest

from .webhook_receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def other_receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on-commit work (fan-out, deliveries, e-mails) as it would after a real commit."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
