"""Products, barcodes and categories through the API."""

from __future__ import annotations

from common.barcodes import is_valid_gtin, make_ean13


def _new(api, **fields):
    body = {
        "sku": "RICE-5",
        "name": "Basmati Rice 5 kg",
        "price": "649.00",
        "barcodes": ["5901234123457"],
        **fields,
    }
    return api.post("products", json=body)


def test_create_product_keeps_money_exact_and_barcodes(api):
    response = _new(api, cost="520.1234", tax_rate="5", unit="piece", attributes={"brand": "Shree"})
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["price"] == "649.00" and product["cost"] == "520.1234"
    assert product["barcodes"] == ["5901234123457"]
    assert product["attributes"] == {"brand": "Shree"}
    assert api.get(f"products/{product['id']}").json() == product


def test_upc_a_is_stored_as_ean13_and_found_either_way(api):
    product = _new(api, sku="UPC-1", barcodes=["036000291452"]).json()
    assert product["barcodes"] == ["0036000291452"]
    for code in ("036000291452", "0036000291452"):
        found = api.get(f"products/by-barcode/{code}")
        assert found.status_code == 200, code
        assert found.json()["product"]["id"] == product["id"]


def test_variable_measure_label_decodes_weight(api):
    lookup = make_ean13("210004200000")
    product = _new(
        api, sku="ONION", name="Onions", price="40.00", unit="kg", barcodes=[lookup]
    ).json()
    # 1.250 kg of item 00042, as printed by the shop's scale.
    scanned = make_ean13("210004201250")
    found = api.get(f"products/by-barcode/{scanned}").json()
    assert found["product"]["id"] == product["id"]
    assert found["quantity"] == "1.25"
    assert found["matched_code"] == lookup


def test_invalid_check_digit_is_refused_with_the_expected_digit(api):
    response = _new(api, barcodes=["5901234123458"])
    assert response.status_code == 422
    assert "should be 7" in response.json()["detail"]
    assert api.get("products", params={"q": "RICE-5"}).json()["total"] == 0
    assert api.get("products/by-barcode/5901234123458").status_code == 422


def test_duplicate_sku_and_barcode_are_conflicts_that_change_nothing(api):
    first = _new(api).json()
    dup_sku = _new(api, barcodes=[])
    assert dup_sku.status_code == 409 and "SKU" in dup_sku.json()["detail"]
    dup_code = _new(api, sku="OTHER")
    assert dup_code.status_code == 409 and "5901234123457" in dup_code.json()["detail"]
    assert api.get("products", params={"q": "OTHER"}).json()["total"] == 0
    assert api.get(f"products/{first['id']}").json()["barcodes"] == ["5901234123457"]


def test_generated_internal_barcode_is_valid_and_unique(api):
    one = _new(api, sku="G1", barcodes=[], generate_barcode=True).json()
    two = _new(api, sku="G2", barcodes=[], generate_barcode=True).json()
    codes = one["barcodes"] + two["barcodes"]
    assert len(set(codes)) == 2
    assert all(code.startswith("04") and is_valid_gtin(code) for code in codes)


def test_price_change_is_audited_and_published_to_tills(api, engine):
    from sqlalchemy import select

    from sync_server.foundation.models import Change

    product = _new(api).json()
    updated = api.patch(f"products/{product['id']}", json={"price": "599.00"})
    assert updated.status_code == 200 and updated.json()["price"] == "599.00"
    audit = api.get("audit", params={"action": "price.changed"}).json()["items"]
    assert audit[0]["before"] == {"price": "649"}
    assert audit[0]["after"] == {"price": "599"}
    with engine.connect() as conn:
        changes = (
            conn.execute(
                select(Change.data)
                .where(Change.entity == "product", Change.entity_key == str(product["id"]))
                .order_by(Change.id)
            )
            .scalars()
            .all()
        )
    assert [c["price"] for c in changes] == ["649", "599"]


def test_archive_hides_from_default_list_but_keeps_the_row(api):
    product = _new(api).json()
    assert api.patch(f"products/{product['id']}", json={"active": False}).status_code == 200
    assert api.get("products", params={"q": "RICE-5"}).json()["total"] == 0
    archived = api.get("products", params={"q": "RICE-5", "active": "false"}).json()
    assert archived["items"][0]["id"] == product["id"]


def test_search_filter_sort_and_page(api):
    category = api.post("categories", json={"name": "Staples"}).json()
    for i in range(7):
        _new(
            api,
            sku=f"S{i}",
            name=f"Staple {i}",
            price=f"{10 + i}.00",
            barcodes=[make_ean13(f"89000000{i:04d}")],
            category_id=category["id"],
        )
    page = api.get(
        "products",
        params={"category_id": category["id"], "sort": "-price", "limit": 3, "offset": 1},
    ).json()
    assert page["total"] == 7
    assert [p["price"] for p in page["items"]] == ["15.00", "14.00", "13.00"]
    assert page["items"][0]["category_name"] == "Staples"
    by_code = api.get("products", params={"q": make_ean13("890000000003")}).json()
    assert [p["sku"] for p in by_code["items"]] == ["S3"]
    bad_sort = api.get("products", params={"sort": "password"})
    assert bad_sort.status_code == 422 and "Cannot sort" in bad_sort.json()["detail"]


def test_category_cannot_become_its_own_ancestor(api):
    parent = api.post("categories", json={"name": "Food"}).json()
    child = api.post("categories", json={"name": "Snacks", "parent_id": parent["id"]}).json()
    response = api.patch(f"categories/{parent['id']}", json={"parent_id": child["id"]})
    assert response.status_code == 422
    assert api.get(f"categories/{parent['id']}").json()["parent_id"] is None
    dup = api.post("categories", json={"name": "Food"})
    assert dup.status_code == 409
