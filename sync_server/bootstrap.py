"""First-run setup shared by the CLI and the tests: migrate, create a tenant and its admin."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select

from common.roles import Role
from common.schemas.auth import UserCreate
from sync_server.auth import service as auth_service
from sync_server.auth.models import User
from sync_server.db import make_sessionmaker, transaction
from sync_server.migrations.runner import upgrade
from sync_server.org import service as org_service
from sync_server.org.models import Tenant


@dataclass(frozen=True, slots=True)
class InitResult:
    created: bool
    tenant_id: int
    admin_username: str
    admin_password: str | None  # only when generated now; never stored in clear


def init(
    engine: Engine,
    *,
    tenant: str,
    admin_username: str,
    admin_password: str | None,
    admin_pin: str | None = None,
) -> InitResult:
    """Migrate and create the first tenant with an admin; a second run changes nothing."""
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        existing = session.scalar(select(Tenant).order_by(Tenant.id))
        if existing is not None:
            admin = session.scalar(
                select(User)
                .where(User.tenant_id == existing.id, User.role == Role.ADMIN.value)
                .order_by(User.id)
            )
            return InitResult(False, existing.id, admin.username if admin else "", None)
        generated = admin_password is None
        password = admin_password or secrets.token_urlsafe(12)
        row = org_service.create_tenant(session, name=tenant)
        auth_service.create_user(
            session,
            actor=None,
            tenant_id=row.id,
            data=UserCreate(
                username=admin_username,
                full_name="Administrator",
                password=password,
                pin=admin_pin,
                role=Role.ADMIN,
            ),
        )
        return InitResult(True, row.id, admin_username, password if generated else None)
