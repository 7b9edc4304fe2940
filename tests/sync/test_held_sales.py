"""Held sales, on both engines: parked offline, survive a restart, recalled on another till."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.errors import ValidationFailed
from common.roles import Role
from pos_client.services import held_sales, queries
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine, SyncFailed
from pos_client.services.till import Cart
from pos_client.store.db import LocalStore

D = Decimal


@pytest.fixture
def tills(world, live_server, tmp_path):
    """Two tills enrolled at branch 0 (and one at branch 1) over real HTTP, catalog pulled."""
    made = []
    for name, branch in (("Till A", 0), ("Till B", 0), ("Far Till", 1)):
        store = LocalStore(tmp_path / f"{name}.db")
        engine = SyncEngine(store, timeout=30, backoff_base=0.05)
        code = world.api("admin").post(
            "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[branch]}
        )
        engine.enrol(server_url=live_server.url, code=code.json()["code"], name=name)
        assert engine.sync_once().online
        made.append(engine)
    yield made
    for engine in made:
        engine.stop()
        engine.store.close()


def _cashier(world) -> Cashier:
    return Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )


def _cart(store) -> Cart:
    cart = Cart()
    with store.session() as session:
        cart.add(queries.find_by_codes(session, ("ADMIN-0",)), quantity=D(3))
        line = cart.add(queries.find_by_codes(session, ("ADMIN-1",)), quantity=D(1))
    cart.set_line_discount(line.line_id, amount=D("1.00"))
    cart.set_order_discount(amount=D("2.00"))
    return cart


def test_a_cart_parked_offline_survives_a_restart_and_is_recalled_here(
    world, live_server, tills, tmp_path
) -> None:
    till_a = tills[0]
    cart = _cart(till_a.store)
    before = cart.totals()
    live_server.stop()
    with till_a.store.transaction() as session:
        parked = held_sales.park(session, cart=cart, cashier=_cashier(world), label="Mrs Rao")
    assert parked.total == before.total == D("37.00") and parked.line_count == 2
    path = till_a.store.path
    till_a.store.close()

    store = LocalStore(path)  # the till restarts
    try:
        with store.transaction() as session:
            [row] = held_sales.held_here(session)
            assert (row.label, row.total) == ("Mrs Rao", D("37.00"))
            back = held_sales.recall_here(session, hold_id=row.hold_id)
            assert held_sales.held_here(session) == []
        assert back.totals() == before and back.sale_id == cart.sale_id
        assert [line.quantity for line in back.lines] == [D(3), D(1)]
        with store.transaction() as session, pytest.raises(Exception, match="no longer"):
            held_sales.recall_here(session, hold_id=row.hold_id)
    finally:
        store.close()


def test_a_cart_parked_on_one_till_is_recalled_on_another_of_the_branch(
    world, live_server, tills
) -> None:
    till_a, till_b, far = tills
    cart = _cart(till_a.store)
    with till_a.store.transaction() as session:
        parked = held_sales.park(session, cart=cart, cashier=_cashier(world), label="blue bag")
    assert till_a.sync_once().pending == 0

    [offered] = held_sales.held_at_branch(till_b)
    assert (offered.hold_id, offered.label, offered.total) == (
        parked.hold_id,
        "blue bag",
        D("37.00"),
    )
    assert not offered.here
    # Another branch's till does not see it, nor may it take it.
    assert held_sales.held_at_branch(far) == []
    with pytest.raises(SyncFailed, match="no such held sale"):
        held_sales.recall_from_branch(far, hold_id=parked.hold_id)

    recalled = held_sales.recall_from_branch(till_b, hold_id=parked.hold_id)
    assert recalled.totals() == cart.totals()
    assert [(line.item.sku, line.quantity) for line in recalled.lines] == [
        ("ADMIN-0", D(3)),
        ("ADMIN-1", D(1)),
    ]
    # Taken once: a second recall is refused, and till A drops its copy when it looks.
    with pytest.raises(SyncFailed, match="already recalled"):
        held_sales.recall_from_branch(till_a, hold_id=parked.hold_id)
    assert held_sales.held_at_branch(till_a) == []
    with till_a.store.transaction() as session:
        assert held_sales.held_here(session) == []

    # A manager reads the branch's list through the API; a cashier of another branch cannot.
    listed = world.api("manager").get("held-sales", params={"branch_id": world.a.branch_ids[0]})
    assert listed.status_code == 200 and listed.json() == []
    assert world.api("manager").get("held-sales").status_code == 422


def test_an_empty_cart_cannot_be_held(world, tills) -> None:
    with tills[0].store.transaction() as session, pytest.raises(ValidationFailed, match="empty"):
        held_sales.park(session, cart=Cart(), cashier=_cashier(world))
