"""UUIDv7 ids and the role table."""

from __future__ import annotations

import time
import uuid

from common.ids import uuid7, uuid7_time_ms
from common.roles import Permission, Role, can, permissions_of, roles_with


def test_uuid7_is_version_7_time_ordered_and_unique():
    ids = [uuid7() for _ in range(5000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids), "ids made in one process are ordered"
    assert len(set(ids)) == len(ids)
    assert abs(uuid7_time_ms(ids[-1]) - time.time() * 1000) < 5000


def test_role_table_matches_the_design():
    assert permissions_of(Role.ADMIN) == frozenset(Permission)
    assert roles_with(Permission.PURCHASING_APPROVE) == {
        Role.ADMIN,
        Role.MANAGER,
        Role.PURCHASE_ADMIN,
    }
    assert roles_with(Permission.SALES_REQUESTS_APPROVE) == {
        Role.ADMIN,
        Role.MANAGER,
        Role.SALES_ADMIN,
    }
    assert can(Role.VIEWER, Permission.REPORTS_READ)
    viewer_writes = [p for p in permissions_of(Role.VIEWER) if not p.value.endswith(".read")]
    assert viewer_writes == []
    assert can(Role.CASHIER, Permission.POS_SELL)
    assert not can(Role.CASHIER, Permission.POS_OVERRIDE)
    assert not can("nobody", Permission.CATALOG_READ)
