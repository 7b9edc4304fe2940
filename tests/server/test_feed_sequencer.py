"""The change feed is numbered after commit: gapless, each change once, none behind a cursor."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from common.roles import Permission
from common.schemas.catalog import ProductUpdate
from sync_server.catalog import service as catalog
from sync_server.catalog.models import Product
from sync_server.db import transaction
from sync_server.foundation import feed
from sync_server.foundation.models import Change, FeedHead
from sync_server.foundation.principal import Principal
from sync_server.org.service import create_tenant
from sync_server.sync.keeper import keep_once, pending_tenants
from sync_server.sync.pull import pull

# Run only on PostgreSQL (not skipped on SQLite: these interleavings cannot exist there).
POSTGRES_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _publish(stock, key: str, *, hold: float = 0.0) -> None:
    with stock.tx() as session:
        feed.publish(
            session, tenant_id=stock.tenant_id, entity="category", key=key, data={"k": key}
        )
        session.flush()
        if hold:
            time.sleep(hold)


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()


def _feed(stock) -> list[tuple[int | None, str]]:
    with stock.tx() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(Change.seq, Change.entity_key)
                .where(Change.tenant_id == stock.tenant_id, Change.entity == "category")
                .order_by(Change.id)
            )
        ]


def _pull(stock, cursor: str) -> dict:
    with transaction(stock.factory, readonly=True) as session:
        return pull(
            session,
            tenant_id=stock.tenant_id,
            branch_id=stock.branch_ids[0],
            cursor=cursor,
            limit=500,
        )


def _feed_start(stock) -> str:
    with stock.tx() as session:
        feed.catch_up(session, tenant_id=stock.tenant_id)
    with stock.tx() as session:
        head = session.scalar(
            select(FeedHead.last_seq).where(FeedHead.tenant_id == stock.tenant_id)
        )
    return str(head) if head else "f0"


def test_concurrent_writers_get_gapless_numbers_and_each_change_appears_once(stock, backend):
    before = _feed_start(stock)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                _publish(stock, f"w{n}-{i}", hold=random.uniform(0, 0.004))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    _run([threading.Thread(target=writer, args=(n,)) for n in range(4)])
    assert errors == []
    if backend == "postgresql":
        # Writers took no head lock: their changes wait for a number.
        assert all(seq is None for seq, _ in _feed(stock))
    with stock.tx() as session:
        feed.catch_up(session, tenant_id=stock.tenant_id)
    with stock.tx() as session:
        seqs = session.scalars(
            select(Change.seq).where(Change.tenant_id == stock.tenant_id).order_by(Change.seq)
        ).all()
        head = session.scalar(
            select(FeedHead.last_seq).where(FeedHead.tenant_id == stock.tenant_id)
        )
    assert seqs == list(range(1, len(seqs) + 1))
    assert head == len(seqs)
    keys = [key for _, key in _feed(stock)]
    assert sorted(keys) == sorted(f"w{n}-{i}" for n in range(4) for i in range(15))
    page = _pull(stock, before)
    assert sorted(c["key"] for c in page["changes"]) == sorted(keys)


@POSTGRES_ONLY  # SQLite lets one writer in at a time: the interleaving cannot happen there
def test_a_slow_transaction_that_commits_after_a_later_one_is_not_missed(stock, backend):
    cursor = _feed_start(stock)
    slow = stock.factory()
    slow.begin()
    # The slow writer inserts first (smaller id) but commits last.
    feed.publish(slow, tenant_id=stock.tenant_id, entity="category", key="slow", data={"k": 1})
    slow.flush()
    _publish(stock, "fast")
    page = _pull(stock, cursor)
    assert [c["key"] for c in page["changes"]] == ["fast"]
    seen_up_to = page["cursor"]
    slow.commit()
    slow.close()
    page = _pull(stock, seen_up_to)
    assert [c["key"] for c in page["changes"]] == ["slow"]
    assert page["changes"][0]["seq"] == int(seen_up_to) + 1


def test_a_pull_loop_running_beside_writers_receives_every_change_exactly_once(stock):
    cursor = _feed_start(stock)
    done = threading.Event()
    errors: list[BaseException] = []
    received: list[str] = []

    def writer(n: int) -> None:
        try:
            for i in range(12):
                # Random hold times make commits overtake each other.
                _publish(stock, f"p{n}-{i}", hold=random.uniform(0, 0.01))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def puller() -> None:
        nonlocal cursor
        try:
            while True:
                finished = done.is_set()
                page = _pull(stock, cursor)
                received.extend(c["key"] for c in page["changes"])
                cursor = page["cursor"]
                if finished and not page["has_more"]:
                    return
                time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    reader = threading.Thread(target=puller)
    reader.start()
    _run(writers)
    done.set()
    reader.join(timeout=60)
    assert errors == []
    expected = sorted(f"p{n}-{i}" for n in range(3) for i in range(12))
    assert sorted(received) == expected  # none missing, none twice


def test_two_writers_of_one_product_leave_its_final_state_last_in_the_feed(stock):
    principal = Principal(
        tenant_id=stock.tenant_id,
        kind="user",
        label="feed-tester",
        role="admin",
        all_branches=True,
        permissions=frozenset(Permission),
    )
    product_id = stock.product_ids[0]
    first_locked = threading.Event()
    errors: list[BaseException] = []

    def change_price(price: str, *, first: bool) -> None:
        try:
            if not first:
                first_locked.wait(10)
            with stock.tx() as session:
                product = session.get(Product, product_id)
                catalog.update_product(
                    session, actor=principal, product=product, data=ProductUpdate(price=price)
                )
                session.flush()
                if first:
                    first_locked.set()
                    # The second writer starts now and must queue behind this one.
                    time.sleep(0.3)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    _run(
        [
            threading.Thread(target=change_price, args=("11.00",), kwargs={"first": True}),
            threading.Thread(target=change_price, args=("22.00",), kwargs={"first": False}),
        ]
    )
    assert errors == []
    with stock.tx() as session:
        feed.catch_up(session, tenant_id=stock.tenant_id)
    with stock.tx() as session:
        final = session.scalar(select(Product.price).where(Product.id == product_id))
        last = session.scalars(
            select(Change.data)
            .where(Change.entity == "product", Change.entity_key == str(product_id))
            .order_by(Change.seq.desc())
            .limit(1)
        ).one()
    assert final == Decimal("22.00")
    assert Decimal(last["price"]) == final


def test_the_keeper_numbers_waiting_changes(stock, backend):
    keep_once(stock.factory)  # every tenant's earlier changes
    _publish(stock, "kept")
    numbered, _ = keep_once(stock.factory)
    assert numbered == (1 if backend == "postgresql" else 0)
    assert all(seq is not None for seq, _ in _feed(stock))


@POSTGRES_ONLY  # SQLite numbers changes as they are written: nothing to queue behind
def test_a_pull_does_not_queue_behind_another_transaction_numbering(stock, backend):
    cursor = _feed_start(stock)
    _publish(stock, "waiting")
    holder = stock.factory()
    holder.begin()
    assert feed.sequence_changes(holder, tenant_id=stock.tenant_id) == 1
    started = time.perf_counter()
    page = _pull(stock, cursor)  # the head is held: read what is numbered, do not wait
    assert time.perf_counter() - started < 2
    assert page["changes"] == []
    holder.commit()
    holder.close()
    page = _pull(stock, cursor)
    assert [(c["key"], c["seq"]) for c in page["changes"]] == [("waiting", int(cursor) + 1)]


@POSTGRES_ONLY  # SQLite numbers as it writes: the keeper has nothing to visit there
def test_the_keeper_visits_only_tenants_with_waiting_work(stock, backend):
    with stock.tx() as session:
        idle = create_tenant(session, name="Idle Shop").id
    keep_once(stock.factory)
    with stock.tx() as session:
        assert pending_tenants(session) == ([], [])
    _publish(stock, "busy")
    with stock.tx() as session:
        to_number, _ = pending_tenants(session)
    assert to_number == [stock.tenant_id] and idle not in to_number
    assert keep_once(stock.factory)[0] == 1
    with stock.tx() as session:
        assert pending_tenants(session) == ([], [])
