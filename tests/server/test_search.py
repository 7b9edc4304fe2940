"""Server-side product search: same results in the same order on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from common.barcodes import make_ean13

FIXTURES = [
    # sku, name, category, attributes
    ("TEA-ASSAM-500", "Assam Tea 500 g", "Beverages", {"brand": "Tata"}),
    ("TEA-GREEN-100", "Green Tea 100 bags", "Beverages", {"brand": "Lipton"}),
    ("COF-FILTER-200", "Filter Coffee 200 g", "Beverages", {}),
    ("BIS-GLU-800", "Glucose Biscuits 800 g", "Snacks", {"flavour": "tea time"}),
    ("RICE-BAS-5", "Basmati Rice 5 kg", "Staples", {}),
    ("TEAPOT-1", "Ceramic Teapot", "Household", {}),
]


@pytest.fixture
def catalog(api):
    ids = {}
    for i, (sku, name, category, attributes) in enumerate(FIXTURES):
        cat = api.get("categories", params={"q": category}).json()["items"]
        cat_id = (
            cat[0]["id"] if cat else api.post("categories", json={"name": category}).json()["id"]
        )
        body = {
            "sku": sku,
            "name": name,
            "price": "10.00",
            "category_id": cat_id,
            "attributes": attributes,
            "barcodes": [make_ean13(f"47{i:02d}98761234")],
        }
        response = api.post("products", json=body)
        assert response.status_code == 201, response.text
        ids[sku] = response.json()["id"]
    return ids


def _skus(api, q, **params):
    return [p["sku"] for p in api.get("products", params={"q": q, **params}).json()["items"]]


def test_ranking_prefers_exact_codes_then_sku_then_name(api, catalog):
    # "tea": SKU prefix hits (TEA-*, TEAPOT) rank 80 and tie by name (Assam, Ceramic,
    # Green); the biscuits only match through an attribute, so they come last.
    assert _skus(api, "tea") == ["TEA-ASSAM-500", "TEAPOT-1", "TEA-GREEN-100", "BIS-GLU-800"]
    assert _skus(api, "TEA-GREEN-100") == ["TEA-GREEN-100"]
    assert _skus(api, make_ean13("470498761234")) == ["RICE-BAS-5"]


def test_partial_sku_and_multi_word_queries(api, catalog):
    assert _skus(api, "glu-8") == ["BIS-GLU-800"]
    assert _skus(api, "tea 500") == ["TEA-ASSAM-500"]
    assert _skus(api, "beverages coffee") == ["COF-FILTER-200"]
    assert _skus(api, "lipton") == ["TEA-GREEN-100"]
    assert _skus(api, "nothing-like-this") == []


def test_search_is_scoped_to_the_tenant_and_follows_renames(world, api, catalog):
    assert world.api("b_admin").get("products", params={"q": "tea"}).json()["total"] == 0
    api.patch(f"products/{catalog['COF-FILTER-200']}", json={"name": "South Indian Kaapi"})
    assert _skus(api, "kaapi") == ["COF-FILTER-200"]
    assert _skus(api, "filter coffee") == []
    beverages = api.get("categories", params={"q": "Beverages"}).json()["items"][0]
    api.patch(f"categories/{beverages['id']}", json={"name": "Drinks"})
    assert sorted(_skus(api, "drinks")) == ["COF-FILTER-200", "TEA-ASSAM-500", "TEA-GREEN-100"]


def test_explicit_sort_overrides_relevance(api, catalog):
    # Names descending: Green Tea, Glucose Biscuits, Ceramic Teapot, Assam Tea.
    assert _skus(api, "tea", sort="-name") == [
        "TEA-GREEN-100",
        "BIS-GLU-800",
        "TEAPOT-1",
        "TEA-ASSAM-500",
    ]
