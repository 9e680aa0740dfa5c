"""Settings, probes, the replica router and the deploy check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django.test import override_settings

from fulfillment import db as fdb

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "x7#Lq9!vT2$mP4@wZ8^rN6&kB1*hJ3(yC5)dF0-gS_eU+aQ=iO~" * 2,
            "ALLOWED_HOSTS": "fulfillment.example.com",
            "FULFILLMENT_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", env={"DEBUG": "false", "SECRET_KEY": "", "FULFILLMENT_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_embedded_default_is_sqlite_and_the_filesystem_broker(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND'])"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DATABASE_REPLICA_URL"}
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='fulfillment.settings'; "
            f"django.setup(); {code}",
        ],
        cwd=ROOT,
        env={**clean, "FULFILLMENT_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    engine, broker, cache = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker == "filesystem://"
    assert cache.endswith("FileBasedCache")
    assert (tmp_path / "secret_key").exists()


def test_healthz_is_alive_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_broker(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_names_an_unreachable_broker(db, client, settings):
    from fulfillment.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "unavailable"}
    assert "broker" in body["errors"]


def test_readyz_names_an_unreachable_database(db, client, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(connections["default"], "cursor", broken)
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_reporting_reads_go_to_the_replica_and_writes_to_the_primary(settings):
    settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}
    router = fdb.ReportingReplicaRouter()
    assert router.db_for_read(None) == "default"
    with fdb.reporting_reads():
        assert router.db_for_read(None) == "replica"
        assert router.db_for_write(None) == "default"
    assert router.db_for_read(None) == "default"
    assert router.allow_migrate("replica", "accounts") is False


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.django_db(databases=["default"])
def test_without_a_replica_reporting_reads_stay_on_the_primary():
    with (
        override_settings(DATABASES={"default": connections["default"].settings_dict}),
        fdb.reporting_reads(),
    ):
        assert fdb.ReportingReplicaRouter().db_for_read(None) == "default"


def test_replica_url_configures_a_second_database(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='fulfillment.settings'; django.setup(); "
        "from django.conf import settings as s; "
        "print(s.DATABASES['replica']['HOST'], s.DATABASE_ROUTERS[0], s.DATABASES['replica']['TEST']['MIRROR'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_REPLICA_URL": "postgres://reader@replica.internal:5432/fulfillment",
            "FULFILLMENT_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["replica.internal", "fulfillment.db.ReportingReplicaRouter", "default"]


def test_openapi_schema_describes_every_operation(db, client):
    schema = client.get("/api/schema/?format=json").json()
    missing = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            if not op.get("description") or not op.get("summary"):
                missing.append(f"{method.upper()} {path}: description")
            if not op.get("security"):
                missing.append(f"{method.upper()} {path}: security")
            if not {"401", "403", "429"} <= set(op["responses"]):
                missing.append(f"{method.upper()} {path}: error responses")
            if method == "post" and not any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])):
                missing.append(f"{method.upper()} {path}: Idempotency-Key")
    assert not missing, missing
    assert client.get("/api/docs/").status_code == 200
