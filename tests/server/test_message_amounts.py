"""Problem details print amounts with the currency's decimals and quantities bare."""

from __future__ import annotations

import re

# A quantity pasted raw into a message keeps its trailing zeros: "2.000", "1.500".
RAW_QUANTITY = re.compile(r"\d\.\d*0\b")


def _stock(admin, *, branch: int, product: int, quantity: str) -> None:
    done = admin.post(
        "stock/adjustments",
        json={"branch_id": branch, "product_id": product, "quantity": quantity, "reason": "found"},
    )
    assert done.status_code in (200, 201), done.text


def test_stock_problems_print_quantities_without_trailing_zeros(world):
    admin = world.api("admin")
    branch, other = world.a.branch_ids
    product = world.a.product_ids[0]
    _stock(admin, branch=branch, product=product, quantity="2")
    short = admin.post(
        "stock/adjustments",
        json={"branch_id": branch, "product_id": product, "quantity": "-5", "reason": "damage"},
    )
    assert short.status_code == 409, short.text
    detail = short.json()["detail"]
    assert "5 requested, 2 available" in detail and not RAW_QUANTITY.search(detail), detail

    sent = admin.post(
        "transfers",
        json={
            "source_branch_id": branch,
            "destination_branch_id": other,
            "lines": [{"product_id": product, "quantity": "1.5"}],
        },
    ).json()
    admin.post(f"transfers/{sent['id']}/dispatch", json={})
    too_many = admin.post(
        f"transfers/{sent['id']}/receive",
        json={"lines": [{"product_id": product, "quantity": "2"}]},
    )
    assert too_many.status_code == 409, too_many.text
    detail = too_many.json()["detail"]
    assert "Only 1.5 of product" in detail and "2 cannot be received" in detail, detail
    assert not RAW_QUANTITY.search(detail), detail


def test_money_problems_print_the_currency_with_its_decimals(world):
    admin, manager = world.api("admin"), world.api("manager")
    branch = world.a.branch_ids[0]
    product = world.a.product_ids[0]
    _stock(admin, branch=branch, product=product, quantity="10")
    order = admin.post(
        "orders",
        json={
            "external_number": "WEB-MSG-1",
            "branch_id": branch,
            "customer": {"name": "Shopper", "email": "shopper@example.in"},
            "lines": [{"product_id": product, "quantity": "2"}],
        },
        headers={"Idempotency-Key": "message-amounts-1"},
    ).json()
    wrong = admin.post(f"orders/{order['id']}/payment", json={"amount": "1.5"})
    assert wrong.status_code == 422, wrong.text
    detail = wrong.json()["detail"]
    assert detail == "The payment must be the order total ₹20.00, not ₹1.50.", detail

    # A purchase order above the admin-approval threshold, decided by a manager.
    assert (
        admin.put("settings/po_admin_approval_threshold", json={"value": "100"}).status_code == 200
    )
    supplier = admin.post("suppliers", json={"name": "Message Supplies"}).json()
    po = (
        world.api("purchase_admin")
        .post(
            "purchase-orders",
            json={
                "supplier_id": supplier["id"],
                "branch_id": branch,
                "lines": [{"product_id": product, "quantity": "50", "unit_cost": "10.00"}],
            },
        )
        .json()
    )
    world.api("purchase_admin").post(f"purchase-orders/{po['id']}/submit", json={})
    refused = manager.post(f"purchase-orders/{po['id']}/approve", json={})
    assert refused.status_code == 403, refused.text
    assert "totals ₹500.00, above" in refused.json()["detail"], refused.json()["detail"]
