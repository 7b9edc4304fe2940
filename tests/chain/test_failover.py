"""The chain topology loses its primary while tills push: nothing acknowledged is lost.

One test, run once (it starts etcd, two Patroni nodes, two PgBouncers, Redis, two
`stockpilot-server serve` processes and nginx, about 30 s here): four enrolled tills ring up
sales and sync through nginx; mid-run the primary's host is lost (Patroni, its postmaster and
its PgBouncer SIGKILLed); the standby is promoted, the app servers find it without a restart,
and the tills' queued sales go through exactly once.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest

from tests import web
from tests.chaos.harness import (
    admin_token_over_api,
    enrol_code_over_api,
    make_till,
    sync_until_drained,
)
from tests.chaos.scenario import pending, products, till_receipts
from tests.sync.sync_helpers import sell_locally
from tests.topology import ADMIN_PASSWORD, Topology, missing_tools, new_root

pytestmark = [pytest.mark.chain, pytest.mark.postgres]


@pytest.fixture
def chain():
    missing = missing_tools()
    if missing:
        reason = f"not installed: {', '.join(missing)} (bash scripts/system-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs them: a missing one is a broken setup
        pytest.skip(reason)
    topology = Topology(root=new_root(), synchronous=True)
    try:
        topology.start_database()
        topology.start_redis()
        topology.initialise()
        topology.start_apps(2)
        yield topology
    finally:
        topology.stop()


def _enrol_code(chain: Topology, branch: str) -> str:
    """A code from the operator's `device enrol-code` command, run on the chain."""
    out = chain.cli("device", "enrol-code", "--branch", branch)
    match = re.search(r"Enrolment code for branch [^:]*: (\S+)", out)
    assert match, out
    return match.group(1)


def _enrol_code_over_api(chain: Topology, branch: str) -> str:
    """A code asked for through nginx as a manager's screen does (a process costs a second)."""
    return enrol_code_over_api(chain.url, admin_token_over_api(chain.url, ADMIN_PASSWORD), branch)


def _server_receipts(url: str) -> list[str]:
    token = admin_token_over_api(url, ADMIN_PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    receipts: list[str] = []
    offset = 0
    while True:
        page = web.get(
            f"{url}/api/v1/sales",
            params={"limit": 200, "offset": offset},
            headers=headers,
            timeout=30,
        ).json()
        receipts += [row["receipt_number"] for row in page["items"]]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return receipts


def _acknowledged(till) -> set[str]:
    """Receipts whose sale the server acknowledged (no longer waiting in the outbox)."""
    from sqlalchemy import select

    from pos_client.store.models import OutboxEvent, Sale

    with till.store.transaction() as session:
        made = dict(session.execute(select(Sale.id, Sale.receipt_number)).all())
        waiting = set(session.scalars(select(OutboxEvent.document_id)).all())
    return {receipt for sale_id, receipt in made.items() if sale_id not in waiting}


def _rate_windows_are_shared(url: str) -> None:
    """Both app servers count one caller's requests in the same Redis window."""
    token = admin_token_over_api(url, ADMIN_PASSWORD)
    remaining = [
        int(
            web.get(
                f"{url}/api/v1/branches", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ).headers["RateLimit-Remaining"]
        )
        for _ in range(6)  # nginx alternates between the two app servers
    ]
    # Each request takes one from the same count, whichever server answered; a minute's
    # window may end between two of them (the count starts again, once: right after the
    # window's first request that is no step at all). Counts kept per server would step
    # by 0 at every other request.
    steps = [b - a for a, b in zip(remaining, remaining[1:], strict=False)]
    assert all(step == -1 or step >= 0 for step in steps), remaining
    assert sum(step >= 0 for step in steps) <= 1, remaining


def _standby_reads(chain: Topology) -> int:
    """Transactions the standby has served in the shop's database so far."""
    standby = next(node for node in chain.nodes if node is not chain.primary())
    with psycopg.connect(
        host="127.0.0.1", port=standby.pg_port, user="postgres", autocommit=True
    ) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = 'stockpilot'"
        ).fetchone()
    return int(row[0]) if row else 0


