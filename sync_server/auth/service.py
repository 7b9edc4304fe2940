"""Logins, logouts, throttling and user administration."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from common.errors import (
    AuthenticationFailed,
    Conflict,
    PermissionDenied,
    TooManyRequests,
    ValidationFailed,
)
from common.hashing import hash_secret, needs_rehash, verify_secret
from common.roles import Role
from common.schemas.auth import UserCreate, UserUpdate
from sync_server.audit import service as audit
from sync_server.auth.models import (
    LoginFailure,
    RevokedToken,
    UnknownLoginFailure,
    User,
    UserBranch,
    Username,
)
from sync_server.auth.security import AccessClaims, issue_access_token
from sync_server.db import utcnow
from sync_server.foundation import feed
from sync_server.foundation.principal import Actor, Principal
from sync_server.org.models import Branch


@functools.cache
def _dummy_hash() -> str:
    """Return the real hash an unknown name's password is verified against.

    Verifying against a real hash even for unknown users keeps timing from revealing names.
    Made on a process's first login, known name or not, rather than at import: a hash costs
    ~60 ms of CPU, and every start of the server and many commands import this module.
    """
    return hash_secret("stockpilot-dummy-password")


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    token: str | None
    claims: AccessClaims | None
    error: Exception | None


def login(
    session: Session,
    *,
    username: str,
    password: str,
    client: str,
    secret: str,
    token_minutes: int,
    max_failures: int,
    lockout_minutes: int,
    sleep: Callable[[float], None] = time.sleep,
    max_delay_s: float = 2.0,
) -> LoginOutcome:
    """Check credentials; failures are recorded (so the caller must commit before raising).

    Guessing is stopped per account *and address*: the address that failed max_failures
    times is locked out of that account, while the account's owner, from anywhere else,
    still gets in. Across all addresses an account under attack is only slowed down.
    """
    since = utcnow() - timedelta(minutes=lockout_minutes)
    client = client[:64]
    # The directory names the tenant; a name in no tenant has its failures kept apart
    # (UnknownLoginFailure), counted the same way, so throttling tells nothing.
    entry = session.get(Username, username)
    failures: type[LoginFailure] | type[UnknownLoginFailure] = (
        LoginFailure if entry is not None else UnknownLoginFailure
    )
    recent = (
        select(func.count())
        .select_from(failures)
        .where(failures.username == username, failures.at >= since)
    )
    if entry is not None:
        recent = recent.where(LoginFailure.tenant_id == entry.tenant_id)
    from_here = session.scalar(recent.where(failures.client == client)) or 0
    if from_here >= max_failures:
        return LoginOutcome(
            None,
            None,
            TooManyRequests(
                f"Too many failed logins for '{username}' from this address; "
                f"try again in {lockout_minutes} minutes.",
                retry_after=lockout_minutes * 60,
            ),
        )
    everywhere = session.scalar(recent) or 0
    if everywhere >= max_failures:
        # Many addresses guessing one account: each guess costs time, a lockout it is not.
        sleep(slowdown(everywhere - max_failures, max_delay_s=max_delay_s))
    dummy_hash = _dummy_hash()  # before the lookup: the first login pays it either way
    user = None
    if entry is not None:
        found = session.get(User, entry.user_id)
        user = found if found is not None and found.tenant_id == entry.tenant_id else None
    ok = verify_secret(user.password_hash if user else dummy_hash, password)
    if user is None or not ok or not user.active:
        if entry is not None:
            session.add(LoginFailure(tenant_id=entry.tenant_id, username=username, client=client))
        else:
            session.add(UnknownLoginFailure(username=username, client=client))
        if user is not None:
            audit.record(
                session,
                actor=Actor(tenant_id=user.tenant_id, label=username),
                action="auth.login_failed",
                entity_type="user",
                entity_id=user.id,
                after={"client": client, "reason": "inactive" if ok else "bad password"},
            )
        return LoginOutcome(None, None, AuthenticationFailed("Wrong username or password."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_secret(password)
    # Only this address's failures are forgiven: a right password elsewhere must not
    # reset the count of someone guessing from another address.
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.tenant_id == user.tenant_id,
            LoginFailure.username == username,
            LoginFailure.client == client,
        )
    )
    user.last_login_at = utcnow()
    token, claims = issue_access_token(
        secret=secret,
        user_id=user.id,
        tenant_id=user.tenant_id,
        minutes=token_minutes,
        version=user.token_version or 0,
    )
    audit.record(
        session,
        actor=Actor(tenant_id=user.tenant_id, user_id=user.id, label=user.username),
        action="auth.login",
        entity_type="user",
        entity_id=user.id,
        after={"client": client},
    )
    return LoginOutcome(token, claims, None)


def slowdown(extra_failures: int, *, max_delay_s: float) -> float:
    """Return the pause before answering a login for an account that others keep guessing."""
    return min(max_delay_s, 0.1 * 2.0 ** min(extra_failures, 10))


def logout(session: Session, *, principal: Principal) -> None:
    """Revoke the caller's current token."""
    if principal.token_id is None:
        raise ValidationFailed("Only user sessions can log out.")
    tenant_id = principal.tenant_id
    session.add(
        RevokedToken(
            tenant_id=tenant_id, jti=principal.token_id, expires_at=utcnow() + timedelta(days=1)
        )
    )
    # The tenant's own expired revocations go (each tenant's rows stay with the tenant).
    session.execute(
        delete(RevokedToken).where(
            RevokedToken.tenant_id == tenant_id, RevokedToken.expires_at < utcnow()
        )
    )
    audit.record(
        session,
        actor=principal.actor,
        action="auth.logout",
        entity_type="user",
        entity_id=principal.user_id,
    )


