"""Bad input gets the right problem document and changes nothing."""

from __future__ import annotations

import pytest


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


def _count(api):
    return (
        api.get("products", params={"active": "false"}).json()["total"]
        + api.get("products").json()["total"]
    )


def test_malformed_json_is_400(api):
    before = _count(api)
    response = api.post(
        "products", content=b'{"sku": "X",', headers={"content-type": "application/json"}
    )
    assert _problem(response, 400)["type"].endswith("/malformed-json")
    assert _count(api) == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"sku": "X1", "name": "n", "price": "abc"}, "price"),
        ({"sku": "X1", "name": "n", "price": "-1"}, "price"),
        ({"sku": "X1", "name": "n", "price": "1.123456"}, "price"),
        ({"sku": "X1", "name": "n", "price": "NaN"}, "price"),
        ({"sku": "X1", "name": "", "price": "1"}, "name"),
        ({"sku": "X1", "name": "n", "price": "1", "unit": "litre"}, "unit"),
        ({"sku": "X1", "name": "n", "price": "1", "colour": "red"}, "colour"),
        ({"sku": "X1", "name": "n", "price": "1", "barcodes": "5901234123457"}, "barcodes"),
        ({"sku": "bad sku!", "name": "n", "price": "1"}, "sku"),
    ],
)
def test_wrong_types_and_values_are_422_with_field_errors(api, body, field):
    before = _count(api)
    problem = _problem(api.post("products", json=body), 422)
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert _count(api) == before


def test_unknown_ids_and_paths_are_404(api):
    assert "no product" in _problem(api.get("products/999999"), 404)["detail"]
    _problem(api.patch("customers/999999", json={"name": "x"}), 404)
    _problem(api.get("nowhere"), 404)
    _problem(api.get("products/not-a-number"), 422)


def test_huge_body_is_413_before_it_is_read(api):
    before = _count(api)
    blob = "x" * 2_000_000
    response = api.post(
        "products", content=blob.encode(), headers={"content-type": "application/json"}
    )
    _problem(response, 413)
    assert _count(api) == before


def test_missing_token_is_401_problem(client):
    _problem(client.get("/api/v1/products"), 401)


def test_health_reports_database_and_migrations(client):
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True and body["database"]["migrated"] is True


def test_openapi_documents_the_routes_and_problems(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/products/by-barcode/{code}" in spec["paths"]
    create = spec["paths"]["/api/v1/products"]["post"]
    assert "409" in create["responses"]
    assert client.get("/docs").status_code == 200
