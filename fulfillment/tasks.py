from celery import shared_task

from fulfillment.api.idempotency import purge_expired_idempotency_records


@shared_task(acks_late=True)
def purge_idempotency_keys() -> int:
    """Forget Idempotency-Keys older than 24 hours (idempotent: a rerun deletes nothing more)."""
    return purge_expired_idempotency_records()
