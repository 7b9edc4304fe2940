"""What each API key scope lets a store do, in terms of the one permission table."""

from __future__ import annotations

from common.roles import Permission

SCOPES: dict[str, frozenset[Permission]] = {
    "orders:read": frozenset({Permission.ORDERS_READ}),
    # Placing an order finds or creates its customer and must read it back.
    "orders:write": frozenset({Permission.ORDERS_WRITE, Permission.ORDERS_READ}),
    "catalog:read": frozenset({Permission.CATALOG_READ}),
}


def permissions_for(scopes: list[str]) -> frozenset[Permission]:
    """Return the permissions granted by a key's scopes (unknown scopes grant nothing)."""
    granted: set[Permission] = set()
    for scope in scopes:
        granted |= SCOPES.get(scope, frozenset())
    return frozenset(granted)
