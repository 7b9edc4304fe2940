"""Offline sign-in by username and PIN against the synced Argon2 hashes; idle auto-lock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed, PermissionDenied, TooManyRequests
from common.hashing import hash_secret, verify_secret
from common.roles import Permission, Role, can
from pos_client.store.models import Staff

# After this many wrong PINs in a row for one username, the till waits before trying again.
MAX_FAILURES = 5
LOCKOUT_S = 30.0


@cache
def _dummy_hash() -> str:
    """Return a real hash to verify against, so an unknown username is as slow as a wrong PIN."""
    return hash_secret("no such user")


@dataclass(frozen=True)
class Cashier:
    """The person signed in at the till."""

    user_id: int
    username: str
    full_name: str
    role: Role

    @property
    def display_name(self) -> str:
        """Return the name shown on screen and on receipts."""
        return self.full_name or self.username

    def can(self, permission: Permission) -> bool:
        """Say whether this person's role holds a permission."""
        return can(self.role, permission)


class LoginGuard:
    """Slow down PIN guessing: a username is locked for a while after repeated failures."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}

    def check(self, username: str) -> None:
        """Refuse while the username is locked out."""
        count, last = self._failures.get(username, (0, 0.0))
        wait = LOCKOUT_S - (self._clock() - last)
        if count >= MAX_FAILURES and wait > 0:
            raise TooManyRequests(
                f"Too many wrong PINs. Try again in {int(wait) + 1} s.", retry_after=int(wait) + 1
            )

    def failed(self, username: str) -> None:
        """Count a wrong PIN."""
        count, _ = self._failures.get(username, (0, 0.0))
        self._failures[username] = (count + 1, self._clock())

    def succeeded(self, username: str) -> None:
        """Forget past failures."""
        self._failures.pop(username, None)


def sign_in(
    session: Session, *, username: str, pin: str, guard: LoginGuard | None = None
) -> Cashier:
    """Return the staff member whose PIN matches, checked offline against the synced hash."""
    key = username.strip().lower()
    if guard is not None:
        guard.check(key)
    staff = session.scalars(
        select(Staff).where(func.lower(Staff.username) == key, Staff.active.is_(True))
    ).first()
    if staff is None and session.scalar(select(func.count()).select_from(Staff)) == 0:
        raise AuthenticationFailed(
            "No staff on this till yet: it signs people in after its first sync with the server"
        )
    if staff is None:
        verify_secret(_dummy_hash(), pin)
    if staff is None or not verify_secret(staff.pin_hash, pin):
        if guard is not None:
            guard.failed(key)
        raise AuthenticationFailed("Wrong username or PIN")
    try:
        role = Role(staff.role)
    except ValueError:
        raise PermissionDenied(f"{staff.username} has no role that may use the till") from None
    if not can(role, Permission.POS_SELL):
        raise PermissionDenied(f"{staff.username} is not allowed to sell at the till")
    if guard is not None:
        guard.succeeded(key)
    return Cashier(user_id=staff.id, username=staff.username, full_name=staff.full_name, role=role)


def authorize(
    session: Session,
    *,
    username: str,
    pin: str,
    permission: Permission,
    guard: LoginGuard | None = None,
) -> Cashier:
    """Check a manager's PIN for one approval; refuse people without the permission."""
    person = sign_in(session, username=username, pin=pin, guard=guard)
    if not person.can(permission):
        raise PermissionDenied(f"{person.display_name} may not approve this")
    return person


class IdleClock:
    """Decide when the till locks itself: no activity for timeout_s seconds."""

    def __init__(self, *, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._last = clock()

    def touch(self) -> None:
        """Note activity now."""
        self._last = self._clock()

    def idle_for(self) -> float:
        """Return seconds since the last activity."""
        return self._clock() - self._last

    def is_idle(self) -> bool:
        """Say whether the till should lock."""
        return self.timeout_s > 0 and self.idle_for() >= self.timeout_s
