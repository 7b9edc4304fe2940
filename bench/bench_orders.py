"""Online orders benchmark on PostgreSQL behind a real uvicorn: CPU per order, latency under
random arrivals at a fixed rate (open loop), saturation throughput, and the race for the last
units (zero oversell).

Run: `.venv/bin/python -m bench.bench_orders [--rate 100] [--seconds 20] [--workers 2]
[--races 3] [--http h11 --loop asyncio]`
(`--profile DIR` also records a py-spy flame graph of the server during the open-loop phase).

CPU is read from the operating system (/proc: user + system time) for every process of the
server (the uvicorn master, its workers and their background threads: the feed and audit
keeper, the notification dispatcher), for PostgreSQL (the postmaster and every backend) and
for the load generator itself, whose share shows it is not the bottleneck. The cluster is the
test suite's throwaway one (tests/pgserver.py: fsync off), so figures are optimistic about
disk. Budgets (DESIGN.md §8): <= 5 ms of server CPU per order; p99 <= 100 ms at 100 orders/s
offered with Poisson arrivals; the last 10 units raced by 50 clients at once all answered
within 500 ms with zero oversell; no 5xx anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

from bench.lean_http import HttpError, LeanClient

BUDGET_CPU_MS = 5.0
BUDGET_P99_MS = 100.0
BUDGET_RACE_MS = 500.0
ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
AUDIT_KEY = "bench-audit-key-" + "0" * 48


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


# ---- CPU from the operating system --------------------------------------------------------


def _stat(pid: int) -> tuple[int, float, float] | None:
    """Return (parent pid, own CPU seconds, reaped children's CPU seconds) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return ppid, (utime + stime) / TICKS, (cutime + cstime) / TICKS


def tree_cpu(root: int) -> float:
    """Return the CPU seconds of a process tree: live members plus what the root reaped.

    A child that exits moves its time into its parent's reaped total, so the sum stays
    continuous across PostgreSQL backends that end between two readings.
    """
    parents: dict[int, int] = {}
    own: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                parents[int(entry)], own[int(entry)] = stat[0], stat[1]
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    root_stat = _stat(root)
    reaped = root_stat[2] if root_stat is not None else 0.0
    return sum(own.get(pid, 0.0) for pid in members) + reaped


def self_cpu() -> float:
    """Return this process's CPU seconds (the load generator)."""
    times = os.times()
    return times.user + times.system


@dataclass
class Meter:
    """CPU of the server, PostgreSQL and the load generator over a window."""

    server_pid: int
    postgres_pid: int

    def read(self) -> tuple[float, float, float]:
        return tree_cpu(self.server_pid), tree_cpu(self.postgres_pid), self_cpu()


# ---- the shop and the server -------------------------------------------------------------


def prepare(url: str, *, products: int, races: int = 1) -> tuple[str, list[str]]:
    """Migrate, create a shop with stocked products and the last-units product; return a key."""
    from common.codes import MovementCode
    from common.ids import new_id
    from common.schemas.catalog import ProductCreate
    from common.schemas.org import BranchCreate
    from sync_server.apikeys import service as apikeys
    from sync_server.apikeys.schemas import ApiKeyCreate
    from sync_server.audit.keys import Keyring, attach
    from sync_server.catalog import service as catalog
    from sync_server.db import make_engine, make_sessionmaker, transaction
    from sync_server.foundation.principal import Actor
    from sync_server.inventory import ledger
    from sync_server.migrations.runner import upgrade
    from sync_server.org import service as org

    engine = make_engine(url)
    # The server's key: the keeper seals what this wrote (a stranger's MAC it would refuse).
    attach(engine, Keyring.from_keys(current=AUDIT_KEY, retired=()))
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        tenant = org.create_tenant(session, name="Bench Shop")
        branch = org.create_branch(
            session, actor=None, tenant_id=tenant.id, data=BranchCreate(name="Main", code="MAIN")
        )
        actor = Actor(tenant_id=tenant.id, label="bench")
        skus = []
        for i in range(products + races):
            sku = f"LAST-{i - products + 1}" if i >= products else f"BENCH-{i}"
            product = catalog.create_product(
                session,
                actor=_admin(tenant.id),
                data=ProductCreate(sku=sku, name=f"Bench product {i}", price=Decimal("99.50")),
            )
            ledger.record_movement(
                session,
                actor=actor,
                branch_id=branch.id,
                product_id=product.id,
                code=MovementCode.RECEIPT,
                quantity=Decimal(10 if sku.startswith("LAST-") else 1_000_000),
                reference_type="bench",
                reference_id=new_id(),
            )
            if not sku.startswith("LAST-"):
                skus.append(sku)
        _, key = apikeys.create_key(
            session,
            actor=None,
            tenant_id=tenant.id,
            data=ApiKeyCreate(name="bench", scopes=["orders:write", "catalog:read"]),
        )
    engine.dispose()
    return key, skus


def _admin(tenant_id: int):
    from sync_server.foundation.principal import Principal

    return Principal.for_user(
        tenant_id=tenant_id, user_id=0, username="bench", role="admin", branch_ids=[]
    )


def start_server(
    url: str, *, workers: int, log: Path, http: str = "auto", loop: str = "auto"
) -> tuple[subprocess.Popen, str]:
    """Start uvicorn with the real app; its output goes to a file, never an unread pipe."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "STOCKPILOT_DATABASE_URL": url,
        "STOCKPILOT_SECRET_KEY": "bench-secret-key-that-is-long-enough-for-hs256",
        "STOCKPILOT_DATA_DIR": str(log.parent),
        "STOCKPILOT_AUDIT_KEY": AUDIT_KEY,
        # One key sends every order here; a real store is throttled, the benchmark is not.
        "STOCKPILOT_RATE_LIMIT_STORE": "off",
        # The notification dispatcher and integrity watch run inside the server, as by
        # default, so their share of the work is in the server's CPU.
        "STOCKPILOT_RUN_WORKER_IN_SERVER": "true",
        "STOCKPILOT_DB_POOL_SIZE": "30",
        "STOCKPILOT_LOG_LEVEL": "WARNING",
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "sync_server.asgi:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level",
        "warning", "--http", http, "--loop", loop,
    ]  # fmt: skip
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a loaded 2-core machine starts workers slowly
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"uvicorn did not start; see {log}")


def body(n: int, sku: str) -> dict:
    return {
        "external_number": f"B-{uuid.uuid4().hex[:12]}-{n}",
        "customer": {"name": f"Buyer {n % 500}", "email": f"buyer{n % 500}@example.com"},
        "lines": [{"sku": sku, "quantity": "1"}],
        "branch_code": "MAIN",
    }


# ---- the load generator: one asyncio process ---------------------------------------------


async def post_order(http: LeanClient, key: str, order: dict) -> int:
    """POST one order; its status, or 0 when the connection failed (counted, never hidden)."""
    try:
        answer = await http.post(
            "/api/v1/orders",
            json=order,
            headers={"X-API-Key": key, "Idempotency-Key": str(uuid.uuid4())},
        )
    except HttpError as exc:
        FAILURES[exc.kind] += 1
        return 0
    return answer.status_code


# Why requests got no answer, by exception (printed beside the phase's failed count).
FAILURES: Counter[str] = Counter()


async def closed_loop(
    base: str, key: str, bodies: list[dict], *, clients: int
) -> list[tuple[int, float]]:
    """Send the bodies from `clients` connections, each waiting for its answer; (status, s)."""
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for order in bodies:
        queue.put_nowait(order)
    results: list[tuple[int, float]] = []

    async def client() -> None:
        http = LeanClient(base, max_connections=1, timeout=60)
        while not queue.empty():
            order = queue.get_nowait()
            started = time.perf_counter()
            status = await post_order(http, key, order)
            results.append((status, time.perf_counter() - started))
        http.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return results


async def open_loop(
    base: str, key: str, bodies: list[dict], *, rate: float, seed: int
) -> list[tuple[int, float]]:
    """Send each body at Poisson arrival times (`rate` a second), whatever the answers do.

    Latency counts from the planned arrival, not the send, so a server that falls behind is
    charged for the queue it built (no coordinated omission). Connections are shared: a
    request takes an idle one or opens another.
    """
    gaps = random.Random(seed)
    results: list[tuple[int, float]] = []
    http = LeanClient(base, max_connections=100_000, timeout=60)

    async def one(order: dict, due: float) -> None:
        status = await post_order(http, key, order)
        results.append((status, time.perf_counter() - due))

    tasks = []
    due = time.perf_counter()
    for order in bodies:
        due += gaps.expovariate(rate)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(order, due)))
    await asyncio.gather(*tasks)
    http.close()
    return results


# ---- figures -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "OK" if ok else "OVER"


def settle_background(url: str) -> None:
    """Wait until the keeper numbered every change and sealed every entry (its work counts)."""
    engine = create_engine(url)
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.scalar(
                text(
                    "SELECT (SELECT count(*) FROM change_feed WHERE seq IS NULL)"
                    " + (SELECT count(*) FROM audit_entries WHERE seq IS NULL)"
                )
            )
            conn.rollback()
            if not waiting:
                break
            time.sleep(0.1)
    engine.dispose()


def report_phase(
    name: str,
    results: list[tuple[int, float]],
    *,
    elapsed: float,
    cpu: tuple[float, float, float],
    budgets: bool,
) -> tuple[bool, float, float]:
    """Print a phase's figures; return (no 5xx/failed connections, server ms/order, p99)."""
    n = len(results)
    latencies = [t * 1000 for _, t in results]
    statuses = sorted({s for s, _ in results})
    bad = sum(1 for s, _ in results if s >= 500 or s == 0)
    accepted = sum(1 for s, _ in results if s == 201)
    # CPU is charged to the orders that were placed (a refusal costs less than an order).
    server_ms, pg_ms, gen_ms = (c * 1000 / max(accepted, 1) for c in cpu)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(name)
    print(f"  answered            {n} ({accepted} accepted; statuses {statuses})")
    failures = ", ".join(f"{kind} {count}" for kind, count in sorted(FAILURES.items()))
    FAILURES.clear()
    print(
        f"  5xx / failed        {bad:8d}         budget 0        {verdict(bad == 0)}"
        + (f"   (no answer: {failures})" if failures else "")
    )
    print(f"  throughput          {n / elapsed:8.1f} orders/s")
    if accepted != n:
        # Refusals (409, 503) cost CPU too; charged to the placed orders above, shown here.
        per_answer = cpu[0] * 1000 / max(n, 1)
        print(f"  server CPU / answer {per_answer:8.2f} ms (every answer, placed or refused)")
    line = f"  server CPU / order  {server_ms:8.2f} ms"
    if budgets:
        line += f"      budget <= {BUDGET_CPU_MS:.0f} ms  {verdict(server_ms <= BUDGET_CPU_MS)}"
    print(line)
    print(f"  PostgreSQL CPU      {pg_ms:8.2f} ms / order")  # per accepted order, as above
    print(f"  load generator CPU  {gen_ms:8.2f} ms / order (one asyncio process, raw HTTP/1.1)")
    print(f"  latency p50         {p50:8.1f} ms")
    line = f"  latency p99         {p99:8.1f} ms"
    if budgets:
        line += f"   budget <= {BUDGET_P99_MS:.0f} ms  {verdict(p99 <= BUDGET_P99_MS)}"
    print(line)
    print(f"  mean / max          {statistics.mean(latencies):8.1f} / {max(latencies):.1f} ms")
    return bad == 0, server_ms, p99


def measure(meter: Meter, url: str, run) -> tuple[list[tuple[int, float]], float, tuple]:
    """Run a phase; return its results, wall time and CPU (server, PostgreSQL, generator)."""
    before = meter.read()
    started = time.perf_counter()
    results = asyncio.run(run())
    elapsed = time.perf_counter() - started
    settle_background(url)
    after = meter.read()
    cpu = tuple(a - b for a, b in zip(after, before, strict=True))
    return results, elapsed, cpu


def start_profile(server_pid: int, *, seconds: float, out: Path, fmt: str) -> subprocess.Popen:
    """Record the server (every worker) with py-spy: a flame graph, or collapsed stacks."""
    spy = Path(sys.executable).parent / "py-spy"
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("orders.svg" if fmt == "flamegraph" else "orders.txt")
    cmd = [
        # --gil: only threads running Python (waits for the database or a connection are not
        # CPU); --nonblocking: sampling must not pause the server it measures.
        str(spy), "record", "--pid", str(server_pid), "--subprocesses", "--rate", "250",
        "--gil", "--nonblocking",
        "--duration", str(int(seconds)), "--format", fmt, "-o", str(path),
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(out / "py-spy.log").open("w"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="offered orders/s (open loop)")
    parser.add_argument("--seconds", type=float, default=20.0, help="open-loop duration")
    parser.add_argument("--clients", type=int, default=50, help="closed-loop clients and racers")
    parser.add_argument("--races", type=int, default=3, help="races for the last 10 units")
    # uvicorn picks httptools and uvloop when installed (the server extra installs them).
    parser.add_argument("--http", default="auto", help="uvicorn --http (auto, h11, httptools)")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop (auto, asyncio, uvloop)")
    parser.add_argument("--orders", type=int, default=1000, help="closed-loop orders")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--profile", type=Path, help="record the server with py-spy into DIR")
    parser.add_argument("--profile-format", choices=["flamegraph", "raw"], default="flamegraph")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from tests import pgserver

    pg = pgserver.start()
    process = None
    try:
        admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench_orders"))
        admin.dispose()
        url = f"{pg.url}/bench_orders"
        key, skus = prepare(url, products=args.products, races=args.races)
        log = Path(tempfile.mkdtemp(prefix="bench-orders-")) / "uvicorn.log"
        process, base = start_server(
            url, workers=args.workers, log=log, http=args.http, loop=args.loop
        )
        postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
        meter = Meter(server_pid=process.pid, postgres_pid=postmaster)
        n = 0

        def bodies(count: int, sku: str | None = None) -> list[dict]:
            nonlocal n
            made = [body(n + i, sku or skus[(n + i) % len(skus)]) for i in range(count)]
            n += count
            return made

        # Warm up each worker's connection pool, imports and caches.
        asyncio.run(closed_loop(base, key, bodies(300), clients=args.clients))

        load_before = os.getloadavg()[0]
        offered = bodies(int(args.rate * args.seconds))
        spies = []
        if args.profile is not None:
            spies.append(
                start_profile(
                    process.pid, seconds=args.seconds, out=args.profile, fmt=args.profile_format
                )
            )
        open_results, open_elapsed, open_cpu = measure(
            meter,
            url,
            lambda: open_loop(base, key, offered, rate=args.rate, seed=args.seed),
        )
        for spy in spies:
            spy.wait(timeout=120)

        saturated = bodies(args.orders)
        closed_results, closed_elapsed, closed_cpu = measure(
            meter, url, lambda: closed_loop(base, key, saturated, clients=args.clients)
        )

        # Each race for its own last 10 units, one after the other (a race is short and
        # its figure moves with what else the machine does at that moment).
        races = []
        for r in range(1, args.races + 1):
            race_bodies = bodies(args.clients, f"LAST-{r}")
            results, _, _ = measure(
                meter,
                url,
                lambda race_bodies=race_bodies: closed_loop(
                    base, key, race_bodies, clients=args.clients
                ),
            )
            races.append((f"LAST-{r}", results))
        load_after = os.getloadavg()[0]

        from sync_server.catalog.models import Product
        from sync_server.inventory.models import StockLevel

        engine = create_engine(url)
        with engine.connect() as conn:
            reserved = {
                sku: conn.scalar(
                    select(func.sum(StockLevel.reserved))
                    .join(Product, Product.id == StockLevel.product_id)
                    .where(Product.sku == sku)
                )
                for sku, _ in races
            }
        engine.dispose()

        print(
            f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before and "
            f"{load_after:.1f} after the run (other work on the machine slows every figure)"
        )
        print(
            f"online orders on PostgreSQL, {args.workers} uvicorn worker(s) with the feed and "
            "audit keeper and the notification dispatcher inside"
        )
        ok_open, cpu_ms, p99 = report_phase(
            f"open loop: {args.rate:.0f} orders/s offered, Poisson arrivals, "
            f"{len(open_results)} orders",
            open_results,
            elapsed=open_elapsed,
            cpu=open_cpu,
            budgets=True,
        )
        ok_closed, _, _ = report_phase(
            f"closed loop (saturation): {args.clients} clients, {len(closed_results)} orders",
            closed_results,
            elapsed=closed_elapsed,
            cpu=closed_cpu,
            budgets=False,
        )
        races_ok = True
        print(f"last 10 units, {args.clients} clients at once, {len(races)} race(s):")
        for sku, race_results in races:
            race_ms = [t * 1000 for _, t in race_results]
            won = sum(1 for s, _ in race_results if s == 201)
            refused = sum(1 for s, _ in race_results if s == 409)
            race_bad = sum(1 for s, _ in race_results if s >= 500 or s == 0)
            exact = won == 10 and reserved[sku] == 10
            slowest = max(race_ms)
            print(
                f"  {sku}: accepted {won}, refused 409 {refused}, 5xx/failed {race_bad}, "
                f"reserved {Decimal(reserved[sku] or 0):f}   budget: zero oversell, no 5xx  "
                f"{'OK' if exact and race_bad == 0 else 'FAIL'}"
            )
            print(
                f"  {sku}: all answered within {slowest:8.1f} ms   budget <= "
                f"{BUDGET_RACE_MS:.0f} ms  {verdict(slowest <= BUDGET_RACE_MS)}   "
                f"(p50 {percentile(race_ms, 50):.1f} ms)"
            )
            races_ok = races_ok and race_bad == 0 and exact and slowest <= BUDGET_RACE_MS
        within = (
            ok_open and ok_closed and races_ok and cpu_ms <= BUDGET_CPU_MS and p99 <= BUDGET_P99_MS
        )
        if args.profile is not None:
            print(f"py-spy profile of the open-loop phase: {args.profile}")
        return 0 if within else 1
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
