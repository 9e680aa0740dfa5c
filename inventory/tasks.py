from celery import shared_task

from inventory.services import inventory_snapshot_take


@shared_task(acks_late=True)
def take_inventory_snapshots() -> int:
    """Hourly: snapshot each node whose local midnight has passed (idempotent)."""
    return inventory_snapshot_take()
