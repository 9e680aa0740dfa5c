"""Export jobs: created by a service, run by the Celery task on commit (eager in tests), their
progress, the file under ``EXPORTS_DIR``, the download (its requester only: anyone else gets a
404), the page with its htmx-polled progress bar, and a large export routed to a job."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.actors import Actor
from reporting import export_services
from reporting.enums import ExportStatus
from reporting.models import ExportJob
from tests.accounts.factories import UserFactory
from tests.inventory.factories import make_item, make_node, stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _exports_dir(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"


@pytest.fixture
def stocked(tenant_a):
    """Tenant A with a handful of stock moves (receipts and putaways)."""
    node = make_node(tenant_a.warehouse)
    for n in range(3):
        stock(
            tenant_a.client, node, make_item(tenant_a.client, f"SKU-{n}", name=f"=cmd|' /C calc'!A{n}"), 5 + n
        )
    return tenant_a


def period() -> dict:
    today = timezone.localdate()
    return {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}


def read(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


def test_a_job_runs_on_the_task_path_and_its_file_downloads(
    stocked, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(export_services, "PROGRESS_EVERY", 2)
    api = stocked.api
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/v1/exports/", {"kind": "moves", **period()}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"  # the answer is written before the worker runs
    assert len(callbacks) >= 1
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == ExportStatus.DONE
    moves = job.rows_done
    assert moves == job.rows_total > 0
    assert job.file_name == f"{job.pk}-moves.csv"
    assert job.actor_api_key_id == stocked.key.pk

    detail = api.get(f"/api/v1/exports/{job.pk}/").json()
    assert detail["progress"] == 100 and detail["download_url"].endswith(
        f"/api/v1/exports/{job.pk}/download/"
    )
    assert [j["id"] for j in api.get("/api/v1/exports/").json()["results"]] == [job.pk]

    download = api.get(f"/api/v1/exports/{job.pk}/download/")
    assert download.status_code == 200
    rows = read(download)
    assert rows[0][0] == "move" and len(rows) == moves + 1
    assert all(r[4].startswith("'=cmd") for r in rows[1:])


def test_progress_is_written_every_n_rows(stocked, monkeypatch):
    monkeypatch.setattr(export_services, "PROGRESS_EVERY", 2)
    updates: list[tuple[int, int]] = []
    from reporting import exports

    original = exports.write_csv_file

    def recording(**kwargs):
        progress = kwargs["progress"]

        def spy(done):
            progress(done)
            job = ExportJob.objects.get(pk=job_id)
            updates.append((job.status, job.rows_done, job.rows_total))

        return original(**{**kwargs, "progress": spy})

    monkeypatch.setattr(exports, "write_csv_file", recording)
    actor = Actor.for_user(stocked.admin)
    today = timezone.localdate()
    job = ExportJob.objects.create(
        kind="moves",
        params={"clients": [stocked.client.pk], "from": str(today - timedelta(days=1)), "to": str(today)},
        actor_user=stocked.admin,
        actor_label=actor.label,
    )
    job_id = job.pk
    export_services.export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE
    assert updates and all(status == ExportStatus.RUNNING for status, _d, _t in updates)
    assert [d for _s, d, _t in updates] == list(range(2, job.rows_done + 1, 2))
    assert all(t == job.rows_total for _s, _d, t in updates)
    # Run again (a redelivered message): a finished job is left alone.
    assert export_services.export_job_run(job_id=job.pk) is None


def test_only_the_requester_may_download(stocked, session_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = export_services.export_job_create(
            actor=Actor.for_user(stocked.admin),
            kind="moves",
            start=timezone.localdate() - timedelta(days=1),
            end=timezone.localdate(),
        )
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE
    mine = session_api(stocked.admin)
    assert mine.get(f"/api/v1/exports/{job.pk}/download/").status_code == 200
    colleague = session_api(stocked.user)  # same client, another person
    assert colleague.get(f"/api/v1/exports/{job.pk}/download/").status_code == 404
    assert colleague.get(f"/api/v1/exports/{job.pk}/").status_code == 404
    assert colleague.get("/api/v1/exports/").json()["results"] == []
    assert stocked.api.get(f"/api/v1/exports/{job.pk}/download/").status_code == 404  # the client's key too

    from django.test import Client as PageClient

    pages = PageClient()
    pages.force_login(stocked.user)
    assert pages.get(f"/exports/{job.pk}/download/").status_code == 404
    pages.force_login(stocked.admin)
    response = pages.get(f"/exports/{job.pk}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"move,")


def test_a_manager_moved_off_a_client_loses_its_exports(
    stocked, account_manager, django_capture_on_commit_callbacks, session_api
):
    account_manager.managed_clients.add(stocked.client)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_services.export_job_create(
            actor=Actor.for_user(account_manager),
            kind="moves",
            start=timezone.localdate() - timedelta(days=1),
            end=timezone.localdate(),
            client_ids=[stocked.client.pk],
        )
    api = session_api(account_manager)
    assert api.get(f"/api/v1/exports/{job.pk}/download/").status_code == 200
    account_manager.managed_clients.remove(stocked.client)
    assert session_api(account_manager).get(f"/api/v1/exports/{job.pk}/download/").status_code == 404


def test_a_job_for_another_client_is_a_400_naming_clients(stocked, tenant_b, account_manager, session_api):
    account_manager.managed_clients.add(stocked.client)
    api = session_api(account_manager)
    body = {"kind": "orders", "clients": [tenant_b.client.pk], **period()}
    response = api.post("/api/v1/exports/", body, format="json")
    assert response.status_code == 400 and "clients" in response.json()["error"]["fields"]
    assert not ExportJob.objects.exists()
    response = api.post(
        "/api/v1/exports/", {"kind": "orders", "from": "2025-03-01", "to": "2025-01-01"}, format="json"
    )
    assert response.status_code == 400 and "to" in response.json()["error"]["fields"]
    assert (
        stocked.ro_key and bearer_ro(stocked).post("/api/v1/exports/", body, format="json").status_code == 403
    )


def bearer_ro(tenant):
    from tests.conftest import bearer

    return bearer(tenant.ro_secret)


def test_a_large_export_from_the_page_becomes_a_job_with_a_polled_progress_bar(
    stocked, client, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_STREAM_MAX_ROWS = 2
    client.force_login(stocked.admin)
    today = timezone.localdate()
    form = {"kind": "moves", "date_from": today - timedelta(days=1), "date_to": today}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/portal/exports/", form)
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.QUEUED and job.actor_user == stocked.admin
    page = client.get("/portal/exports/").content.decode()
    assert f'hx-get="/exports/{job.pk}/"' in page and 'hx-trigger="every 2s"' in page
    row = client.get(f"/exports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in row
    export_services.export_job_run(job_id=job.pk)
    row = client.get(f"/exports/{job.pk}/").content.decode()
    assert "every 2s" not in row and f"/exports/{job.pk}/download/" in row and 'aria-valuenow="100"' in row


def test_asking_for_the_background_runs_a_job_even_when_small(
    stocked, client, django_capture_on_commit_callbacks
):
    client.force_login(stocked.admin)
    today = timezone.localdate()
    form = {"kind": "moves", "date_from": today - timedelta(days=1), "date_to": today, "background": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/portal/exports/", form).status_code == 302
    assert ExportJob.objects.get().status == ExportStatus.DONE


def test_the_exports_page_lists_only_my_jobs_in_constant_queries(
    stocked, client, django_assert_max_num_queries
):
    other = UserFactory(role="client_admin", client=stocked.client)
    today = timezone.localdate()
    params = {"clients": [stocked.client.pk], "from": str(today), "to": str(today)}
    for owner in (stocked.admin, other):
        ExportJob.objects.create(kind="orders", params=params, actor_user=owner, actor_label=owner.email)
    client.force_login(stocked.admin)
    with django_assert_max_num_queries(12):
        page = client.get("/portal/exports/")
    html = page.content.decode()
    mine = ExportJob.objects.get(actor_user=stocked.admin)
    theirs = ExportJob.objects.get(actor_user=other)
    assert f'id="export-{mine.pk}"' in html and f'id="export-{theirs.pk}"' not in html
    for _ in range(15):
        ExportJob.objects.create(kind="orders", params=params, actor_user=stocked.admin, actor_label="x")
    with django_assert_max_num_queries(12):
        client.get("/portal/exports/")
    with django_assert_max_num_queries(12):
        stocked.api.get("/api/v1/exports/", {"page_size": 5})
    with django_assert_max_num_queries(12):
        stocked.api.get("/api/v1/exports/", {"page_size": 50})


def test_a_failed_job_says_why(stocked):
    actor = Actor.for_user(stocked.admin)
    job = ExportJob.objects.create(
        kind="moves",
        params={"clients": [stocked.client.pk], "from": "2025-03-01", "to": "2025-01-01"},
        actor_user=stocked.admin,
        actor_label=actor.label,
    )
    export_services.export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "ends before it starts" in job.error


def _finished_job(tenant, *, days_ago: float) -> ExportJob:
    actor = Actor.for_user(tenant.admin)
    job = ExportJob.objects.create(
        kind="moves",
        params={"clients": [tenant.client.pk], **period()},
        actor_user=tenant.admin,
        actor_label=actor.label,
    )
    export_services.export_job_run(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE
    return job


def _age(path, days: float) -> None:
    stamp = (timezone.now() - timedelta(days=days)).timestamp()
    os.utime(path, (stamp, stamp))


def test_files_older_than_the_retention_are_deleted_and_their_jobs_expire(stocked, settings, session_api):
    settings.EXPORT_RETENTION_DAYS = 7
    old = _finished_job(stocked, days_ago=8)
    recent = _finished_job(stocked, days_ago=6)
    directory = Path(settings.EXPORTS_DIR)
    _age(directory / old.file_name, 8)
    running = ExportJob.objects.create(
        kind="orders",
        params=old.params,
        status=ExportStatus.RUNNING,
        actor_user=stocked.admin,
        actor_label="x",
    )
    part = directory / f"{running.pk}-orders.part"  # being written, slowly
    stray_old, stray_young = directory / "999999-orders.csv", directory / "999998-moves.csv.part"
    for path, days in ((part, 9), (stray_old, 9), (stray_young, 1)):
        path.write_text("x")
        _age(path, days)

    assert export_services.purge_exports() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == ExportStatus.EXPIRED and not (directory / old.file_name).exists()
    assert recent.status == ExportStatus.DONE and (directory / recent.file_name).is_file()
    assert part.exists() and stray_young.exists() and not stray_old.exists()
    assert export_services.purge_exports() == 0  # nothing left to expire

    api = session_api(stocked.admin)
    detail = api.get(f"/api/v1/exports/{old.pk}/").json()
    assert detail["status"] == "expired" and detail["download_url"] is None
    gone = api.get(f"/api/v1/exports/{old.pk}/download/")
    assert gone.status_code == 410, gone.content
    assert (
        gone.json()["error"]["code"] == "expired"
        and "run the export again" in gone.json()["error"]["message"]
    )
    assert api.get(f"/api/v1/exports/{recent.pk}/download/").status_code == 200

    from django.test import Client as PageClient

    pages = PageClient()
    pages.force_login(stocked.admin)
    row = pages.get(f"/exports/{old.pk}/").content.decode()
    assert "Expired: export again" in row and f"/exports/{old.pk}/download/" not in row
    assert pages.get(f"/exports/{old.pk}/download/").status_code == 404


def test_the_daily_beat_task_purges(stocked, settings):
    from reporting.export_tasks import purge_exports

    assert settings.CELERY_BEAT_SCHEDULE["purge-exports"]["task"] == purge_exports.name
    settings.EXPORT_RETENTION_DAYS = 1
    job = _finished_job(stocked, days_ago=2)
    assert purge_exports.delay().get() == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED
