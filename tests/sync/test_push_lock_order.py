"""Two tills of one branch push, at the same moment, batches that sell the same products in
opposite orders: every event is applied once, no deadlock reaches a till, stock adds up."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from sync_server.db import transaction
from sync_server.inventory.models import StockLevel
from sync_server.sales.models import Sale
from tests import web
from tests.sync.sync_helpers import sale_payload

ROUNDS = 3
EVENTS = 9


def test_opposite_order_batches_from_two_tills_all_apply(world, enrol, stock_in, wrap, live_server):
    branch = world.a.branch_ids[0]
    products = world.a.product_ids[:3]
    for product_id in products:
        stock_in(product_id=product_id, branch_id=branch, quantity="1000")
    tills = [enrol(name=f"Till {n}") for n in (1, 2)]
    batches: list[list[list[dict]]] = []
    for n, (body, _) in enumerate(tills):
        # Till 1 sells p0, p1, p2, p0…; till 2 sells p2, p1, p0, p2…, in one batch each.
        order = products if n == 0 else list(reversed(products))
        batches.append(
            [
                [
                    wrap(
                        sale_payload(
                            branch_id=branch,
                            product_id=order[i % 3],
                            receipt=f"T{n}-{r}-{i}",
                        ),
                        device_id=body["device_id"],
                    )
                    for i in range(EVENTS)
                ]
                for r in range(ROUNDS)
            ]
        )
    answers: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def till(n: int) -> None:
        headers = {"Authorization": f"Bearer {tills[n][0]['token']}"}
        try:
            with web.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
                for events in batches[n]:
                    start.wait()
                    response = client.post("/api/v1/sync/push", json={"events": events})
                    assert response.status_code == 200, response.text
                    answers.append([r["status"] for r in response.json()["results"]])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=till, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert answers == [["applied"] * EVENTS] * (2 * ROUNDS)
    with transaction(world.sessions(), readonly=True) as session:
        sales = session.scalar(
            select(func.count()).select_from(Sale).where(Sale.tenant_id == world.a.id)
        )
        on_hand = session.scalars(
            select(StockLevel.on_hand).where(
                StockLevel.branch_id == branch, StockLevel.product_id.in_(products)
            )
        ).all()
    assert sales == 2 * ROUNDS * EVENTS
    assert sum(on_hand, Decimal(0)) == 3000 - 2 * ROUNDS * EVENTS
