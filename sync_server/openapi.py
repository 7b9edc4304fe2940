"""The OpenAPI document as the server really behaves: who may call, and every problem it answers.

FastAPI's generated document knows the routes and their models but not this server's
conventions: credentials resolved in one dependency, permissions from `common/roles.py`, and
every error a problem+json document written by `sync_server/errors.py`. This module adds those
in one place, from the same dependency tree the server runs, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from common.roles import API_KEY_SCOPES, Permission, roles_with
from common.sync.protocol import DEVICE_TOKEN_PREFIX
from sync_server.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, api_routes
from sync_server.foundation.deps import get_principal
from sync_server.notifications.webhooks import webhooks_section
from sync_server.sync.devices import DEVICE_PERMISSIONS

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "user": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A person's access token from POST /api/v1/auth/login. What it may do "
        "follows the user's role; each operation names the permission it needs.",
    },
    "device": {
        "type": "http",
        "scheme": "bearer",
        "description": f"A till's device credential ({DEVICE_TOKEN_PREFIX}…) from POST "
        "/api/v1/devices/enrol. It may sell, refund, run shifts and read the catalog: "
        + ", ".join(sorted(p.value for p in DEVICE_PERMISSIONS))
        + ".",
    },
    "operator": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Operator-Key",
        "description": "The server operator's key (STOCKPILOT_OPERATOR_KEY), for the tenant "
        "provisioning API that is mounted only when STOCKPILOT_TENANT_API is on.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An online store's API key (spk_…), also accepted as "
        "'Authorization: Bearer spk_…'. Scopes: "
        + "; ".join(
            f"{scope} ({', '.join(sorted(p.value for p in perms))})"
            for scope, perms in sorted(API_KEY_SCOPES.items())
        )
        + ".",
    },
}

# The problem `type`s each status may carry (the document's `type` is PROBLEM_BASE + name).
PROBLEM_TYPES: dict[int, tuple[str, tuple[str, ...]]] = {
    400: ("Bad request: malformed JSON or a missing header", ("malformed-json", "bad-request")),
    401: ("No credential, or one that is unknown, expired or revoked", ("unauthenticated",)),
    403: ("The caller's role, scopes or branches do not allow this", ("forbidden",)),
    404: ("Nothing of that id in the caller's business", ("not-found",)),
    405: ("The path exists but not with this method (see the Allow header)", ()),
    409: ("Conflicts with the current state (a duplicate, a stale version)", ("conflict",)),
    413: ("The request body is larger than the server accepts", ("payload-too-large",)),
    422: ("The input is invalid; `errors` names each field", ("validation-error",)),
    429: ("Too many requests; wait for Retry-After seconds", ("too-many-requests",)),
    503: (
        "The database is busy or unreachable; retry after Retry-After",
        ("database-unavailable",),
    ),
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_WRITES = {"post", "put", "patch", "delete"}
# Pydantic writes constraints it cannot apply to a union (Decimal as number or string) as
# these non-standard keys, with Decimals as strings ("1E+12"); clients need JSON Schema numbers.
_PYDANTIC_BOUNDS = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}
_NUMERIC_KEYWORDS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def install(app: FastAPI) -> None:
    """Make app.openapi() return the completed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    """Return the OpenAPI document of an app, completed with security and problems."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    components = document.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    schemas.update(_problem_schemas())
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for route in api_routes(app):
        if not isinstance(getattr(route, "original_route", route), APIRoute):
            continue
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _complete(operation, route=route, method=method.lower())
    document["webhooks"] = webhooks_section(schemas)
    _fix_numbers(document)
    return document


def _problem_schemas() -> dict[str, Any]:
    return {
        "FieldError": {
            "type": "object",
            "title": "FieldError",
            "required": ["field", "message"],
            "properties": {
                "field": {"type": "string", "description": "Dotted path of the input"},
                "message": {"type": "string"},
            },
        },
        "Problem": {
            "type": "object",
            "title": "Problem",
            "description": "An RFC 9457 problem document; extra members carry details "
            "(e.g. required_permission, lines).",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {
                    "type": "string",
                    "format": "uri",
                    "examples": [PROBLEM_BASE + "conflict"],
                },
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            },
            "additionalProperties": True,
        },
    }


def problem_response(status: int) -> dict[str, Any]:
    """Return the OpenAPI response object of a problem answer with that status."""
    description, types = PROBLEM_TYPES[status]
    schema: dict[str, Any] = {"$ref": "#/components/schemas/Problem"}
    response: dict[str, Any] = {
        "description": description
        + (
            " (type " + ", ".join(f"`{PROBLEM_BASE}{name}`" for name in types) + ")"
            if types
            else ""
        ),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
    }
    if status in (429, 503):
        response["headers"] = dict(_RETRY_AFTER)
    if status == 405:
        response["headers"] = {
            "Allow": {"description": "The methods this path serves", "schema": {"type": "string"}}
        }
    return response


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependencies(sub)


def _calls(route: Any) -> list[Any]:
    dependant = getattr(route, "dependant", None)
    return [d.call for d in _dependencies(dependant)] if dependant is not None else []


def _permissions(calls: list[Any]) -> list[Permission]:
    found = [getattr(call, "permission", None) for call in calls]
    return sorted({Permission(p) for p in found if p is not None})


def _security(permissions: list[Permission]) -> list[dict[str, list[str]]]:
    names = [p.value for p in permissions]
    if not permissions:
        # Any valid credential: what the answer holds depends on who asks.
        return [{"user": []}, {"device": []}, {"apiKey": []}]
    alternatives: list[dict[str, list[str]]] = [{"user": names}]
    if all(p in DEVICE_PERMISSIONS for p in permissions):
        alternatives.append({"device": names})
    for scope, granted in sorted(API_KEY_SCOPES.items()):
        if all(p in granted for p in permissions):
            alternatives.append({"apiKey": [scope]})
    return alternatives


def _complete(operation: dict[str, Any], *, route: Any, method: str) -> None:
    calls = _calls(route)
    authenticated = get_principal in calls or any(
        getattr(call, "authenticates", False) for call in calls
    )
    permissions = _permissions(calls)
    dependant = route.dependant
    has_input = bool(
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.body_params
    )
    has_body = bool(dependant.body_params)
    path = route.path_format
    statuses = {503}
    if path.startswith("/api/") and not path.endswith("/health"):
        statuses.add(429)
    operator = any(
        (param.alias or param.name).lower() == "x-operator-key"
        for dep in _dependencies(dependant)
        for param in dep.header_params
    )
    if authenticated:
        statuses.add(401)
        operation["security"] = _security(permissions)
    elif operator:
        statuses.add(401)
        operation["security"] = [{"operator": []}]
    else:
        operation["security"] = []
    if permissions or authenticated:
        # Branch-bound callers are refused other branches' documents with 403 too.
        statuses.add(403)
    if dependant.path_params:
        statuses.add(404)
    if has_input:
        statuses.add(422)
    if has_body:
        statuses |= {400, 413}
    if method in _WRITES:
        statuses.add(409)
    responses = operation.setdefault("responses", {})
    for code in list(responses):
        if code.isdigit() and int(code) >= 400:
            statuses.add(int(code))
    for status in sorted(statuses):
        if status in PROBLEM_TYPES:
            responses[str(status)] = problem_response(status)
    operation["responses"] = dict(sorted(responses.items()))
    if permissions:
        roles = sorted(
            {role.value for p in permissions for role in roles_with(p)}
            if len(permissions) == 1
            else set.intersection(*({r.value for r in roles_with(p)} for p in permissions))
        )
        operation["x-permissions"] = [p.value for p in permissions]
        note = (
            f"Needs permission {', '.join(f'`{p.value}`' for p in permissions)} "
            f"(roles: {', '.join(roles)})."
        )
        operation["description"] = (operation.get("description", "") + "\n\n" + note).strip()


def _fix_numbers(node: Any) -> None:
    """Emit numeric constraints as JSON numbers under their JSON Schema names."""
    if isinstance(node, list):
        for item in node:
            _fix_numbers(item)
        return
    if not isinstance(node, dict):
        return
    bounds = {
        _PYDANTIC_BOUNDS[key]: _number(node.pop(key))
        for key in list(node)
        if key in _PYDANTIC_BOUNDS
    }
    for key in _NUMERIC_KEYWORDS & node.keys():
        node[key] = _number(node[key])
    if bounds:
        branches = node.get("anyOf")
        if isinstance(branches, list):
            # A decimal travels as a number or as a decimal string: bound the number, shape
            # the string.
            for branch in branches:
                if branch.get("type") in ("number", "integer"):
                    branch.update(bounds)
                elif branch.get("type") == "string":
                    branch.setdefault("pattern", DECIMAL_PATTERN)
        else:
            node.update(bounds)
    for value in node.values():
        _fix_numbers(value)


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)
