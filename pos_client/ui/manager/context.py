"""What every manager screen needs: the network pool, who is signed in, and the branches."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.roles import Permission
from common.schemas.auth import MeRead
from common.schemas.org import BranchRead
from pos_client.qt.network import NetworkPool


@dataclass
class ManagerContext:
    """The signed-in user's session with the server, shared by the screens."""

    pool: NetworkPool
    me: MeRead
    branches: list[BranchRead] = field(default_factory=list)

    def can(self, permission: Permission) -> bool:
        """Tell whether the signed-in user may do this (the server checks again)."""
        return permission.value in self.me.permissions

    def branch_name(self, branch_id: int | None) -> str:
        """Return a branch's name for display."""
        for branch in self.branches:
            if branch.id == branch_id:
                return branch.name
        return "" if branch_id is None else f"#{branch_id}"
