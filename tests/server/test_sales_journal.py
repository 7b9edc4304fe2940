"""The sales journal: till sales and returns pushed by sync, listed, filtered and detailed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from common.ids import new_id
from common.sync.protocol import (
    Event,
    Refund,
    ReturnLine,
    ReturnRecorded,
    SaleCompleted,
    SaleLine,
    SalePayment,
)
from tests.factories import Api, World


def enrol_till(world: World, branch_id: int) -> tuple[str, Api]:
    """Enrol a till at a branch of tenant A; return its device id and its client."""
    code = world.api("admin").post("devices/enrolment-codes", json={"branch_id": branch_id})
    assert code.status_code == 201, code.text
    answer = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": f"Till {branch_id}"}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["device_id"], Api(world.client, answer.json()["token"])


def push(till: tuple[str, Api], *payloads) -> None:
    """Push till events and insist each one was applied."""
    device, api = till
    events = [Event.wrap(p, device_id=device).model_dump(mode="json") for p in payloads]
    results = api.post("sync/push", json={"events": events}).json()["results"]
    assert [r["status"] for r in results] == ["applied"] * len(payloads), results


def sale(
    *,
    branch_id: int,
    receipt: str,
    lines: list[tuple[int, str, str]],
    when: datetime,
    method: str = "cash",
    **extra,
) -> SaleCompleted:
    """Build a till sale of (product_id, quantity, price) lines, paid in one tender."""
    built = [
        SaleLine(
            line_id=new_id(),
            product_id=pid,
            sku=f"SKU-{pid}",
            name=f"Item {pid}",
            quantity=Decimal(qty),
            unit_price=Decimal(price),
            total=Decimal(qty) * Decimal(price),
        )
        for pid, qty, price in lines
    ]
    total = sum((line.total for line in built), Decimal("0"))
    return SaleCompleted(
        sale_id=new_id(),
        receipt_number=receipt,
        branch_id=branch_id,
        lines=built,
        payments=[SalePayment(payment_id=new_id(), method=method, amount=total, reference="R1")],
        subtotal=total,
        total=total,
        completed_at=when,
        **extra,
    )


def refund(
    *, of: SaleCompleted, receipt: str, product_id: int, quantity: str, reason: str
) -> ReturnRecorded:
    """Build a cash return of part of a sale."""
    price = next(line.unit_price for line in of.lines if line.product_id == product_id)
    amount = price * Decimal(quantity)
    return ReturnRecorded(
        return_id=new_id(),
        original_sale_id=of.sale_id,
        receipt_number=receipt,
        branch_id=of.branch_id,
        lines=[
            ReturnLine(
                line_id=new_id(), product_id=product_id, quantity=Decimal(quantity), amount=amount
            )
        ],
        refunds=[Refund(refund_id=new_id(), method="cash", amount=amount)],
        total=amount,
        reason=reason,
    )


def day(d: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, d, hour, tzinfo=UTC)


def receipts(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["receipt_number"] for row in response.json()["items"]]


def test_pushed_sales_and_returns_are_listed_filtered_and_detailed(world):
    main = world.a.branch_ids[0]
    soap, rice, oil = world.a.product_ids
    till = enrol_till(world, main)
    customer = world.api("admin").post("customers", json={"name": "Ravi Kumar", "phone": "555"})
    customer_id = customer.json()["id"]
    shift = new_id()
    cashier = world.a.users["cashier"]
    first = sale(
        branch_id=main,
        receipt="MAIN-T01-000001",
        lines=[(soap, "3", "10.00"), (rice, "2", "45.50")],
        when=day(1),
        shift_id=shift,
        cashier_id=cashier,
    )
    second = sale(
        branch_id=main,
        receipt="MAIN-T01-000002",
        lines=[(oil, "1.250", "120.00")],
        when=day(2),
        method="card",
        customer_id=customer_id,
    )
    third = sale(
        branch_id=main, receipt="MAIN-T01-000010", lines=[(soap, "1", "10.00")], when=day(3)
    )
    give_back = refund(
        of=first, receipt="MAIN-T01-R00001", product_id=soap, quantity="2", reason="Torn pack"
    )
    push(till, first, second, third, give_back)
    manager = world.api("manager")

    listed = manager.get("sales")
    assert receipts(listed) == ["MAIN-T01-000010", "MAIN-T01-000002", "MAIN-T01-000001"]
    rows = {row["receipt_number"]: row for row in listed.json()["items"]}
    assert rows["MAIN-T01-000001"]["total"] == "121.00"
    assert rows["MAIN-T01-000001"]["line_count"] == 2
    assert rows["MAIN-T01-000001"]["cashier_name"] == "cashier"
    assert rows["MAIN-T01-000002"]["customer_name"] == "Ravi Kumar"
    assert rows["MAIN-T01-000002"]["payments"][0]["method"] == "card"
    assert rows["MAIN-T01-000002"]["payments"][0]["amount"] == "150.00"

    assert receipts(manager.get("sales", params={"q": "MAIN-T01-00000"})) == [
        "MAIN-T01-000002",
        "MAIN-T01-000001",
    ]
    assert receipts(manager.get("sales", params={"q": "MAIN-T01-000010"})) == ["MAIN-T01-000010"]
    assert receipts(manager.get("sales", params={"q": "T01"})) == []  # a prefix, not anywhere
    assert receipts(manager.get("sales", params={"q": "MAIN_T01%"})) == []  # wildcards are text
    assert receipts(manager.get("sales", params={"customer_id": customer_id})) == [
        "MAIN-T01-000002"
    ]
    assert receipts(manager.get("sales", params={"shift_uuid": shift})) == ["MAIN-T01-000001"]
    assert receipts(manager.get("sales", params={"date_from": "2026-03-02"})) == [
        "MAIN-T01-000010",
        "MAIN-T01-000002",
    ]
    # A day given as date_to is included whole; a time is exclusive.
    assert receipts(
        manager.get("sales", params={"date_from": "2026-03-02", "date_to": "2026-03-02"})
    ) == ["MAIN-T01-000002"]
    assert receipts(
        manager.get(
            "sales",
            params={"date_from": "2026-03-01T00:00:00Z", "date_to": "2026-03-02T12:00:00+00:00"},
        )
    ) == ["MAIN-T01-000001"]
    assert len(receipts(manager.get("sales", params={"channel": "in_store"}))) == 3
    assert receipts(manager.get("sales", params={"channel": "online"})) == []
    assert receipts(manager.get("sales", params={"branch_id": world.a.branch_ids[1]})) == []
    paged = manager.get("sales", params={"limit": 1, "offset": 1})
    assert receipts(paged) == ["MAIN-T01-000002"] and paged.json()["total"] == 3

    detail = manager.get(f"sales/{rows['MAIN-T01-000001']['id']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in body["lines"]] == [
        (f"SKU-{soap}", "3", "10.00"),
        (f"SKU-{rice}", "2", "45.50"),
    ]
    assert [(ln["returned_quantity"], ln["returnable_quantity"]) for ln in body["lines"]] == [
        ("2", "1"),
        ("0", "2"),
    ]
    assert body["payments"] == [
        {
            "id": body["payments"][0]["id"],
            "method": "cash",
            "amount": "121.00",
            "reference": "R1",
            "tendered": None,
        }
    ]
    assert [r["receipt_number"] for r in body["returns"]] == ["MAIN-T01-R00001"]
    assert body["returned_total"] == "20.00" and body["shift_uuid"] == shift
    weighed = manager.get(f"sales/{rows['MAIN-T01-000002']['id']}").json()
    assert weighed["lines"][0]["quantity"] == "1.25" and weighed["returns"] == []

    returns = manager.get("returns")
    assert receipts(returns) == ["MAIN-T01-R00001"]
    row = returns.json()["items"][0]
    assert row["original_receipt_number"] == "MAIN-T01-000001"
    assert row["original_sale_id"] == rows["MAIN-T01-000001"]["id"]
    assert row["reason"] == "Torn pack" and row["total"] == "20.00"
    assert [(r["method"], r["amount"]) for r in row["refunds"]] == [("cash", "20.00")]
    # q finds a return by its own receipt or by the sale it brings back.
    assert receipts(manager.get("returns", params={"q": "MAIN-T01-000001"})) == ["MAIN-T01-R00001"]
    assert receipts(manager.get("returns", params={"q": "MAIN-T01-000002"})) == []
    assert receipts(manager.get("returns", params={"reason": "torn"})) == ["MAIN-T01-R00001"]
    assert receipts(manager.get("returns", params={"reason": "wrong size"})) == []
    assert receipts(manager.get("returns", params={"date_to": "2026-01-01"})) == []

    one = manager.get(f"returns/{row['id']}")
    assert one.status_code == 200, one.text
    lines = one.json()["lines"]
    assert [(ln["product_id"], ln["sku"], ln["quantity"], ln["restock"]) for ln in lines] == [
        (soap, "ADMIN-0", "2", True)
    ]
    assert one.json()["original_receipt_number"] == "MAIN-T01-000001"


def test_callers_see_only_their_branches_and_tenant(world):
    main, west = world.a.branch_ids
    soap = world.a.product_ids[0]
    west_sale = sale(
        branch_id=west, receipt="WEST-T01-000001", lines=[(soap, "1", "10")], when=day(5)
    )
    push(
        enrol_till(world, west),
        west_sale,
        refund(of=west_sale, receipt="WEST-T01-R00001", product_id=soap, quantity="1", reason=""),
    )
    push(
        enrol_till(world, main),
        sale(branch_id=main, receipt="MAIN-T01-000001", lines=[(soap, "1", "10")], when=day(5)),
    )
    admin = world.api("admin")
    every = {r["receipt_number"]: r for r in admin.get("sales").json()["items"]}
    assert set(every) == {"WEST-T01-000001", "MAIN-T01-000001"}
    west_return = admin.get("returns").json()["items"][0]["id"]

    # The manager works in MAIN only: WEST's documents are not there, by list or by id.
    manager = world.api("manager")
    assert receipts(manager.get("sales")) == ["MAIN-T01-000001"]
    assert receipts(manager.get("sales", params={"branch_id": west})) == []
    assert receipts(manager.get("returns")) == []
    for path in (f"sales/{every['WEST-T01-000001']['id']}", f"returns/{west_return}"):
        hidden = manager.get(path)
        assert hidden.status_code == 404, hidden.text
        assert hidden.headers["content-type"].startswith("application/problem+json")
    assert manager.get(f"sales/{every['MAIN-T01-000001']['id']}").status_code == 200
    assert world.api("viewer").get("sales").status_code == 200

    stranger = world.api("b_admin")
    assert stranger.get("sales").json()["items"] == []
    assert stranger.get(f"sales/{every['MAIN-T01-000001']['id']}").status_code == 404
    assert stranger.get(f"returns/{west_return}").status_code == 404

    denied = world.api("cashier").get("sales")
    assert denied.status_code == 403
    assert denied.json()["required_permission"] == "sales.read"
    assert world.api("purchase_admin").get("returns").status_code == 403


def test_bad_filters_are_problem_documents(world):
    manager = world.api("manager")
    for path, params in (
        ("sales", {"date_from": "last tuesday"}),
        ("sales", {"date_from": "2026-03-02T10:00:00"}),  # no offset: which zone?
        ("sales", {"date_from": "2026-03-02", "date_to": "2026-03-01"}),
        ("sales", {"channel": "telepathy"}),
        ("sales", {"branch_id": "main"}),
        ("sales", {"sort": "cashier_password"}),
        ("sales", {"limit": "0"}),
        ("returns", {"q": ""}),
        ("returns", {"customer_id": "-x"}),
        ("returns", {"reason": "r" * 201}),
        ("returns", {"date_to": "2026-02-30"}),
    ):
        response = manager.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"], response.text
    assert manager.get("sales/not-a-number").status_code == 422
    assert manager.get("sales/999999").status_code == 404
    assert manager.get("returns/999999").json()["status"] == 404


def test_cash_shows_what_was_kept_not_the_note_handed_over(world):
    main = world.a.branch_ids[0]
    soap = world.a.product_ids[0]
    till = enrol_till(world, main)
    # 109.00 paid with a 500 note: the till records the 500 handed over and 391 change.
    paid = sale(
        branch_id=main, receipt="MAIN-T01-000109", lines=[(soap, "1", "109.00")], when=day(1)
    )
    paid = paid.model_copy(
        update={
            "payments": [SalePayment(payment_id=new_id(), method="cash", amount=Decimal("500.00"))],
            "change_due": Decimal("391.00"),
        }
    )
    push(till, paid)
    manager = world.api("manager")
    (row,) = manager.get("sales").json()["items"]
    assert [(p["method"], p["amount"], p["tendered"]) for p in row["payments"]] == [
        ("cash", "109.00", "500.00")
    ]
    detail = manager.get(f"sales/{row['id']}").json()
    assert [(p["amount"], p["tendered"]) for p in detail["payments"]] == [("109.00", "500.00")]
    tender = manager.get(
        "reports/sales-summary",
        params={"date_from": "2026-01-01", "date_to": "2026-12-31", "group_by": "tender"},
    ).json()["rows"]
    assert [(r["tender"], r["payments"], r["amount"]) for r in tender] == [("cash", 1, "109.00")]
