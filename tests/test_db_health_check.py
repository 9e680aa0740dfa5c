"""A persistent PostgreSQL connection is health-checked (``SELECT 1``) at the start of a request
only when it has been idle; one that finished a request a moment ago is not asked again
(``fulfillment.postgresql``)."""

from __future__ import annotations

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),  # autocommit, as between two requests
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's"),
]


@pytest.fixture
def checks(monkeypatch):
    asked: list[bool] = []
    wrapper = type(connections["default"])
    usable = wrapper.is_usable
    monkeypatch.setattr(wrapper, "is_usable", lambda self: asked.append(True) or usable(self))
    return asked


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("fulfillment.postgresql.base.monotonic", lambda: now[0])
    return now


def request_cycle() -> None:
    """What ``close_old_connections`` does as a request starts, a query, and its end."""
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
    connection.close_if_unusable_or_obsolete()


def test_the_engine_is_ours():
    assert connection.settings_dict["ENGINE"] == "fulfillment.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_connection_used_a_moment_ago_is_not_checked_again(checks, clock):
    connection.ensure_connection()
    request_cycle()
    checks.clear()
    clock[0] += 0.3
    request_cycle()
    clock[0] += 0.3
    request_cycle()
    assert checks == []


def test_a_connection_left_idle_is_checked_before_it_is_used(checks, clock):
    connection.ensure_connection()
    request_cycle()
    checks.clear()
    clock[0] += 5
    request_cycle()
    assert checks == [True]


def test_a_dead_idle_connection_is_replaced_before_the_request_uses_it(clock):
    connection.ensure_connection()
    request_cycle()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(old_pid,)] = cursor.fetchall()
    import psycopg2

    other = psycopg2.connect(
        dbname=connection.settings_dict["NAME"],
        user=connection.settings_dict["USER"],
        host=connection.settings_dict["HOST"] or None,
        port=connection.settings_dict["PORT"] or None,
        password=connection.settings_dict["PASSWORD"] or None,
    )
    try:  # another session ends ours, as a restart of PostgreSQL would
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    finally:
        other.close()
    clock[0] += 5
    request_cycle()  # checked, found dead, reconnected: no error
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(new_pid,)] = cursor.fetchall()
    assert new_pid != old_pid
