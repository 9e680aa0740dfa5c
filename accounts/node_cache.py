"""A client's active nodes as the SLA clock reads them, kept in the shared cache for a minute.

Every order intake places its orders at the client's nearest active node to compute their ship-by,
and so reads the client's active warehouses (id, ZIP, time zone) with their closure dates: one
statement that PostgreSQL plans again on every request. The cache holds those plain values per
client (``client-nodes:<client id>``); ``orders.services`` builds the nodes from them as it does
from the statement's rows.

Every change that bears on a client's entry, through a service, the admin site or a shell, marks
the entry stale at once and again after the commit (the receivers below: cache coherence, not
domain logic): a save or delete of a warehouse (its clients), a save or delete of a closure (its
warehouse's clients), and an add, remove or clear of ``Client.warehouses`` from either side (the
clients concerned; a clear from the warehouse's side is caught before it, while its clients can
still be read). A stale entry sends intake to the database until it expires, and an entry is only
ever added where none is (``cache.add``), so an intake that read the nodes just before the change
cannot put the old nodes back. A bulk write that sends no signal (``QuerySet.update()``,
``bulk_create``) must call ``forget`` or ``forget_clients_of`` itself (``accounts.services`` does
for closures); otherwise it waits for ``TTL_SECONDS``. The receivers are connected in every process
by ``AccountsConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from fulfillment import cache as shared_cache
from fulfillment.cache import mark_stale

from .models import Client, Warehouse, WarehouseClosure

TTL_SECONDS = 60

# (warehouse id, ZIP, time zone, closure dates) of each active node, in warehouse id order.
NodeRow = tuple[int, str, str, tuple[date, ...]]

_LINKS = Client.warehouses.through


def cache_key(client_id: int) -> str:
    return f"client-nodes:{client_id}"


def cached(client_id: int) -> tuple[NodeRow, ...] | None:
    """The client's active nodes as intake last read them, unless stale or expired (or as the
    request read them ahead: ``fulfillment.cache.get``)."""
    value = shared_cache.get(cache_key(client_id))
    return value if isinstance(value, tuple) else None


def remember(client_id: int, rows: Iterable[Sequence]) -> None:
    """Keep the nodes intake just read from the database (unless the client's entry is stale)."""
    value = tuple((pk, zip_code, time_zone, tuple(dates)) for pk, zip_code, time_zone, dates in rows)
    cache.add(cache_key(client_id), value, TTL_SECONDS)


def forget(client_ids: Iterable[int]) -> None:
    """Mark these clients' entries stale now and after the commit of the change that calls it."""
    mark_stale((cache_key(client_id) for client_id in client_ids), TTL_SECONDS)


def forget_clients_of(warehouse_ids: Iterable[int]) -> None:
    """``forget`` every client linked to these warehouses."""
    forget(
        set(_LINKS.objects.filter(warehouse_id__in=list(warehouse_ids)).values_list("client_id", flat=True))
    )


@receiver(post_save, sender=Warehouse, dispatch_uid="node_cache.warehouse_saved")
def _warehouse_saved(sender, instance: Warehouse, created: bool = False, **kwargs) -> None:
    if not created:  # a new warehouse serves no client yet
        forget_clients_of([instance.pk])


@receiver(pre_delete, sender=Warehouse, dispatch_uid="node_cache.warehouse_deleted")
def _warehouse_deleted(sender, instance: Warehouse, **kwargs) -> None:
    # Before the delete: afterwards its links to clients are gone with it.
    forget_clients_of([instance.pk])


@receiver([post_save, post_delete], sender=WarehouseClosure, dispatch_uid="node_cache.closure")
def _closure_changed(sender, instance: WarehouseClosure, **kwargs) -> None:
    forget_clients_of([instance.warehouse_id])


@receiver(m2m_changed, sender=_LINKS, dispatch_uid="node_cache.client_warehouses")
def _links_changed(sender, instance, action: str, reverse: bool, pk_set: set | None, **kwargs) -> None:
    if not reverse:  # client.warehouses.add/remove/set/clear(...): that client
        if action in ("post_add", "post_remove", "post_clear"):
            forget([instance.pk])
    elif action in ("post_add", "post_remove"):  # warehouse.clients.add/remove/set(...)
        forget(pk_set or ())
    elif action == "pre_clear":  # warehouse.clients.clear(): its clients, while they can be read
        forget_clients_of([instance.pk])
