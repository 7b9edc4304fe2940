"""First-run setup and tenant provisioning, shared by the CLI, the operator API and the tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from common.roles import Role
from common.schemas.auth import UserCreate
from common.schemas.org import BranchCreate, TenantCreate
from sync_server.auth import service as auth_service
from sync_server.auth.models import User
from sync_server.db import make_sessionmaker, transaction
from sync_server.migrations.heads import upgrade_if_behind
from sync_server.org import service as org_service
from sync_server.org.models import Branch, Tenant, TenantSetting


@dataclass(frozen=True, slots=True)
class InitResult:
    created: bool
    tenant_id: int
    admin_username: str
    admin_password: str | None  # only when generated now; never stored in clear
    branch: Branch | None = None


@dataclass(frozen=True, slots=True)
class Provisioned:
    tenant: Tenant
    admin: User
    branch: Branch | None


def generate_password() -> str:
    """Return a new random password to be shown once."""
    return secrets.token_urlsafe(12)


def provision_tenant(session: Session, *, data: TenantCreate) -> Provisioned:
    """Create a business, its first admin and (unless branch_name is None) its first branch."""
    tenant = org_service.create_tenant(session, name=data.name, currency=data.currency)
    if data.currency != org_service.SETTING_DEFAULTS["currency"]:
        # Documents read the currency setting; keep it equal to the business's currency.
        session.add(TenantSetting(tenant_id=tenant.id, key="currency", value=data.currency))
    branch = None
    if data.branch_name is not None:
        branch = org_service.create_branch(
            session,
            actor=None,
            tenant_id=tenant.id,
            data=BranchCreate(name=data.branch_name, code=data.branch_code),
        )
    admin = auth_service.create_user(
        session,
        actor=None,
        tenant_id=tenant.id,
        data=UserCreate(
            username=data.admin_username,
            full_name="Administrator",
            password=data.admin_password,
            pin=data.admin_pin,
            role=Role.ADMIN,
            branch_ids=[branch.id] if branch is not None else [],
        ),
    )
    session.flush()
    return Provisioned(tenant=tenant, admin=admin, branch=branch)


def tenant_form(
    *,
    name: str,
    admin_username: str,
    admin_password: str | None,
    admin_pin: str | None = None,
    currency: str = "INR",
    branch_name: str | None = None,
    branch_code: str = "MAIN",
) -> tuple[TenantCreate, str | None]:
    """Validate a new business's details; return them with the password generated, if any."""
    generated: str | None = None
    if admin_password is None:
        admin_password = generated = generate_password()
    data = TenantCreate(
        name=name,
        currency=currency.upper(),
        admin_username=admin_username,
        admin_password=admin_password,
        admin_pin=admin_pin,
        branch_name=branch_name,
        branch_code=branch_code.upper(),
    )
    return data, generated


def init(
    engine: Engine,
    *,
    tenant: str,
    admin_username: str,
    admin_password: str | None,
    admin_pin: str | None = None,
    currency: str = "INR",
    branch_name: str | None = None,
    branch_code: str = "MAIN",
) -> InitResult:
    """Migrate and create the first tenant with an admin; a second run changes nothing."""
    # Validate before touching the database, so bad input leaves nothing half made.
    data, generated = tenant_form(
        name=tenant,
        admin_username=admin_username,
        admin_password=admin_password,
        admin_pin=admin_pin,
        currency=currency,
        branch_name=branch_name,
        branch_code=branch_code,
    )
    upgrade_if_behind(engine)
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
        made = provision_tenant(session, data=data)
        return InitResult(True, made.tenant.id, made.admin.username, generated, made.branch)
