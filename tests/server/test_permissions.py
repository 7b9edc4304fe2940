"""Every route x every role: the permission table in common.roles is what the server enforces."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts

from common.roles import Role, can

# Routes anyone may call, or that authenticate differently (said why, one by one).
OPEN_ROUTES = {
    ("GET", "/api/v1/health"),  # load balancers probe it without credentials
    ("POST", "/api/v1/auth/login"),  # how a user gets a token
    ("POST", "/api/v1/auth/logout"),  # any authenticated caller may end their own session
    ("GET", "/api/v1/auth/me"),  # any authenticated caller may see who they are
    ("POST", "/api/v1/devices/enrol"),  # a till proves itself with a one-time code
}


def _required_permission(dependant) -> str | None:
    for dep in dependant.dependencies:
        permission = getattr(dep.call, "permission", None)
        if permission is not None:
            return permission.value
        found = _required_permission(dep)
        if found:
            return found
    return None


def api_routes(app) -> list[tuple[str, str, str | None]]:
    """Return (method, path, permission) for every /api/v1 route of the app."""
    routes = []
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path or ""
        if not path.startswith("/api/v1"):
            continue
        dependant = getattr(ctx.original_route, "dependant", None)
        permission = _required_permission(dependant) if dependant is not None else None
        for method in sorted(ctx.methods or ()):
            if method != "HEAD":
                routes.append((method, path, permission))
    return routes


def test_every_route_demands_a_permission_or_is_deliberately_open(app):
    routes = api_routes(app)
    assert len(routes) >= 20
    unguarded = [(m, p) for m, p, perm in routes if perm is None and (m, p) not in OPEN_ROUTES]
    assert unguarded == [], f"routes without a permission check: {unguarded}"


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_is_allowed_exactly_what_the_table_says(world, app, role):
    api = world.api(role)
    checked = 0
    for method, path, permission in api_routes(app):
        if permission is None:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        response = api.request(method, url, **kwargs)
        denied_by_role = (
            response.status_code == 403 and response.json().get("required_permission") == permission
        )
        assert response.status_code < 500, (method, url, response.text)
        assert denied_by_role == (not can(role, permission)), (
            f"{role} {method} {url}: {response.status_code} {response.text[:200]}"
        )
        checked += 1
    assert checked >= 20
