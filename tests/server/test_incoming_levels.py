"""Stock levels show what open purchase orders still bring, next to on hand, in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from tests.factories import PASSWORD


def _stock_everywhere(world) -> None:
    """Give every product a level row at both branches (2 on hand each)."""
    admin = world.api("admin")
    for branch_id in world.a.branch_ids:
        r = admin.post(
            "stock/receipts",
            json={
                "branch_id": branch_id,
                "lines": [
                    {"product_id": pid, "quantity": "2", "unit_cost": "1.00"}
                    for pid in world.a.product_ids
                ],
            },
        )
        assert r.status_code == 201, r.text


def _po(world, *, branch: int, lines: dict[int, str], wanted: str, steps: tuple[str, ...]) -> dict:
    """Make a PO and walk it through steps; the buyer and manager work in MAIN only."""
    at_main = branch == world.a.branch_ids[0]
    if not at_main and "admin2" not in world._tokens:
        r = world.api("admin").post(
            "users", json={"username": "admin2", "password": PASSWORD, "role": "admin"}
        )
        assert r.status_code == 201, r.text
    buyer = world.api("purchase_admin" if at_main else "admin")
    approver = world.api("manager" if at_main else "admin2")
    supplier = buyer.post("suppliers", json={"name": f"S {branch} {wanted} {steps}"}).json()
    po = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": supplier["id"],
            "branch_id": branch,
            "expected_date": wanted,
            "lines": [
                {"product_id": pid, "quantity": qty, "unit_cost": "1.00"}
                for pid, qty in lines.items()
            ],
        },
    ).json()
    for step in steps:
        who = approver if step in ("approve", "reject") else buyer
        body = {"comment": "no"} if step == "reject" else None
        r = who.post(f"purchase-orders/{po['id']}/{step}", json=body)
        assert r.status_code == 200, (step, r.text)
    return buyer.get(f"purchase-orders/{po['id']}").json()


def _levels(api, **params) -> dict[tuple[int, int], dict]:
    r = api.get("stock/levels", params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return {(row["branch_id"], row["product_id"]): row for row in r.json()["items"]}


def test_levels_show_on_order_and_first_due_date_from_open_pos_only(world):
    _stock_everywhere(world)
    main, west = world.a.branch_ids
    p = world.a.product_ids
    today = datetime.now(UTC).date()
    soon, later = ((today + timedelta(days=d)).isoformat() for d in (3, 9))

    first = _po(
        world, branch=main, lines={p[0]: "10", p[1]: "5"}, wanted=later, steps=("submit", "approve")
    )
    _po(world, branch=main, lines={p[0]: "4"}, wanted=soon, steps=("submit", "approve"))
    _po(world, branch=west, lines={p[0]: "6"}, wanted=later, steps=("submit", "approve"))
    # Neither a draft, a rejected nor a cancelled order brings anything.
    _po(world, branch=main, lines={p[2]: "50"}, wanted=soon, steps=())
    _po(world, branch=main, lines={p[2]: "60"}, wanted=soon, steps=("submit", "reject"))
    _po(world, branch=main, lines={p[2]: "70"}, wanted=soon, steps=("submit", "approve", "cancel"))
    # Three of the ten arrive: seven are still to come on that order.
    line = next(ln for ln in first["lines"] if ln["product_id"] == p[0])
    received = world.api("manager").post(
        f"purchase-orders/{first['id']}/receipts",
        json={"lines": [{"line_id": line["id"], "quantity": "3"}]},
    )
    assert received.status_code == 201, received.text

    rows = _levels(world.api("admin"))
    assert rows[(main, p[0])]["on_hand"] == "5"
    assert (rows[(main, p[0])]["on_order"], rows[(main, p[0])]["expected_at"]) == ("11", soon)
    assert (rows[(main, p[1])]["on_order"], rows[(main, p[1])]["expected_at"]) == ("5", later)
    assert (rows[(main, p[2])]["on_order"], rows[(main, p[2])]["expected_at"]) == ("0", None)
    assert (rows[(west, p[0])]["on_order"], rows[(west, p[0])]["expected_at"]) == ("6", later)

    # The same figures as GET /stock/incoming, which stays.
    incoming = {
        (r["branch_id"], r["product_id"]): r["on_order"]
        for r in world.api("admin").get("stock/incoming").json()
    }
    assert incoming == {(main, p[0]): "11", (main, p[1]): "5", (west, p[0]): "6"}
    # Filters and paging still apply; another tenant sees none of it.
    only = _levels(world.api("admin"), branch_id=west, product_id=p[0])
    # A manager of MAIN sees MAIN's rows only.
    assert {b for b, _ in _levels(world.api("manager"))} == {main}
    assert list(only) == [(west, p[0])] and only[(west, p[0])]["on_order"] == "6"
    assert world.api("b_admin").get("stock/levels").json()["items"] == []


def test_on_order_costs_one_grouped_query_whatever_the_page_size(world, engine):
    _stock_everywhere(world)
    main, west = world.a.branch_ids
    p = world.a.product_ids
    wanted = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    _po(
        world, branch=main, lines={p[0]: "1", p[1]: "2"}, wanted=wanted, steps=("submit", "approve")
    )
    _po(world, branch=west, lines={p[2]: "3"}, wanted=wanted, steps=("submit", "approve"))
    api = world.api("admin")
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "purchase_order_lines" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        per_size = {}
        for limit in (1, 6):
            seen.clear()
            r = api.get("stock/levels", params={"limit": limit})
            assert r.status_code == 200 and len(r.json()["items"]) == limit
            per_size[limit] = len(seen)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert per_size == {1: 1, 6: 1}
    on_order = {
        (row["branch_id"], row["product_id"]): row["on_order"]
        for row in api.get("stock/levels", params={"limit": 6}).json()["items"]
    }
    assert on_order == {
        (main, p[0]): "1",
        (main, p[1]): "2",
        (main, p[2]): "0",
        (west, p[0]): "0",
        (west, p[1]): "0",
        (west, p[2]): "3",
    }
