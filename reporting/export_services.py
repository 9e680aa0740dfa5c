"""Export jobs: asked for by a person or a key, run by a worker, downloaded by whoever asked.

A job is owned by its requester: the signed-in user (their staff key acts as them), or the
client's API key that created it. Nobody else sees it: another user's job is a 404.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.actors import Actor
from accounts.roles import Perm
from accounts.services import audit_record
from fulfillment.tenancy import actor_scope

from . import exports
from .enums import ExportStatus
from .models import ExportJob

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 1000  # rows between two progress updates of a running job


# --- reads ------------------------------------------------------------------------------------


def _owner_q(actor: Actor) -> Q:
    if actor.user is not None:
        return Q(actor_user=actor.user)
    if actor.api_key is not None:
        return Q(actor_user__isnull=True, actor_api_key=actor.api_key)
    return Q(pk__in=[])


def export_job_list(*, actor: Actor) -> QuerySet[ExportJob]:
    """The actor's own jobs, newest first."""
    if not actor.can(Perm.EXPORT):
        return ExportJob.objects.none()
    return ExportJob.objects.filter(_owner_q(actor)).order_by("-created_at", "-pk")


def export_job_get(*, actor: Actor, pk) -> ExportJob:
    return get_object_or_404(export_job_list(actor=actor), pk=pk)


class ExportExpired(Http404):
    """The job is the requester's, and its file was deleted after ``EXPORT_RETENTION_DAYS``."""


def export_job_file(*, actor: Actor, pk) -> tuple[ExportJob, Path]:
    """The job's file, for its requester only, and only while they still see every client in it
    (an account manager moved off a client loses its exports): otherwise a 404; an expired job's
    file is ``ExportExpired`` (a 404 to pages, a 410 to the API)."""
    job = export_job_get(actor=actor, pk=pk)
    if job.status == ExportStatus.EXPIRED:
        raise ExportExpired(
            f"The export's file was deleted {settings.EXPORT_RETENTION_DAYS} days after it was written: "
            "run the export again."
        )
    if job.status != ExportStatus.DONE or not job.file_name:
        raise Http404("The export is not ready.")
    if not all(actor.sees_client(pk) for pk in job.params.get("clients", [])):
        raise Http404
    path = exports.exports_dir() / job.file_name
    if not path.is_file():
        raise Http404("The export's file is gone.")
    return job, path


def job_actor(job: ExportJob) -> Actor | None:
    """Who the job runs as: its requester, as they are now (a revoked key or a deactivated user
    runs nothing)."""
    if job.actor_api_key_id and not job.actor_user_id:
        key = job.actor_api_key
        return Actor.for_api_key(key) if key.revoked_at is None else None
    if job.actor_user_id and job.actor_user.is_active:
        return Actor.for_user(job.actor_user)
    return None


# --- writes -----------------------------------------------------------------------------------


def export_job_create(
    *,
    actor: Actor,
    kind: str,
    start: date | None,
    end: date | None,
    client_ids: list[int] | None = None,
) -> ExportJob:
    """Queue an export; a worker writes the file (``export_job_run``) once this commits."""
    actor.require(Perm.EXPORT)
    if actor.user is None and actor.api_key is None:
        raise ValidationError("An export belongs to a person or a key; the system cannot ask for one.")
    request = exports.export_request(
        actor=actor, kind=kind, start=start, end=end, client_ids=client_ids, strict_clients=True
    )
    if not request.client_ids:
        raise ValidationError({"clients": ["You have no client to export."]})
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=request.kind,
            params=request.as_params(),
            actor_user=actor.user,
            actor_api_key=actor.api_key,
            actor_label=actor.label[:200],
        )
        audit_record(
            actor=actor,
            action="export.create",
            target=job,
            client_id=request.client_ids[0] if len(request.client_ids) == 1 else None,
            changes={"kind": request.kind, **request.as_params()},
        )
        from .export_tasks import run_export

        job_id = job.pk
        transaction.on_commit(lambda: run_export.delay(job_id))
    return job


def _claim(job_id: int) -> ExportJob | None:
    """Mark the job running. A job found running already was being written by a worker that died
    (the task is acked late, so it came back): it starts over. Done and failed jobs are final."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (ExportStatus.DONE, ExportStatus.FAILED):
            return None
        job.status, job.rows_done, job.error = ExportStatus.RUNNING, 0, ""
        job.save(update_fields=["status", "rows_done", "error"])
    return job


def _finish(job: ExportJob, *, status: str, **fields) -> None:
    fields |= {"status": status, "finished_at": timezone.now()}
    ExportJob.objects.filter(pk=job.pk).update(**fields)


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write a job's file under ``EXPORTS_DIR``, updating ``rows_done`` every ``PROGRESS_EVERY``
    rows. Safe to run twice: a finished job is left alone."""
    job = _claim(job_id)
    if job is None:
        return None
    actor = job_actor(job)
    if actor is None:
        _finish(
            job, status=ExportStatus.FAILED, error="The person or key that asked for it is no longer active."
        )
        return job
    try:
        with actor_scope(actor):
            asked = exports.ExportRequest.from_params(job.kind, job.params)
            # Checked again as the requester is now: a client they lost is not exported.
            request = exports.export_request(
                actor=actor, kind=asked.kind, start=asked.start, end=asked.end, client_ids=asked.client_ids
            )
            total = exports.count_rows(actor=actor, request=request)
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
            file_name = f"{job.pk}-{job.kind}.csv"

            def progress(done: int) -> None:
                ExportJob.objects.filter(pk=job.pk).update(rows_done=done, rows_total=max(total, done))

            done = exports.write_csv_file(
                actor=actor,
                request=request,
                path=exports.exports_dir() / file_name,
                progress=progress,
                every=PROGRESS_EVERY,
            )
    except ValidationError as exc:
        _finish(job, status=ExportStatus.FAILED, error=" ".join(exc.messages)[:500])
        return job
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        _finish(job, status=ExportStatus.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:500])
        raise
    _finish(job, status=ExportStatus.DONE, rows_done=done, rows_total=done, file_name=file_name)
    job.refresh_from_db()
    return job


# --- retention --------------------------------------------------------------------------------


def purge_exports(*, now: datetime | None = None) -> int:
    """Expire the exports finished more than ``EXPORT_RETENTION_DAYS`` ago: each job is kept (its
    status becomes ``expired``, so its requester sees why the download is gone) and its file is
    deleted. Then any other file in ``EXPORTS_DIR`` older than that which no ready or running job
    names is deleted too (a job's file whose job was deleted, a ``.part`` left by a worker that
    died). A file younger than the cut-off is never touched, so a job finishing meanwhile keeps
    its file. Returns the number of jobs expired."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    with transaction.atomic():
        expired = list(
            ExportJob.objects.select_for_update()
            .filter(status=ExportStatus.DONE, finished_at__lt=cutoff)
            .values_list("pk", "file_name")
        )
        ExportJob.objects.filter(pk__in=[pk for pk, _ in expired]).update(status=ExportStatus.EXPIRED)
    directory = exports.exports_dir()
    for _, name in expired:
        if name and Path(name).name == name:
            (directory / name).unlink(missing_ok=True)
    live = ExportJob.objects.filter(
        status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.DONE)
    ).values_list("pk", "kind")
    kept = {f"{pk}-{kind}" for pk, kind in live}  # a job's file and its .part while written
    limit = cutoff.timestamp()
    for path in directory.iterdir():
        if path.is_file() and path.stem not in kept and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
    if expired:
        logger.info("expired %d export(s) older than %s", len(expired), cutoff.isoformat())
    return len(expired)
