"""Routes found through the prefix index are the routes FastAPI's own scan would pick.

Route lookup does not touch the database, so this runs on one engine (SQLite).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from sync_server.config import Settings
from sync_server.errors import api_routes
from sync_server.main import create_app
from sync_server.routing import RouteIndex, literal_prefix
from tests.asgi import TestClient

OPERATOR_KEY = "k" * 40


def _app(tmp_path: Path, template: Path) -> FastAPI:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "routes.db"
    shutil.copyfile(template, path)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{path}",
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        tenant_api=True,  # the operator's routes too
        operator_key=OPERATOR_KEY,
    )
    return create_app(settings)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> FastAPI:
    return _app(tmp_path, sqlite_template)


def _sample(path_format: str) -> str:
    """Fill a route's parameters with values its convertors accept."""

    def value(match: re.Match[str]) -> str:
        convertor = match.group(2) or "str"
        return {"int": "7", "float": "1.5", "path": "a/b", "uuid": "0" * 32}.get(convertor, "x1")

    return re.sub(r"\{(\w+)(?::(\w+))?\}", value, path_format)


def _scope(method: str, path: str) -> dict:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _scanned(app: FastAPI, method: str, path: str):
    """Return the route FastAPI's linear scan picks: the first full match in the app's order."""
    for route in api_routes(app):
        match, _ = route.matches(_scope(method, path))
        if match == Match.FULL:
            return route
    return None


def _requests(app: FastAPI) -> Iterator[tuple[str, str]]:
    for route in api_routes(app):
        for method in sorted(route.methods or {"GET"}):
            yield method, _sample(route.path_format or "")


def test_every_route_resolves_to_the_endpoint_the_scan_finds(app):
    index = RouteIndex(app)
    seen = 0
    for method, path in _requests(app):
        expected = _scanned(app, method, path)
        assert expected is not None, (method, path)
        found = index.find(_scope(method, path))
        assert found is not None, (method, path)
        route, _, child_scope = found
        assert route.endpoint is expected.endpoint, (method, path)
        assert child_scope["endpoint"] is expected.endpoint
        seen += 1
    assert seen > 150  # the whole API, not a handful
    # A request the index cannot settle (no full match) is left to FastAPI.
    assert index.find(_scope("GET", "/api/v1/no-such-thing")) is None
    assert index.find(_scope("DELETE", "/api/v1/orders")) is None


def test_a_route_is_filed_under_the_literal_segments_its_path_starts_with():
    assert literal_prefix("/api/v1/orders/{order_id}/payment") == ("", "api", "v1", "orders")
    assert literal_prefix("/api/v1/{kind}/x") == ("", "api", "v1")
    assert literal_prefix("/docs") == ("", "docs")
    assert literal_prefix("/api/v1/x{n}.pdf") == ("", "api", "v1")


def _answer(client: TestClient, method: str, path: str) -> tuple[int, bytes, list]:
    response = client.request(method, path, follow_redirects=False)
    # Each app counts its own rate-limit window, and a window can roll over between the two
    # answers: the seconds and requests left are compared as present, not by value.
    moving = ("ratelimit-reset", "ratelimit-remaining")
    headers = sorted(
        (k, "…" if k in moving else v) for k, v in response.headers.items() if k != "content-length"
    )
    return response.status_code, response.content, headers


def test_answers_are_the_same_with_and_without_the_index(tmp_path, sqlite_template):
    """Every route, unauthenticated, and the misses: same status, body and headers."""
    indexed = _app(tmp_path / "a", sqlite_template)
    plain = _app(tmp_path / "b", sqlite_template)
    # Without the index: FastAPI's router runs its own scan.
    plain.router.middleware_stack = plain.router.app
    misses = [
        ("GET", "/api/v1/no-such-thing"),  # 404
        ("GET", "/nowhere"),
        ("DELETE", "/api/v1/orders"),  # 405 with Allow
        ("PUT", "/api/v1/health"),
        ("GET", "/api/v1/orders/"),  # trailing slash
        ("GET", "/api/v1/orders/not-a-number"),  # 422 from the path's type
        ("POST", "/api/v1/orders"),  # 401 before the body is read
        ("GET", "/openapi.json"),
    ]
    with TestClient(indexed) as a, TestClient(plain) as b:
        for method, path in [*_requests(indexed), *misses]:
            left, right = _answer(a, method, path), _answer(b, method, path)
            assert left == right, (method, path)
        status, body, headers = _answer(a, "DELETE", "/api/v1/orders")
        assert status == 405 and ("content-type", "application/problem+json") in headers
        assert dict(headers)["allow"] == "GET, POST"
        status, _, headers = _answer(a, "GET", "/api/v1/no-such-thing")
        assert status == 404 and ("content-type", "application/problem+json") in headers