def _reads_go_to_the_replica(chain: Topology) -> None:
    """Reports read the standby; a write's Read-After header brings its own reads along."""
    token = web.post(
        f"{chain.url}/api/v1/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    replica = web.get(f"{chain.url}/api/v1/health", timeout=10).json()["replica"]
    assert replica["standby"] and replica["serving_reads"], replica
    before = _standby_reads(chain)
    for _ in range(30):
        answer = web.get(f"{chain.url}/api/v1/reports/sales-summary", headers=headers)
        assert answer.status_code == 200, answer.text
    # Lag checks also read the standby, at most once a second per app server. A backend
    # reports its counts to pg_stat_database a moment after its transactions (PostgreSQL 15
    # flushes them at most once a second, or later when idle), so wait for them to show.
    deadline = time.monotonic() + 20
    while _standby_reads(chain) - before < 30 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _standby_reads(chain) - before >= 30
    created = web.post(
        f"{chain.url}/api/v1/categories", json={"name": "Chain check"}, headers=headers
    )
    assert created.status_code == 201, created.text
    read_after = created.headers["X-StockPilot-Read-After"]
    listed = web.get(
        f"{chain.url}/api/v1/categories",
        params={"q": "Chain check"},
        headers={**headers, "X-StockPilot-Read-After": read_after},
    )
    assert "Chain check" in listed.text


def test_primary_lost_mid_run_standby_promoted_nothing_lost(chain: Topology, tmp_path):
    """Kill the primary while four tills push; every sale lands once, the ledger holds."""
    # The first till's code comes from the command, the others' over the API.
    tills = [
        make_till(
            tmp_path,
            chain.url,
            (_enrol_code if n == 0 else _enrol_code_over_api)(chain, branch),
            name=f"Till-{n}",
        )
        for n, branch in enumerate(["MAIN", "MAIN", "AND", "AND"])
    ]
    stock = products(tills[0])
    _rate_windows_are_shared(chain.url)
    _reads_go_to_the_replica(chain)
    stop = threading.Event()
    refused = [0]

    def run_till(index: int) -> None:
        till = tills[index]
        n = 0
        while not stop.is_set():
            sell_locally(till.store, product_id=stock[n % len(stock)])
            n += 1
            status = till.sync_once()
            if not status.online or status.last_error:
                refused[0] += 1  # this till could not push: its sales wait in its outbox
            time.sleep(0.05)

    threads = [threading.Thread(target=run_till, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(4)
    old = chain.primary()
    assert old is not None
    acknowledged_before = set().union(*(_acknowledged(till) for till in tills))
    killed_at = time.monotonic()
    chain.kill_node(old)
    new = chain.wait_promoted(old, seconds=45)
    promoted_in = time.monotonic() - killed_at
    # The app servers find the new primary by themselves: a write through nginx succeeds.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if web.get(f"{chain.url}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    serving_in = time.monotonic() - killed_at
    time.sleep(3)  # the tills keep selling and pushing against the new primary
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    for till in tills:
        sync_until_drained(till, seconds=60)
        assert pending(till) == 0

    assert new is not old and new.role() == "primary"
    assert all(app.poll() is None for app in chain.apps), "an app server was restarted or died"
    assert refused[0] > 0, "no till ever failed to push: the kill did not bite"
    landed = Counter(_server_receipts(chain.url))
    made = [receipt for till in tills for receipt in till_receipts(till)]
    assert acknowledged_before, "nothing was acknowledged before the kill"
    assert all(landed[r] == 1 for r in acknowledged_before), "an acknowledged sale was lost"
    assert {r: landed[r] for r in made if landed[r] != 1} == {}, "lost or duplicated sales"
    assert len(made) > len(acknowledged_before)
    out = chain.cli("ledger", "verify")
    assert "mismatch" not in out.lower()
    print(
        f"\nfailover: {len(made)} sales from 4 tills, {len(acknowledged_before)} acknowledged "
        f"before the kill; promoted in {promoted_in:.1f} s, serving in {serving_in:.1f} s"
    )
    for till in tills:
        till.stop()
        till.store.close()
