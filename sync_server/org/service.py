"""Tenants, branches and per-tenant settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from common import tenant_settings
from common.errors import Conflict, NotFound, ValidationFailed
from common.schemas.org import BranchCreate, BranchUpdate
from common.tax import STATE_CODES
from sync_server.audit import service as audit
from sync_server.foundation import feed
from sync_server.foundation.principal import Actor, Principal
from sync_server.foundation.tenant_lock import create_heads
from sync_server.org.models import Branch, Tenant, TenantSetting

# Every tenant setting with its default (meaning, type and range: common/tenant_settings.py);
# a key not listed there is refused.
SETTING_DEFAULTS: dict[str, Any] = tenant_settings.defaults()


def create_tenant(session: Session, *, name: str, currency: str = "INR") -> Tenant:
    """Create a business."""
    if session.scalar(select(Tenant.id).where(Tenant.name == name)) is not None:
        raise Conflict(f"A business named '{name}' already exists.")
    tenant = Tenant(name=name, currency=currency)
    session.add(tenant)
    session.flush()
    create_heads(session, tenant_id=tenant.id)
    return tenant


def branch_feed_data(branch: Branch) -> dict[str, Any]:
    """Return what a till needs to know about a branch."""
    return {
        "id": branch.id,
        "name": branch.name,
        "code": branch.code,
        "kind": branch.kind,
        "address": branch.address,
        "city": branch.city,
        "phone": branch.phone,
        "email": branch.email,
        "gstin": branch.gstin,
        "state": branch.state,
        "state_code": branch.state_code,
        "active": branch.active,
    }


def _fill_tax_state(branch: Branch) -> None:
    """Take a branch's state from its GSTIN when not given, and refuse a GSTIN of another state."""
    if not branch.gstin:
        return
    if branch.state_code and branch.state_code != branch.gstin[:2]:
        raise ValidationFailed(
            f"GSTIN {branch.gstin} is registered in state {branch.gstin[:2]}, "
            f"not in the branch's state {branch.state_code}."
        )
    branch.state_code = branch.gstin[:2]
    branch.state = branch.state or STATE_CODES.get(branch.state_code, "")


def _snapshot(branch: Branch) -> dict[str, Any]:
    return {**branch_feed_data(branch), "capacity": branch.capacity}


def create_branch(
    session: Session, *, actor: Principal | None, tenant_id: int, data: BranchCreate
) -> Branch:
    """Create a store or warehouse; codes are unique per tenant."""
    exists = session.scalar(
        select(Branch.id).where(Branch.tenant_id == tenant_id, Branch.code == data.code)
    )
    if exists is not None:
        raise Conflict(f"A branch with code '{data.code}' already exists.")
    branch = Branch(tenant_id=tenant_id, **data.model_dump())
    branch.kind = data.kind.value
    _fill_tax_state(branch)
    session.add(branch)
    session.flush()
    audit.record(
        session,
        actor=actor.actor if actor else Actor(tenant_id=tenant_id),
        action="branch.created",
        entity_type="branch",
        entity_id=branch.id,
        after=_snapshot(branch),
    )
    feed.publish(
        session, tenant_id=tenant_id, entity="branch", key=branch.id, data=branch_feed_data(branch)
    )
    return branch


def update_branch(
    session: Session, *, actor: Principal, branch: Branch, data: BranchUpdate
) -> Branch:
    """Change a branch's details or deactivate it."""
    before = _snapshot(branch)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in (
            "name",
            "kind",
            "active",
            "email",
            "gstin",
            "state",
            "state_code",
        ):
            continue
        setattr(branch, field, value.value if hasattr(value, "value") else value)
    _fill_tax_state(branch)
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="branch.updated",
        entity_type="branch",
        entity_id=branch.id,
        before=before,
        after=_snapshot(branch),
    )
    feed.publish(
        session,
        tenant_id=branch.tenant_id,
        entity="branch",
        key=branch.id,
        data=branch_feed_data(branch),
    )
    return branch


# Built once: every online order reads them.
_SETTINGS = select(TenantSetting.key, TenantSetting.value).where(
    TenantSetting.tenant_id == bindparam("tenant_id"), TenantSetting.branch_id.is_(None)
)


def get_settings(session: Session, *, tenant_id: int) -> dict[str, Any]:
    """Return every setting of a tenant, defaults filled in."""
    # Plain (key, value) rows: every online order reads them, and no object is needed.
    return settings_from(dict(session.execute(_SETTINGS, {"tenant_id": tenant_id}).all()))


def settings_from(stored: dict[str, Any]) -> dict[str, Any]:
    """Return every setting, defaults filled in, from a tenant's stored (key: value) pairs."""
    return {**SETTING_DEFAULTS, **{k: v for k, v in stored.items() if k in SETTING_DEFAULTS}}


def get_setting(session: Session, *, tenant_id: int, key: str) -> Any:
    """Return one setting of a tenant (its default when never set)."""
    if key not in SETTING_DEFAULTS:
        raise NotFound(f"There is no setting '{key}'.")
    row = session.scalar(
        select(TenantSetting).where(
            TenantSetting.tenant_id == tenant_id,
            TenantSetting.key == key,
            TenantSetting.branch_id.is_(None),
        )
    )
    return SETTING_DEFAULTS[key] if row is None else row.value


def put_setting(session: Session, *, actor: Principal, key: str, value: Any) -> Any:
    """Set one tenant setting; the value must fit the setting's type and range."""
    if key not in SETTING_DEFAULTS:
        raise NotFound(
            f"There is no setting '{key}'; the settings are {', '.join(SETTING_DEFAULTS)}."
        )
    default = SETTING_DEFAULTS[key]
    try:
        value = tenant_settings.validate_setting(key, value)
    except tenant_settings.SettingRefused as refused:
        raise ValidationFailed(str(refused)) from None
    row = session.scalar(
        select(TenantSetting).where(
            TenantSetting.tenant_id == actor.tenant_id,
            TenantSetting.key == key,
            TenantSetting.branch_id.is_(None),
        )
    )
    before = default if row is None else row.value
    if row is None:
        row = TenantSetting(tenant_id=actor.tenant_id, key=key, value=value)
        session.add(row)
    else:
        row.value = value
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="setting.changed",
        entity_type="setting",
        entity_id=key,
        before={"value": before},
        after={"value": value},
    )
    feed.publish(
        session,
        tenant_id=actor.tenant_id,
        entity="setting",
        key=key,
        data={"key": key, "value": value},
    )
    return value
