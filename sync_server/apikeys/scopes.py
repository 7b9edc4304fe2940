"""What each API key scope lets a store do, in terms of the one permission table."""

from __future__ import annotations

from common.roles import API_KEY_SCOPES, Permission

SCOPES = API_KEY_SCOPES  # the table lives in common/, which the back office reads too


def permissions_for(scopes: list[str]) -> frozenset[Permission]:
    """Return the permissions granted by a key's scopes (unknown scopes grant nothing)."""
    granted: set[Permission] = set()
    for scope in scopes:
        granted |= SCOPES.get(scope, frozenset())
    return frozenset(granted)
