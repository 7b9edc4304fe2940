"""Who is calling (a user, a till device or an online-store API key) and who did something."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from common.roles import Permission, permissions_of


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a user, a device, an API key, or the system itself."""

    tenant_id: int
    user_id: int | None = None
    label: str = "system"
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: int
    kind: Literal["user", "device", "api_key"]
    label: str
    role: str
    user_id: int | None = None
    device_id: str | None = None
    api_key_id: int | None = None
    # Empty means every branch of the tenant (admins); otherwise the branches it may act in.
    branch_ids: frozenset[int] = field(default_factory=frozenset)
    all_branches: bool = False
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    token_id: str | None = None

    @classmethod
    def for_user(
        cls,
        *,
        tenant_id: int,
        user_id: int,
        username: str,
        role: str,
        branch_ids: list[int],
        token_id: str | None = None,
    ) -> Principal:
        """Build the principal of a logged-in user from their role."""
        return cls(
            tenant_id=tenant_id,
            kind="user",
            label=username,
            role=role,
            user_id=user_id,
            branch_ids=frozenset(branch_ids),
            all_branches=role == "admin" or not branch_ids,
            permissions=permissions_of(role),
            token_id=token_id,
        )

    def can(self, permission: Permission) -> bool:
        """Say whether this caller holds a permission."""
        return permission in self.permissions

    def may_use_branch(self, branch_id: int) -> bool:
        """Say whether the caller may act in a branch."""
        return self.all_branches or branch_id in self.branch_ids

    @property
    def actor(self) -> Actor:
        """Return the audit actor for this caller."""
        return Actor(
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            label=self.label,
            device_id=self.device_id,
        )