def _check_branches(session: Session, *, tenant_id: int, branch_ids: list[int]) -> None:
    if not branch_ids:
        return
    found = set(
        session.scalars(
            select(Branch.id).where(Branch.tenant_id == tenant_id, Branch.id.in_(branch_ids))
        )
    )
    missing = sorted(set(branch_ids) - found)
    if missing:
        raise ValidationFailed(f"Unknown branch id(s): {', '.join(map(str, missing))}.")


def _snapshot(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role,
        "active": user.active,
        "branch_ids": user.branch_ids,
    }


def staff_feed_data(user: User) -> dict[str, object]:
    """Return what a till needs to let this user log in offline (a PIN hash, never a PIN)."""
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "active": user.active,
        "pin_hash": user.pin_hash,
        "branch_ids": user.branch_ids,
    }


def _publish_staff(session: Session, user: User) -> None:
    session.flush()
    feed.publish(
        session,
        tenant_id=user.tenant_id,
        entity="staff",
        key=user.id,
        data=staff_feed_data(user),
    )


def username_unavailable(username: str) -> Conflict:
    """Return the refusal of a username that is in use, in this business or another.

    A username signs a person in without naming their business, so it is unique on the
    server; the refusal reads the same wherever the name is used, so it tells an admin of
    one business nothing about the others.
    """
    return Conflict(f"The username '{username}' is not available; choose another.")


def create_user(
    session: Session, *, actor: Principal | None, tenant_id: int, data: UserCreate
) -> User:
    """Create a user; usernames are unique across the server (see username_unavailable)."""
    if session.get(Username, data.username) is not None:
        raise username_unavailable(data.username)
    _check_branches(session, tenant_id=tenant_id, branch_ids=data.branch_ids)
    user = User(
        tenant_id=tenant_id,
        username=data.username,
        full_name=data.full_name,
        email=data.email,
        password_hash=hash_secret(data.password),
        pin_hash=hash_secret(data.pin) if data.pin else None,
        role=data.role.value,
        active=True,
    )
    user.branch_links = [UserBranch(tenant_id=tenant_id, branch_id=b) for b in data.branch_ids]
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor.actor if actor else Actor(tenant_id=tenant_id),
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        after=_snapshot(user),
    )
    _publish_staff(session, user)
    return user


def update_user(session: Session, *, actor: Principal, user: User, data: UserUpdate) -> User:
    """Change a user's details, role, branches or status."""
    before = _snapshot(user)
    changes = data.model_dump(exclude_unset=True)
    if user.id == actor.user_id and (
        changes.get("active") is False or ("role" in changes and changes["role"] != user.role)
    ):
        raise PermissionDenied("You cannot deactivate yourself or change your own role.")
    if user.role == Role.ADMIN and (
        changes.get("active") is False or changes.get("role", Role.ADMIN) != Role.ADMIN
    ):
        _keep_an_admin(session, tenant_id=user.tenant_id, leaving=user.id)
    for field in ("full_name", "email", "active"):
        if field in changes and changes[field] is not None:
            setattr(user, field, changes[field])
    if changes.get("role") is not None:
        user.role = Role(changes["role"]).value
    if changes.get("password"):
        user.password_hash = hash_secret(changes["password"])
    if changes.get("password") or changes.get("active") is False:
        # A reset or a deactivation ends every session the user had, at once.
        user.token_version = (user.token_version or 0) + 1
    if changes.get("pin"):
        user.pin_hash = hash_secret(changes["pin"])
    if changes.get("branch_ids") is not None:
        _check_branches(session, tenant_id=user.tenant_id, branch_ids=changes["branch_ids"])
        user.branch_links = [
            UserBranch(tenant_id=user.tenant_id, branch_id=b) for b in changes["branch_ids"]
        ]
    session.flush()
    after = _snapshot(user)
    secrets_changed = [k for k in ("password", "pin") if changes.get(k)]
    if after != before or secrets_changed:
        audit.record(
            session,
            actor=actor.actor,
            action="user.updated",
            entity_type="user",
            entity_id=user.id,
            before=before,
            after={**after, "changed_secrets": secrets_changed},
        )
        _publish_staff(session, user)
    return user


def _keep_an_admin(session: Session, *, tenant_id: int, leaving: int) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.tenant_id == tenant_id,
            User.role == Role.ADMIN.value,
            User.active.is_(True),
            User.id != leaving,
        )
    )
    if not others:
        raise Conflict("A business needs at least one active admin.")
