"""Writers racing over the same stock through a real server: no deadlock reaches a client.

A store integrator's day squeezed into seconds: online orders paid and cancelled, tills
pushing sales, transfers and receipts, all over the same three products in shuffled line
order, against uvicorn in its own process (two workers on PostgreSQL). And the embedded
SQLite default under a burst of 50 simultaneous orders: every answer is prompt.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, text

from common.codes import MovementCode
from common.ids import new_id
from common.sync.protocol import Event, SaleCompleted, SaleLine, SalePayment
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.orders.models import Order
from tests import web
from tests.invariants import check_ledger
from tests.serverproc import uvicorn_server

ORDER_CLIENTS = 4
TILLS = 2
STOCK_CLIENTS = 2
ROUNDS = 15
START_STOCK = Decimal(100_000)


def _stock_everything(world) -> None:
    """Plenty of every product in both branches: nothing is refused for want of stock."""
    with transaction(world.sessions()) as session:
        for branch_id in world.a.branch_ids:
            for product_id in world.a.product_ids:
                ledger.record_movement(
                    session,
                    actor=world.principal("admin").actor,
                    branch_id=branch_id,
                    product_id=product_id,
                    code=MovementCode.RECEIPT,
                    quantity=START_STOCK,
                    reference_type="test",
                    reference_id=new_id(),
                )


def _server_env(settings, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "STOCKPILOT_DATABASE_URL": database_url,
        "STOCKPILOT_SECRET_KEY": settings.secret_key,
        "STOCKPILOT_DATA_DIR": str(settings.data_dir),
        "STOCKPILOT_LOG_LEVEL": "INFO",
        **extra,
    }


def _shuffled(rng: random.Random, items: list) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


def _sale_event(
    *, device_id: str, branch_id: int, product_ids: list[int], receipt: str, rng: random.Random
) -> dict:
    lines = [
        SaleLine(
            line_id=new_id(),
            product_id=product_id,
            sku="X",
            name="Item",
            quantity=Decimal(rng.randint(1, 3)),
            unit_price=Decimal("10.00"),
            total=Decimal("10.00"),
        )
        for product_id in _shuffled(rng, product_ids)
    ]
    for line in lines:
        line.total = line.unit_price * line.quantity
    total = sum((line.total for line in lines), Decimal(0))
    sale = SaleCompleted(
        sale_id=new_id(),
        receipt_number=receipt,
        branch_id=branch_id,
        lines=lines,
        payments=[SalePayment(payment_id=new_id(), method="cash", amount=total)],
        subtotal=total,
        total=total,
    )
    return Event.wrap(sale, device_id=device_id).model_dump(mode="json")


def _deadlocks(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_mixed_writers_on_the_same_products_never_see_a_deadlock(
    world, settings, database_url, engine, tmp_path
):
    _stock_everything(world)
    main, west = world.a.branch_ids
    products = world.a.product_ids
    skus = [f"ADMIN-{i}" for i in range(len(products))]
    admin = world.api("admin")
    key = admin.post("api-keys", json={"name": "web", "scopes": ["orders:write"]}).json()["key"]
    devices = []
    for n in range(TILLS):
        code = admin.post("devices/enrolment-codes", json={"branch_id": main}).json()["code"]
        answer = world.client.post(
            "/api/v1/devices/enrol", json={"code": code, "name": f"Till {n}"}
        ).json()
        devices.append(answer)
    admin_token = world.token("admin")
    deadlocks_before = _deadlocks(engine)
    statuses: Counter[tuple[str, int]] = Counter()
    problems: list[str] = []
    lock = threading.Lock()

    def note(kind: str, response: httpx.Response) -> httpx.Response:
        with lock:
            statuses[(kind, response.status_code)] += 1
            if response.status_code >= 500 or "deadlock" in response.text.lower():
                problems.append(f"{kind} {response.status_code} {response.text[:200]}")
        return response

    def orders(n: int, http: httpx.Client, rng: random.Random) -> None:
        headers = {"X-API-Key": key}
        for i in range(ROUNDS):
            body = {
                "external_number": f"W{n}-{i}",
                "customer": {"name": f"Buyer {n}", "email": f"buyer{n}@example.com"},
                "lines": [
                    {"sku": sku, "quantity": str(rng.randint(1, 3))} for sku in _shuffled(rng, skus)
                ],
                "branch_code": "MAIN",
            }
            idem = {**headers, "Idempotency-Key": str(uuid.uuid4())}
            created = note("order", http.post("/api/v1/orders", json=body, headers=idem))
            if created.status_code != 201:
                continue
            order = created.json()
            choice = i % 3
            if choice in (0, 1):
                paid = note(
                    "pay",
                    http.post(
                        f"/api/v1/orders/{order['id']}/payment",
                        json={"amount": order["total"], "reference": f"P{n}-{i}"},
                        headers=headers,
                    ),
                )
                if paid.status_code != 200 or choice == 0:
                    continue
            # Pending: the reservation is released; confirmed: the goods come back.
            note(
                "cancel",
                http.post(
                    f"/api/v1/orders/{order['id']}/cancel",
                    json={"reason": "changed mind"},
                    headers=headers,
                ),
            )

    def till(n: int, http: httpx.Client, rng: random.Random) -> None:
        device = devices[n]
        headers = {"Authorization": f"Bearer {device['token']}"}
        for i in range(ROUNDS):
            events = [
                _sale_event(
                    device_id=device["device_id"],
                    branch_id=main,
                    product_ids=products,
                    receipt=f"T{n}-{i}-{j}",
                    rng=rng,
                )
                for j in range(2)
            ]
            pushed = note(
                "push", http.post("/api/v1/sync/push", json={"events": events}, headers=headers)
            )
            if pushed.status_code == 200:
                assert [r["status"] for r in pushed.json()["results"]] == ["applied"] * 2

    def stock(n: int, http: httpx.Client, rng: random.Random) -> None:
        headers = {"Authorization": f"Bearer {admin_token}"}
        for i in range(ROUNDS):
            source, destination = (main, west) if (n + i) % 2 else (west, main)
            lines = [
                {"product_id": p, "quantity": str(rng.randint(1, 3))}
                for p in _shuffled(rng, products)
            ]
            made = note(
                "transfer",
                http.post(
                    "/api/v1/transfers",
                    json={
                        "source_branch_id": source,
                        "destination_branch_id": destination,
                        "lines": lines,
                    },
                    headers=headers,
                ),
            )
            if made.status_code != 201:
                continue
            transfer_id = made.json()["id"]
            sent = note(
                "dispatch",
                http.post(f"/api/v1/transfers/{transfer_id}/dispatch", headers=headers),
            )
            if sent.status_code == 200:
                note(
                    "receive",
                    http.post(
                        f"/api/v1/transfers/{transfer_id}/receive",
                        json={"lines": _shuffled(rng, lines)},
                        headers=headers,
                    ),
                )
            note(
                "receipt",
                http.post(
                    "/api/v1/stock/receipts",
                    json={
                        "branch_id": main,
                        "lines": [
                            {"product_id": p, "quantity": "5", "unit_cost": "6.00"}
                            for p in _shuffled(rng, products)
                        ],
                    },
                    headers=headers,
                ),
            )

    workers = (
        [(orders, n) for n in range(ORDER_CLIENTS)]
        + [(till, n) for n in range(TILLS)]
        + [(stock, n) for n in range(STOCK_CLIENTS)]
    )
    start = threading.Barrier(len(workers))
    env = _server_env(settings, database_url, STOCKPILOT_RATE_LIMIT_STORE="off")
    log_path = tmp_path / "server.log"
    with uvicorn_server(env=env, log_path=log_path, workers=2) as url:

        def run(job) -> None:
            (work, n), seed = job
            with web.Client(base_url=url, timeout=60) as http:
                start.wait()
                work(n, http, random.Random(seed))

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(workers)) as pool:
            for done in pool.map(run, [(w, i) for i, w in enumerate(workers)]):
                assert done is None
        elapsed = time.monotonic() - began
    total = sum(statuses.values())
    # A push carries two sales: each is one more unit of work on the same stock.
    operations = total + sum(n for (kind, _), n in statuses.items() if kind == "push")
    retried = log_path.read_text().count("lost a database conflict")
    print(
        f"\n{total} requests ({operations} operations) in {elapsed:.1f} s by "
        f"{len(workers)} clients, 2 workers: "
        f"{dict(sorted(statuses.items()))}; deadlocks detected by PostgreSQL: "
        f"{_deadlocks(engine) - deadlocks_before}; requests replayed in the server: {retried}"
    )
    conflicts = [line for line in log_path.read_text().splitlines() if "conflict" in line]
    assert not problems, (problems[:5], conflicts[:10])
    assert operations >= 300
    # Nothing refused for want of stock, and every write answered as a success.
    assert {status for _, status in statuses} <= {200, 201}, statuses
    check_ledger(engine)
    with transaction(world.sessions(), readonly=True) as session:
        pending = session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "pending_payment")
        )
        reserved = sum(
            ledger.level(session, tenant_id=world.a.id, branch_id=main, product_id=p).reserved
            for p in products
        )
    assert (pending > 0) == (reserved > 0)


BURST = 50
WARM_UP = 10


@pytest.mark.parametrize("backend", ["sqlite"])
def test_embedded_server_answers_a_burst_of_50_orders_promptly(
    world, settings, database_url, tmp_path
):
    """One worker on the SQLite file, as installed: each answer is 2xx, 409 or a prompt 503."""
    _stock_everything(world)
    admin = world.api("admin")
    key = admin.post("api-keys", json={"name": "web", "scopes": ["orders:write"]}).json()["key"]
    # The embedded defaults (in-memory rate limits, in-process worker), only the paths given.
    env = _server_env(settings, database_url)

    def order(i: int) -> tuple[int, float, dict[str, str], str]:
        body = {
            "external_number": f"BURST-{i}",
            "customer": {"name": f"Buyer {i}", "email": f"burst{i}@example.com"},
            "lines": [{"sku": "ADMIN-0", "quantity": "1"}, {"sku": "ADMIN-1", "quantity": "2"}],
            "branch_code": "MAIN",
        }
        headers = {"X-API-Key": key, "Idempotency-Key": f"burst-{i}"}
        with web.Client(base_url=url, timeout=60) as http:
            start.wait()
            began = time.monotonic()
            response = http.post("/api/v1/orders", json=body, headers=headers)
            return (
                response.status_code,
                time.monotonic() - began,
                dict(response.headers),
                response.text,
            )

    with (
        uvicorn_server(env=env, log_path=tmp_path / "server.log", workers=1) as url,
        ThreadPoolExecutor(max_workers=BURST) as pool,
    ):
        # A server that has been up a while has its threads, connections and compiled
        # statements ready: serve a few orders side by side first, as it would have.
        start = threading.Barrier(WARM_UP)
        warm = list(pool.map(order, range(BURST, BURST + WARM_UP)))
        start = threading.Barrier(BURST)
        answers = list(pool.map(order, range(BURST)))
    warmed = sum(status == 201 for status, *_ in warm)
    assert {status for status, *_ in warm} <= {201, 503}
    statuses = Counter(status for status, *_ in answers)
    slowest = {status: max(t for s, t, *_ in answers if s == status) for status in statuses}
    print(f"\n{BURST} simultaneous orders on SQLite: {dict(statuses)}; slowest: {slowest}")
    assert set(statuses) <= {201, 409, 503}, [a for a in answers if a[0] not in (201, 409, 503)]
    assert statuses[201] >= 1
    for status, elapsed, headers, body in answers:
        if status == 503:
            assert headers.get("retry-after") == "1", headers
            assert "problem+json" in headers["content-type"] and "busy" in body
            # Queued at most db_wait_seconds (1.5 s), plus slack for a machine shared by many.
            assert elapsed < settings.db_wait_seconds + 2.0, elapsed
    # What was refused left nothing behind; what was accepted is reserved exactly once.
    with transaction(world.sessions(), readonly=True) as session:
        placed = session.scalar(select(func.count()).select_from(Order))
        level = ledger.level(
            session,
            tenant_id=world.a.id,
            branch_id=world.a.branch_ids[0],
            product_id=world.a.product_ids[1],
        )
    assert placed == statuses[201] + warmed and level.reserved == 2 * placed
    check_ledger(world.engine)


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_deadlock_victim_is_run_again_inside_the_server(world, live_server, engine):
    """A real deadlock against the server's transaction: the client only sees its 201."""
    _stock_everything(world)
    main = world.a.branch_ids[0]
    first, second = sorted(world.a.product_ids[:2])
    key = world.api("admin").post("api-keys", json={"name": "web", "scopes": ["orders:write"]})
    before = _deadlocks(engine)
    order_body = {
        "external_number": "VICTIM-1",
        "customer": {"name": "Vic", "email": "vic@example.com"},
        "lines": [{"sku": "ADMIN-1", "quantity": "1"}, {"sku": "ADMIN-0", "quantity": "1"}],
        "branch_code": "MAIN",
    }
    level_lock = text(
        "SELECT id FROM stock_levels WHERE branch_id = :b AND product_id = :p FOR UPDATE"
    )
    answer: list[httpx.Response] = []
    # Another program (say, a report tool run by hand) takes the levels in the wrong
    # order: it holds the second product, the order takes the first and waits for the
    # second, then the program asks for the first. PostgreSQL must break the cycle; this
    # connection waits longest before checking, so the server's transaction is the victim.
    with engine.connect() as other:
        other.execute(text("SET deadlock_timeout = '20s'"))
        other.execute(level_lock, {"b": main, "p": second})

        def place() -> None:
            with web.Client(base_url=live_server.url, timeout=60) as http:
                answer.append(
                    http.post(
                        "/api/v1/orders",
                        json=order_body,
                        headers={"X-API-Key": key.json()["key"], "Idempotency-Key": "victim-1"},
                    )
                )

        placing = threading.Thread(target=place)
        placing.start()
        # Wait until the order's statement waits on this connection's row lock.
        deadline = time.monotonic() + 20
        waiting = text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND l.locktype = 'transactionid'"
            " AND a.datname = current_database()"  # the run's other tests share the cluster
        )
        with engine.connect() as watcher:
            # pg_stat_activity is read once per transaction: each look ends its own, or a
            # backend that connected after the first look would never be seen.
            while not watcher.scalar(waiting):
                watcher.rollback()
                assert time.monotonic() < deadline, "the order never queued for the level"
                time.sleep(0.05)
        other.execute(level_lock, {"b": main, "p": first})
        other.rollback()
    placing.join(timeout=30)
    assert answer and answer[0].status_code == 201, answer[0].text if answer else "no answer"
    assert _deadlocks(engine) - before == 1
    with transaction(world.sessions(), readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
    check_ledger(engine)
