"""Stock under concurrency, on PostgreSQL with real threads: nothing lost, nothing counted twice,
no balance below zero or below what is allocated, no deadlock between opposite relocations."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django_scopes import scope

from accounts.actors import Actor
from inventory import selectors, services
from inventory.enums import MoveReason
from inventory.models import ASN, ASNLine, Balance, Move, Receipt
from tests.accounts.factories import UserFactory
from tests.inventory.factories import SYSTEM, make_asn, make_item, make_node, stock

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(client_id: int, jobs: list[Callable[[], object]]) -> list[object]:
    """Start every job at the same moment, each in its own thread and database connection, inside
    the client's scope (as a request would open it). Returns each job's result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def worker(index: int, job: Callable[[], object]) -> None:
        from django.db import connection

        try:
            with scope(client=client_id):
                barrier.wait()
                results[index] = job()
        except Exception as exc:  # collected and inspected by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    return results


def errors(results) -> list[Exception]:
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, ValidationError)]
    assert not unexpected, unexpected  # a deadlock or an IntegrityError would show up here
    return [r for r in results if isinstance(r, ValidationError)]


@pytest.fixture
def world():
    from tests.conftest import make_tenant

    tenant = make_tenant("Conc")
    node = make_node(tenant.warehouse)
    receivers = []
    for _ in range(4):
        user = UserFactory(role="warehouse_operator", client=None)
        user.warehouses.add(tenant.warehouse)
        receivers.append(user)
    return tenant, node, receivers


