"""A month of a demo shop's life, made over the real API as its staff and its till would.

One place for the history both the README's demo (`stockpilot-server demo-data`) and the
manager screenshots use: a till enrolled with a one-time code pushes a month of daily shifts,
counter sales and a return through sync; the online store places orders; a purchase order goes
from draft to received; a transfer goes from one branch to the other.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from common.ids import new_id
from common.money import round_money
from common.sync.protocol import (
    Event,
    Payload,
    PaymentMethod,
    Refund,
    ReturnLine,
    ReturnRecorded,
    SaleCompleted,
    SaleLine,
    SalePayment,
    ShiftClosed,
    ShiftOpened,
)

PUSH_BATCH = 100
OPENING_FLOAT = Decimal("2000.00")


@dataclass(frozen=True, slots=True)
class DemoProduct:
    """What a till needs to ring a product up."""

    id: int
    sku: str
    name: str
    price: Decimal
    unit: str = "piece"
    tax_rate: Decimal = Decimal("0")


class DemoApi:
    """The few API calls the demo history makes, each with the caller's bearer token."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def call(
        self, method: str, path: str, *, token: str, json: Any = None, **kw: Any
    ) -> dict[str, Any]:
        """Send one request; fail loudly on anything but success (the demo must be whole).

        Return the JSON object answered ({} when the answer has no body).
        """
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        response = self.http.request(method, f"/api/v1{path}", json=json, headers=headers, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        if not response.content:
            return {}
        data: dict[str, Any] = response.json()
        return data


def enrol_till(api: DemoApi, *, admin_token: str, branch_id: int, name: str) -> dict[str, Any]:
    """Enrol a till with a one-time code, as the set-up wizard does; return its credential."""
    code = api.call(
        "POST", "/devices/enrolment-codes", token=admin_token, json={"branch_id": branch_id}
    )["code"]
    response = api.http.post("/api/v1/devices/enrol", json={"code": code, "name": name})
    response.raise_for_status()
    credential: dict[str, Any] = response.json()
    return credential


def _line(product: DemoProduct, quantity: Decimal) -> SaleLine:
    total = round_money(product.price * quantity)
    tax = round_money(total * product.tax_rate / (100 + product.tax_rate))  # prices include tax
    return SaleLine(
        line_id=new_id(),
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        quantity=quantity,
        unit_price=product.price,
        tax_rate=product.tax_rate,
        tax=tax,
        total=total,
    )


def till_month(
    *,
    products: Sequence[DemoProduct],
    branch_id: int,
    cashier_ids: Sequence[int],
    receipt_prefix: str,
    now: datetime | None = None,
    days: int = 30,
    seed: int = 7,
    sales_per_day: tuple[int, int] = (2, 5),
) -> list[Payload]:
    """Return a month of a till's events: a shift a day with its sales, and one return."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    events: list[Payload] = []
    number = 0
    first_sale: SaleCompleted | None = None
    for day in range(days - 1, -1, -1):
        opened = (now - timedelta(days=day)).replace(hour=3, minute=30, second=0, microsecond=0)
        if opened > now:  # early today: the shift opened an hour ago
            opened = now - timedelta(hours=1)
        cashier = cashier_ids[day % len(cashier_ids)]
        shift = ShiftOpened(
            shift_id=new_id(),
            branch_id=branch_id,
            cashier_id=cashier,
            opening_float=OPENING_FLOAT,
            opened_at=opened,
        )
        events.append(shift)
        cash = Decimal(0)
        by_method: dict[str, Decimal] = {}
        count = rng.randint(*sales_per_day)
        span = max(min(now - opened, timedelta(hours=10)), timedelta(minutes=count + 1))
        for n in range(count):
            picks = rng.sample(list(products), min(len(products), 1 + rng.randrange(3)))
            lines = [
                _line(
                    p,
                    Decimal(rng.choice(("0.500", "1.000", "1.250", "2.000")))
                    if p.unit != "piece"
                    else Decimal(1 + rng.randrange(3)),
                )
                for p in picks
            ]
            total = sum((line.total for line in lines), Decimal(0))
            method = (PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.CASH)[n % 3]
            number += 1
            sale = SaleCompleted(
                sale_id=new_id(),
                receipt_number=f"{receipt_prefix}-{number:06d}",
                branch_id=branch_id,
                shift_id=shift.shift_id,
                cashier_id=cashier,
                lines=lines,
                subtotal=total,
                tax_total=sum((line.tax for line in lines), Decimal(0)),
                total=total,
                payments=[
                    SalePayment(
                        payment_id=new_id(),
                        method=method,
                        amount=total,
                        reference=None if method == "cash" else f"TX{number:05d}",
                    )
                ],
                completed_at=opened + span * (n + 1) / (count + 1),
            )
            first_sale = first_sale or sale
            events.append(sale)
            by_method[method] = by_method.get(method, Decimal(0)) + total
            if method == "cash":
                cash += total
        if day:  # today's shift is still open
            expected = OPENING_FLOAT + cash
            events.append(
                ShiftClosed(
                    shift_id=shift.shift_id,
                    branch_id=branch_id,
                    cashier_id=cashier,
                    counted_cash=expected,
                    expected_cash=expected,
                    variance=Decimal(0),
                    totals=by_method,
                    closed_at=opened + span + timedelta(minutes=5),
                )
            )
    if first_sale is not None:
        line = first_sale.lines[0]
        events.append(
            ReturnRecorded(
                return_id=new_id(),
                receipt_number=f"{receipt_prefix}-R00001",
                original_sale_id=first_sale.sale_id,
                branch_id=branch_id,
                total=line.total,
                reason="Damaged pack",
                cashier_id=cashier_ids[-1],
                lines=[
                    ReturnLine(
                        line_id=new_id(),
                        original_line_id=line.line_id,
                        product_id=line.product_id,
                        quantity=line.quantity,
                        amount=line.total,
                        restock=False,
                    )
                ],
                refunds=[Refund(refund_id=new_id(), method=PaymentMethod.CASH, amount=line.total)],
            )
        )
    return events


def push(api: DemoApi, *, device: dict[str, Any], events: Sequence[Payload]) -> int:
    """Push events through sync in the till's order, as its outbox would; return how many."""
    for start in range(0, len(events), PUSH_BATCH):
        batch = [
            Event.wrap(e, device_id=device["device_id"]).model_dump(mode="json")
            for e in events[start : start + PUSH_BATCH]
        ]
        answer = api.call("POST", "/sync/push", token=device["token"], json={"events": batch})
        statuses = {r["status"] for r in answer["results"]}
        if statuses != {"applied"}:
            raise RuntimeError(f"the demo till's push was not applied: {answer['results'][:3]}")
    return len(events)


def online_orders(
    api: DemoApi, *, token: str, branch_ids: Sequence[int], skus: Sequence[str], count: int = 8
) -> int:
    """Place the online store's orders; pay for most of them, as its checkout would."""
    for n in range(count):
        picks = [skus[(n + k * 3) % len(skus)] for k in range(1 + n % 3)]
        order = api.call(
            "POST",
            "/orders",
            token=token,
            json={
                "external_number": f"WEB-{1001 + n}",
                "branch_id": branch_ids[n % len(branch_ids)],
                "customer": {"name": f"Online shopper {n + 1}", "email": f"shopper{n}@example.in"},
                "lines": [{"sku": sku, "quantity": str(1 + n % 2)} for sku in picks],
            },
            headers={"Idempotency-Key": f"demo-order-{n}"},
        )
        if n % 4:
            api.call(
                "POST",
                f"/orders/{order['id']}/payment",
                token=token,
                json={"amount": order["total"]},
            )
    return count


def submit_po(
    api: DemoApi,
    *,
    token: str,
    supplier_id: int,
    branch_id: int,
    lines: Sequence[tuple[int, Decimal, Decimal]],
) -> dict[str, Any]:
    """Draft a purchase order of (product id, quantity, unit cost) and submit it for approval."""
    po = api.call(
        "POST",
        "/purchase-orders",
        token=token,
        json={
            "supplier_id": supplier_id,
            "branch_id": branch_id,
            "lines": [
                {"product_id": p, "quantity": str(q), "unit_cost": str(c)} for p, q, c in lines
            ],
        },
    )
    return api.call("POST", f"/purchase-orders/{po['id']}/submit", token=token, json={})


def purchase_cycle(
    api: DemoApi,
    *,
    buyer_token: str,
    approver_token: str,
    supplier_id: int,
    branch_id: int,
    lines: Sequence[tuple[int, Decimal, Decimal]],
) -> dict[str, Any]:
    """Take a purchase order from draft through approval to goods received."""
    po = submit_po(
        api, token=buyer_token, supplier_id=supplier_id, branch_id=branch_id, lines=lines
    )
    po = api.call("POST", f"/purchase-orders/{po['id']}/approve", token=approver_token, json={})
    api.call(
        "POST",
        f"/purchase-orders/{po['id']}/receipts",
        token=buyer_token,
        json={
            "lines": [
                {"line_id": line["id"], "quantity": line["quantity"]} for line in po["lines"]
            ],
            "note": "Delivered in full",
        },
    )
    return po


def transfer(
    api: DemoApi,
    *,
    token: str,
    source_branch_id: int,
    destination_branch_id: int,
    lines: Sequence[tuple[int, Decimal]],
) -> dict[str, Any]:
    """Send stock from one branch to another and receive it there."""
    sent = api.call(
        "POST",
        "/transfers",
        token=token,
        json={
            "source_branch_id": source_branch_id,
            "destination_branch_id": destination_branch_id,
            "note": "Weekend top-up",
            "lines": [{"product_id": p, "quantity": str(q)} for p, q in lines],
        },
    )
    api.call("POST", f"/transfers/{sent['id']}/dispatch", token=token, json={})
    arrived = [{"product_id": p, "quantity": str(q)} for p, q in lines]
    return api.call(
        "POST", f"/transfers/{sent['id']}/receive", token=token, json={"lines": arrived}
    )
