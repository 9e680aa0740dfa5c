"""The export worker: a thin task that runs one job (ids in; the service opens the scope)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reporting.export_tasks.run_export", acks_late=True)
def run_export(job_id: int) -> str:
    """Write one export job's file. Acked late: a worker killed mid-file leaves the job running,
    the message comes back and the job starts over (``export_job_run`` is safe to run twice)."""
    from reporting.export_services import export_job_run

    job = export_job_run(job_id=job_id)
    return job.status if job else "skipped"


@shared_task(name="reporting.export_tasks.purge_exports")
def purge_exports() -> int:
    """Delete the files of exports older than ``EXPORT_RETENTION_DAYS`` (daily, by beat)."""
    from reporting.export_services import purge_exports as purge

    return purge()