def test_concurrent_receiving_on_one_line_never_loses_or_double_counts(world):
    tenant, node, receivers = world
    item = make_item(tenant.client, barcode="4006381333931")
    asn = make_asn(tenant.client, tenant.warehouse, [(item, 100)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    line = asn.lines.get()

    def receive(user, quantity, by_scan):
        def job():
            kwargs = {"code": "4006381333931"} if by_scan else {"line": line}
            return services.asn_receive(
                actor=Actor.for_user(user), asn=asn, quantity=quantity, session=user.email, **kwargs
            )

        return job

    jobs = [receive(receivers[i % 4], 3 + i, by_scan=i % 2 == 1) for i in range(8)]
    results = run_concurrently(tenant.client.pk, jobs)
    assert errors(results) == []
    line.refresh_from_db()
    expected = sum(3 + i for i in range(8))
    receipts = Receipt.objects.filter(line=line).aggregate(n=Sum("quantity"))["n"]
    dock = Balance.objects.get(item=item, location=node.dock)
    moves = Move.objects.filter(balance=dock).aggregate(n=Sum("quantity"))["n"]
    assert line.received_quantity == receipts == dock.on_hand == moves == expected
    assert Receipt.objects.filter(line=line).count() == 8
    assert asn.lines.count() == 1
    asn.refresh_from_db()
    assert asn.status == "receiving"
    assert asn.events.filter(to_status="receiving").count() == 1  # the transition happened once
    assert selectors.ledger_differences() == []


def test_concurrent_scans_of_an_unexpected_item_make_one_line(world):
    tenant, node, _receivers = world
    expected_item, stray = make_item(tenant.client), make_item(tenant.client)
    asn = make_asn(tenant.client, tenant.warehouse, [(expected_item, 5)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    jobs = [
        lambda: services.asn_receive(actor=SYSTEM, asn=asn, code=stray.sku, quantity=2),
    ] * 4
    assert errors(run_concurrently(tenant.client.pk, jobs)) == []
    line = ASNLine.objects.get(asn=asn, item=stray)
    assert line.unexpected and line.received_quantity == 8
    assert Balance.objects.get(item=stray, location=node.dock).on_hand == 8


def test_concurrent_putaways_never_move_more_than_waits(world):
    tenant, node, receivers = world
    item = make_item(tenant.client)
    asn = make_asn(tenant.client, tenant.warehouse, [(item, 10)])
    services.asn_arrive(actor=SYSTEM, asn=asn)
    line = asn.lines.get()
    services.asn_receive(actor=SYSTEM, asn=asn, line=line, quantity=10)

    def putaway(user, location):
        return lambda: services.asn_putaway(
            actor=Actor.for_user(user), asn=asn, line=line, to_location=location, quantity=4
        )

    jobs = [putaway(receivers[i % 4], node.bins[i % 4]) for i in range(6)]
    results = run_concurrently(tenant.client.pk, jobs)
    losers = errors(results)
    assert len(losers) == 4  # 4 + 4 fit in 10; a third 4 does not
    assert all("quantity" in e.message_dict for e in losers)
    line.refresh_from_db()
    moved = Move.objects.filter(reason=MoveReason.PUTAWAY, quantity__gt=0).aggregate(n=Sum("quantity"))["n"]
    assert moved == line.putaway_quantity == 8 <= line.received_quantity
    assert Balance.objects.get(item=item, location=node.dock).on_hand == 2
    assert selectors.ledger_differences() == []
    assert ASN.objects.get(pk=asn.pk).stocked_at is None


def test_concurrent_negative_adjustments_never_go_below_allocated(world):
    tenant, node, receivers = world
    item = make_item(tenant.client)
    stock(tenant.client, node, item, 10)
    balance = Balance.objects.get(item=item, location=node.bins[0])
    Balance.objects.filter(pk=balance.pk).update(allocated=3)  # reserved by orders: 7 available

    def take(user):
        return lambda: services.stock_adjust(
            actor=Actor.for_user(user),
            client=tenant.client,
            item=item,
            location=node.bins[0],
            quantity=-2,
            code="lost",
            note="concurrent",
        )

    results = run_concurrently(tenant.client.pk, [take(receivers[i % 4]) for i in range(8)])
    losers = errors(results)
    assert len(losers) == 5  # three of 2 fit in 7
    balance.refresh_from_db()
    assert (balance.on_hand, balance.allocated) == (4, 3)
    assert selectors.ledger_differences() == []


def test_concurrent_adjustments_into_a_new_bin_make_one_balance(world):
    tenant, node, _receivers = world
    item = make_item(tenant.client)

    def put():
        return services.stock_adjust(
            actor=SYSTEM,
            client=tenant.client,
            item=item,
            location=node.bins[3],
            quantity=1,
            code="found",
            note="x",
        )

    assert errors(run_concurrently(tenant.client.pk, [put] * 6)) == []
    balance = Balance.objects.get(item=item, location=node.bins[3])
    assert balance.on_hand == 6 == balance.moves.count()


def test_opposite_relocations_do_not_deadlock(world):
    tenant, node, receivers = world
    item = make_item(tenant.client)
    stock(tenant.client, node, item, 50, location=node.bins[0])
    stock(tenant.client, node, item, 50, location=node.bins[1])
    a = Balance.objects.get(item=item, location=node.bins[0])
    b = Balance.objects.get(item=item, location=node.bins[1])

    def shuttle(source, target, user):
        def job():
            actor = Actor.for_user(user)
            done = 0
            for _ in range(5):
                services.stock_relocate(actor=actor, balance=source, to_location=target, quantity=3)
                done += 1
            return done

        return job

    jobs = [
        shuttle(a, node.bins[1], receivers[0]),
        shuttle(b, node.bins[0], receivers[1]),
        shuttle(a, node.bins[1], receivers[2]),
        shuttle(b, node.bins[0], receivers[3]),
    ]
    results = run_concurrently(tenant.client.pk, jobs)
    assert errors(results) == []
    assert results == [5, 5, 5, 5]
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.on_hand + b.on_hand == 100
    assert a.on_hand == 50 - 30 + 30
    assert Move.objects.filter(reason=MoveReason.RELOCATION).count() == 40
    assert selectors.ledger_differences() == []


def test_a_move_is_reversed_once_under_concurrency(world):
    tenant, node, _receivers = world
    item = make_item(tenant.client)
    move = services.stock_adjust(
        actor=SYSTEM,
        client=tenant.client,
        item=item,
        location=node.bins[0],
        quantity=5,
        code="found",
        note="x",
    )
    jobs = [lambda: services.move_reverse(actor=SYSTEM, move=move, note="duplicate")] * 4
    losers = errors(run_concurrently(tenant.client.pk, jobs))
    assert len(losers) == 3
    assert all("move" in e.message_dict for e in losers)
    assert Move.objects.filter(reverses=move).count() == 1
    assert Balance.objects.get(pk=move.balance_id).on_hand == 0
