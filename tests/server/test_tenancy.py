"""Tenant B can neither read nor change tenant A's rows through any route."""

from __future__ import annotations

import pytest


@pytest.fixture
def a_rows(world):
    api = world.api("admin")
    supplier = api.post("suppliers", json={"name": "A Supplier"}).json()
    customer = api.post("customers", json={"name": "A Customer", "credit_limit": "100"}).json()
    category = api.post("categories", json={"name": "A Category"}).json()
    return {
        "products": world.a.product_ids[0],
        "branches": world.a.branch_ids[0],
        "users": world.a.users["manager"],
        "suppliers": supplier["id"],
        "customers": customer["id"],
        "categories": category["id"],
    }


@pytest.mark.parametrize(
    "collection", ["products", "branches", "users", "suppliers", "customers", "categories"]
)
def test_other_tenant_cannot_read_update_or_list(world, a_rows, collection):
    stranger = world.api("b_admin")
    row_id = a_rows[collection]
    before = world.api("admin").get(f"{collection}/{row_id}").json()

    assert stranger.get(f"{collection}/{row_id}").status_code == 404
    changed = stranger.patch(
        f"{collection}/{row_id}",
        json={"name": "pwned"} if collection != "users" else {"full_name": "pwned"},
    )
    assert changed.status_code == 404
    listed = stranger.get(collection, params={"limit": 500}).json()["items"]
    # Ids are unique across tenants, so A's row simply must not be among B's.
    assert row_id not in {item["id"] for item in listed}

    assert world.api("admin").get(f"{collection}/{row_id}").json() == before


def test_other_tenant_cannot_use_foreign_ids_as_references(world, a_rows):
    stranger = world.api("b_admin")
    response = stranger.post(
        "products",
        json={"sku": "B-NEW", "name": "B thing", "price": "1", "category_id": a_rows["categories"]},
    )
    assert response.status_code == 404
    assert stranger.get("products", params={"q": "B-NEW"}).json()["total"] == 0


def test_barcodes_and_skus_are_per_tenant(world):
    a_product = world.api("admin").get(f"products/{world.a.product_ids[0]}").json()
    stranger = world.api("b_admin")
    assert stranger.get(f"products/by-barcode/{a_product['barcodes'][0]}").status_code == 404
    # The same SKU and barcode are free to use in another business.
    created = stranger.post(
        "products",
        json={
            "sku": a_product["sku"],
            "name": "Mine",
            "price": "2.00",
            "barcodes": a_product["barcodes"],
        },
    )
    assert created.status_code == 201, created.text


def test_audit_log_is_per_tenant(world):
    world.api("admin").post("suppliers", json={"name": "Audited A"})
    entries = world.api("b_admin").get("audit", params={"limit": 500}).json()["items"]
    assert entries, "tenant B has its own entries"
    assert all("Audited A" not in str(e["after"]) for e in entries)
    assert world.api("b_admin").get("audit/verify").json()["ok"] is True
