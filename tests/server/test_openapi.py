"""The OpenAPI document says what the server does: who may call, what it answers, what it takes."""

from __future__ import annotations

import re

import pytest

from common.roles import API_KEY_SCOPES, Permission, can
from sync_server.sync.devices import DEVICE_PERMISSIONS

METHODS = {"get", "post", "put", "patch", "delete"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_security_schemes_and_each_operations_permission(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["user"] == {**schemes["user"], "type": "http", "scheme": "bearer"}
    assert schemes["user"]["bearerFormat"] == "JWT"
    assert schemes["device"]["type"] == "http"
    assert (schemes["apiKey"]["type"], schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == (
        "apiKey",
        "header",
        "X-API-Key",
    )
    ops = {(path, method): op for path, method, op in _operations(document)}
    assert ops[("/api/v1/health", "get")]["security"] == []
    assert ops[("/api/v1/auth/login", "post")]["security"] == []
    listing = ops[("/api/v1/products", "get")]
    assert {"user": ["catalog.read"]} in listing["security"]
    assert {"device": ["catalog.read"]} in listing["security"]
    assert {"apiKey": ["catalog:read"]} in listing["security"]
    assert "viewer" in listing["description"] and "`catalog.read`" in listing["description"]
    assert ops[("/api/v1/products", "post")]["security"] == [{"user": ["catalog.write"]}]
    assert {"apiKey": ["orders:write"]} in ops[("/api/v1/orders", "post")]["security"]
    assert {"device": ["pos.sell"]} in ops[("/api/v1/sell/{barcode}", "post")]["security"]
    for path, method, op in _operations(document):
        assert "security" in op, (path, method)
        for requirement in op["security"]:
            for scheme, scopes in requirement.items():
                assert scheme in schemes
                if scheme == "apiKey":
                    assert all(scope in API_KEY_SCOPES for scope in scopes)
                else:
                    assert all(scope in set(Permission) for scope in scopes), (path, scopes)
                if scheme == "device":
                    assert all(Permission(s) in DEVICE_PERMISSIONS for s in scopes)
        for permission in op.get("x-permissions", []):
            assert {"user": [permission]} in op["security"] or len(op["x-permissions"]) > 1


def test_every_operation_documents_its_problems_as_rfc9457(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}
    for path, method, op in _operations(document):
        responses = op["responses"]
        assert "503" in responses, (path, method)
        if op["security"]:
            assert {"401", "403"} <= responses.keys(), (path, method)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in responses, (path, method)
        if op.get("requestBody"):
            assert {"400", "413"} <= responses.keys(), (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)
        if path.startswith("/api/") and not path.endswith("/health"):
            assert "Retry-After" in responses["429"]["headers"], (path, method)
        for code, response in responses.items():
            if code.isdigit() and int(code) >= 400:
                assert response["content"] == {
                    "application/problem+json": {"schema": PROBLEM_REF}
                }, (path, method, code)


def test_the_documented_422_is_what_the_server_sends(api, document):
    response = api.post("products", json={"sku": "X1", "name": "n", "price": "abc"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) <= body.keys()
    assert body["type"] == "https://stockpilot.dev/problems/validation-error"
    assert all(set(e) == {"field", "message"} for e in body["errors"])
    documented = document["paths"]["/api/v1/products"]["post"]["responses"]["422"]
    assert "validation-error" in documented["description"]


def _walk(node, found: list) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}:
                found.append((key, value))
            if key in {"ge", "le", "gt", "lt"} and not isinstance(value, dict):
                found.append((key, "non-standard"))
            _walk(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found)


def test_numeric_constraints_are_json_numbers(document):
    found: list = []
    _walk(document, found)
    assert found
    assert all(isinstance(value, int | float) for _, value in found), [
        f for f in found if not isinstance(f[1], int | float)
    ][:5]
    price = document["components"]["schemas"]["ProductCreate"]["properties"]["price"]
    # A decimal may be documented as a string, or as a number or a string.
    bounded = next((b for b in price.get("anyOf", []) if b["type"] == "number"), price)
    assert bounded["minimum"] == 0 and isinstance(bounded["maximum"], int | float)
    text = next((b for b in price.get("anyOf", []) if b["type"] == "string"), price)
    assert re.fullmatch(text["pattern"], "12.50") and not re.fullmatch(text["pattern"], "12,50")


def _query_enum(op: dict, name: str) -> list[str] | None:
    for parameter in op.get("parameters", []):
        if parameter["name"] == name:
            schema = parameter["schema"]
            for branch in schema.get("anyOf", [schema]):
                if "enum" in branch:
                    return branch["enum"]
    return None


def test_every_documented_sort_value_works_and_others_are_refused(world):
    admin = world.api("admin")
    document = world.client.get("/openapi.json").json()
    checked = 0
    for path, method, op in _operations(document):
        names = [p["name"] for p in op.get("parameters", [])]
        if method != "get" or "sort" not in names:
            continue
        choices = _query_enum(op, "sort")
        assert choices, f"{path}: sort is not an enum"
        url = re.sub(r"\{[^}]+\}", "0", path.removeprefix("/api/v1/"))
        if "{" in path:  # needs an existing row: the first customer or supplier
            continue
        for choice in choices:
            response = admin.get(url, params={"sort": choice, "limit": 2})
            assert response.status_code == 200, (path, choice, response.text[:300])
            checked += 1
        refused = admin.get(url, params={"sort": "password_hash"})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "sort"
    assert checked > 50


@pytest.mark.parametrize(
    "path, good",
    [
        ("orders", "confirmed"),
        ("purchase-orders", "draft"),
        ("sales-requests", "pending_approval"),
        ("transfers", "dispatched"),
    ],
)
def test_status_filters_are_enums(world, path, good):
    admin = world.api("admin")
    document = world.client.get("/openapi.json").json()
    assert good in _query_enum(document["paths"][f"/api/v1/{path}"]["get"], "status")
    assert admin.get(path, params={"status": good}).status_code == 200
    bogus = admin.get(path, params={"status": "bogus"})
    assert bogus.status_code == 422, bogus.text
    assert bogus.json()["errors"][0]["field"] == "status"


def test_405_names_every_method_the_path_serves(api):
    for method, path, allowed in [
        ("DELETE", "products", "GET, POST"),
        ("PUT", "products/1", "GET, PATCH"),
        ("DELETE", "health", "GET"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 405
        assert response.headers["allow"] == allowed
        assert response.headers["content-type"] == "application/problem+json"
        assert method in response.json()["detail"] and allowed in response.json()["detail"]


def test_viewer_permission_table_matches_the_document(document):
    """What the document lets a viewer change: only marking its own notifications read.

    The pricing preview is a POST (it takes a cart) but changes nothing: it prices a cart.
    """
    writable = {
        (path, method)
        for path, method, op in _operations(document)
        if method != "get"
        and op.get("x-permissions")
        and all(can("viewer", p) for p in op["x-permissions"])
    }
    assert writable == {
        ("/api/v1/notifications/{notification_id}/read", "post"),
        ("/api/v1/pricing/preview", "post"),
    }
