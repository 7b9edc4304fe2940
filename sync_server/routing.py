"""Find a request's route through an index of literal path prefixes, not a scan of them all.

FastAPI matches a request by trying every route in order, and with included routers it
does so once per level and again to dispatch: the online store's POST /api/v1/orders
tried well over a hundred path patterns, twice, before its handler ran. Here every route
is filed under the literal segments its path starts with ("/api/v1/orders/{order_id}"
under ("", "api", "v1", "orders")); a request tries only the routes filed under its own
first segments, in the app's order, so the first full match is the one the scan would
have found. Anything else (no full match: a 404, a 405, a slash redirect; a mount; a
root path) goes to FastAPI's own routing unchanged, so those answers stay identical
(tests/server/test_route_index.py checks every route and the misses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sync_server.errors import ServedRoute, api_routes

# How many leading segments key the index ("", "api", "v1", "<domain>").
DEPTH = 4

_Entry = tuple[ServedRoute, ASGIApp]


def literal_prefix(path_format: str) -> tuple[str, ...]:
    """Return the route's leading path segments that hold no parameter (at most DEPTH)."""
    found: list[str] = []
    for segment in path_format.split("/")[:DEPTH]:
        if "{" in segment:
            break
        found.append(segment)
    return tuple(found)


class RouteIndex:
    """The app's http routes by literal prefix, in the app's order; built from its routes."""

    def __init__(self, app: FastAPI) -> None:
        self.routes = list(app.router.routes)
        self.by_prefix: dict[tuple[str, ...], list[tuple[int, _Entry | None]]] = {}
        for order, route in enumerate(api_routes(app)):
            original = getattr(route, "original_route", route)
            handler = getattr(route, "app", None)
            # Plain http routes only (FastAPI's and Starlette's); a mount, a websocket or
            # anything else is a candidate everywhere and, when chosen, left to FastAPI.
            known = isinstance(original, Route) and handler is not None
            path_format = route.path_format or ""
            key = literal_prefix(path_format) if known and path_format.startswith("/") else ()
            self.by_prefix.setdefault(key, []).append(
                (order, (route, handler) if known and handler is not None else None)
            )

    def is_current(self, app: FastAPI) -> bool:
        """Say whether the app's top-level routes are still those the index was built from."""
        routes = app.router.routes
        return len(routes) == len(self.routes) and all(
            a is b for a, b in zip(routes, self.routes, strict=True)
        )

    def candidates(self, path: str) -> list[tuple[int, _Entry | None]]:
        """Return the routes that could match the path, in the app's order."""
        segments = path.split("/")[:DEPTH]
        found: list[tuple[int, _Entry | None]] = []
        for depth in range(len(segments) + 1):
            found.extend(self.by_prefix.get(tuple(segments[:depth]), ()))
        found.sort(key=lambda item: item[0])
        return found

    def find(self, scope: Scope) -> tuple[ServedRoute, ASGIApp, Scope] | None:
        """Return the route the app would run for the request, or None to let FastAPI decide."""
        for _, entry in self.candidates(scope["path"]):
            if entry is None:
                return None  # a route kind the index does not serve may match first
            route, handler = entry
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return route, handler, child_scope
        return None


def install(app: FastAPI) -> None:
    """Route the app's http requests through a RouteIndex, falling back to FastAPI's routing."""
    router = app.router
    fallback: Callable[..., Any] = router.middleware_stack
    index: RouteIndex | None = None

    async def indexed(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal index
        if scope["type"] != "http" or scope.get("root_path"):
            await fallback(scope, receive, send)
            return
        if index is None or not index.is_current(app):
            index = RouteIndex(app)
        found = index.find(scope)
        if found is None:
            await fallback(scope, receive, send)
            return
        route, handler, child_scope = found
        scope.setdefault("router", router)
        scope.update(child_scope)
        scope["route"] = getattr(route, "original_route", route)
        await handler(scope, receive, send)

    router.middleware_stack = indexed
